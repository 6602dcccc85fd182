"""Noise ceilings of recordings and ceiled scores, as Brain-Score computes them.

- :func:`internal_consistency`: Brain-Score's ``internal_consistency`` ceiling — 10
  random split-halves of the repetitions (``ShuffleSplit(train_size=0.5,
  random_state=1)`` over the sorted unique repetition values), responses averaged
  within each half, Pearson r per neuroid between halves, Spearman–Brown corrected
  ``2r / (1 + r)``, median over neuroids per split, mean over splits.
- :func:`ceiled_score`: a raw predictivity normalised by the ceiling, in either of
  Brain-Score's conventions (``r²/c`` since December 2025, ``(r/c)²`` before).

Examples
--------
>>> import numpy as np
>>> from analysis.assemblies import make_assembly
>>> from analysis.ceilings import internal_consistency
>>> rng = np.random.default_rng(0)
>>> signal = rng.normal(size=(40, 6))
>>> trials = np.concatenate([signal + 0.3 * rng.normal(size=signal.shape) for _ in range(4)])
>>> rec = make_assembly(trials, stimulus_id=[f"s{i}" for i in range(40)] * 4,
...                     presentation_coords={"repetition": np.repeat(np.arange(4), 40)})
>>> bool(0.9 < float(internal_consistency(rec)) <= 1.0)
True
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from analysis._regression import pearson_columns
from analysis._scoring import Score, mean_and_sem, nanmedian_rows, neuroid_coords, squeezed
from analysis._splits import repetition_halves
from analysis.assemblies import NEUROID, PRESENTATION, is_simulated
from neurocommon.progress import progress_bar

__all__ = ["internal_consistency", "ceiled_score", "CONVENTIONS"]

CONVENTIONS = ("r2/c", "(r/c)^2")


def _repetition_labels(assembly: xr.DataArray, split_coord: str) -> np.ndarray:
    if split_coord in assembly.coords:
        if assembly[split_coord].dims != (PRESENTATION,):
            raise ValueError(f"coord {split_coord!r} must lie along 'presentation'")
        return np.asarray(assembly[split_coord].values)
    sid = pd.Series(np.asarray(assembly["stimulus_id"].values).astype(str))
    if not sid.duplicated().any():
        raise ValueError(
            f"internal consistency needs repeated presentations of each stimulus; the assembly has "
            f"no {split_coord!r} coord and every stimulus_id occurs once. Pass the assembly before "
            f"averaging repetitions."
        )
    # n-th presentation of a stimulus = repetition n (documented fallback)
    return sid.groupby(sid).cumcount().to_numpy()


def _half_means(values: np.ndarray, sid: np.ndarray, mask: np.ndarray):
    ids, inverse = np.unique(sid[mask], return_inverse=True)
    sums = np.zeros((len(ids), values.shape[1]))
    np.add.at(sums, inverse, values[mask])
    counts = np.bincount(inverse, minlength=len(ids))
    return ids, sums / counts[:, None]


def internal_consistency(
    assembly: xr.DataArray,
    n_splits: int = 10,
    random_state: int | None = 1,
    split_coord: str = "repetition",
    progress: bool = False,
) -> Score:
    """Split-half reliability across repetitions with Spearman–Brown correction.

    Brain-Score's ``internal_consistency`` ceiling: for each of ``n_splits`` random
    halves of the repetitions (``ShuffleSplit(train_size=0.5, random_state)`` over the
    sorted unique ``repetition`` values), responses are averaged per stimulus within
    each half; per neuroid, ``r`` = Pearson correlation across stimuli between the
    two halves, corrected to full length by Spearman–Brown ``ρ = 2r / (1 + r)``
    (Spearman 1910; Brown 1910); the median over neuroids is taken per split and
    the ceiling is the mean over splits.

    Parameters
    ----------
    assembly : xarray.DataArray
        Recordings with one presentation per (stimulus, repetition) and a
        ``repetition`` coord (if missing, the n-th presentation of a stimulus is
        taken as repetition n).
    n_splits, random_state
        Brain-Score: 10 and 1.
    split_coord : str
        Coord that labels repetitions.

    Returns
    -------
    Score
        Float-like ceiling with ``.error`` (SEM over splits), ``.values``
        (per-split medians) and ``.raw`` (split × neuroid corrected r).
    """
    a = squeezed(assembly, "recording")
    reps = _repetition_labels(a, split_coord)
    sid = np.asarray(a["stimulus_id"].values).astype(str)
    values = np.asarray(a.values, dtype=float)
    _, halves = repetition_halves(reps, n_splits, random_state)
    rows = []
    for first, second in progress_bar(halves, progress, "split-half consistency"):
        ids1, m1 = _half_means(values, sid, np.isin(reps, first))
        ids2, m2 = _half_means(values, sid, np.isin(reps, second))
        if len(ids1) != len(ids2) or (ids1 != ids2).any():
            missing = sorted(set(ids1) ^ set(ids2))
            raise ValueError(
                f"split-half consistency needs every stimulus in both halves of the repetitions; "
                f"{len(missing)} stimuli appear in only one half (e.g. {missing[:5]}). Keep stimuli "
                f"with a complete set of repetitions."
            )
        r = pearson_columns(m1, m2)
        rows.append(2 * r / (1 + r))
    raw = np.stack(rows)
    per_split = nanmedian_rows(raw)
    value, error = mean_and_sem(per_split)
    raw_da = xr.DataArray(
        raw, dims=("split", NEUROID), coords={"split": np.arange(len(halves)), **neuroid_coords(a)}
    )
    return Score(value, error, per_split, raw_da, method="internal_consistency",
                 simulated=is_simulated(assembly))


def ceiled_score(score, ceiling, convention: str = "r2/c") -> Score:
    """Predictivity normalised by the recording's ceiling, in one of Brain-Score's two conventions.

    - ``'r2/c'`` (default): ``r² / c``, Brain-Score's ``explained_variance`` since its
      pull request #2169 (merged December 2025; public benchmarks re-versioned in
      January 2026). A fraction of the explainable variance.
    - ``'(r/c)^2'``: ``(r / c)²``, what Brain-Score reported before that change;
      scores published before 2026 use it. Equals ``'r2/c'`` divided by ``c``, so it
      is larger whenever ``c < 1``.

    ``c`` is the Spearman–Brown corrected split-half consistency of the *same*
    neuroids the score was computed on (one region: pass that region's ceiling).

    Parameters
    ----------
    score : PredictivityResult, Score or float
        Raw predictivity r.
    ceiling : Score or float
        Internal consistency of the recording (a Spearman–Brown corrected r).
    convention : {'r2/c', '(r/c)^2'}

    Returns
    -------
    Score
        The ceiled value; ``.error`` is the raw score's error, carried over
        unchanged as Brain-Score does; ``.attrs`` holds ``raw_score``, ``ceiling``
        and ``convention``.

    Examples
    --------
    >>> float(ceiled_score(0.5, 0.8))
    0.3125
    >>> float(ceiled_score(0.5, 0.8, convention="(r/c)^2"))
    0.390625
    >>> ceiled_score(0.5, 0.8).attrs["convention"]
    'r2/c'
    """
    if convention not in CONVENTIONS:
        raise ValueError(
            f"convention must be 'r2/c' (Brain-Score since December 2025) or '(r/c)^2' (before); got {convention!r}"
        )
    raw = score.as_score() if hasattr(score, "as_score") else score  # a PredictivityResult
    c = float(ceiling)
    if not (np.isfinite(c) and c > 0):
        raise ValueError(
            f"the ceiling must be a positive number; got {c}. A non-positive split-half "
            f"consistency means the recording holds no reliable stimulus-driven signal."
        )
    error = getattr(raw, "error", float("nan"))
    value = float(raw) ** 2 / c if convention == "r2/c" else (float(raw) / c) ** 2
    return Score(value, error, raw_score=raw, ceiling=ceiling, convention=convention)
