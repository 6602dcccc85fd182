"""Figures for model–recording comparisons: predictivity across layers, RDMs.

Each function takes ``ax=`` (a new figure when ``None``), returns the Axes it drew
on, and applies its style locally (:func:`analysis.plot.style.figure_style`).
"""
from __future__ import annotations

import numpy as np

from analysis.plot.style import figure_style, new_axes

__all__ = ["plot_layer_scores", "plot_rdm"]


def plot_layer_scores(result, ax=None):
    """Held-out predictivity per layer and region (mean ± SEM over splits); best layers starred.

    Parameters
    ----------
    result : analysis.layer_mapping.LayerScores
        From :func:`analysis.layer_mapping.score_layers`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from analysis.layer_mapping import LayerScores
    >>> table = pd.DataFrame({"region": ["V1", "V1"], "layer": ["a", "b"], "layer_index": [0, 1],
    ...                       "score": [0.2, 0.4], "error": [0.02, 0.03], "regression": "ridge"})
    >>> ax = plot_layer_scores(LayerScores(table, pd.DataFrame(), {"V1": "b"}, pd.DataFrame()))
    >>> ax.get_xlabel()
    'model layer'
    """
    import pandas as pd
    import seaborn as sns

    table = result.table
    layers = list(pd.unique(table["layer"]))
    with figure_style():
        ax = new_axes(ax, size=(max(4.0, 0.5 * len(layers) + 2), 3.5))
        palette = sns.color_palette(n_colors=table["region"].nunique())
        for color, (reg, df) in zip(palette, table.groupby("region", sort=False)):
            x = df["layer_index"].to_numpy()
            ax.errorbar(x, df["score"], yerr=df["error"], marker="o", color=color, label=str(reg), capsize=2)
            best = layers.index(result.best_layers[reg])
            ax.plot([best], df.loc[df["layer_index"] == best, "score"], marker="*", markersize=14,
                    color=color, linestyle="none")
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels(layers, rotation=45, ha="right")
        ax.set_xlabel("model layer")
        ax.set_ylabel("predictivity (median Pearson r, held-out stimuli)")
        title = f"{table['regression'].iloc[0]} regression; ★ = layer selected on training stimuli"
        if getattr(result, "simulated", False):
            title += " (simulated data)"
        ax.set_title(title, fontsize=9)
        ax.legend(title="region")
    return ax


def plot_rdm(rdm, ax=None, title: str | None = None):
    """An RDM as an image (conditions in the RDM's order), with a colour bar.

    Parameters
    ----------
    rdm : xarray.DataArray or array (n, n)
        From :func:`analysis.rsa.rdm` (its ``method`` attr labels the colour bar).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from analysis.rsa import rdm
    >>> ax = plot_rdm(rdm(np.random.default_rng(0).normal(size=(6, 20)), "euclidean"))
    >>> ax.images[0].get_array().shape
    (6, 6)
    """
    values = np.asarray(getattr(rdm, "values", rdm))
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise ValueError(f"plot_rdm draws one (n, n) RDM; got shape {values.shape}")
    attrs = getattr(rdm, "attrs", {})
    with figure_style(style="white"):
        ax = new_axes(ax, size=(4.0, 3.5))
        im = ax.imshow(values, cmap="viridis", interpolation="nearest")
        ax.figure.colorbar(im, ax=ax, label=f"{attrs.get('method', '')} dissimilarity".strip())
        ax.set_xlabel("condition")
        ax.set_ylabel("condition")
        label = title or ""
        if attrs.get("simulated"):
            label = (label + " (simulated data)").strip()
        if label:
            ax.set_title(label, fontsize=9)
    return ax
