"""Pieces shared by the predictivity, ceiling and layer-mapping modules.

The score of a cross-validated comparison (:class:`Score`, a float with its error
and the values it was aggregated from), the aggregation Brain-Score uses (median
over neuroids skipping NaN, mean over splits with ``std(ddof=0)/sqrt(n_splits)``
as error), and the input checks made where assemblies enter: one response per
stimulus, stratification labels, and refusals of inputs whose score would be NaN.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import xarray as xr

from analysis._validation import check_finite, presentation_coord
from analysis.assemblies import NEUROID, PRESENTATION, TIME_BIN, average_repetitions, validate

__all__ = [
    "Score", "NAN_POLICIES", "nanmedian_rows", "mean_and_sem", "per_stimulus", "squeezed", "stratification",
    "check_nan_policy", "check_scorable", "warn_nan_splits", "neuroid_coords",
]

NAN_POLICIES = ("raise", "omit")


class Score(float):
    """A float that carries its error and the values it was aggregated from.

    Attributes
    ----------
    error : float
        Standard error of the mean over splits (Brain-Score convention).
    values : numpy.ndarray
        Per-split values whose mean is the score.
    raw : xarray.DataArray or None
        Per-split, per-neuroid values (dims ``split``, ``neuroid``).
    attrs : dict
        Anything else (``ceiling`` and ``raw_score`` for a ceiled score).
    """

    def __new__(cls, value, error=float("nan"), values=None, raw=None, **attrs):
        obj = super().__new__(cls, float(value))
        obj.error = float(error)
        obj.values = np.asarray(values if values is not None else [float(value)], dtype=float)
        obj.raw = raw
        obj.attrs = dict(attrs)
        return obj

    def __repr__(self) -> str:
        return f"Score({float(self):.4f} ± {self.error:.4f})"

    # float-valued arithmetic returns plain floats; the extra fields describe this value only


def nanmedian_rows(values: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (xarray's skipna default); NaN if all NaN."""
    out = np.full(values.shape[:-1], np.nan)
    for idx in np.ndindex(values.shape[:-1]):
        row = values[idx]
        row = row[~np.isnan(row)]
        if row.size:
            out[idx] = np.median(row)
    return out


def mean_and_sem(per_split: np.ndarray) -> tuple[float, float]:
    """Mean over splits and std(ddof=0)/sqrt(n_splits), skipping NaN splits (Brain-Score)."""
    ok = per_split[~np.isnan(per_split)]
    if not ok.size:
        return float("nan"), float("nan")
    return float(ok.mean()), float(ok.std() / math.sqrt(len(per_split)))


def per_stimulus(assembly: xr.DataArray, role: str) -> xr.DataArray:
    """Validated 2-D assembly with one presentation per stimulus (repetitions averaged)."""
    assembly = squeezed(assembly, role)
    ids = assembly["stimulus_id"].values
    if len(np.unique(ids)) != len(ids):
        # Brain-Score's average_repetition groups with xarray, which returns the stimuli
        # sorted (by stimulus_id when it leads the presentation coords); splits are drawn
        # on this order, so sort the same way.
        assembly = average_repetitions(assembly)
        assembly = assembly.isel({PRESENTATION: np.argsort(assembly["stimulus_id"].values, kind="stable")})
    return assembly


def squeezed(assembly: xr.DataArray, role: str) -> xr.DataArray:
    """Validated assembly with its single time bin dropped (several bins are refused)."""
    validate(assembly)
    if TIME_BIN in assembly.dims:
        if assembly.sizes[TIME_BIN] != 1:
            raise ValueError(
                f"the {role} assembly has {assembly.sizes[TIME_BIN]} time bins; predictivity is "
                f"computed on one response per stimulus. Average over time first "
                f"(assembly.mean('time_bin')) or select one bin (assembly.isel(time_bin=k))."
            )
        assembly = assembly.isel({TIME_BIN: 0}, drop=True)
    return assembly


def stratification(target: xr.DataArray, stratify_on: str | None, fn: str = "neural_predictivity"):
    """Labels of the target's stimulus coord ``stratify_on`` (None: unstratified splits)."""
    if stratify_on is None:
        return None
    values = presentation_coord(
        target, stratify_on, fn,
        hint=f"So it cannot stratify on {stratify_on!r}: the target after averaging repetitions lacks it; "
             f"stimulus metadata must be constant across a stimulus' repetitions to survive averaging.")
    return np.asarray(values).astype(str)


def check_nan_policy(nan_policy: str) -> None:
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {list(NAN_POLICIES)}; got {nan_policy!r}")


def check_scorable(src: xr.DataArray, tgt: xr.DataArray, splits, nan_policy: str) -> np.ndarray:
    """Refuse inputs whose score would be NaN; returns the mask of constant target neuroids."""
    n = tgt.sizes[PRESENTATION]
    n_test = min(len(te) for _, te in splits)
    n_train = min(len(tr) for tr, _ in splits)
    if n_test < 3 or n_train < 2:
        raise ValueError(
            f"{n} stimuli give test splits of {n_test} stimuli (and training splits of {n_train}); a held-out "
            f"Pearson r needs at least 3 test stimuli. Use more stimuli (at least {int(np.ceil(3 / (1 - 0.9)))} "
            f"for train_size=0.9) or a smaller train_size."
        )
    x = np.asarray(src.values)
    check_finite(x, "the source", fn="neural_predictivity")
    if (x == x[:1]).all():
        raise ValueError(
            f"all {x.shape[1]} source features are constant across the {n} stimuli: no regression can predict "
            f"anything from them and every r would be NaN. Check the layer (dead units?) or the stimuli."
        )
    y = np.asarray(tgt.values)
    const = (y == y[:1]).all(0)
    if const.any():
        ids = np.asarray(tgt["neuroid_id"].values)[const][:5].tolist()
        msg = (f"{int(const.sum())} of {len(const)} target neuroids are constant across stimuli (e.g. {ids}); "
               f"their Pearson r is undefined (NaN).")
        if nan_policy == "raise":
            raise ValueError(msg + " Drop them (e.g. target.isel(neuroid=...)) or pass nan_policy='omit' to get "
                             "NaN for them, skipped in the median.")
        warnings.warn(msg + " They are NaN and skipped in the median (nan_policy='omit').", RuntimeWarning,
                      stacklevel=3)
    return const


def warn_nan_splits(r: np.ndarray, const: np.ndarray, what: str) -> None:
    """Warn when held-out r is NaN for a neuroid that is not constant overall (constant test responses)."""
    bad = np.isnan(r[..., ~const]).sum()
    if bad:
        warnings.warn(
            f"{what}: held-out r is NaN in {int(bad)} (split, neuroid) pairs (a neuroid or its prediction is "
            f"constant over a test split); they are skipped in the median, as Brain-Score does. More stimuli "
            f"per test split avoid this.", RuntimeWarning, stacklevel=3)


def neuroid_coords(target: xr.DataArray) -> dict:
    return {str(c): (NEUROID, target[c].values) for c in target.coords if target[c].dims == (NEUROID,)}


