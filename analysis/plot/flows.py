"""Figures of the normalizing-flow analyses (:mod:`analysis.flows`).

Each function takes a :class:`~analysis.flows.LocalComponents` (or a fitted flow),
accepts ``ax=`` (an Axes, or a sequence of Axes for multi-panel figures; new ones
are made when ``None``), returns what it drew on, and leaves the global style alone
(:func:`analysis.plot.style.figure_style`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .style import figure_style

__all__ = ["plot_component_coordinates", "plot_local_components", "plot_component_images",
           "plot_training_history"]


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _panels(ax, n: int, projection: str | None, size: float):
    """``n`` axes: the given ones (checked) or a new row of them."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig = plt.figure(figsize=(size * n, size))
        return [fig.add_subplot(1, n, i + 1, projection=projection) for i in range(n)]
    axes = list(np.ravel(ax)) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
    if len(axes) < n:
        raise ValueError(f"this figure draws {n} panel(s) but ax holds {len(axes)} Axes; pass "
                         f"{n} Axes{' with projection=' + repr(projection) if projection else ''} "
                         "or ax=None.")
    return axes[:n]


def plot_component_coordinates(components, which: Sequence[int] = (0, 1),
                               dims: Sequence[int] = (0, 1, 2), units: str = "a.u.", ax=None):
    """Data points colored by their un-whitened latent coordinates, one panel per component.

    Parameters
    ----------
    components : LocalComponents
    which : sequence of int
        Components to show (0 = largest local standard deviation).
    dims : sequence of int
        Data dimensions on the axes (2 or 3 of them).
    units : str
        Data units for the axis and color-bar labels.
    ax : sequence of Axes, optional
        One per component in ``which`` (3-D axes when 3 dims are drawn).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> from analysis.flows import local_components
    >>> comps = local_components(torch.nn.Linear(2, 2).double(), torch.randn(20, 2, dtype=torch.float64))
    >>> fig = plot_component_coordinates(comps, which=(0,))
    >>> fig.axes[0].get_title()
    'component 0 coordinate'
    """
    pts, coords = _np(components.points), _np(components.coordinates)
    dims = [k for k in dims if k < pts.shape[1]]
    if len(dims) < 2:
        raise ValueError(f"need at least 2 data dimensions to plot, got dims={dims}.")
    three = len(dims) == 3
    with figure_style():
        axes = _panels(ax, len(which), "3d" if three else None, 5.0)
        fig = axes[0].figure
        for a, k in zip(axes, which):
            lo, hi = np.percentile(coords[:, k], [2, 98])  # robust to a few tail points
            sc = a.scatter(*[pts[:, j] for j in dims], c=coords[:, k], cmap="viridis", s=6,
                           vmin=lo, vmax=hi)
            a.set_xlabel(f"x{dims[0]} ({units})")
            a.set_ylabel(f"x{dims[1]} ({units})")
            if three:
                a.set_zlabel(f"x{dims[2]} ({units})")
            a.set_title(f"component {k} coordinate")
            fig.colorbar(sc, ax=a, shrink=0.6, pad=0.15 if three else 0.05,
                         label=f"coordinate ({units})")
        if ax is None:
            fig.tight_layout()
    return fig


def plot_local_components(components, n_arrows: int = 150, which: Sequence[int] = (0, 1),
                          background=None, units: str = "a.u.", arrow_scale: float | None = None,
                          seed: int = 0, ax=None):
    """Local component arrows on 2-D or 3-D data.

    Each arrow starts at a point and points along the component's direction with
    length ``arrow_scale / s_k``, proportional to the local standard deviation.

    Parameters
    ----------
    components : LocalComponents
        Computed on 2-D or 3-D points.
    n_arrows : int
        Number of (randomly chosen) points that get arrows.
    which : sequence of int
        Components drawn (colors in order).
    background : array_like, shape (m, d), optional
        Points drawn in gray behind the arrows (default: ``components.points``).
    units : str
        Data units for the axis labels.
    arrow_scale : float, optional
        Arrow length per unit local s.d.; default: the median arrow of the first
        drawn component is 8% of the data's largest extent.
    seed : int
        Seed of the choice of arrow points.
    ax : Axes, optional
        A 3-D Axes for 3-D data.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import torch
    >>> from analysis.flows import local_components
    >>> comps = local_components(torch.nn.Linear(2, 2).double(), torch.randn(30, 2, dtype=torch.float64))
    >>> plot_local_components(comps, n_arrows=10, units="cm").get_xlabel()
    'x0 (cm)'
    """
    import seaborn as sns

    pts, dirs = _np(components.points), _np(components.directions)
    d = pts.shape[1]
    if d not in (2, 3):
        raise ValueError(f"arrows need 2-D or 3-D data, got d={d}; use "
                         "plot_component_coordinates or plot_component_images.")
    bg = pts if background is None else _np(background)
    with figure_style():
        (a,) = _panels(ax, 1, "3d" if d == 3 else None, 5.0)
        a.scatter(*bg.T, s=3, color="0.75", alpha=0.5)
        idx = np.random.default_rng(seed).choice(len(pts), min(n_arrows, len(pts)), replace=False)
        if arrow_scale is None:
            extent = float((bg.max(0) - bg.min(0)).max())
            arrow_scale = 0.08 * extent / max(float(np.median(np.linalg.norm(
                dirs[idx, which[0]], axis=1))), 1e-300)
        for c, k in zip(sns.color_palette("deep", len(which)), which):
            p, v = pts[idx], arrow_scale * dirs[idx, k]
            if d == 3:
                a.quiver(*p.T, *v.T, color=c, linewidth=1)
            else:
                a.quiver(*p.T, *v.T, color=c, angles="xy", scale_units="xy", scale=1, width=0.004)
            a.plot([], [], color=c, label=f"component {k}")
        a.set_xlabel(f"x0 ({units})")
        a.set_ylabel(f"x1 ({units})")
        if d == 3:
            a.set_zlabel(f"x2 ({units})")
        else:
            a.set_aspect("equal")
        a.legend(loc="best")
        a.set_title(f"local components (arrow = {arrow_scale:.2g} x local s.d.)")
    return a


