"""Homogeneous texture families for training the texture model, synthesized offline.

Parthasarathy & Simoncelli (2020) train the texture model on homogeneous textures
only, and evaluate it on texture families it has never seen. The images that ship
with the installed packages hold only four textures (brick, grass, gravel,
reptile_skin: :data:`HELD_OUT_FAMILIES`, the families the analyses evaluate on), so
training families are made from the bundled *natural* images:

1. in each source image (short side 256 px) the ``crops_per_source`` most
   homogeneous square crops are chosen (:func:`homogeneous_crops`: the lowest
   spread of local mean luminance and local RMS contrast over the crop's four
   quadrants, relative to the crop's contrast; crops do not overlap);
2. each crop is the target of a Portilla & Simoncelli (2000) synthesis
   (``plenoptic.models.PortillaSimoncelli`` + ``plenoptic.Metamer``, started from
   seeded noise with the crop's mean and standard deviation): a stationary texture
   with the crop's statistics — one *family* named ``"<source>_<k>"``;
3. syntheses are cached as PNG files (atomic writes) in a folder keyed by the
   synthesis parameters, so they are made once per machine.

Training configs use ``data.source: texture_families`` with ``data.images`` the
list of training families (``data.folder`` the cache, default
``~/.cache/neuromodels/texture_families``). A texture database (e.g. DTD, through
its manifest) is used with ``data.source: folder`` instead.

Examples
--------
>>> names = default_train_families(crops_per_source=1)
>>> names[:3], set(names) & set(HELD_OUT_FAMILIES)
(['camera_0', 'astronaut_0', 'coffee_0'], set())
"""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .data import BUNDLED_NATURAL, BUNDLED_TEXTURES, load_bundled, to_grayscale

__all__ = [
    "HELD_OUT_FAMILIES",
    "default_train_families",
    "homogeneous_crops",
    "portilla_simoncelli_model",
    "synthesize_texture",
    "texture_family_images",
]

#: evaluation families (the bundled textures): never synthesized for training
HELD_OUT_FAMILIES = tuple(BUNDLED_TEXTURES)
_SOURCE_SIZE = 256
_DEFAULT_CACHE = Path("~/.cache/neuromodels/texture_families")


def default_train_families(crops_per_source: int = 2) -> list[str]:
    """``"<source>_<k>"`` for every bundled natural image and k < ``crops_per_source``."""
    return [f"{s}_{k}" for k in range(crops_per_source) for s in BUNDLED_NATURAL]


def _parse(family: str) -> tuple[str, int]:
    source, _, k = family.rpartition("_")
    if source in HELD_OUT_FAMILIES or family in HELD_OUT_FAMILIES:
        raise ValueError(
            f"texture family {family!r} comes from a held-out evaluation texture ({', '.join(HELD_OUT_FAMILIES)}); "
            "the texture model never trains on the families it is evaluated on"
        )
    if source not in BUNDLED_NATURAL or not k.isdigit():
        raise ValueError(
            f"unknown texture family {family!r}: expected '<source>_<k>' with a source among "
            f"{', '.join(BUNDLED_NATURAL)} and k a crop index (e.g. 'camera_0')"
        )
    return source, int(k)


