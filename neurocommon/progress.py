"""The one progress helper of the toolkit: a ``tqdm.auto`` bar that can be switched off."""
from __future__ import annotations

from collections.abc import Iterable

__all__ = ["progress_bar"]


def progress_bar(items: Iterable | None, show: bool = True, desc: str = "", total: int | None = None, *,
                 updates: bool = False, **options):
    """``items`` wrapped in a ``tqdm.auto`` bar when ``show``, else ``items`` unchanged.

    Parameters
    ----------
    items : iterable or None
        What the loop runs over; ``None`` for a bar advanced by hand (``bar.update(1)``,
        give ``total``).
    show : bool
        Draw the bar. When False and ``updates`` is False, ``items`` comes back as it was
        and tqdm is not even imported.
    desc : str
        The bar's label.
    total : int, optional
        Number of steps, when ``items`` has no length.
    updates : bool
        The caller talks to the bar (``update``, ``set_postfix``, ``set_description``,
        ``close``): a tqdm object is returned even when hidden (``disable=not show``).
        Implied by ``items=None``.
    **options
        Go to ``tqdm`` (e.g. ``unit="batch"``, ``leave=False``, ``initial=``).

    Examples
    --------
    >>> list(progress_bar(range(3), show=False))
    [0, 1, 2]
    >>> bar = progress_bar(None, show=False, total=2)
    >>> bar.update(1); bar.set_postfix(loss="0.1"); bar.close()
    """
    updates = updates or items is None
    if not show and not updates:
        return items
    from tqdm.auto import tqdm

    if updates:
        options["disable"] = not show
    return tqdm(items, desc=desc, total=total, **options)