def plot_component_images(components, image_shape: Sequence[int], points: Sequence[int] = (0,),
                          n_components: int = 8, ax=None):
    """Component directions shown as images (e.g. digits).

    Row r shows, for ``points[r]``, the image itself followed by its first
    ``n_components`` directions reshaped to ``image_shape`` (pixel intensity per
    local standard deviation; diverging colormap centred on 0).

    Parameters
    ----------
    components : LocalComponents
        Computed on flattened images.
    image_shape : sequence of int
        ``(H, W)`` with ``H * W == d``.
    points : sequence of int
        Indices of the points shown.
    n_components : int
        Components per point.
    ax : array of Axes, optional
        ``len(points) * (n_components + 1)`` Axes (row-major).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> from analysis.flows import local_components
    >>> comps = local_components(torch.nn.Linear(4, 4).double(), torch.rand(3, 4, dtype=torch.float64))
    >>> len(plot_component_images(comps, (2, 2), points=(0, 1), n_components=2).axes)
    6
    """
    import matplotlib.pyplot as plt

    h, w = image_shape
    pts, dirs, scales = _np(components.points), _np(components.directions), _np(components.scales)
    if h * w != pts.shape[1]:
        raise ValueError(f"image_shape {tuple(image_shape)} has {h * w} pixels but the points "
                         f"have {pts.shape[1]} features.")
    n_components = min(n_components, pts.shape[1])
    ncol = n_components + 1
    with figure_style(style="white"):
        if ax is None:
            fig, axes = plt.subplots(len(points), ncol, figsize=(1.4 * ncol, 1.6 * len(points)),
                                     squeeze=False)
        else:
            axes = np.asarray(_panels(ax, len(points) * ncol, None, 1.4),
                              dtype=object).reshape(len(points), ncol)
            fig = axes[0, 0].figure
        for r, i in enumerate(points):
            axes[r, 0].imshow(pts[i].reshape(h, w), cmap="gray")
            axes[r, 0].set_title(f"point {i}", fontsize=8)
            lim = np.abs(dirs[i, :n_components]).max()
            for k in range(n_components):
                axes[r, k + 1].imshow(dirs[i, k].reshape(h, w), cmap="RdBu_r", vmin=-lim, vmax=lim)
                axes[r, k + 1].set_title(f"c{k}, s.d. {scales[i, k]:.2g}", fontsize=8)
            for a in axes[r]:
                a.set_xticks([])
                a.set_yticks([])
        axes[-1, 0].set_xlabel(f"{w} px")
        axes[-1, 0].set_ylabel(f"{h} px")
        if ax is None:
            fig.tight_layout()
    return fig


def plot_training_history(flow, ax=None):
    """Train / held-out log-likelihood and held-out mean log|det J| per epoch (two panels).

    Parameters
    ----------
    flow : FittedFlow
        From :func:`analysis.flows.fit_flow` (its ``history_frame()``, ``best_epoch``,
        ``diverged``).
    ax : sequence of two Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> from analysis.flows import fit_flow
    >>> f = fit_flow(torch.randn(100, 2, dtype=torch.float64), "linear", max_epochs=2, progress=False)
    >>> plot_training_history(f).axes[0].get_ylabel()
    'log-likelihood (nats / point)'
    """
    df = flow.history_frame()
    with figure_style():
        a, b = _panels(ax, 2, None, 4.0)
        a.plot(df["epoch"], df["train_log_likelihood"], label="train")
        a.plot(df["epoch"], df["heldout_log_likelihood"], label="held-out")
        a.axvline(flow.best_epoch, color="0.5", ls="--", label="kept")
        a.set_xlabel("epoch")
        a.set_ylabel("log-likelihood (nats / point)")
        a.legend()
        b.plot(df["epoch"], df["heldout_log_det"], color="C2")
        b.set_xlabel("epoch")
        b.set_ylabel("mean log|det J| (nats)")
        b.set_title("diverged" if flow.diverged else "")
        if ax is None:
            a.figure.tight_layout()
    return a.figure
