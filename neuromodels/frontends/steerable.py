"""A fixed V1 front end built on the complex steerable pyramid.

Simoncelli & Freeman (1995) steerable pyramid, in plenoptic's Fourier-domain
implementation (``plenoptic.process.SteerablePyramidFreq``, ``is_complex=True``,
no downsampling). For every scale s and orientation k the complex band
``a = re + i·im`` is a quadrature pair of oriented band-pass filters; the V1 model
reads it out as (Adelson & Bergen 1985; Heeger 1992)

- **simple cells**: half-wave rectified responses at four phases,
  ``relu(re), relu(-re), relu(im), relu(-im)``;
- **complex cells**: the phase-invariant modulus ``sqrt(re² + im²)``;

optionally followed by local divisive normalization
(:class:`neuromodels.layers.DivisiveNormalization`) and spatial averaging whose
window grows with scale (``pool_size · 2^s`` pixels).

Scale s is tuned to ``1 / (4 · 2^s)`` cycles/pixel (one octave per scale); band k is
tuned to gratings ``cos(2π f (x cos θ + y sin θ))`` with ``θ = k·π/K`` (radians; x is
the column and y the row index of the image, so y points down).
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..base import VisionModel
from ..layers import DivisiveNormalization
from ..receptive_fields import ReceptiveField

__all__ = ["SteerableV1"]

_CELLS = ("both", "simple", "complex")


def _pyramid(shape: tuple[int, int], n_scales: int, n_orientations: int):
    from plenoptic.process import SteerablePyramidFreq

    return SteerablePyramidFreq(shape, height=n_scales, order=n_orientations - 1,
                                is_complex=True, downsample=False)


class SteerableV1(VisionModel):
    """V1 simple and complex cells from a complex steerable pyramid (fixed, no learned weights).

    Parameters
    ----------
    n_scales
        Number of pyramid scales S (octaves); images need a side of at least ``2^(S+2)``.
    n_orientations
        Number of orientations K (pyramid order K − 1).
    cells
        Which population forms the output: ``"both"`` (simple then complex channels),
        ``"simple"`` or ``"complex"``.
    normalization
        Apply divisive normalization to each population (``norm_kernel``, ``norm_sigma``).
    pool_size
        Scale-dependent spatial pooling: scale s is averaged over a square window of
        ``pool_size · 2^s`` pixels (rounded up to odd), stride 1. ``0`` = no pooling.
    stride
        Subsampling of the output (pixels).
    visual_degrees
        Field of view of the input (degrees of visual angle).

    Notes
    -----
    Channel order: simple cells ``[scale, orientation, phase]`` (phases 0, π, π/2,
    3π/2 ≙ +re, −re, +im, −im), then complex cells ``[scale, orientation]``; see
    :meth:`channel_table`. Output (B, C, ceil(H/stride), ceil(W/stride)) with
    C = 4SK (simple), SK (complex) or 5SK (both). Layers: ``simple``, ``complex``,
    ``output`` (identity modules that can be hooked).

    Examples
    --------
    >>> v1 = SteerableV1(n_scales=2, n_orientations=4)
    >>> v1(torch.rand(1, 1, 32, 32)).shape
    torch.Size([1, 40, 32, 32])
    """

    def __init__(self, n_scales: int = 4, n_orientations: int = 4, cells: str = "both",
                 normalization: bool = False, norm_kernel: int = 5, norm_sigma: float = 0.1,
                 pool_size: int = 0, stride: int = 1, visual_degrees: float = 8.0):
        super().__init__()
        if n_scales < 1 or n_orientations < 1:
            raise ValueError(f"n_scales and n_orientations must be >= 1; got {n_scales}, {n_orientations}")
        if cells not in _CELLS:
            raise ValueError(f"cells must be one of {_CELLS}; got {cells!r}")
        if stride < 1 or pool_size < 0:
            raise ValueError(f"stride must be >= 1 and pool_size >= 0; got {stride}, {pool_size}")
        self.n_scales, self.n_orientations, self.cells = n_scales, n_orientations, cells
        self.pool_size, self.stride = int(pool_size), int(stride)
        self.visual_degrees = float(visual_degrees)
        self.in_channels = 1
        n_bands = n_scales * n_orientations
        self.out_channels = {"both": 5 * n_bands, "simple": 4 * n_bands, "complex": n_bands}[cells]
        self.simple_norm = DivisiveNormalization(norm_kernel, norm_sigma) if normalization else nn.Identity()
        self.complex_norm = DivisiveNormalization(norm_kernel, norm_sigma) if normalization else nn.Identity()
        self.simple = nn.Identity()
        self.complex = nn.Identity()
        self.output = nn.Identity()
        self.layers = {"both": ["simple", "complex", "output"], "simple": ["simple", "output"],
                       "complex": ["complex", "output"]}[cells]
        self._pyramids: dict = {}  # (H, W, device, dtype) -> pyramid; not part of the state

    # -- pyramid -----------------------------------------------------------------
    def _bands(self, x: torch.Tensor) -> torch.Tensor:
        """Complex bands (B, S, K, H, W) of a (B, 1, H, W) batch."""
        h, w = x.shape[-2:]
        need = 2 ** (self.n_scales + 2)
        if min(h, w) < need:
            raise ValueError(
                f"SteerableV1 with n_scales={self.n_scales} needs images of at least {need}×{need} "
                f"pixels; got {h}×{w}. Use fewer scales or larger images."
            )
        key = (h, w, x.device, x.dtype)
        if key not in self._pyramids:
            self._pyramids[key] = _pyramid((h, w), self.n_scales, self.n_orientations).to(
                device=x.device, dtype=x.dtype)
        coeffs = self._pyramids[key](x)
        return torch.stack([coeffs[s][:, 0] for s in range(self.n_scales)], dim=1)

    def _pool(self, x: torch.Tensor, scale_axis_len: int) -> torch.Tensor:
        """Average each scale's channels over its window; x is (B, S, n, H, W)."""
        if self.pool_size == 0:
            return x
        out = []
        for s in range(scale_axis_len):
            k = self._pool_kernel(s)
            out.append(F.avg_pool2d(x[:, s], k, stride=1, padding=k // 2, count_include_pad=False))
        return torch.stack(out, dim=1)

    def _pool_kernel(self, scale: int) -> int:
        k = math.ceil(self.pool_size * 2**scale)
        return k if k % 2 == 1 else k + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare(x)
        bands = self._bands(x)  # (B, S, K, H, W) complex
        b, s_, k_, h, w = bands.shape
        parts = []
        if self.cells in ("both", "simple"):
            re, im = bands.real, bands.imag
            simple = torch.stack([F.relu(re), F.relu(-re), F.relu(im), F.relu(-im)], dim=3)
            simple = self._pool(simple.reshape(b, s_, k_ * 4, h, w), s_)
            simple = self.simple_norm(simple.reshape(b, -1, h, w))[..., ::self.stride, ::self.stride]
            parts.append(self.simple(simple))
        if self.cells in ("both", "complex"):
            complex_ = self._pool(bands.abs(), s_)
            complex_ = self.complex_norm(complex_.reshape(b, -1, h, w))[..., ::self.stride, ::self.stride]
            parts.append(self.complex(complex_))
        return self.output(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])

    # -- description ---------------------------------------------------------------
    def channel_table(self) -> list[dict]:
        """One dict per output channel: ``cell`` ('simple'/'complex'), ``scale``,
        ``orientation`` (radians), ``phase`` (radians; None for complex cells),
        ``frequency`` (preferred spatial frequency, cycles/pixel)."""
        phases = [0.0, math.pi, math.pi / 2, 3 * math.pi / 2]
        rows = []
        if self.cells in ("both", "simple"):
            for s in range(self.n_scales):
                for k in range(self.n_orientations):
                    for p in phases:
                        rows.append(dict(cell="simple", scale=s, orientation=k * math.pi / self.n_orientations,
                                         phase=p, frequency=1 / (4 * 2**s)))
        if self.cells in ("both", "complex"):
            for s in range(self.n_scales):
                for k in range(self.n_orientations):
                    rows.append(dict(cell="complex", scale=s, orientation=k * math.pi / self.n_orientations,
                                     phase=None, frequency=1 / (4 * 2**s)))
        return rows

    def scale_receptive_fields(self, energy: float = 0.9) -> list[ReceptiveField]:
        """Receptive field of each scale, measured from the filters' impulse responses.

        The size is the diameter ``2r + 1`` (pixels) of the disc around an impulse
        that holds ``energy`` of the complex band's squared response (summed over
        orientations), plus the scale's pooling window minus one; the stride is
        ``stride``. Computed on a ``2^(S+4)``-pixel image so that the coarsest filter fits.
        """
        out = []
        for s, diameter in enumerate(_impulse_diameters(self.n_scales, self.n_orientations, energy)):
            size = diameter + (self._pool_kernel(s) - 1 if self.pool_size else 0)
            out.append(ReceptiveField(float(size), float(self.stride)))
        return out

    def receptive_field_step(self) -> ReceptiveField:
        """Field of the output as a block (the coarsest scale's field)."""
        return max(self.scale_receptive_fields(), key=lambda rf: rf.size)

    def receptive_fields(self) -> dict[str, ReceptiveField]:
        rf = self.receptive_field_step()
        return {layer: rf for layer in self.layers}


@functools.lru_cache(maxsize=32)
def _impulse_diameters(n_scales: int, n_orientations: int, energy: float) -> tuple[int, ...]:
    """Per-scale diameter (pixels) of the disc holding ``energy`` of the impulse response."""
    n = 2 ** (n_scales + 4)
    delta = torch.zeros(1, 1, n, n, dtype=torch.float64)
    delta[..., n // 2, n // 2] = 1.0
    pyr = _pyramid((n, n), n_scales, n_orientations).to(torch.float64)
    with torch.no_grad():
        coeffs = pyr(delta)
    yy, xx = torch.meshgrid(torch.arange(n) - n // 2, torch.arange(n) - n // 2, indexing="ij")
    radius = torch.sqrt((yy**2 + xx**2).double()).flatten()
    order = torch.argsort(radius)
    out = []
    for s in range(n_scales):
        e = (coeffs[s][0, 0].abs() ** 2).sum(0).flatten()[order]
        frac = torch.cumsum(e, 0) / e.sum()
        r = float(radius[order][int(torch.searchsorted(frac, torch.tensor(energy, dtype=frac.dtype)))])
        out.append(2 * math.ceil(r) + 1)
    return tuple(out)


from ..registry import register_model  # noqa: E402  (registration at the end, timm style)


@register_model(supervision=("none", "fixed steerable-pyramid filters, not trained"), region_layers={"V1": "output"})
def steerable_v1(**config) -> SteerableV1:
    """Steerable-pyramid V1 simple and complex cells (see :class:`SteerableV1`)."""
    return SteerableV1(**config)
