"""Parametric image distortions, as a registry: each :class:`Distortion` carries its function,
its valid strength range and its default strength grid.

Every distortion is seeded, batched, and computed in torch on the batch's own
device; strength 0 is the identity. The grids follow Geirhos et al. 2018
(model-vs-human) and ImageNet-C (Hendrycks & Dietterich 2019) where they define
one. Adding a distortion is one registration::

    @register_distortion("invert", grid=(0.0, 0.5, 1.0), unit="blend [fraction]",
                         description="x -> (1 - s) x + s (1 - x)", max_strength=1.0)
    def _invert(x, s, generator, **options):
        return (1 - s) * x + s * (1 - x)

and the parametrized tests in ``tests/analysis/test_distortions.py`` then cover it.

Examples
--------
>>> import torch
>>> x = torch.rand(2, 1, 16, 16)
>>> bool(torch.equal(distort(x, "contrast", 0.0), x))
True
>>> DISTORTIONS["contrast"].max_strength
1.0
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from neurocommon.deformations import displacement_field, warp

__all__ = ["Distortion", "DISTORTIONS", "register_distortion", "distort"]


@dataclass(frozen=True)
class Distortion:
    """One kind of distortion: its function, valid strengths and default strength grid.

    Attributes
    ----------
    name : str
    function : callable
        ``function(x, strength, generator, **options) -> Tensor`` on a float
        ``(B, C, H, W)`` batch; ``options`` are ``background`` and ``cell`` (see
        :func:`distort`), a function takes the ones it uses and ignores the rest.
        Must return ``x`` unchanged (values) at strength 0.
    grid : tuple of float
        Default strengths, increasing, starting at 0 (the identity).
    unit : str
        Unit of the strength.
    description : str
        What the strength means and where the grid comes from.
    max_strength : float
        Strengths lie in ``[0, max_strength]``.
    random : bool
        Whether the output depends on the seed.
    """

    name: str
    function: Callable
    grid: tuple[float, ...]
    unit: str
    description: str
    max_strength: float = math.inf
    random: bool = False


#: Every registered distortion by name. Images are in [0, 1]; pixel units refer to
#: the image as given (model-vs-human images are 224 px).
DISTORTIONS: dict[str, Distortion] = {}


def register_distortion(name: str, *, grid, unit: str, description: str,
                        max_strength: float = math.inf, random: bool = False):
    """Decorator registering ``function(x, strength, generator, **options)`` as a distortion.

    Raises ``ValueError`` if ``name`` is taken or the grid does not start at 0 and
    increase within ``[0, max_strength]``.
    """
    grid = tuple(float(s) for s in grid)
    if name in DISTORTIONS:
        raise ValueError(f"a distortion named {name!r} is already registered; choose another name.")
    if not grid or grid[0] != 0.0 or any(b <= a for a, b in zip(grid, grid[1:])) \
            or grid[-1] > max_strength:
        raise ValueError(f"the grid of {name!r} must start at 0 and increase within "
                         f"[0, {max_strength}]; got {grid}.")

    def decorate(function: Callable) -> Callable:
        DISTORTIONS[name] = Distortion(name, function, grid, unit, description,
                                       float(max_strength), random)
        return function

    return decorate


# --------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------


def _generator(seed, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) % (2**63))
    return g


def _gaussian_kernel(sigma: float, dtype, device) -> torch.Tensor:
    """Sampled Gaussian, normalised, radius int(4σ + 0.5) as scipy.ndimage.gaussian_filter."""
    radius = int(4.0 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def _symmetric_index(n: int, pad: int, device) -> torch.Tensor:
    """Indices of a half-sample symmetric extension (d c b a | a b c d | d c b a) of any width."""
    p = torch.arange(-pad, n + pad, device=device) % (2 * n)
    return torch.where(p < n, p, 2 * n - 1 - p)


def _gaussian_filter(x: torch.Tensor, sigma: float, background=None) -> torch.Tensor:
    """Separable Gaussian filter over the last two dims of (N, C, H, W).

    ``background=None``: mirror-symmetric borders (scipy 'reflect'); a tensor
    broadcastable to (N, C, 1, 1): the image is surrounded by that constant
    (scipy 'constant' with ``cval``).
    """
    k = _gaussian_kernel(sigma, x.dtype, x.device)
    r = (len(k) - 1) // 2
    n, c, h, w = x.shape
    if background is None:
        xp = x.index_select(2, _symmetric_index(h, r, x.device))
        xp = xp.index_select(3, _symmetric_index(w, r, x.device))
    else:
        bg = torch.as_tensor(background, dtype=x.dtype, device=x.device).expand(n, c, 1, 1)
        xp = bg.expand(n, c, h + 2 * r, w + 2 * r).clone()
        xp[..., r:r + h, r:r + w] = x
    flat = xp.reshape(n * c, 1, h + 2 * r, w + 2 * r)
    flat = F.conv2d(flat, k.view(1, 1, 1, -1))
    flat = F.conv2d(flat, k.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w)


def _background(x: torch.Tensor, background) -> torch.Tensor:
    if background is None or (isinstance(background, str) and background == "mean"):
        return x.mean(dim=(-2, -1), keepdim=True)
    value = float(background)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"background must be 'mean' or a luminance in [0, 1]; got {background}")
    return torch.full_like(x[..., :1, :1], value)


def _phase_scramble(x: torch.Tensor, width_deg: float, gen: torch.Generator) -> torch.Tensor:
    """Add phase noise uniform in [−w, w] to every Fourier component, Hermitian-symmetric.

    The noise is the angle of the DFT of real white noise (uniform on (−π, π], odd
    under f → −f) scaled by w/π, zero at the self-conjugate frequencies (DC and,
    for even sizes, the Nyquist lines), so ``F · exp(iφ)`` stays Hermitian and its
    inverse DFT is real with the same amplitude spectrum and mean. One noise field
    per image, shared by its channels.
    """
    n, c, h, w = x.shape
    real = torch.float64 if x.dtype == torch.float64 else torch.float32
    white = torch.randn((n, 1, h, w), generator=gen, device=x.device, dtype=real)
    phi = torch.angle(torch.fft.fft2(white)) * (width_deg / 180.0)
    ky = torch.arange(h, device=x.device)
    kx = torch.arange(w, device=x.device)
    self_conj = ((-ky) % h == ky)[:, None] & ((-kx) % w == kx)[None, :]
    phi = phi.masked_fill(self_conj, 0.0)
    spectrum = torch.fft.fft2(x.to(real))
    return torch.fft.ifft2(spectrum * torch.polar(torch.ones_like(phi), phi)).real.to(x.dtype)


def _elastic(x: torch.Tensor, amplitude: float, cell: float, gen: torch.Generator) -> torch.Tensor:
    """Resample x along a smooth random displacement field, each component with RMS ``amplitude`` px.

    The field is :func:`neurocommon.deformations.displacement_field` with
    ``normalize="per_image"`` (centred, each component scaled to RMS exactly
    ``amplitude`` over the image); the warp repeats the border pixels.
    """
    n, c, h, w = x.shape
    real = torch.float64 if x.dtype == torch.float64 else torch.float32
    disp = displacement_field(n, h, w, amplitude, cell, gen, real, x.device, normalize="per_image")
    return warp(x.to(real), disp, padding_mode="border").to(x.dtype)


# --------------------------------------------------------------------------------------
# the registered distortions
# --------------------------------------------------------------------------------------


@register_distortion(
    "gaussian_noise", grid=(0.0, 0.08, 0.12, 0.18, 0.26, 0.38), unit="std [image units]",
    random=True,
    description="additive i.i.d. N(0, s^2) pixel noise, clipped to [0, 1]; grid: the five "
    "severities of ImageNet-C gaussian_noise (Hendrycks & Dietterich 2019)")
def _gaussian_noise(x, s, generator, **options):
    return x + s * torch.randn(x[:, :1].shape, generator=generator, device=x.device, dtype=x.dtype)


@register_distortion(
    "uniform_noise", grid=(0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9),
    unit="half-width [image units]", random=True,
    description="additive i.i.d. U(-s, s) pixel noise, clipped to [0, 1]; grid: model-vs-human "
    "'uniform-noise' widths (Geirhos et al. 2018, there on 30%-contrast grayscale images: "
    "compose with 'contrast' 0.7 to reproduce that)")
def _uniform_noise(x, s, generator, **options):
    u = torch.rand(x[:, :1].shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + s * (2.0 * u - 1.0)


@register_distortion(
    "contrast", grid=(0.0, 0.5, 0.7, 0.85, 0.9, 0.95, 0.97, 0.99),
    unit="contrast reduction 1 - c [fraction]", max_strength=1.0,
    description="x -> (1 - c)/2 + c x with contrast level c = 1 - s (Geirhos et al. 2018: blend "
    "towards mid-gray); the std of the image scales by c; grid: model-vs-human contrast levels "
    "100, 50, 30, 15, 10, 5, 3, 1 %")
def _contrast(x, s, generator, **options):
    c = 1.0 - s
    return (1.0 - c) / 2.0 + c * x


@register_distortion(
    "blur", grid=(0.0, 1.0, 2.0, 3.0, 4.0, 6.0), unit="Gaussian std [px]",
    description="Gaussian blur with mirror-symmetric borders (scipy.ndimage 'reflect'), kernel "
    "truncated at 4 std; grid: ImageNet-C gaussian_blur severities (which used skimage's "
    "edge-replicating borders)")
def _blur(x, s, generator, **options):
    return x.clone() if s == 0 else _gaussian_filter(x, s)


@register_distortion(
    "low_pass", grid=(0.0, 1.0, 3.0, 5.0, 7.0, 10.0, 15.0, 40.0), unit="Gaussian std [px]",
    description="Gaussian low-pass filter whose surround is a uniform background (default: each "
    "image's mean; model-vs-human used 0.4423), kernel truncated at 4 std (Geirhos et al. "
    "2018); grid: model-vs-human 'low-pass' filter stds")
def _low_pass(x, s, generator, background="mean", **options):
    return x.clone() if s == 0 else _gaussian_filter(x, s, _background(x, background))


@register_distortion(
    "high_pass", grid=(0.0,) + tuple(1.0 / s for s in (3.0, 1.5, 1.0, 0.7, 0.55, 0.45, 0.4)),
    unit="1 / Gaussian std [1/px]",
    description="x - low_pass(x, std) shifted to the background luminance (Geirhos et al. "
    "2018); strength = 1/std so that 0 (std = inf) is the unfiltered image; grid: "
    "model-vs-human 'high-pass' stds inf, 3, 1.5, 1, 0.7, 0.55, 0.45, 0.4 px")
def _high_pass(x, s, generator, background="mean", **options):
    if s == 0:
        return x.clone()
    bg = _background(x, background)
    diff = x - _gaussian_filter(x, 1.0 / s, bg)
    return diff + (bg - diff.mean(dim=(-2, -1), keepdim=True))


@register_distortion(
    "phase_scrambling", grid=(0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0),
    unit="phase-noise width [deg]", max_strength=180.0, random=True,
    description="every Fourier phase shifted by noise uniform in [-s, s] (Hermitian-symmetric, "
    "so the image stays real), amplitude spectrum and mean kept (Geirhos et al. 2018); grid: "
    "model-vs-human 'phase-scrambling' widths")
def _phase_scrambling(x, s, generator, **options):
    return _phase_scramble(x, s, generator)


@register_distortion(
    "elastic", grid=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0), unit="displacement std [px]", random=True,
    description="smooth random displacement field (a coarse grid of Gaussian values, one per "
    "`cell` px, default 16, upsampled bicubically), centred and scaled so each displacement "
    "component has RMS s over the image; bilinear resampling, border values replicated; grid: "
    "ours (no published standard)")
def _elastic_distortion(x, s, generator, cell=16.0, **options):
    if not cell > 0:
        raise ValueError(f"cell must be a positive number of pixels; got {cell}")
    return _elastic(x, s, float(cell), generator)


def distort(images, kind: str, strength: float, seed: int = 0, *, clip: bool = True,
            background="mean", cell: float = 16.0):
    """Apply one registered distortion to a batch of images, on the batch's device.

    Parameters
    ----------
    images : torch.Tensor or numpy.ndarray, shape (B, C, H, W) or (C, H, W)
        Values in [0, 1]. Every channel is distorted alike (the same noise field).
    kind : str
        A key of :data:`DISTORTIONS`: ``gaussian_noise``, ``uniform_noise``,
        ``contrast``, ``blur``, ``low_pass``, ``high_pass``, ``phase_scrambling``,
        ``elastic``, or any registered later.
    strength : float
        In ``[0, DISTORTIONS[kind].max_strength]``, in the kind's unit
        (``DISTORTIONS[kind].unit``); 0 is the identity for every kind.
    seed : int
        Seeds the random kinds (noise, phase scrambling, elastic); the same seed on
        the same device gives the same output.
    clip : bool
        Clip the result to [0, 1] (default; Geirhos et al. clip as well). Pass False
        to inspect the linear operation (e.g. the exact amplitude spectrum after
        phase scrambling).
    background : 'mean' or float
        Surround luminance of ``low_pass`` and target mean of ``high_pass``
        (default each image's mean; model-vs-human used 0.4423).
    cell : float
        Spacing in pixels of the coarse grid of the ``elastic`` displacement field
        (smoothness scale).

    Returns
    -------
    Same type, shape, dtype and device as ``images``.

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(4, 1, 32, 32)
    >>> y = distort(x, "contrast", 0.5)
    >>> bool(torch.allclose(y.std(), x.std() / 2, rtol=1e-4))
    True
    """
    if kind not in DISTORTIONS:
        raise ValueError(f"unknown distortion kind {kind!r}; choose from {sorted(DISTORTIONS)} "
                         "or add one with @register_distortion")
    spec = DISTORTIONS[kind]
    s = float(strength)
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"strength must be a finite number >= 0; got {strength!r}")
    if s > spec.max_strength:
        raise ValueError(f"{kind} strength must lie in [0, {spec.max_strength:g}] ({spec.unit}); "
                         f"got {s}")
    as_numpy = not isinstance(images, torch.Tensor)
    x = torch.as_tensor(np.asarray(images)) if as_numpy else images
    if not x.is_floating_point():
        raise TypeError(f"images must be floating point in [0, 1]; got dtype {x.dtype}")
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W) or (C, H, W); got {tuple(x.shape)}")
    out = spec.function(x, s, _generator(seed, x.device), background=background, cell=cell)
    if clip:
        out = out.clamp(0.0, 1.0)
    if single:
        out = out[0]
    return out.numpy() if as_numpy else out
