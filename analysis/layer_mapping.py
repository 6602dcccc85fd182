"""Layer mapping: score every layer of a model against every recorded region, choose the best per region.

:func:`score_layers` selects layers by nested cross-validation — in each outer
split the layer is chosen on the training stimuli only (inner splits) and then
scored on the held-out stimuli — so no selection touches the test split; regions
are fitted separately (as separate Brain-Score benchmarks). :class:`LayerScores`
holds the table, the per-region summary and each split's choice, and gives each
region its own ceiled score (:meth:`LayerScores.ceiled`).

Examples
--------
>>> import numpy as np
>>> from analysis.assemblies import make_assembly
>>> from analysis.layer_mapping import score_layers
>>> rng = np.random.default_rng(0)
>>> latent = rng.normal(size=(60, 5))
>>> ids = [f"s{i}" for i in range(60)]
>>> layers = {"early": make_assembly(rng.normal(size=(60, 20)), stimulus_id=ids),
...           "late": make_assembly(latent @ rng.normal(size=(5, 20)), stimulus_id=ids)}
>>> v4 = make_assembly(latent @ rng.normal(size=(5, 8)), stimulus_id=ids, neuroid_coords={"region": ["V4"] * 8})
>>> score_layers(layers, v4, progress=False).best_layers["V4"]
'late'
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from analysis._display import html_summary, short_repr
from analysis._regression import LinearPath, fit_predict_splits, make_path, pearson_columns, regression_name
from analysis._ridge import RidgePath
from analysis._scoring import (
    Score,
    check_nan_policy,
    check_scorable,
    mean_and_sem,
    nanmedian_rows,
    per_stimulus,
    stratification,
    warn_nan_splits,
)
from analysis._splits import shuffle_splits
from analysis.assemblies import NEUROID, align, is_simulated
from analysis.ceilings import ceiled_score, internal_consistency
from neurocommon.progress import progress_bar

__all__ = ["LayerScores", "score_layers"]


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
    check_nan_policy(nan_policy)
    path = make_path(regression, device, n_components, alphas, alpha_selection)
    name_of_regression = regression_name(regression)
    if n_inner_splits < 1:
        raise ValueError(f"n_inner_splits must be >= 1; got {n_inner_splits}")
    layer_map = _layer_dict(layers)
    tgt = per_stimulus(target, "target")
    if region_coord in tgt.coords:
        region_of = np.asarray(tgt[region_coord].values).astype(str)
    else:
        region_of = np.full(tgt.sizes[NEUROID], "all")
    regions = list(pd.unique(region_of))
    cols = {reg: np.flatnonzero(region_of == reg) for reg in regions}
    strat = stratification(tgt, stratify_on, fn="score_layers")
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
        asm = per_stimulus(layer_map[name], f"layer {name!r}")
        simulated = simulated or is_simulated(asm)
        _, src = align(tgt, asm)
        const = check_scorable(src, tgt, every, nan_policy) if const is None else const
        prepared = path.prepare(src.values)
        meds = np.full((len(regions), len(every)), np.nan)  # median r per region and split
        groups = [(list(range(len(regions))), np.arange(Y.shape[1]))] if joint else \
            [([ri], cols[reg]) for ri, reg in enumerate(regions)]
        for region_idx, columns in groups:
            Yr = Y[:, columns]
            fitted = fit_predict_splits(path, prepared, Yr, every, ids)
            r = np.stack([pearson_columns(pred, Yr[te]) for (pred, _), (_, te) in zip(fitted, every)])
            warn_nan_splits(r, const[columns], f"score_layers, layer {name!r}")
            for ri in region_idx:
                sel = cols[regions[ri]] if joint else slice(None)
                meds[ri] = nanmedian_rows(r[:, sel])
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
        score, error = mean_and_sem(nested)
        counts = np.bincount(chosen, minlength=len(names))
        best = names[int(np.argmax(counts))]
        choices += [{"region": reg, "split": s, "layer": names[c], "score": nested[s]}
                    for s, c in enumerate(chosen)]
        best_layers[reg] = best
        summary.append({"region": reg, "best_layer": best, "score": score, "error": error,
                        "n_splits": n_splits, "regression": name_of_regression, "simulated": simulated})
        for li, name in enumerate(names):
            sc, er = mean_and_sem(outer_med[li, ri])
            rows.append({"region": reg, "layer": name, "layer_index": li, "score": sc, "error": er,
                         "selected": counts[li] / n_splits, "regression": name_of_regression,
                         "simulated": simulated})
    return LayerScores(pd.DataFrame(rows), pd.DataFrame(summary), best_layers, pd.DataFrame(choices),
                       simulated)
