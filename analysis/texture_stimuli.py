"""Texture stimulus sets in the FreemanZiemba2013 layout: naturalistic textures and
spectrally matched noise, families × (texture, noise) × samples.

:func:`texture_stimulus_set` crops each family's source texture, synthesizes (or
keeps) the texture image and pairs it with its phase-randomized noise. The pieces
live by idea: :mod:`analysis.spectral_noise` (:func:`phase_randomize`,
:func:`periodic_component`), :mod:`analysis.texture_synthesis`
(:func:`synthesize_texture`, Portilla–Simoncelli with plenoptic). Stimulus sets and image conversion come
from :mod:`analysis.stimuli` and :mod:`analysis.images`, bundled sources from
:mod:`analysis.bundled`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.bundled import bundled_textures
from analysis.images import as_gray_image, check_image_size
from analysis.spectral_noise import periodic_component, phase_randomize
from analysis.stimuli import StimulusSet
from analysis.texture_synthesis import synthesize_texture
from neurocommon.images import IMAGE_SUFFIXES, image_files
from neurocommon.progress import progress_bar

__all__ = ["texture_stimulus_set"]


def _texture_sources(sources, source_size: int) -> dict[str, np.ndarray]:
    """Normalise the accepted kinds of ``sources`` to {family: (H, W) float image}."""
    if sources is None:
        s = bundled_textures(size=source_size)
        return {f: im[0] for f, im in zip(s.metadata("texture_family"), s.load_images(color="gray"))}
    if isinstance(sources, (str, Path)):
        return _texture_folder(Path(sources))
    if isinstance(sources, StimulusSet):
        col = "texture_family" if "texture_family" in sources.table.columns else "stimulus_id"
        fam = [str(f) for f in sources.metadata(col)]
        if len(set(fam)) != len(fam):
            raise ValueError(
                f"source stimulus set has repeated {col!r} values; give one source image per family"
            )
        return {f: im[0] for f, im in zip(fam, sources.load_images(color="gray"))}
    if isinstance(sources, dict):
        return {str(k): as_gray_image(v, f"source {k!r}")[0] for k, v in sources.items()}
    raise TypeError(
        "sources must be None (bundled textures), a folder path, a StimulusSet or a dict "
        f"{{family: image}}; got {type(sources).__name__}"
    )


def _texture_folder(folder: Path) -> dict[str, np.ndarray]:
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder of source textures at {folder}")
    files = image_files(folder)
    if not files:
        raise FileNotFoundError(
            f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}; put one source texture "
            f"per family there (the file stem names the family)"
        )
    from skimage.io import imread

    return {p.stem: as_gray_image(imread(p), str(p))[0] for p in files}


def _fit_pair_to_unit_range(a: np.ndarray, b: np.ndarray, mean: float, contrast: float):
    """Apply one affine map to a (texture, noise) pair: mean → ``mean``, RMS → ``contrast``,
    lowered for the pair if needed so both fit in [0, 1]. An affine map keeps the pair's
    amplitude spectra matched (up to the common gain). Returns (a', b', gain)."""
    m = float(a.mean())
    sd = float(a.std())
    if sd == 0:
        raise ValueError("a source crop is uniform (zero contrast); choose another source")
    gain = contrast / sd
    dev = max(np.abs(a - m).max(), np.abs(b - m).max())
    limit = min(mean, 1 - mean) / dev
    gain = min(gain, limit)
    return (
        np.clip(mean + gain * (a - m), 0, 1).astype(np.float32),
        np.clip(mean + gain * (b - m), 0, 1).astype(np.float32),
        gain * sd,
    )


def texture_stimulus_set(
    sources=None,
    samples_per_family: int = 4,
    size: int = 64,
    n_iter: int = 0,
    seed: int = 0,
    source_size: int | None = 512,
    mean_luminance: float = 0.5,
    contrast: float = 0.2,
    progress: bool = True,
    visual_degrees: float = 4.0,
    **synthesis_kwargs,
) -> StimulusSet:
    """Naturalistic textures and spectrally matched noise in the FreemanZiemba2013 layout.

    For each family f and sample j, a ``size`` × ``size`` crop at a seeded random
    position of the family's source image is the *target*. With ``n_iter > 0`` the
    ``'texture'`` image is synthesized from seeded noise to match the target's
    Portilla–Simoncelli statistics (:func:`synthesize_texture`, plenoptic); with
    ``n_iter == 0`` (the fast path, no synthesis) the ``'texture'`` image *is the
    source crop itself* — a real texture photograph, not a PS synthesis — made
    periodic by removing its smooth border component (:func:`periodic_component`,
    as PS syntheses are periodic), and ``attrs['texture_method']`` says so. The ``'noise'`` image is
    :func:`phase_randomize` of that texture image (Freeman et al. 2013: noise
    matched to each naturalistic image's amplitude spectrum). Each (texture, noise)
    pair is mapped by one affine transform to ``mean_luminance`` and RMS
    ``contrast`` (reduced for the pair if needed to stay inside [0, 1]), so the
    pair's amplitude spectra stay matched.

    Rows are ordered families × (texture, noise) × samples, as in
    FreemanZiemba2013 (there: 15 families × 2 × 15 samples, 320 px, 4°).

    Parameters
    ----------
    sources : None, folder path, StimulusSet or dict {family: image}
        Source textures, one per family (default: :func:`bundled_textures` brick,
        grass, gravel, reptile_skin at ``source_size``). In a folder, each image
        file is one family named by its stem.
    samples_per_family : int
    size : int
        Side of each stimulus in pixels.
    n_iter : int
        Portilla–Simoncelli synthesis iterations per sample (0: no synthesis, see above).
    seed : int
        Seeds crop positions, synthesis initialisations and noise phases.
    source_size : int, optional
        Side to which the bundled sources are resampled (default 512: the native
        resolution of the scikit-image textures; plenoptic's 256 px reptile_skin is
        upsampled 2x), so crops show each texture at its photographed scale.
        ``None`` uses ``max(2 * size, 64)``. Ignored for user sources, which are used
        at their own resolution (at least ``size`` on each side).
    mean_luminance, contrast : float
        Target mean and RMS contrast (std of pixel values) of every image.
    progress : bool
        Show a progress bar over the synthesized samples.
    visual_degrees : float
        Stimulus width in degrees of visual angle.
    **synthesis_kwargs
        Passed to :func:`synthesize_texture` (``n_scales``, ``n_orientations``, ...).

    Returns
    -------
    StimulusSet
        Columns ``stimulus_id`` (``"{family}-{type}-{sample:02d}"``),
        ``texture_family``, ``texture_type`` (``'texture'`` | ``'noise'``), ``sample``;
        attrs ``texture_method`` (``'portilla_simoncelli'`` | ``'source_crop'``),
        ``n_iter``, ``seed``, ``size``, ``rms_contrast`` (per-image RMS contrast achieved, list).

    Examples
    --------
    >>> s = texture_stimulus_set(samples_per_family=2, size=32)
    >>> len(s), s.attrs["texture_method"]
    (16, 'source_crop')
    """
    size = check_image_size(size, "size")
    if isinstance(samples_per_family, bool) or not isinstance(samples_per_family, (int, np.integer)) \
            or samples_per_family < 1:
        raise ValueError(f"samples_per_family must be a positive integer; got {samples_per_family!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
        raise ValueError(f"n_iter must be a non-negative integer; got {n_iter!r}")
    if not 0 < mean_luminance < 1 or not contrast > 0:
        raise ValueError(
            f"mean_luminance must lie in (0, 1) and contrast be > 0; got {mean_luminance}, {contrast}"
        )
    source_size = max(2 * size, 64) if source_size is None else check_image_size(source_size, "source_size")
    src = _texture_sources(sources, source_size)
    for fam, im in src.items():
        if min(im.shape) < size:
            raise ValueError(
                f"source texture {fam!r} is {im.shape[0]}x{im.shape[1]} px, smaller than the "
                f"stimulus size {size}; use a smaller size or a larger source"
            )
    rng = np.random.default_rng(seed)
    rows, images, achieved = [], [], []
    jobs = [(f, j) for f in src for j in range(samples_per_family)]
    textures: dict[tuple, np.ndarray] = {}
    bar = progress_bar(jobs, progress and n_iter > 0, "PS synthesis")
    for fam, j in bar:
        im = src[fam]
        r = int(rng.integers(0, im.shape[0] - size + 1))
        c = int(rng.integers(0, im.shape[1] - size + 1))
        target = im[r : r + size, c : c + size].astype(np.float32)
        job_seed = int(rng.integers(2**31))
        if n_iter > 0:
            tex = synthesize_texture(target, n_iter=n_iter, seed=job_seed, progress=False,
                                     **synthesis_kwargs)
        else:
            tex = periodic_component(target)
        noise = phase_randomize(tex.astype(np.float64), seed=job_seed + 1)
        textures[fam, j] = _fit_pair_to_unit_range(tex.astype(np.float64), noise,
                                                   mean_luminance, contrast)
    for fam in src:
        for kind, k in (("texture", 0), ("noise", 1)):
            for j in range(samples_per_family):
                pair = textures[fam, j]
                images.append(pair[k][None])
                achieved.append(float(pair[2]))
                rows.append({"stimulus_id": f"{fam}-{kind}-{j:02d}", "texture_family": fam,
                             "texture_type": kind, "sample": j})
    table = pd.DataFrame(rows)
    method = "portilla_simoncelli" if n_iter > 0 else "source_crop"
    s = StimulusSet(table, np.stack(images), visual_degrees=visual_degrees, name="textures")
    s.attrs.update({
        "texture_method": method,
        "texture_method_description": (
            f"'texture' images are Portilla-Simoncelli syntheses ({n_iter} iterations, plenoptic) "
            f"matching the statistics of a random {size}px crop of each source"
            if n_iter > 0 else
            f"'texture' images are random {size}px crops of each source photograph, made "
            f"periodic (periodic_component; no synthesis: n_iter=0)"
        ),
        "noise_method": "phase_randomize of each 'texture' image (same amplitude spectrum)",
        "n_iter": int(n_iter), "seed": int(seed), "size": size,
        "families": list(src), "samples_per_family": int(samples_per_family),
        "mean_luminance": float(mean_luminance), "rms_contrast": achieved,
    })
    return s
