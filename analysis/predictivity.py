"""Neural predictivity: cross-validated regression from model features to neuroids.

The score follows Brain-Score's ``pls`` metric (Schrimpf et al. 2018;
``brainscore_vision.metrics.regression_correlation``): for each of ``n_splits``
stratified shuffle splits of the stimuli (train fraction 0.9, ``random_state=1``,
drawn on the target's presentation order), a regression is fitted on the training
stimuli, the held-out responses are predicted, Pearson r is computed per neuroid
over the held-out stimuli, the median over neuroids is taken per split, and the
score is the mean over splits with the standard error of the mean over splits
(``std(ddof=0) / sqrt(n_splits)``, as Brain-Score computes it) as its error.

Ceilings (:mod:`analysis.ceilings`) and layer mapping (:mod:`analysis.layer_mapping`)
live in their own modules; the estimators :class:`BatchedPLS` and :class:`BatchedRidge`
are reached as ``analysis.BatchedPLS`` and ``analysis.BatchedRidge``. The ceiling is
Brain-Score's ``internal_consistency``: 10 random split-halves of
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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from analysis._display import html_summary, short_repr
from analysis._regression import make_path, pearson_columns, regression_name
from analysis._scoring import (
    Score,
    check_nan_policy,
    check_scorable,
    mean_and_sem,
    nanmedian_rows,
    neuroid_coords,
    per_stimulus,
    stratification,
    warn_nan_splits,
)
from analysis._splits import shuffle_splits
from analysis.assemblies import NEUROID, align, is_simulated, load
from analysis.ceilings import ceiled_score, internal_consistency
from neurocommon.progress import progress_bar

__all__ = ["PredictivityResult", "neural_predictivity", "score_files"]


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
        selecting them (or use :func:`analysis.layer_mapping.score_layers`).
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
    check_nan_policy(nan_policy)
    path = make_path(regression, device, n_components, alphas, alpha_selection)
    name = regression_name(regression)
    src = per_stimulus(source, "source")
    tgt = per_stimulus(target, "target")
    if not np.array_equal(src["stimulus_id"].values, tgt["stimulus_id"].values):
        tgt, src = align(tgt, src)  # reorders (a copy of) the source; skipped when already in order
    strat = stratification(tgt, stratify_on)
    ids = np.asarray(tgt["stimulus_id"].values).astype(str)
    splits = shuffle_splits(len(ids), strat, n_splits, train_size, random_state)
    const = check_scorable(src, tgt, splits, nan_policy)
    prepared = path.prepare(src.values)
    Y = np.asarray(tgt.values)
    if hasattr(path, "fit_predict_splits"):
        fitted = path.fit_predict_splits(prepared, Y, splits, ids)
    else:
        fitted = [path.fit_predict(prepared, Y, tr, te, order=ids)
                  for tr, te in progress_bar(splits, progress, f"{path.name} cross-validation")]
    r = np.stack([pearson_columns(pred, Y[te]) for (pred, _), (_, te) in zip(fitted, splits)])
    warn_nan_splits(r, const, "neural_predictivity")
    alpha_rows = [info["alpha"] for _, info in fitted if "alpha" in info]
    per_split = nanmedian_rows(r)
    score, error = mean_and_sem(per_split)
    per_neuroid = xr.DataArray(
        r, dims=("split", NEUROID), coords={"split": np.arange(len(splits)), **neuroid_coords(tgt)}
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
