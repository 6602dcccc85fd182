"""Figures of the manifold analyses (:mod:`analysis.capacity`, :mod:`analysis.alignment`).

Each function draws on ``ax`` (a new figure when ``None``; for multi-panel figures
a sequence of Axes, one per panel), returns the Figure, and applies its style
locally (:func:`analysis.plot.style.figure_style`): the user's global style is
never changed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .style import figure_style

__all__ = ["plot_manifold_geometry", "plot_geometry_by_layer", "plot_alignment"]

_GEOMETRY = [
    ("capacity", "capacity α (manifolds / dimension)"),
    ("radius", "radius R_M (× center norm)"),
    ("dimension", "dimension D_M (dims)"),
]
_ALIGNMENT = {
    "center_alignment": "center alignment |ĉ_μ·ĉ_ν|",
    "axis_alignment": "axis alignment (covariance overlap)",
    "anchor_axis_alignment": "anchor-axis alignment",
    "center_axis_alignment": "center–axis alignment ĉ_μᵀC_νĉ_μ / tr C_ν",
    "subspace_overlap": "subspace overlap mean cos²θ",
}


def _panels(ax, n: int, size=(3.3, 3.2)):
    """``n`` Axes: the given ones (a sequence of length n, or one Axes when n = 1) or a new row."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, axes = plt.subplots(1, n, figsize=(size[0] * n, size[1]), squeeze=False)
        return fig, list(axes[0]), True
    axes = [ax] if not isinstance(ax, (list, tuple, np.ndarray)) else list(np.ravel(ax))
    if len(axes) != n:
        raise ValueError(f"this figure has {n} panel(s); pass ax as a sequence of {n} Axes (got {len(axes)})")
    return axes[0].figure, axes, False


def plot_manifold_geometry(result, ax=None):
    """Per-manifold α, R_M and D_M of one capacity result (points) with their summaries (line).

    Parameters
    ----------
    result : analysis.capacity.ManifoldCapacityResult
    ax : sequence of 3 matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from analysis.capacity import manifold_capacity
    >>> rng = np.random.default_rng(0)
    >>> res = manifold_capacity([rng.standard_normal((5, 30)) + 3 * rng.standard_normal(30) for _ in range(6)],
    ...                         n_t=20)
    >>> plot_manifold_geometry(res).axes[0].get_ylabel()[:8]
    'capacity'
    """
    import seaborn as sns

    df = result.to_dataframe()
    with figure_style("whitegrid"):
        fig, axes, new = _panels(ax, 3)
        for a, (col, lab), summ in zip(axes, _GEOMETRY, [result.capacity, result.radius, result.dimension]):
            sns.stripplot(y=df[col], ax=a, color="0.3", size=3, jitter=0.25)
            a.axhline(summ, color="C3", label="summary")
            a.set_ylabel(lab)
            a.set_xlabel("manifolds")
        axes[0].legend(loc="best", fontsize=8)
        if new:
            fig.suptitle(f"P = {len(df)} manifolds, κ = {result.kappa:g}, K = {result.K}")
            fig.tight_layout()
    return fig


def plot_geometry_by_layer(table: pd.DataFrame, x: str = "layer", hue: str | None = None, ax=None):
    """Capacity, radius and dimension (and center/axis alignment, if present) against layer.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis.capacity.manifold_geometry_by_layer` /
        :func:`~analysis.capacity.manifold_geometry_by_region` (concatenate several
        with a ``hue`` column such as ``model`` to compare).
    x : str
        Column on the x axis (kept in table order).
    hue : str, optional
        Column that distinguishes lines.
    ax : sequence of Axes, optional
        One per panel (3, or 5 when the table has alignment columns).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"layer": ["a", "b"], "capacity": [0.1, 0.2], "radius": [1.0, 0.8],
    ...                   "dimension": [5.0, 4.0]})
    >>> len(plot_geometry_by_layer(t).axes)
    3
    """
    import seaborn as sns

    panels = list(_GEOMETRY)
    for col in ("center_alignment", "axis_alignment"):
        if col in table:
            panels.append((col, _ALIGNMENT[col]))
    for col, _ in panels:
        if col not in table:
            raise ValueError(f"table has no {col!r} column; build it with manifold_geometry_by_layer")
    if x not in table:
        raise ValueError(f"table has no {x!r} column for the x axis; columns: {list(table.columns)}")
    order = list(dict.fromkeys(table[x].astype(str)))
    df = table.assign(**{x: table[x].astype(str)})
    with figure_style("whitegrid"):
        fig, axes, new = _panels(ax, len(panels))
        for a, (col, lab) in zip(axes, panels):
            sns.pointplot(data=df, x=x, y=col, hue=hue, order=order, ax=a, markers="o")
            a.set_ylabel(lab)
            a.set_xlabel(x)
            a.tick_params(axis="x", rotation=45)
        if new:
            fig.tight_layout()
    return fig


def plot_alignment(result, measures=("center_alignment", "axis_alignment", "center_axis_alignment"), ax=None):
    """Heatmaps of pairwise alignment matrices (values in [0, 1]).

    Parameters
    ----------
    result : analysis.alignment.ManifoldAlignmentResult
    measures : sequence of str
        Matrices to draw, among ``center_alignment``, ``axis_alignment``,
        ``anchor_axis_alignment``, ``center_axis_alignment``, ``subspace_overlap``.
    ax : sequence of Axes, optional
        One per measure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from analysis.alignment import manifold_alignment
    >>> rng = np.random.default_rng(0)
    >>> res = manifold_alignment([rng.standard_normal((6, 20)) + 3 * rng.standard_normal(20) for _ in range(4)],
    ...                          n_t=20)
    >>> len(plot_alignment(res).axes)   # three heatmaps and their colour bars
    6
    """
    import seaborn as sns

    measures = list(measures)
    unknown = [m for m in measures if m not in _ALIGNMENT]
    if unknown:
        raise ValueError(f"unknown alignment measure(s) {unknown}; choose from {list(_ALIGNMENT)}")
    with figure_style("white"):
        fig, axes, new = _panels(ax, len(measures), size=(4.0, 3.8))
        for a, name in zip(axes, measures):
            df = pd.DataFrame(result.matrices[name], index=result.labels, columns=result.labels)
            sns.heatmap(df, ax=a, vmin=0, vmax=1, cmap="viridis", square=True, cbar_kws={"label": _ALIGNMENT[name]})
            a.set_xlabel("manifold ν")
            a.set_ylabel("manifold μ")
            a.set_title(_ALIGNMENT[name], fontsize=9)
        if new:
            fig.tight_layout()
    return fig
