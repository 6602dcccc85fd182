"""Neural predictivity: cross-validated regression from model features to neuroids.

The score follows Brain-Score's ``pls`` metric (Schrimpf et al. 2018;
``brainscore_vision.metrics.regression_correlation``): for each of ``n_splits``
stratified shuffle splits of the stimuli (train fraction 0.9, ``random_state=1``,
drawn on the target's presentation order), a regression is fitted on the training
stimuli, the held-out responses are predicted, Pearson r is computed per neuroid
over the held-out stimuli, the median over neuroids is taken per split, and the
score is the mean over splits with the standard error of the mean over splits
(``std(ddof=0) / sqrt(n_splits)``, as Brain-Score computes it) as its error.

The ceiling is Brain-Score's ``internal_consistency``: 10 random split-halves of
the repetitions (``ShuffleSplit(train_size=0.5, random_state=1)`` over the sorted
unique repetition values), responses averaged within each half, Pearson r per
neuroid between halves, Spearman–Brown corrected ``2r / (1 + r)``, median over
neuroids per split, mean over splits. The ceiled score is Brain-Score's
``explained_variance``: ``r² / ceiling`` (the raw score's error is carried over
unchanged, as Brain-Score does).

Examples
--------
>>> import numpy as np
>>> from analysis.assemblies import make_assembly
>>> from analysis.predictivity import neural_predictivity
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 30))
>>> Y = X[:, :5] + 0.1 * rng.normal(size=(60, 5))
>>> ids = [f"s{i}" for i in range(60)]
>>> model = make_assembly(X, stimulus_id=ids)
>>> neurons = make_assembly(Y, stimulus_id=ids, neuroid_coords={"region": ["V1"] * 5})
>>> result = neural_predictivity(model, neurons, regression="ridge", progress=False)
>>> result.score > 0.9
True
"""
from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from analysis._regression import (
    BatchedPLS,
    BatchedRidge,
    LinearPath,
    RidgePath,
    fit_predict_splits,
    make_path,
    pearson_columns,
    regression_name,
)
from analysis._display import html_summary, short_repr
from analysis._progress import progress_bar
from analysis._splits import repetition_halves, shuffle_splits
from analysis.assemblies import (
    NEUROID,
    PRESENTATION,
    TIME_BIN,
    align,
    average_repetitions,
    is_simulated,
    load,
    validate,
)

__all__ = [
    "Score",
    "PredictivityResult",
    "LayerScores",
    "neural_predictivity",
    "internal_consistency",
    "ceiled_score",
    "score_layers",
    "score_files",
    "BatchedPLS",
    "BatchedRidge",
    "CONVENTIONS",
]

CONVENTIONS = ("r2/c", "(r/c)^2")
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


