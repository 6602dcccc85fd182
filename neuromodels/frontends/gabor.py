"""A VOneNet-style Gabor front end with parameters sampled from macaque V1 data.

Dapello, Marques et al. (2020), "Simulating a primary visual cortex at the front of
CNNs improves robustness to image perturbations" (VOneNet). Each channel is a Gabor
quadrature pair whose parameters are drawn from published distributions:

- **orientation** (De Valois, Yund & Hepler 1982, "The orientation and direction
  selectivity of cells in macaque visual cortex", Vision Res. 22:531): histogram over
  bins [−22.5, 22.5, 67.5, 112.5, 157.5] degrees with counts [66, 49, 77, 54],
  uniform within a bin, taken modulo 180°;
- **spatial frequency** (De Valois, Albrecht & Thorell 1982, "Spatial frequency
  selectivity of cells in macaque visual cortex", Vision Res. 22:545; foveal
  cells): bins [0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8, 11.2] cycles/degree with
  counts [4, 4, 8, 25, 32, 26, 28, 12, 8], uniform in log2 within a bin, bins up to
  ``sf_max`` (default 9 c/deg keeps 0.5–8 c/deg);
- **envelope sizes** nx = σx·f, ny = σy·f in cycles (Ringach 2002, "Spatial structure
  and symmetry of simple-cell receptive fields in macaque primary visual cortex",
  J. Neurophysiol. 88:455): joint histogram on log10-spaced bins
  10^[−1, −0.76, −0.52, −0.28, −0.04, 0.2] with counts (rows nx, columns ny)
  [[2,0,1,0,0], [8,9,4,1,0], [1,2,19,17,3], [0,0,1,7,4], [0,0,0,0,0]],
  uniform in log10 within a bin, ny drawn from its conditional given nx's bin;
- **correlation of nx and spatial frequency** through a Gaussian copula with
  correlation ``sf_corr`` = 0.75 (after Schiller, Finlay & Volman 1976);
- **phase** uniform on [0, 360) degrees.

Simple cells are ``relu(q0)``, complex cells ``sqrt(q0² + q1²)/√2`` (q1 the
quadrature partner, phase + 90°), both scaled by ``k_exc``; optional Poisson-like
noise ``x·s + l + N(0, 1)·sqrt(relu(x·s + l))`` mapped back by ``(· − l)/s``
(s = 0.35, l = 0.07 as in VOneNet), off in eval mode unless ``noise_in_eval``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..base import VisionModel
from ..receptive_fields import ReceptiveField

__all__ = ["GaborV1", "GaborParameters", "sample_gabor_parameters", "gabor_kernel", "V1_DISTRIBUTIONS"]

#: Tabulated macaque V1 distributions (see the module docstring for sources).
V1_DISTRIBUTIONS = {
    "orientation_bins": np.array([-22.5, 22.5, 67.5, 112.5, 157.5]),  # degrees
    "orientation_counts": np.array([66, 49, 77, 54], dtype=float),
    "sf_bins": np.array([0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.2]),  # cycles/degree
    "sf_counts": np.array([4, 4, 8, 25, 32, 26, 28, 12, 8], dtype=float),
    "n_bins": np.logspace(-1, 0.2, 6),  # cycles (nx = sigma_x * f, ny = sigma_y * f)
    "n_joint_counts": np.array([[2, 0, 1, 0, 0], [8, 9, 4, 1, 0], [1, 2, 19, 17, 3],
                                [0, 0, 1, 7, 4], [0, 0, 0, 0, 0]], dtype=float),
}


@dataclass
class GaborParameters:
    """Per-channel Gabor parameters (arrays of one length).

    sf: cycles/degree; orientation, phase: degrees; nx, ny: envelope standard
    deviations in cycles (σ·f).
    """

    sf: np.ndarray
    orientation: np.ndarray
    phase: np.ndarray
    nx: np.ndarray
    ny: np.ndarray

    def __len__(self) -> int:
        return len(self.sf)


def _piecewise_inverse_cdf(u: np.ndarray, counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    cdf = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    return np.interp(u, cdf, edges)


def sample_gabor_parameters(n: int, seed: int = 0, sf_corr: float = 0.75, sf_max: float = 9.0,
                            sf_min: float = 0.0) -> GaborParameters:
    """Draw ``n`` channels' parameters from the macaque V1 distributions (seeded).

    Parameters
    ----------
    n
        Number of channels.
    seed
        Seed of ``numpy.random.default_rng``.
    sf_corr
        Correlation of the Gaussian copula between nx and spatial frequency.
    sf_max, sf_min
        Spatial-frequency bins outside [sf_min, sf_max] cycles/degree are dropped.
    """
    d = V1_DISTRIBUTIONS
    rng = np.random.default_rng(seed)
    ori = _piecewise_inverse_cdf(rng.random(n), d["orientation_counts"], d["orientation_bins"]) % 180.0
    phase = rng.random(n) * 360.0
    z = rng.multivariate_normal([0.0, 0.0], [[1.0, sf_corr], [sf_corr, 1.0]], size=n)
    from scipy.stats import norm  # here, not at import: scipy.stats costs ~1 s of every model build

    u = norm.cdf(z)
    log_n_edges = np.log10(d["n_bins"])
    joint = d["n_joint_counts"]
    nx_counts = joint.sum(axis=1)
    log_nx = _piecewise_inverse_cdf(u[:, 0], nx_counts, log_n_edges)
    nx_bin = np.clip(np.searchsorted(log_n_edges, log_nx, side="right") - 1, 0, len(nx_counts) - 1)
    u_ny = rng.random(n)
    log_ny = np.empty(n)
    for b in np.unique(nx_bin):
        sel = nx_bin == b
        log_ny[sel] = _piecewise_inverse_cdf(u_ny[sel], joint[b], log_n_edges)
    keep_lo = int(np.nonzero(d["sf_bins"] >= sf_min)[0][0])
    keep_hi = int(np.nonzero(d["sf_bins"] <= sf_max)[0][-1])
    if keep_hi <= keep_lo:
        raise ValueError(f"no spatial-frequency bin lies in [{sf_min}, {sf_max}] cycles/degree")
    sf_edges = d["sf_bins"][keep_lo:keep_hi + 1]
    sf_counts = d["sf_counts"][keep_lo:keep_hi]
    sf = 2.0 ** _piecewise_inverse_cdf(u[:, 1], sf_counts, np.log2(sf_edges))
    return GaborParameters(sf=sf, orientation=ori, phase=phase, nx=10.0**log_nx, ny=10.0**log_ny)


def gabor_kernel(frequency: float, sigma_x: float, sigma_y: float, theta: float, phase: float,
                 size: int) -> torch.Tensor:
    """Gabor filter on a ``size × size`` grid (float64), centred.

    ``g(x, y) = exp(−x'²/2σx² − y'²/2σy²) / (2π σx σy) · cos(2π f x' + φ)`` with
    ``x' = x cos θ + y sin θ``, ``y' = −x sin θ + y cos θ`` (x: column, y: row; pixels,
    cycles/pixel, radians).
    """
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    env = torch.exp(-0.5 * (xr**2 / sigma_x**2 + yr**2 / sigma_y**2)) / (2 * math.pi * sigma_x * sigma_y)
    return env * torch.cos(2 * math.pi * frequency * xr + phase)


class _GaborBank(nn.Module):
    """Fixed quadrature-pair filter bank (weights are buffers, not parameters)."""

    def __init__(self, q0: torch.Tensor, q1: torch.Tensor, stride: int):
        super().__init__()
        self.register_buffer("q0", q0.float())
        self.register_buffer("q1", q1.float())
        self.stride = stride
        self.kernel_size = q0.shape[-1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = self.kernel_size // 2
        q0 = F.conv2d(x, self.q0.to(x.dtype), stride=self.stride, padding=pad)
        q1 = F.conv2d(x, self.q1.to(x.dtype), stride=self.stride, padding=pad)
        return q0, q1

    def receptive_field_step(self) -> ReceptiveField:
        return ReceptiveField(float(self.kernel_size), float(self.stride))


class GaborV1(VisionModel):
    """VOneNet-style V1 block: sampled Gabor quadrature pairs → simple and complex cells.

    Parameters
    ----------
    simple_channels, complex_channels
        Numbers of simple and complex cells (256 + 256 in VOneNet).
    kernel_size, stride
        Filter size and stride (pixels; 25 and 4 in VOneNet).
    image_size, visual_degrees
        Nominal input size (pixels) and its field of view (degrees): pixels per
        degree ``image_size / visual_degrees`` turn cycles/degree into cycles/pixel.
    k_exc
        Gain of both populations (25).
    noise
        Poisson-like stochasticity ``"neuronal"`` or ``None``.
    noise_scale, noise_level
        s and l of the noise model (0.35, 0.07).
    noise_in_eval
        Keep the noise in eval mode (default off: eval is deterministic).
    seed, sf_corr, sf_max
        Passed to :func:`sample_gabor_parameters`.
    parameters
        Explicit :class:`GaborParameters` (overrides sampling; length must equal the
        number of channels).

    Notes
    -----
    Input (B, 1, H, W) in [0, 1] (RGB is converted to luminance); output
    (B, simple + complex, ceil(H/stride), ceil(W/stride)). Layers: ``simple``,
    ``complex``, ``output``.

    Examples
    --------
    >>> v1 = GaborV1(simple_channels=8, complex_channels=8, image_size=64)
    >>> v1(torch.rand(2, 1, 64, 64)).shape
    torch.Size([2, 16, 16, 16])
    """

    def __init__(self, simple_channels: int = 256, complex_channels: int = 256, kernel_size: int = 25,
                 stride: int = 4, image_size: int = 224, visual_degrees: float = 8.0, k_exc: float = 25.0,
                 noise: str | None = "neuronal", noise_scale: float = 0.35, noise_level: float = 0.07,
                 noise_in_eval: bool = False, seed: int = 0, sf_corr: float = 0.75, sf_max: float = 9.0,
                 parameters: GaborParameters | None = None):
        super().__init__()
        if noise not in (None, "neuronal"):
            raise ValueError(f"noise must be None or 'neuronal'; got {noise!r}")
        n = simple_channels + complex_channels
        if n < 1:
            raise ValueError("GaborV1 needs at least one channel")
        params = parameters if parameters is not None else sample_gabor_parameters(n, seed, sf_corr, sf_max)
        if len(params) != n:
            raise ValueError(f"got parameters for {len(params)} channels; expected {n}")
        self.gabor_parameters = params
        self.simple_channels, self.complex_channels = simple_channels, complex_channels
        self.out_channels = n
        self.visual_degrees = float(visual_degrees)
        self.image_size = int(image_size)
        self.in_channels = 1
        self.k_exc = float(k_exc)
        self.noise, self.noise_scale, self.noise_level = noise, float(noise_scale), float(noise_level)
        self.noise_in_eval = bool(noise_in_eval)
        ppd = image_size / visual_degrees
        q0, q1 = [], []
        for i in range(n):
            f = params.sf[i] / ppd  # cycles/pixel
            sx, sy = params.nx[i] / f, params.ny[i] / f
            theta, phi = math.radians(params.orientation[i]), math.radians(params.phase[i])
            q0.append(gabor_kernel(f, sx, sy, theta, phi, kernel_size))
            q1.append(gabor_kernel(f, sx, sy, theta, phi + math.pi / 2, kernel_size))
        self.gabors = _GaborBank(torch.stack(q0)[:, None], torch.stack(q1)[:, None], stride)
        self.simple = nn.ReLU()
        self.complex = nn.Identity()
        self.output = nn.Identity()
        self.layers = ["simple", "complex", "output"]

    def _noise(self, x: torch.Tensor) -> torch.Tensor:
        if self.noise is None or (not self.training and not self.noise_in_eval):
            return x
        s, l = self.noise_scale, self.noise_level
        y = x * s + l
        y = y + torch.randn_like(y) * torch.sqrt(F.relu(y) + 1e-4)
        return F.relu((y - l) / s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare(x)
        q0, q1 = self.gabors(x)
        ns = self.simple_channels
        simple = self.simple(self.k_exc * q0[:, :ns])
        complex_ = self.complex(self.k_exc * torch.sqrt(q0[:, ns:] ** 2 + q1[:, ns:] ** 2 + 1e-12) / math.sqrt(2))
        return self.output(self._noise(torch.cat([simple, complex_], dim=1)))

    def receptive_field_step(self) -> ReceptiveField:
        return self.gabors.receptive_field_step()

    def receptive_fields(self) -> dict[str, ReceptiveField]:
        rf = self.receptive_field_step()
        return {layer: rf for layer in self.layers}


from ..registry import register_model  # noqa: E402  (registration at the end, timm style)


@register_model(supervision=("none", "fixed Gabor filters sampled from macaque V1 statistics, not trained"), region_layers={"V1": "output"}, image_size=224)
def gabor_v1(**config) -> GaborV1:
    """VOneNet-style Gabor V1 block (see :class:`GaborV1`)."""
    return GaborV1(**config)
