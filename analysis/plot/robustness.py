"""Figures of robustness and human alignment: OOD accuracy curves and error consistency.

Each function takes a table from :mod:`analysis.robustness` or
:mod:`analysis.error_consistency`, accepts ``ax=``, returns what it drew on, and
leaves the global style alone (:func:`analysis.plot.style.figure_style`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..distortions import DISTORTIONS
from .style import figure_style

__all__ = ["plot_ood_accuracy", "plot_error_consistency"]


def plot_ood_accuracy(table: pd.DataFrame, col_wrap: int = 4, ax=None):
    """Accuracy against distortion strength, one panel per kind (units differ).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis.robustness.ood_accuracy` (several models may be
        concatenated; they are told apart by ``subj``).
    col_wrap : int
        Panels per row.
    ax : sequence of Axes, optional
        One per distortion kind in ``table``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"subj": "m", "kind": "blur", "strength": [0.0, 2.0], "accuracy": [1.0, 0.5],
    ...                   "ci_low": [0.8, 0.3], "ci_high": [1.0, 0.7], "chance": 0.5})
    >>> plot_ood_accuracy(t).axes[0].get_title()
    'blur'
    """
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(table["kind"]))
    ncol = min(col_wrap, len(kinds))
    nrow = math.ceil(len(kinds) / ncol)
    with figure_style(style="ticks"):
        if ax is None:
            fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.8 * nrow), squeeze=False)
            axes = list(axes.flat)
        else:
            axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
            if len(axes) < len(kinds):
                raise ValueError(f"the table has {len(kinds)} distortion kinds (one panel each) "
                                 f"but ax holds {len(axes)} Axes; pass {len(kinds)} or ax=None")
            fig = axes[0].figure
        _draw_ood_panels(table, kinds, axes)
        if ax is None:
            fig.tight_layout()
    return fig


def _draw_ood_panels(table, kinds, axes) -> None:
    import seaborn as sns

    palette = dict(zip(dict.fromkeys(table["subj"]), sns.color_palette(n_colors=table["subj"].nunique())))
    for ax, kind in zip(axes, kinds):
        sub = table[table["kind"] == kind]
        for subj, d in sub.groupby("subj", sort=False):
            d = d.sort_values("strength")
            ax.errorbar(d["strength"], d["accuracy"],
                        yerr=[d["accuracy"] - d["ci_low"], d["ci_high"] - d["accuracy"]],
                        marker="o", ms=4, capsize=2, color=palette[subj], label=subj)
        ax.axhline(float(sub["chance"].iloc[0]), color="0.5", ls=":", lw=1)
        ax.set_ylim(0, 1.02)
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel(DISTORTIONS[kind].unit if kind in DISTORTIONS else "strength")
        ax.set_ylabel("accuracy [fraction correct]")
    for ax in axes[len(kinds):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    for ax in axes[:len(kinds)]:
        sns.despine(ax=ax)


def plot_error_consistency(table: pd.DataFrame, ax=None):
    """Error consistency κ per condition: one dot per human observer, bar = mean.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis.error_consistency.human_error_consistency` or
        :func:`analysis.model_vs_human.classifier_error_consistency`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"model": "m", "subj": ["s1", "s2"], "condition": "c30",
    ...                   "error_consistency": [0.2, 0.4]})
    >>> tuple(float(v) for v in plot_error_consistency(t).get_ylim())
    (-1.0, 1.0)
    """
    import matplotlib.pyplot as plt

    with figure_style(style="ticks"):
        if ax is None:
            _, ax = plt.subplots(figsize=(1.5 + 0.6 * table["condition"].nunique(), 3.5))
        _draw_kappa(table, ax)
    return ax


def _draw_kappa(table, ax) -> None:
    import seaborn as sns

    data = table.assign(condition=table["condition"].astype(str))
    sns.barplot(data=data, x="condition", y="error_consistency", hue="model", errorbar=None,
                alpha=0.4, ax=ax)
    sns.stripplot(data=data, x="condition", y="error_consistency", hue="model", dodge=True,
                  size=4, legend=False, ax=ax)
    ax.axhline(0.0, color="0.4", ls=":", lw=1)
    ax.set_ylim(-1, 1)
    ax.set_xlabel("condition")
    ax.set_ylabel("error consistency κ (model vs human) [unitless]")
    sns.despine(ax=ax)
