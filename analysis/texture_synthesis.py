"""Portilla–Simoncelli texture synthesis (Portilla & Simoncelli 2000), run with plenoptic.

:func:`synthesize_texture` matches the PS statistics of a source image from seeded
noise (``plenoptic.models.PortillaSimoncelli`` + ``plenoptic.Metamer``). plenoptic
is imported inside the function (the Brain-Score environment has none).
"""
from __future__ import annotations

import numpy as np

from analysis.images import as_gray_image, check_image_size, resize_square

__all__ = ["synthesize_texture"]


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
    >>> from analysis.bundled import bundled_textures
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
