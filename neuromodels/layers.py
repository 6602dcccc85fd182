"""Building blocks: convolution → half-wave rectification → pooling stages, L2
(energy) pooling and divisive normalization.

These are the "LN" (linear–nonlinear) and "LN-LN" cascades of early-vision models
(e.g. Movshon, Thompson & Tolhurst 1978 for complex-cell energy pooling; Heeger
1992 and Carandini & Heeger 2012 for divisive normalization), and the luminance
and contrast gain control of the retina and LGN that precedes them (Mante, Frazor,
Bonin, Geisler & Carandini 2005).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .receptive_fields import ReceptiveField

__all__ = ["L2Pool2d", "DivisiveNormalization", "LuminanceContrastNormalization", "ConvStage", "make_pool",
           "gaussian_blur"]


class L2Pool2d(nn.Module):
    """Energy (L2) pooling: ``sqrt(mean_window(x²) + eps)``.

    The square root of the local mean of squared responses, as in the energy model
    of complex cells; ``eps`` keeps the gradient finite at zero input.

    Parameters
    ----------
    kernel_size, stride
        Pooling window and step (pixels of the layer's input).
    eps
        Added under the square root (same units as ``x²``).
    """

    def __init__(self, kernel_size: int, stride: int | None = None, eps: float = 1e-6):
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.stride = int(stride if stride is not None else kernel_size)
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(F.avg_pool2d(x * x, self.kernel_size, self.stride) + self.eps)

    def receptive_field_step(self) -> ReceptiveField:
        return ReceptiveField(self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, eps={self.eps}"


class DivisiveNormalization(nn.Module):
    """Local divisive normalization across channels and a spatial neighbourhood.

    ``y_c(x) = x_c(x) / sqrt(sigma² + mean_{c', x' ∈ N(x)} x_{c'}(x')²)``
    (Heeger 1992; Carandini & Heeger 2012, Eq. 1 with exponent 2 and equal
    weights). Fixed: it has no trainable parameters.

    Parameters
    ----------
    kernel_size
        Side of the square spatial neighbourhood N (pixels of the layer's input, odd).
    sigma
        Semi-saturation constant, in the units of ``x``.
    """

    def __init__(self, kernel_size: int = 5, sigma: float = 0.1):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer; got {kernel_size}")
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0; got {sigma}")
        self.kernel_size = int(kernel_size)
        self.sigma = float(sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energy = (x * x).mean(dim=1, keepdim=True)
        k = self.kernel_size
        local = F.avg_pool2d(energy, k, stride=1, padding=k // 2, count_include_pad=False)
        return x / torch.sqrt(self.sigma**2 + local)

    def receptive_field_step(self) -> ReceptiveField:
        return ReceptiveField(self.kernel_size, 1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}"


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of every channel of (B, C, H, W), reflecting at the borders.

    The kernel is sampled at integer offsets ``|t| <= ceil(3 sigma)`` and normalized
    to sum 1, so constant images are left unchanged (``sigma`` in pixels).
    """
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    pad_h, pad_w = min(radius, x.shape[-2] - 1), min(radius, x.shape[-1] - 1)
    if pad_h < radius or pad_w < radius:  # image smaller than the kernel: replicate instead
        x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    else:
        x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


class LuminanceContrastNormalization(nn.Module):
    r"""Luminance and contrast gain control of the retina and LGN (fixed, no parameters).

    .. math::

        m = G_\sigma * x,\qquad s = \sqrt{G_\sigma * (x - m)^2},\qquad
        y = \frac{x - m}{s + \epsilon},

    with :math:`G_\sigma` a normalized Gaussian of standard deviation ``sigma``
    pixels: the local mean luminance is subtracted (luminance gain control) and the
    result divided by the local RMS contrast (contrast gain control), as in the
    retina/LGN models of Mante et al. (2005) and the input stage of Parthasarathy &
    Simoncelli's models. ``y`` is unchanged by a global luminance offset
    (``x + b``, exactly) and by a contrast gain (``a x``) up to the constant:
    :math:`y(ax) = y(x)\,(s + \epsilon)/(s + \epsilon/a)`.

    Parameters
    ----------
    sigma
        Standard deviation of the Gaussian pools (pixels of the input).
    epsilon
        Semi-saturation constant (luminance units of the [0, 1] input); keeps
        uniform regions (s ≈ 0) from amplifying noise.

    Notes
    -----
    The receptive-field recursion counts it as a pointwise step (size 1, stride 1):
    the surround sets each pixel's gain, it does not add to the classical receptive
    field of the learned filters that follow (which complexity matching uses).

    Examples
    --------
    >>> norm = LuminanceContrastNormalization(sigma=4.0, epsilon=0.02)
    >>> x = torch.rand(1, 1, 32, 32)
    >>> torch.allclose(norm(x + 0.3), norm(x), atol=1e-5)
    True
    """

    def __init__(self, sigma: float = 4.0, epsilon: float = 0.02):
        super().__init__()
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0 pixels; got {sigma}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0 (it bounds the gain in uniform regions); got {epsilon}")
        self.sigma = float(sigma)
        self.epsilon = float(epsilon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x - gaussian_blur(x, self.sigma)
        s = torch.sqrt(gaussian_blur(d * d, self.sigma).clamp_min(0))
        return d / (s + self.epsilon)

    def receptive_field_step(self) -> ReceptiveField:
        return ReceptiveField(1, 1)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, epsilon={self.epsilon}"


def make_pool(kind: str, kernel_size: int, stride: int) -> nn.Module:
    """Pooling module by name: ``"l2"`` (energy), ``"avg"``, ``"max"`` or ``"none"``."""
    if kind == "l2":
        return L2Pool2d(kernel_size, stride)
    if kind == "avg":
        return nn.AvgPool2d(kernel_size, stride)
    if kind == "max":
        return nn.MaxPool2d(kernel_size, stride)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown pooling {kind!r}; choose one of 'l2', 'avg', 'max', 'none'")


class ConvStage(nn.Module):
    """One learned stage: convolution → half-wave rectification → pooling (→ normalization).

    Submodules (hookable by name): ``conv`` (``nn.Conv2d``, zero "same" padding
    ``kernel_size // 2``), ``rectify`` (ReLU), ``pool`` (see :func:`make_pool`, no
    padding), ``norm`` (:class:`DivisiveNormalization` or identity).

    Output size: ``floor((H - pool_size) / pool_stride) + 1`` per side (``H`` for
    pooling ``"none"``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 7,
        pool_size: int = 4,
        pool_stride: int = 2,
        pooling: str = "l2",
        normalization: bool = False,
        norm_kernel: int = 5,
        norm_sigma: float = 0.1,
    ):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer; got {kernel_size}")
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.rectify = nn.ReLU()
        self.pool = make_pool(pooling, pool_size, pool_stride)
        self.norm = DivisiveNormalization(norm_kernel, norm_sigma) if normalization else nn.Identity()
        self.in_channels = in_channels
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.pool(self.rectify(self.conv(x))))
