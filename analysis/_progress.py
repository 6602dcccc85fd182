"""The one progress helper of the analysis package (a tqdm bar that can be switched off)."""
from __future__ import annotations

from collections.abc import Iterable

__all__ = ["progress_bar"]


def progress_bar(items: Iterable, show: bool = True, desc: str = "", total: int | None = None, **options):
    """``items`` wrapped in a ``tqdm.auto`` bar when ``show``, else ``items`` unchanged.

    ``options`` go to ``tqdm`` (e.g. ``unit="batch"``, ``leave=False``).

    Examples
    --------
    >>> list(progress_bar(range(3), show=False))
    [0, 1, 2]
    """
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, **options)
