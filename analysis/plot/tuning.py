"""Figures of filters and their grating tuning (:mod:`analysis.tuning`).

Each function draws on ``ax`` (a new figure when ``None``), returns the Axes, and
applies its style locally (:func:`analysis.plot.style.figure_style`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .style import figure_style, new_axes

__all__ = ["plot_filters", "plot_circular_variance"]


def filter_mosaic(filters, n_cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Filters (units, [channels,] k, k) tiled into one image, each scaled to its own max |w|; pad = NaN."""
    w = filters.detach().cpu().numpy() if hasattr(filters, "detach") else np.asarray(filters)
    w = np.asarray(w, dtype=float)
    if w.ndim == 4:
        w = w.sum(1)
    if w.ndim != 3:
        raise ValueError(f"filters must be (units, channels, k, k) or (units, k, k); got shape {w.shape}")
    n, k = len(w), w.shape[-1]
    n_cols = n_cols or int(np.ceil(np.sqrt(n)))
    n_rows = int(np.ceil(n / n_cols))
    scale = np.abs(w).reshape(n, -1).max(1)
    w = w / np.where(scale > 0, scale, 1.0)[:, None, None]
    out = np.full((n_rows * (k + pad) - pad, n_cols * (k + pad) - pad), np.nan)
    for i, f in enumerate(w):
        r, c = divmod(i, n_cols)
        out[r * (k + pad):r * (k + pad) + k, c * (k + pad):c * (k + pad) + k] = f
    return out


def plot_filters(filters, ax=None, title: str = "Stage-1 filters", n_cols: int | None = None):
    """Filters as an image grid (gray = 0, each filter scaled to its own largest |weight|).

    Parameters
    ----------
    filters : array or Tensor, shape (n, C, h, w) or (n, h, w)
        Convolution weights (input channels summed).
    ax : matplotlib Axes, optional
        Where to draw (a new figure when ``None``).
    title : str
    n_cols : int, optional
        Columns of the grid (default ``ceil(sqrt(n))``).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> plot_filters(np.random.default_rng(0).normal(size=(6, 1, 5, 5))).get_title()
    'Stage-1 filters'
    """
    with figure_style("white"):
        ax = new_axes(ax, size=(4, 4))
        mosaic = filter_mosaic(filters, n_cols)
        ax.imshow(np.ma.masked_invalid(mosaic), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    return ax


def plot_circular_variance(table: pd.DataFrame, hue: str = "model", ax=None):
    """Distributions of circular variance (0: one orientation; 1: untuned) per model.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`analysis.tuning.orientation_tuning` rows with a ``hue`` column.
    hue : str
        Column that names the model (one box per value).
    ax : matplotlib Axes, optional
        Where to draw (a new figure when ``None``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns

    with figure_style("ticks"):
        ax = new_axes(ax, size=(5, 3.5))
        sns.boxplot(data=table, x=hue, y="circular_variance", color="0.85", ax=ax, fliersize=0)
        sns.stripplot(data=table, x=hue, y="circular_variance", size=3, alpha=0.6, ax=ax)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("")
        ax.set_ylabel("circular variance [unitless]")
        ax.tick_params(axis="x", rotation=30)
        ax.set_title("Orientation tuning from gratings (lower = sharper)", fontsize=9)
        sns.despine(ax=ax)
    return ax