def homogeneous_crops(image: torch.Tensor, size: int, n: int) -> list[tuple[int, int]]:
    """Top-left corners of the ``n`` most homogeneous, non-overlapping ``size`` crops.

    Candidates lie on a grid of step ``size // 4``. A crop's inhomogeneity is
    ``(std_q(mean_q) + std_q(rms_q)) / (rms + 1e-3)`` over its four quadrants q
    (mean luminance and RMS contrast of each quadrant; rms of the whole crop), so a
    crop whose quadrants look alike scores low. Greedy choice, lowest first.

    Parameters
    ----------
    image
        (1, H, W) in [0, 1].
    size
        Crop side (pixels).
    n
        Number of crops.
    """
    h, w = image.shape[-2:]
    if min(h, w) < size:
        raise ValueError(f"image of size {h}x{w} is smaller than the crop size {size}")
    x = image[0].double()
    step = max(1, size // 4)
    half = size // 2
    cands = []
    for t in range(0, h - size + 1, step):
        for left in range(0, w - size + 1, step):
            c = x[t : t + size, left : left + size]
            quads = [c[:half, :half], c[:half, half:], c[half:, :half], c[half:, half:]]
            means = torch.stack([q.mean() for q in quads])
            rms = torch.stack([q.std() for q in quads])
            score = float((means.std() + rms.std()) / (c.std() + 1e-3))
            cands.append((score, t, left))
    cands.sort()
    chosen: list[tuple[int, int]] = []
    for _, t, left in cands:
        if all(abs(t - a) >= size or abs(left - b) >= size for a, b in chosen):
            chosen.append((t, left))
            if len(chosen) == n:
                break
    if len(chosen) < n:
        raise ValueError(f"only {len(chosen)} non-overlapping {size}-px crops fit in a {h}x{w} image; asked for {n}")
    return chosen


def synthesize_texture(target: torch.Tensor, n_iter: int = 50, seed: int = 0, model=None) -> torch.Tensor:
    """Portilla–Simoncelli synthesis: a stationary texture with the statistics of ``target``.

    Portilla & Simoncelli (2000, IJCV 40:49) in plenoptic: ``Metamer`` (Adam, lr 0.02,
    amsgrad) on the pixels, from seeded Gaussian noise with the target's mean and
    standard deviation, for at most ``n_iter`` iterations. It runs on one CPU thread:
    the optimization amplifies the last-bit differences that multithreaded reductions
    leave, so with 1 and 2 threads the same seed gave different textures (measured),
    and every model trained on them differed; on one thread a seed gives one texture.

    Parameters
    ----------
    target
        (1, S, S) in [0, 1]; S divisible by 2**n_scales of ``model``.
    model
        A ``plenoptic.models.PortillaSimoncelli`` for size S (made with 3 scales, 4
        orientations and a 7-px correlation window when None).

    Returns
    -------
    torch.Tensor
        (1, S, S) float32 in [0, 1].
    """
    import plenoptic as po

    s = target.shape[-1]
    if model is None:
        model = portilla_simoncelli_model(s)
    x = target[None].float()
    g = torch.Generator().manual_seed(int(seed))
    init = (torch.randn(x.shape, generator=g) * x.std() + x.mean()).clamp(0, 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        met = po.Metamer(x, model)
        met.setup(init, optimizer_kwargs={"lr": 0.02, "amsgrad": True})
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # plenoptic warns when the loss has converged
            met.synthesize(max_iter=int(n_iter))
    finally:
        torch.set_num_threads(threads)
    return met.metamer.detach()[0].clamp(0, 1).float()


def portilla_simoncelli_model(size: int):
    """plenoptic's PortillaSimoncelli statistics for ``size`` px: up to 3 scales (coarsest band >= 8 px),
    4 orientations, a 7-px auto-correlation window (5 below 64 px); no gradients, eval mode."""
    import plenoptic as po

    n_scales = int(max(1, min(3, np.floor(np.log2(size)) - 3)))
    model = po.models.PortillaSimoncelli((size, size), n_scales=n_scales, n_orientations=4,
                                         spatial_corr_width=7 if size >= 64 else 5)
    po.remove_grad(model)
    return model.eval()


def texture_family_images(families: Sequence[str] | None = None, size: int = 64, n_iter: int = 50,
                          crop_size: int = 64, seed: int = 0, cache: str | Path | None = None,
                          progress: bool = False) -> list[torch.Tensor]:
    """One synthesized texture per family, (1, size, size) in [0, 1], made once and cached.

    Parameters
    ----------
    families
        ``"<source>_<k>"`` names (:func:`default_train_families` when None); held-out
        evaluation families are refused.
    size
        Side of the returned textures (pixels). Syntheses are made at 64 px (sizes
        below 128) or 128 px (above) and resampled, so nearby sizes share one cache.
    n_iter
        Synthesis iterations (50 take ~4 s per 64-px texture on one CPU core).
    crop_size
        Side of the homogeneous crop in the 256-px source image (resampled to ``size``).
    seed
        Seed of the synthesis noise (family ``i`` uses ``seed + i``-independent
        streams: ``[seed, k]``).
    cache
        Folder of the PNG cache (default ``~/.cache/neuromodels/texture_families``).

    Raises
    ------
    ValueError
        For unknown or held-out families, or a size that the pyramid cannot take.
    """
    from PIL import Image

    from neurocommon.files import atomic_write_bytes

    families = list(families) if families is not None else default_train_families()
    if not families:
        raise ValueError("texture_family_images needs at least one family name")
    if not isinstance(size, int) or size < 16:
        raise ValueError(f"size must be an integer >= 16 pixels; got {size!r}")
    out_size, size = size, (64 if size < 128 else 128)
    parsed = [_parse(f) for f in families]
    # "_t1": synthesized on one thread (see synthesize_texture), a cache any machine reproduces
    folder = Path(cache if cache is not None else _DEFAULT_CACHE).expanduser() / (
        f"ps_s{size}_c{crop_size}_i{n_iter}_seed{seed}_t1")
    out, model = [], None
    for family, (source, k) in zip(families, parsed):
        path = folder / f"{family}.png"
        if not path.is_file():
            image = load_bundled(source, size=_SOURCE_SIZE)
            t, left = homogeneous_crops(image, crop_size, k + 1)[k]
            crop = image[:, t : t + crop_size, left : left + crop_size]
            if crop_size != size:
                crop = F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True,
                                     align_corners=False)[0]
            model = model or portilla_simoncelli_model(size)
            if progress:
                print(f"synthesizing texture family {family} ({size} px, {n_iter} iterations)", flush=True)
            synth = synthesize_texture(crop, n_iter, int(np.random.SeedSequence([seed, k, _index(source)])
                                                        .generate_state(1)[0]), model)
            buf = io.BytesIO()
            Image.fromarray((synth[0].numpy() * 65535).round().astype(np.uint16)).save(buf, format="PNG")
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, buf.getvalue())
        with Image.open(path) as im:
            array = np.asarray(im).astype(np.float32) / 65535.0
        out.append(to_grayscale(array, size=out_size if out_size != size else None))
    return out


def _index(source: str) -> int:
    return BUNDLED_NATURAL.index(source)

