"""Orientation and spatial-frequency tuning of units, measured with sinusoidal gratings.

Two steps, usable apart:

- :func:`grating_responses` — responses of linear filters (e.g. the stage-1
  convolution kernels of LCL-V2, shape (units, 1, k, k)) to full-field sinusoidal
  gratings ``g(x) = cos(2π f (x cos θ + y sin θ) + φ)`` at every orientation θ,
  spatial frequency f (cycles/pixel) and phase φ; the phase-invariant response of a
  unit is its largest response over phases (the grating drifting across it).
- :func:`orientation_tuning` — from a (unit × orientation × frequency) response
  array: the preferred spatial frequency (the frequency of the largest response),
  the orientation tuning curve at that frequency, the preferred orientation and its
  **circular variance** (Ringach, Shapley & Hawken 2002, J. Neurosci. 22:5639),

      ``CV = 1 − |Σ_θ r(θ) e^{2iθ}| / Σ_θ r(θ)``,

  0 for a unit responding to one orientation only, 1 for an untuned one (its
  responses ``r ≥ 0``; orientation is 180°-periodic, hence ``2θ``).

Examples
--------
>>> import numpy as np
>>> y, x = np.mgrid[-7:8, -7:8]
>>> gabor = np.exp(-(x**2 + y**2) / 18.0) * np.cos(2 * np.pi * 0.2 * x)  # vertical bars, 0.2 c/px
>>> resp = grating_responses(gabor[None, None], n_orientations=8, frequencies=[0.1, 0.2, 0.3])
>>> t = orientation_tuning(resp)
>>> float(t["preferred_frequency"][0]), round(float(t["preferred_orientation"][0]), 6), bool(t["circular_variance"][0] < 0.5)
(0.2, 0.0, True)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["gratings", "grating_responses", "orientation_tuning", "circular_variance"]


def gratings(size: int, orientations: Sequence[float], frequencies: Sequence[float], n_phases: int = 8) -> np.ndarray:
    """Sinusoidal gratings, shape (orientation, frequency, phase, size, size), values in [−1, 1].

    ``g(x, y) = cos(2π f (x cos θ + y sin θ) + φ)`` with (x, y) in pixels from the
    centre, θ in radians (0: luminance varying along x, i.e. vertical bars), f in
    cycles/pixel and φ = 2πk / n_phases.
    """
    if size < 1 or n_phases < 1:
        raise ValueError(f"size and n_phases must be positive; got {size}, {n_phases}")
    f = np.asarray(frequencies, dtype=float)
    if f.ndim != 1 or len(f) == 0 or (f <= 0).any() or (f > 0.5).any():
        raise ValueError(f"frequencies must be cycles/pixel in (0, 0.5] (Nyquist); got {list(frequencies)}")
    th = np.asarray(orientations, dtype=float)
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size] - c
    ph = 2 * np.pi * np.arange(n_phases) / n_phases
    arg = (x[None] * np.cos(th)[:, None, None] + y[None] * np.sin(th)[:, None, None])  # (O, s, s)
    return np.cos(2 * np.pi * f[None, :, None, None, None] * arg[:, None, None]
                  + ph[None, None, :, None, None])


def grating_responses(filters, n_orientations: int = 12, frequencies: Sequence[float] | None = None,
                      n_phases: int = 8) -> xr.DataArray:
    """Phase-invariant responses of linear filters to gratings: max over phase of ⟨w, g⟩.

    Parameters
    ----------
    filters : array or tensor (units, channels, k, k) or (units, k, k)
        Each unit's weights; channels are summed over (a grating drives every
        input channel alike, as for a one-channel image input).
    n_orientations : int
        Orientations evenly spaced in [0, π).
    frequencies : sequence of float, optional
        Cycles/pixel; default 8 values log-spaced from 1/k to 0.5.
    n_phases : int

    Returns
    -------
    xarray.DataArray
        dims ``(unit, orientation, frequency)``, orientation in radians, frequency
        in cycles/pixel; responses ≥ 0 (units of the filter's output).
    """
    w = filters.detach().cpu().numpy() if hasattr(filters, "detach") else np.asarray(filters)
    w = np.asarray(w, dtype=float)
    if w.ndim == 4:
        w = w.sum(1)
    if w.ndim != 3 or w.shape[1] != w.shape[2]:
        raise ValueError(f"filters must be (units, channels, k, k) or (units, k, k) with square kernels; "
                         f"got shape {w.shape}")
    k = w.shape[-1]
    if frequencies is None:
        frequencies = np.geomspace(1.0 / k, 0.5, 8)
    th = np.arange(n_orientations) * np.pi / n_orientations
    g = gratings(k, th, frequencies, n_phases)  # (O, F, P, k, k)
    r = np.einsum("uij,ofpij->uofp", w, g).max(-1)
    return xr.DataArray(np.maximum(r, 0.0), dims=("unit", "orientation", "frequency"),
                        coords={"unit": np.arange(len(w)), "orientation": th,
                                "frequency": np.asarray(frequencies, dtype=float)},
                        name="grating_response")


def circular_variance(responses, orientations) -> np.ndarray:
    """``1 − |Σ r e^{2iθ}| / Σ r`` along the last axis (orientation in radians); NaN where Σ r = 0.

    Examples
    --------
    >>> import numpy as np
    >>> th = np.arange(8) * np.pi / 8
    >>> circular_variance(np.ones(8), th).round(6), circular_variance(np.eye(8)[2], th).round(6)
    (np.float64(1.0), np.float64(0.0))
    """
    r = np.asarray(responses, dtype=float)
    if (r < 0).any():
        raise ValueError("circular variance needs non-negative responses (rectify first)")
    total = r.sum(-1)
    vec = np.abs((r * np.exp(2j * np.asarray(orientations, dtype=float))).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 1.0 - vec / np.where(total > 0, total, 1.0), np.nan)


def orientation_tuning(responses: xr.DataArray) -> pd.DataFrame:
    """Per unit: preferred frequency, preferred orientation and circular variance at that frequency.

    Parameters
    ----------
    responses : xarray.DataArray (unit, orientation, frequency)
        From :func:`grating_responses` (or a model's rectified responses to gratings).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit, preferred_frequency`` (cycles/pixel), ``preferred_orientation``
        (radians in [0, π)), ``circular_variance`` (unitless, [0, 1]), ``peak_response``;
        units that respond to no grating have NaN tuning (count them as dead).
    """
    if not isinstance(responses, xr.DataArray) or set(responses.dims) != {"unit", "orientation", "frequency"}:
        raise ValueError("orientation_tuning takes a DataArray with dims (unit, orientation, frequency), "
                         "as grating_responses returns")
    r = responses.transpose("unit", "frequency", "orientation")
    vals = r.values
    th = r["orientation"].values
    best_f = vals.max(-1).argmax(-1)
    curves = vals[np.arange(len(vals)), best_f]  # (unit, orientation)
    peak = curves.max(-1)
    vec = (curves * np.exp(2j * th)).sum(-1)
    pref = np.mod(np.angle(vec) / 2, np.pi)
    cv = circular_variance(curves, th)
    dead = ~(peak > 0)
    return pd.DataFrame({
        "unit": r["unit"].values,
        "preferred_frequency": np.where(dead, np.nan, r["frequency"].values[best_f]),
        "preferred_orientation": np.where(dead, np.nan, pref),
        "circular_variance": cv,
        "peak_response": peak,
    })
