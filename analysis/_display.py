"""How results show themselves: a one-line ``__repr__`` and a one-screen HTML table for Jupyter.

Result objects (capacity, alignment, predictivity, flow components, stimulus sets) call
:func:`short_repr` from their ``__repr__`` and :func:`html_summary` from their
``_repr_html_`` with their key numbers, so a notebook cell that ends with a result
shows a small table instead of every array the result holds.

Examples
--------
>>> class Result:
...     def __repr__(self):
...         return short_repr(self, {"capacity": 0.123456, "P": 8})
>>> Result()
Result(capacity=0.1235, P=8)
"""
from __future__ import annotations

import html
import numbers

import numpy as np
import pandas as pd

__all__ = ["format_value", "short_repr", "html_summary", "MAX_ROWS"]

#: table rows shown in HTML before "… n more rows"
MAX_ROWS = 10


def format_value(value) -> str:
    """A short text for one number, string, array or table (4 significant digits for floats)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    if isinstance(value, str):
        return value
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"<{type(value).__name__} {'×'.join(str(s) for s in shape)}>"
    if isinstance(value, (list, tuple)):
        shown = ", ".join(format_value(v) for v in value[:4])
        return f"[{shown}{', …' if len(value) > 4 else ''}]"
    return str(value)


def short_repr(obj, items: dict) -> str:
    """``TypeName(key=value, ...)`` on one line from the key numbers ``items``."""
    return f"{type(obj).__name__}({', '.join(f'{k}={format_value(v)}' for k, v in items.items())})"


def html_summary(obj, items: dict, table: pd.DataFrame | None = None, note: str = "",
                 max_rows: int = MAX_ROWS, full_table: str = ".to_dataframe()") -> str:
    """An HTML block: the type name, a two-column table of ``items``, and the first rows of ``table``.

    Parameters
    ----------
    obj
        The object shown (its type name is the heading).
    items : dict
        Key numbers, name → value (formatted with :func:`format_value`).
    table : pandas.DataFrame, optional
        A detail table; at most ``max_rows`` rows are shown, followed by how many were left out.
    note : str
        One line under the heading (e.g. "simulated data").
    max_rows : int
        Rows of ``table`` shown.
    full_table : str
        The attribute or method that gives the whole table (named under a cut table).
    """
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                   f"<td style='text-align:right'>{html.escape(format_value(v))}</td></tr>" for k, v in items.items())
    out = [f"<div><strong>{html.escape(type(obj).__name__)}</strong>"]
    if note:
        out.append(f" <em>{html.escape(note)}</em>")
    out.append(f"<table>{rows}</table>")
    if table is not None and len(table):
        out.append(table.head(max_rows).to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0))
        if len(table) > max_rows:
            out.append(f"<p>… {len(table) - max_rows} more rows (<code>{html.escape(full_table)}</code> has them all)</p>")
    out.append("</div>")
    return "".join(out)
