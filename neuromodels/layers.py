"""Building blocks: convolution → half-wave rectification → pooling stages, L2
(energy) pooling and divisive normalization.

These are the "LN" (linear–nonlinear) and "LN-LN" cascades of early-vision models
(e.g. Movshon, Thompson & Tolhurst 1978 for complex-cell energy pooling; Heeger
1992 and Carandini & Heeger 2012 for divisive normalization).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .receptive_fields import ReceptiveField

__all__ = ["L2Pool2d", "DivisiveNormalization", "ConvStage", "make_pool"]


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