def _nanmedian_rows(values: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (xarray's skipna default); NaN if all NaN."""
    out = np.full(values.shape[:-1], np.nan)
    for idx in np.ndindex(values.shape[:-1]):
        row = values[idx]
        row = row[~np.isnan(row)]
        if row.size:
            out[idx] = np.median(row)
    return out


def _mean_and_sem(per_split: np.ndarray) -> tuple[float, float]:
    """Mean over splits and std(ddof=0)/sqrt(n_splits), skipping NaN splits (Brain-Score)."""
    ok = per_split[~np.isnan(per_split)]
    if not ok.size:
        return float("nan"), float("nan")
    return float(ok.mean()), float(ok.std() / math.sqrt(len(per_split)))


def _per_stimulus(assembly: xr.DataArray, role: str) -> xr.DataArray:
    """Validated 2-D assembly with one presentation per stimulus (repetitions averaged)."""
    validate(assembly)
    if TIME_BIN in assembly.dims:
        if assembly.sizes[TIME_BIN] != 1:
            raise ValueError(
                f"the {role} assembly has {assembly.sizes[TIME_BIN]} time bins; predictivity is "
                f"computed on one response per stimulus. Average over time first "
                f"(assembly.mean('time_bin')) or select one bin (assembly.isel(time_bin=k))."
            )
        assembly = assembly.isel({TIME_BIN: 0}, drop=True)
    ids = assembly["stimulus_id"].values
    if len(np.unique(ids)) != len(ids):
        # Brain-Score's average_repetition groups with xarray, which returns the stimuli
        # sorted (by stimulus_id when it leads the presentation coords); splits are drawn
        # on this order, so sort the same way.
        assembly = average_repetitions(assembly)
        assembly = assembly.isel({PRESENTATION: np.argsort(assembly["stimulus_id"].values, kind="stable")})
    return assembly


def _squeezed(assembly: xr.DataArray, role: str) -> xr.DataArray:
    validate(assembly)
    if TIME_BIN in assembly.dims:
        if assembly.sizes[TIME_BIN] != 1:
            raise ValueError(
                f"the {role} assembly has {assembly.sizes[TIME_BIN]} time bins; select or average one"
            )
        assembly = assembly.isel({TIME_BIN: 0}, drop=True)
    return assembly


def _stratification(target: xr.DataArray, stratify_on: str | None) -> np.ndarray | None:
    if stratify_on is None:
        return None
    if stratify_on not in target.coords or target[stratify_on].dims != (PRESENTATION,):
        coords = [str(c) for c in target.coords if target[c].dims == (PRESENTATION,)]
        raise ValueError(
            f"cannot stratify on {stratify_on!r}: the target (after averaging repetitions) has no "
            f"such stimulus coord. Stimulus coords: {coords}. Stimulus metadata must be constant "
            f"across a stimulus' repetitions to survive averaging."
        )
    return np.asarray(target[stratify_on].values).astype(str)


def _check_nan_policy(nan_policy: str) -> None:
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {list(NAN_POLICIES)}; got {nan_policy!r}")


def _check_scorable(src: xr.DataArray, tgt: xr.DataArray, splits, nan_policy: str) -> np.ndarray:
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
    if not np.isfinite(x).all():
        raise ValueError("the source holds NaN or inf values; remove or impute them first")
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


def _warn_nan_splits(r: np.ndarray, const: np.ndarray, what: str) -> None:
    """Warn when held-out r is NaN for a neuroid that is not constant overall (constant test responses)."""
    bad = np.isnan(r[..., ~const]).sum()
    if bad:
        warnings.warn(
            f"{what}: held-out r is NaN in {int(bad)} (split, neuroid) pairs (a neuroid or its prediction is "
            f"constant over a test split); they are skipped in the median, as Brain-Score does. More stimuli "
            f"per test split avoid this.", RuntimeWarning, stacklevel=3)


@dataclass
class PredictivityResult:
    """Cross-validated predictivity of one source for all neuroids of a target.

    Attributes
    ----------
    score : float
        Mean over splits of the median over neuroids of held-out Pearson r.
    error : float
        Standard error of the mean over splits (``std(ddof=0)/sqrt(n_splits)``).
    per_split : numpy.ndarray, shape (n_splits,)
        Median-over-neuroids r of each split.
    per_neuroid : xarray.DataArray, dims (split, neuroid)
        Held-out r of every neuroid in every split, with the target's neuroid coords.
    regression : str
    alphas : numpy.ndarray or None
        Ridge α chosen per (split, neuroid).
    splits : list of (train, test) index arrays into ``stimulus_ids``.
    stimulus_ids : numpy.ndarray
        Stimulus order in which the splits were drawn (the target's).
    simulated : bool
        Whether either input is labelled simulated.
    """

    score: float
    error: float
    per_split: np.ndarray
    per_neuroid: xr.DataArray
    regression: str
    alphas: np.ndarray | None
    splits: list
    stimulus_ids: np.ndarray
    simulated: bool = False
    attrs: dict = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.score)

    def _display_items(self) -> dict:
        return {"score": self.score, "error": self.error, "regression": self.regression,
                "n_splits": len(self.per_split), "n_neuroids": int(self.per_neuroid.sizes[NEUROID]),
                "simulated": self.simulated}

    def __repr__(self) -> str:
        return short_repr(self, self._display_items())

    def _repr_html_(self) -> str:
        return html_summary(self, self._display_items(),
                            note="held-out Pearson r: median over neuroids, mean over splits ± s.e.m."
                            + (" (simulated data)" if self.simulated else ""))

    def as_score(self) -> Score:
        """The score as a :class:`Score` (float with ``.error``, ``.values``, ``.raw``)."""
        return Score(self.score, self.error, self.per_split, self.per_neuroid, regression=self.regression)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per (split, neuroid): held-out r, chosen α (ridge) and neuroid coords."""
        pn = self.per_neuroid
        n_split, n_neur = pn.shape
        df = pd.DataFrame(
            {
                "split": np.repeat(np.arange(n_split), n_neur),
                "neuroid_id": np.tile(pn["neuroid_id"].values, n_split),
                "r": pn.values.ravel(),
            }
        )
        for c in pn.coords:
            if pn[c].dims == (NEUROID,) and c != "neuroid_id":
                df[str(c)] = np.tile(pn[c].values, n_split)
        if self.alphas is not None:
            df["alpha"] = self.alphas.ravel()
        df["regression"] = self.regression
        df["simulated"] = self.simulated
        return df


def _neuroid_coords(target: xr.DataArray) -> dict:
    return {str(c): (NEUROID, target[c].values) for c in target.coords if target[c].dims == (NEUROID,)}


def neural_predictivity(
    source: xr.DataArray,
    target: xr.DataArray,
    regression="pls",
    n_splits: int = 10,
    train_size: float = 0.9,
    stratify_on: str | None = None,
    random_state: int | None = 1,
    device=None,
    *,
    n_components: int = 25,
    alphas=None,
    alpha_selection: str = "gcv",
    nan_policy: str = "raise",
    progress: bool = True,
) -> PredictivityResult:
    """Cross-validated predictivity of ``target`` neuroids from ``source`` features.

    Parameters
    ----------
    source : xarray.DataArray
        Model activations (presentation × neuroid); repeated stimulus ids are averaged.
    target : xarray.DataArray
        Recordings (presentation × neuroid), per stimulus or per repetition
        (repetitions are averaged first). All its neuroids are fitted together, as
        Brain-Score fits one region's assembly; score regions separately by
        selecting them (or use :func:`score_layers`).
    regression : {'pls', 'ridge', 'linear'} or estimator
        ``'pls'`` is Brain-Score's ``PLSRegression(25 components, scale=False)``,
        computed in kernel form (:class:`BatchedPLS`, same numbers, all splits in
        one batch); ``'ridge'`` the closed-form ridge (:class:`BatchedRidge`, α per
        neuroid by GCV or LOO on the training stimuli); ``'linear'`` ordinary least
        squares. Any object with ``fit(X, Y)``/``predict(X)`` (scikit-learn style,
        e.g. ``RidgeCV(alpha_per_target=True)``) is cloned and fitted per split on
        the training stimuli sorted by id.
    n_splits, train_size, random_state
        Shuffle splits of the stimuli (Brain-Score: 10, 0.9, 1). Splits are drawn
        on the target's stimulus order after averaging repetitions.
    stratify_on : str, optional
        Stimulus coord of the target to stratify on (FreemanZiemba2013:
        ``'texture_type'``); ``None`` draws unstratified shuffle splits.
    device : torch device, optional
        For the built-in paths (default CPU).
    n_components : int
        PLS components (string ``'pls'`` only).
    alphas : sequence of float, optional
        Ridge α grid (absolute); default is scale-free (see ``RidgePath``).
    alpha_selection : {'gcv', 'loo'}
    nan_policy : {'raise', 'omit'}
        A target neuroid that is constant across stimuli has no Pearson r:
        ``'raise'`` (default) refuses with an error that names it; ``'omit'`` warns
        and scores it NaN (skipped in the median, as Brain-Score skips it). Too few
        stimuli for a held-out r (< 3 per test split) and constant features are
        always refused.
    progress : bool
        Show a progress bar over splits (for estimators fitted split by split).

    Returns
    -------
    PredictivityResult
    """
    _check_nan_policy(nan_policy)
    path = make_path(regression, device, n_components, alphas, alpha_selection)
    name = regression_name(regression)
    src = _per_stimulus(source, "source")
    tgt = _per_stimulus(target, "target")
    if not np.array_equal(src["stimulus_id"].values, tgt["stimulus_id"].values):
        tgt, src = align(tgt, src)  # reorders (a copy of) the source; skipped when already in order
    strat = _stratification(tgt, stratify_on)
    ids = np.asarray(tgt["stimulus_id"].values).astype(str)
    splits = shuffle_splits(len(ids), strat, n_splits, train_size, random_state)
    const = _check_scorable(src, tgt, splits, nan_policy)
    prepared = path.prepare(src.values)
    Y = np.asarray(tgt.values)
    if hasattr(path, "fit_predict_splits"):
        fitted = path.fit_predict_splits(prepared, Y, splits, ids)
    else:
        fitted = [path.fit_predict(prepared, Y, tr, te, order=ids)
                  for tr, te in progress_bar(splits, progress, f"{path.name} cross-validation")]
    r = np.stack([pearson_columns(pred, Y[te]) for (pred, _), (_, te) in zip(fitted, splits)])
    _warn_nan_splits(r, const, "neural_predictivity")
    alpha_rows = [info["alpha"] for _, info in fitted if "alpha" in info]
    per_split = _nanmedian_rows(r)
    score, error = _mean_and_sem(per_split)
    per_neuroid = xr.DataArray(
        r, dims=("split", NEUROID), coords={"split": np.arange(len(splits)), **_neuroid_coords(tgt)}
    )
    return PredictivityResult(
        score=score,
        error=error,
        per_split=per_split,
        per_neuroid=per_neuroid,
        regression=name,
        alphas=np.stack(alpha_rows) if alpha_rows else None,
        splits=splits,
        stimulus_ids=ids,
        simulated=is_simulated(source) or is_simulated(target),
        attrs={"n_stimuli": len(ids), "n_features": int(src.sizes[NEUROID]),
               "stratify_on": stratify_on, "train_size": train_size, "random_state": random_state},
    )


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
    a = _squeezed(assembly, "recording")
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
    per_split = _nanmedian_rows(raw)
    value, error = _mean_and_sem(per_split)
    raw_da = xr.DataArray(
        raw, dims=("split", NEUROID), coords={"split": np.arange(len(halves)), **_neuroid_coords(a)}
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
    raw = score.as_score() if isinstance(score, PredictivityResult) else score
    c = float(ceiling)
    if not (np.isfinite(c) and c > 0):
        raise ValueError(
            f"the ceiling must be a positive number; got {c}. A non-positive split-half "
            f"consistency means the recording holds no reliable stimulus-driven signal."
        )
    error = getattr(raw, "error", float("nan"))
    value = float(raw) ** 2 / c if convention == "r2/c" else (float(raw) / c) ** 2
    return Score(value, error, raw_score=raw, ceiling=ceiling, convention=convention)


# ----------------------------------------------------------------------------- layers


def _layer_dict(layers) -> dict[str, xr.DataArray]:
    if isinstance(layers, Mapping):
        if not layers:
            raise ValueError("no layers given")
        return dict(layers)
    if isinstance(layers, xr.DataArray):
        if "layer" not in layers.coords:
            raise ValueError("a single source assembly needs a 'layer' neuroid coord to be split by layer")
        names = pd.unique(np.asarray(layers["layer"].values).astype(str))
        lay = np.asarray(layers["layer"].values).astype(str)
        return {n: layers.isel({NEUROID: np.flatnonzero(lay == n)}) for n in names}
    raise TypeError(
        f"layers must be a mapping of layer name to assembly (as returned by "
        f"analysis.activations.extract) or one assembly with a 'layer' coord; got {type(layers).__name__}"
    )


@dataclass
class LayerScores:
    """Predictivity of many layers for every region, with held-out layer selection.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (region, layer): ``score`` and ``error`` (plain cross-validated
        median r per layer, for display), ``selected`` (fraction of outer splits
        in which the layer was chosen on the training stimuli).
    summary : pandas.DataFrame
        One row per region: ``best_layer`` (most often selected), ``score`` and
        ``error`` of the nested procedure — in each outer split the layer is chosen
        by inner cross-validation on the training stimuli only and then scored on
        the held-out stimuli, so no selection touches the test split.
    best_layers : dict
        region → best layer.
    choices : pandas.DataFrame
        One row per (region, outer split): the layer chosen on that split's
        training stimuli and its held-out score.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    best_layers: dict
    choices: pd.DataFrame
    simulated: bool = False

    def to_dataframe(self) -> pd.DataFrame:
        return self.table.copy()

    def __repr__(self) -> str:
        best = {str(r["region"]): f"{r['best_layer']} {r['score']:.3g}±{r['error']:.2g}"
                for _, r in self.summary.iterrows()} if {"region", "best_layer"} <= set(self.summary.columns) else {}
        return short_repr(self, {**best, "layers": int(self.table["layer"].nunique()) if "layer" in self.table
                                 else len(self.table), "simulated": self.simulated})

    def _repr_html_(self) -> str:
        return html_summary(self, {"regions": len(self.summary), "layers": int(self.table["layer"].nunique())
                                   if "layer" in self.table else len(self.table), "simulated": self.simulated},
                            self.summary, note="best layer per region, chosen on training stimuli only")

    def plot(self, ax=None):
        """Score against layer per region (:func:`analysis.plot.comparison.plot_layer_scores`)."""
        from analysis.plot.comparison import plot_layer_scores

        return plot_layer_scores(self, ax=ax)

    def ceiled(self, recording: xr.DataArray, convention: str = "r2/c", region_coord: str = "region",
               **consistency_kw) -> pd.DataFrame:
        """The summary with each region's own ceiling and ceiled score.

        Each region's score is normalised by the internal consistency of *that*
        region's neuroids (:func:`internal_consistency` on ``recording`` restricted
        to them), in the named ``convention`` (see :func:`ceiled_score`).

        Returns
        -------
        pandas.DataFrame
            ``summary`` plus ``ceiling``, ``ceiling_error``, ``ceiled_score`` and
            ``convention`` columns.
        """
        rows = []
        region_of = (np.asarray(recording[region_coord].values).astype(str) if region_coord in recording.coords
                     else np.full(recording.sizes[NEUROID], "all"))
        for _, row in self.summary.iterrows():
            sub = recording.isel({NEUROID: np.flatnonzero(region_of == str(row["region"]))})
            c = internal_consistency(sub, **consistency_kw)
            cs = ceiled_score(Score(row["score"], row["error"]), c, convention)
            rows.append({"ceiling": float(c), "ceiling_error": c.error, "ceiled_score": float(cs),
                         "convention": convention})
        return pd.concat([self.summary.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def score_layers(
    layers,
    target: xr.DataArray,
    regression="ridge",
    region_coord: str = "region",
    n_splits: int = 10,
    train_size: float = 0.9,
    stratify_on: str | None = None,
    random_state: int | None = 1,
    n_inner_splits: int = 3,
    device=None,
    *,
    n_components: int = 25,
    alphas=None,
    alpha_selection: str = "gcv",
    nan_policy: str = "raise",
    progress: bool = True,
) -> LayerScores:
    """Score every layer against every region and choose the best layer per region.

    Selection is nested: for outer split s, each layer's inner cross-validated
    score (``n_inner_splits`` shuffle splits of split s's *training* stimuli) picks
    the layer, which is then scored on split s's held-out stimuli. Regions are
    fitted separately (as separate Brain-Score benchmarks). Each layer's features
    are prepared once (for the built-in ridge and PLS: one Gram matrix, all outer
    and inner splits fitted in batches) and dropped before the next layer, so peak
    memory is one layer's features.

    Parameters
    ----------
    layers : mapping of str to assembly, or one assembly with a ``layer`` coord
    target : xarray.DataArray
        Recordings; repetitions are averaged. ``region_coord`` along neuroid
        names the regions (all neuroids form one region if it is missing).
    regression, n_splits, train_size, stratify_on, random_state, device,
    n_components, alphas, alpha_selection, nan_policy
        As in :func:`neural_predictivity` (``regression`` may be an estimator).
    n_inner_splits : int
        Inner splits used for layer selection.

    Returns
    -------
    LayerScores
    """
    _check_nan_policy(nan_policy)
    path = make_path(regression, device, n_components, alphas, alpha_selection)
    name_of_regression = regression_name(regression)
    if n_inner_splits < 1:
        raise ValueError(f"n_inner_splits must be >= 1; got {n_inner_splits}")
    layer_map = _layer_dict(layers)
    tgt = _per_stimulus(target, "target")
    if region_coord in tgt.coords:
        region_of = np.asarray(tgt[region_coord].values).astype(str)
    else:
        region_of = np.full(tgt.sizes[NEUROID], "all")
    regions = list(pd.unique(region_of))
    cols = {reg: np.flatnonzero(region_of == reg) for reg in regions}
    strat = _stratification(tgt, stratify_on)
    ids = np.asarray(tgt["stimulus_id"].values).astype(str)
    outer = shuffle_splits(len(ids), strat, n_splits, train_size, random_state)
    inner = [
        [(train[a], train[b]) for a, b in shuffle_splits(
            len(train), None if strat is None else strat[train], n_inner_splits, train_size, random_state)]
        for train, _ in outer
    ]
    every = outer + [pair for per_outer in inner for pair in per_outer]
    joint = isinstance(path, (RidgePath, LinearPath))  # fit every neuroid independently: one fit for all regions
    Y = np.asarray(tgt.values)
    names = list(layer_map)
    outer_med = np.full((len(names), len(regions), n_splits), np.nan)  # per split median r
    inner_score = np.full((len(names), len(regions), n_splits), np.nan)
    simulated = is_simulated(target)
    const = None
    for li, name in enumerate(progress_bar(names, progress, f"{path.name} layers")):
        asm = _per_stimulus(layer_map[name], f"layer {name!r}")
        simulated = simulated or is_simulated(asm)
        _, src = align(tgt, asm)
        const = _check_scorable(src, tgt, every, nan_policy) if const is None else const
        prepared = path.prepare(src.values)
        meds = np.full((len(regions), len(every)), np.nan)  # median r per region and split
        groups = [(list(range(len(regions))), np.arange(Y.shape[1]))] if joint else \
            [([ri], cols[reg]) for ri, reg in enumerate(regions)]
        for region_idx, columns in groups:
            Yr = Y[:, columns]
            fitted = fit_predict_splits(path, prepared, Yr, every, ids)
            r = np.stack([pearson_columns(pred, Yr[te]) for (pred, _), (_, te) in zip(fitted, every)])
            _warn_nan_splits(r, const[columns], f"score_layers, layer {name!r}")
            for ri in region_idx:
                sel = cols[regions[ri]] if joint else slice(None)
                meds[ri] = _nanmedian_rows(r[:, sel])
        outer_med[li] = meds[:, :n_splits]
        inner_meds = meds[:, n_splits:].reshape(len(regions), n_splits, n_inner_splits)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN inner splits stay NaN
            inner_score[li] = np.nanmean(inner_meds, axis=-1)
        del prepared
    rows, summary, choices = [], [], []
    best_layers = {}
    for ri, reg in enumerate(regions):
        filled = np.where(np.isnan(inner_score[:, ri]), -np.inf, inner_score[:, ri])
        chosen = np.argmax(filled, axis=0)                         # (n_splits,)
        nested = outer_med[chosen, ri, np.arange(n_splits)]
        score, error = _mean_and_sem(nested)
        counts = np.bincount(chosen, minlength=len(names))
        best = names[int(np.argmax(counts))]
        choices += [{"region": reg, "split": s, "layer": names[c], "score": nested[s]}
                    for s, c in enumerate(chosen)]
        best_layers[reg] = best
        summary.append({"region": reg, "best_layer": best, "score": score, "error": error,
                        "n_splits": n_splits, "regression": name_of_regression, "simulated": simulated})
        for li, name in enumerate(names):
            sc, er = _mean_and_sem(outer_med[li, ri])
            rows.append({"region": reg, "layer": name, "layer_index": li, "score": sc, "error": er,
                         "selected": counts[li] / n_splits, "regression": name_of_regression,
                         "simulated": simulated})
    return LayerScores(pd.DataFrame(rows), pd.DataFrame(summary), best_layers, pd.DataFrame(choices),
                       simulated)


# ----------------------------------------------------------------------------- files


def score_files(
    source_nc,
    target_nc,
    regression: str = "pls",
    stratify_on: str | None = None,
    n_splits: int = 10,
    train_size: float = 0.9,
    random_state: int | None = 1,
    ceiling: bool = True,
    convention: str = "r2/c",
    **kwargs,
) -> dict:
    """Score a source assembly file against a target assembly file (netCDF paths).

    Meant to be called from a subprocess (e.g. to compare with Brain-Score in its
    own environment). The target may hold repetitions: they are averaged for the
    regression (splits drawn on the averaged target's stimulus order, i.e. first
    appearance) and used for the internal-consistency ceiling.

    Returns
    -------
    dict
        JSON-serialisable: ``score``, ``error``, ``per_split``, ``ceiling``,
        ``ceiling_error``, ``ceiling_per_split``, ``ceiled_score``,
        ``ceiled_error``, ``ceiling_convention`` (see :func:`ceiled_score`),
        ``n_stimuli``, ``n_neuroids``, ``regression``,
        ``simulated`` (ceiling entries are ``None`` without repetitions).
    """
    source, target = load(source_nc), load(target_nc)
    kwargs.setdefault("progress", False)
    res = neural_predictivity(source, target, regression=regression, n_splits=n_splits,
                              train_size=train_size, stratify_on=stratify_on,
                              random_state=random_state, **kwargs)
    out = {
        "score": res.score, "error": res.error, "per_split": res.per_split.tolist(),
        "ceiling": None, "ceiling_error": None, "ceiling_per_split": None,
        "ceiled_score": None, "ceiled_error": None, "ceiling_convention": None,
        "n_stimuli": len(res.stimulus_ids), "n_neuroids": int(res.per_neuroid.sizes[NEUROID]),
        "regression": regression, "simulated": res.simulated,
    }
    sid = np.asarray(target["stimulus_id"].values)
    if ceiling and len(np.unique(sid)) != len(sid):
        c = internal_consistency(target, random_state=random_state)
        out.update(ceiling=float(c), ceiling_error=c.error, ceiling_per_split=c.values.tolist())
        if float(c) > 0:
            cs = ceiled_score(res, c, convention)
            out.update(ceiled_score=float(cs), ceiled_error=cs.error, ceiling_convention=convention)
    return out


if __name__ == "__main__":  # python -m analysis.predictivity SOURCE.nc TARGET.nc [json kwargs]
    import sys

    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python -m analysis.predictivity SOURCE.nc TARGET.nc ['{\"regression\": \"pls\"}']")
    kw = json.loads(sys.argv[3]) if len(sys.argv) == 4 else {}
    print(json.dumps(score_files(sys.argv[1], sys.argv[2], **kw)))
