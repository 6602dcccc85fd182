"""Texture stimuli: FreemanZiemba2013-layout sets of naturalistic textures and
spectrally matched noise.

- :func:`phase_randomize`: spectrally matched noise (Freeman et al. 2013);
- :func:`periodic_component`: periodic + smooth decomposition (Moisan 2011);
- :func:`synthesize_texture`: Portilla–Simoncelli synthesis (plenoptic);
- :func:`texture_stimulus_set`: families × (texture, noise) × samples, as FreemanZiemba2013.

Stimulus sets, image conversion and bundled sources come from :mod:`analysis.stimuli`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis._progress import progress_bar
from analysis.stimuli import (
    IMAGE_SUFFIXES,
    StimulusSet,
    as_gray_image,
    bundled_textures,
    check_image_size,
    image_files,
    resize_square,
)

__all__ = ["phase_randomize", "periodic_component", "synthesize_texture", "texture_stimulus_set"]

# --------------------------------------------------------------------------------------
# Spectrally matched noise
# --------------------------------------------------------------------------------------


def phase_randomize(image, seed: int | np.random.Generator | None = 0):
    """Spectrally matched noise: the image's Fourier amplitudes with random phases.

    The 2-D DFT ``F = |F| e^{iφ}`` of each image (last two axes) keeps its amplitude
    spectrum ``|F|`` and gets the phases of the DFT of white Gaussian noise, which
    are Hermitian-symmetric so the result is real; the DC phase is kept, so mean and
    (by Parseval) variance are preserved exactly. This is the "spectrally matched
    noise" of Freeman et al. (2013, Nat. Neurosci. 16:974), there matched to each
    naturalistic texture. The output is not clipped: it can leave [0, 1] slightly
    (see :func:`texture_stimulus_set`, which rescales pairs jointly).

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor, shape (..., H, W)
        One or several images (each gets its own random phases).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    Same type, shape, dtype (and device, for tensors) as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(1).random((32, 32))
    >>> noise = phase_randomize(img, seed=0)
    >>> bool(np.allclose(np.abs(np.fft.fft2(noise)), np.abs(np.fft.fft2(img))))
    True
    """
    tensor = None
    if type(image).__module__.startswith("torch"):
        tensor = image
        arr = image.detach().cpu().double().numpy()
    else:
        arr = np.asarray(image)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"phase_randomize takes a real image array; got dtype {arr.dtype}")
    if arr.ndim < 2 or min(arr.shape[-2:]) < 2:
        raise ValueError(f"phase_randomize takes images of shape (..., H, W); got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("phase_randomize: image holds NaN or inf values")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x = arr.astype(np.float64)
    spectrum = np.fft.fft2(x)
    noise_phase = np.angle(np.fft.fft2(rng.standard_normal(x.shape)))
    noise_phase[..., 0, 0] = np.angle(spectrum[..., 0, 0])
    out = np.fft.ifft2(np.abs(spectrum) * np.exp(1j * noise_phase)).real
    if tensor is not None:
        import torch

        return torch.as_tensor(out, dtype=tensor.dtype, device=tensor.device)
    return out.astype(arr.dtype if arr.dtype.kind == "f" else np.float64)


# --------------------------------------------------------------------------------------
# Texture stimulus sets (FreemanZiemba2013 layout)
# --------------------------------------------------------------------------------------


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


def periodic_component(image: np.ndarray) -> np.ndarray:
    """Periodic component of an image (Moisan 2011, "Periodic plus smooth image
    decomposition", J. Math. Imaging Vis. 39:161).

    ``image = periodic + smooth``, where ``smooth`` is the harmonic-like image that
    absorbs the jumps across the image borders; the periodic part has no border
    discontinuity, so its Fourier spectrum lacks the "cross" artefact of a
    non-periodic crop and phase randomization does not spread that artefact over
    the whole noise image. Mean is preserved.

    Parameters
    ----------
    image : numpy.ndarray, (H, W)

    Returns
    -------
    numpy.ndarray, (H, W), float64

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.linspace(0, 1, 16), (16, 1))
    >>> p = periodic_component(ramp)
    >>> bool(abs(p[:, 0] - p[:, -1]).max() < abs(ramp[:, 0] - ramp[:, -1]).max())
    True
    """
    u = np.asarray(image, dtype=np.float64)
    if u.ndim != 2:
        raise ValueError(f"periodic_component takes a 2-D image; got shape {u.shape}")
    h, w = u.shape
    v = np.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    q = np.arange(h)[:, None]
    r = np.arange(w)[None, :]
    denom = 2 * np.cos(2 * np.pi * q / h) + 2 * np.cos(2 * np.pi * r / w) - 4
    denom[0, 0] = 1.0
    s_hat = np.fft.fft2(v) / denom
    s_hat[0, 0] = 0.0
    return u - np.fft.ifft2(s_hat).real


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


# --------------------------------------------------------------------------------------
# Portilla-Simoncelli texture synthesis (plenoptic)
# --------------------------------------------------------------------------------------


def _default_ps_scales(size: int) -> int:
    # the coarsest PS band must stay >= 8 px: size / 2**n_scales >= 8 (at most 4 scales)
    return int(max(1, min(4, np.floor(np.log2(size)) - 3)))


def synthesize_texture(
    source,
    size: int | None = None,
    n_iter: int = 200,
    seed: int = 0,
    progress: bool = True,
    n_scales: int | None = None,
    n_orientations: int = 4,
    spatial_corr_width: int | None = None,
    lr: float = 0.01,
    device=None,
) -> np.ndarray:
    """Synthesize a texture whose Portilla–Simoncelli statistics match ``source``.

    Implements Portilla & Simoncelli (2000, IJCV 40:49) synthesis with plenoptic:
    ``plenoptic.models.PortillaSimoncelli`` (marginal pixel statistics, auto- and
    cross-correlations of steerable-pyramid magnitudes and real parts across
    positions, orientations and scales) and ``plenoptic.Metamer`` (Adam on the
    pixels, L2 distance between statistics plus a [0, 1] range penalty), started
    from seeded Gaussian noise with the source's mean and standard deviation.

    Parameters
    ----------
    source : array-like or torch.Tensor, (H, W) / (1, H, W) / (1, 1, H, W), in [0, 1]
        Source texture (grayscale; RGB is converted to luminance).
    size : int, optional
        Side of the synthesis in pixels; the source is centre-cropped and resampled
        to it (default: the source's own size; it must be square then).
    n_iter : int
        Iteration budget (plenoptic's ``max_iter``; it may stop earlier once the
        loss has converged). About 100 iterations at 128² take seconds on a CPU;
        good syntheses need several hundred to a few thousand.
    seed : int
        Seeds the initial noise (the optimisation itself is deterministic on CPU).
    progress : bool
        Show plenoptic's progress bar.
    n_scales : int, optional
        Pyramid scales (default: as many as keep the coarsest band >= 8 px, at most 4).
    n_orientations : int
    spatial_corr_width : int, optional
        Width of the auto-correlation window (odd; default 7, 5 below 64 px).
    lr : float
        Adam learning rate.
    device : str or torch.device, optional
        Where to run (default: the source's device for tensors, else CPU).

    Returns
    -------
    numpy.ndarray, (size, size), float32 in [0, 1]

    Examples
    --------
    >>> from analysis.stimuli import bundled_textures
    >>> src = bundled_textures(size=32).load_images()[0]
    >>> synthesize_texture(src, n_iter=5, progress=False).shape
    (32, 32)
    """
    import contextlib
    import sys
    import warnings

    import torch

    try:
        import plenoptic as po
    except ImportError as err:
        raise ImportError("synthesize_texture needs plenoptic: pip install plenoptic") from err
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer; got {n_iter!r}")
    if isinstance(source, torch.Tensor):
        device = source.device if device is None else device
        source = source.detach().cpu().numpy()
    img = np.asarray(source)
    while img.ndim > 2 and img.shape[0] == 1:
        img = img[0]
    img = as_gray_image(img, "source")[0]
    if size is None:
        if img.shape[0] != img.shape[1]:
            raise ValueError(f"source is {img.shape}, not square; pass size= to crop and resample it")
        size = img.shape[0]
    size = check_image_size(size, "size")
    img = resize_square(img, size) if img.shape != (size, size) else img
    n_scales = _default_ps_scales(size) if n_scales is None else int(n_scales)
    if size % (2 ** n_scales):
        raise ValueError(
            f"size {size} must be divisible by 2**n_scales = {2 ** n_scales} for the PS pyramid; "
            f"choose another size or n_scales"
        )
    if spatial_corr_width is None:
        spatial_corr_width = 7 if size >= 64 else 5
    device = torch.device("cpu" if device is None else device)
    target = torch.as_tensor(img, dtype=torch.float32, device=device)[None, None]
    model = po.models.PortillaSimoncelli(
        (size, size), n_scales=n_scales, n_orientations=n_orientations,
        spatial_corr_width=spatial_corr_width,
    ).to(device)
    po.remove_grad(model)
    model.eval()
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    init = torch.randn((1, 1, size, size), generator=gen) * float(img.std()) + float(img.mean())
    init = init.clamp(0, 1).to(device)
    met = po.Metamer(target, model)
    met.setup(init, optimizer_kwargs={"lr": lr, "amsgrad": True})
    module = sys.modules[type(met).__module__]
    with contextlib.ExitStack() as stack:
        if not progress and hasattr(module, "tqdm"):
            import functools

            original = module.tqdm
            module.tqdm = functools.partial(original, disable=True)
            stack.callback(setattr, module, "tqdm", original)
        with warnings.catch_warnings():
            # plenoptic warns when it stops early because the loss has converged
            warnings.filterwarnings("ignore", message="Loss has converged")
            met.synthesize(max_iter=int(n_iter))
    out = met.metamer.detach().cpu().numpy()[0, 0]
    return np.clip(out, 0.0, 1.0).astype(np.float32)
