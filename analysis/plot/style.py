"""One place for the figures' look, applied locally (never ``sns.set_theme``)."""
from __future__ import annotations

import contextlib

__all__ = ["figure_style", "new_axes"]


@contextlib.contextmanager
def figure_style(style: str = "whitegrid", context: str = "notebook"):
    """Seaborn's ``style``/``context`` inside a ``with`` block only; the global rcParams are restored after.

    Examples
    --------
    >>> import matplotlib
    >>> before = dict(matplotlib.rcParams)
    >>> with figure_style():
    ...     pass
    >>> dict(matplotlib.rcParams) == before
    True
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    with plt.rc_context(), sns.axes_style(style), sns.plotting_context(context):
        yield


def new_axes(ax=None, ncols: int = 1, size: tuple[float, float] = (4.5, 3.5), **subplot_kw):
    """``ax`` itself when given, else a fresh figure with ``ncols`` axes (call inside :func:`figure_style`)."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    fig, axes = plt.subplots(1, ncols, figsize=(size[0] * ncols, size[1]), squeeze=True, subplot_kw=subplot_kw)
    return axes
