"""Claims of the reproduced papers, tested on numbers from several seeds: intervals and verdicts.

A reproduction states each qualitative claim of its paper as a comparison
"A > B" (e.g. *the trained V2 stage is more texture-modulated than the same
architecture untrained*) and measures A and B once per seed, the two measured on
the same seed's stimuli and splits (paired). The verdict follows from the 95%
interval of the mean paired difference ``d_s = A_s − B_s`` over seeds ``s``
(Student's t, ``n − 1`` degrees of freedom):

- **shown** — the whole interval lies above 0;
- **contradicted** — the whole interval lies below 0 (the data support the opposite);
- **not shown at this budget** — the interval contains 0, or fewer than two seeds
  gave a finite difference (no interval can be formed).

Nothing here is typed in by hand: :func:`evaluate_claim` computes the row from the
numbers and :func:`claims_table` writes the markdown the reports put first.

Examples
--------
>>> row = evaluate_claim("V2 more modulated than V1", "mean modulation index",
...                  a=[0.20, 0.25, 0.22], b=[0.01, 0.02, 0.00], a_name="V2", b_name="V1")
>>> row.verdict
'shown'
>>> evaluate_claim("x", "y", a=[1.0, 0.0, 2.0], b=[0.5, 0.5, 0.5]).verdict
'not shown at this budget'
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["SHOWN", "NOT_SHOWN", "CONTRADICTED", "ClaimResult", "mean_interval", "verdict", "evaluate_claim",
           "claims_table"]

SHOWN = "shown"
NOT_SHOWN = "not shown at this budget"
CONTRADICTED = "contradicted"


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and two-sided Student-t confidence interval of the mean, over the finite values.

    ``mean ± t_{(1+c)/2, n−1} · s / √n`` with ``s`` the sample standard deviation
    (``ddof=1``) of the ``n`` finite values. With fewer than two finite values the
    interval is ``(nan, nan)`` (a single seed says nothing about the spread).

    Returns
    -------
    (mean, low, high, n)

    Examples
    --------
    >>> m, lo, hi, n = mean_interval([1.0, 2.0, 3.0])
    >>> round(m, 3), round(lo, 3), round(hi, 3), n
    (2.0, -0.484, 4.484, 3)
    """
    from scipy import stats

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def verdict(low: float, high: float) -> str:
    """``'shown'`` when the interval of A − B lies above 0, ``'contradicted'`` below, else not shown.

    Examples
    --------
    >>> verdict(0.1, 0.3), verdict(-0.3, -0.1), verdict(-0.1, 0.2), verdict(float("nan"), float("nan"))
    ('shown', 'contradicted', 'not shown at this budget', 'not shown at this budget')
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return NOT_SHOWN
    if low > 0:
        return SHOWN
    if high < 0:
        return CONTRADICTED
    return NOT_SHOWN


@dataclass
class ClaimResult:
    """One row of a claims table: the claim, what was measured, per-seed values, interval, verdict."""

    claim: str
    measured: str
    a_name: str
    b_name: str
    a: list[float]
    b: list[float]
    difference: float
    low: float
    high: float
    n_seeds: int
    verdict: str
    note: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_claim(claim: str, measured: str, a: Sequence[float], b: Sequence[float], a_name: str = "A",
               b_name: str = "B", confidence: float = 0.95, note: str = "") -> ClaimResult:
    """Test the claim "A > B" from per-seed paired measurements ``a[s]``, ``b[s]``.

    Parameters
    ----------
    claim : str
        The qualitative claim, in words (e.g. "LCL stage 2 more texture-modulated than stage 1").
    measured : str
        What A and B are, with units (e.g. "mean modulation index over live units inside the stimulus").
    a, b : sequences of float, one value per seed, same length
        Paired: ``a[s]`` and ``b[s]`` come from the same seed. Non-finite pairs are dropped.
    a_name, b_name : str
    confidence : float
    note : str
        Anything the reader needs (budget, data source).

    Returns
    -------
    ClaimResult
        ``difference`` = mean of ``a − b``; ``low``/``high`` its interval; ``verdict`` from :func:`verdict`.
    """
    a_arr, b_arr = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"claim {claim!r}: a and b must hold one value per seed each (paired); got "
                         f"{len(a_arr)} and {len(b_arr)} values")
    d = a_arr - b_arr
    mean, low, high, n = mean_interval(d, confidence)
    return ClaimResult(claim=claim, measured=measured, a_name=a_name, b_name=b_name,
                       a=a_arr.tolist(), b=b_arr.tolist(), difference=mean, low=low, high=high,
                       n_seeds=n, verdict=verdict(low, high), note=note)


def _num(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3g}"


def claims_table(rows: Sequence[ClaimResult | dict]) -> str:
    """The markdown claims table (claim, measured, A, B, A − B [95% interval], seeds, verdict).

    Examples
    --------
    >>> print(claims_table([evaluate_claim("c", "m", [1, 2, 3], [0, 0, 0])]).splitlines()[2])
    | c | m | A 2 | B 0 | 2 [-0.484, 4.48] | 3 | **not shown at this budget** |
    """
    lines = ["| claim | measured | A (mean over seeds) | B (mean over seeds) | A − B [95% interval] | seeds | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        r = r if isinstance(r, dict) else r.to_dict()
        a = float(np.nanmean(r["a"])) if np.isfinite(r["a"]).any() else math.nan
        b = float(np.nanmean(r["b"])) if np.isfinite(r["b"]).any() else math.nan
        measured = r["measured"] + (f" ({r['note']})" if r.get("note") else "")
        lines.append(f"| {r['claim']} | {measured} | {r['a_name']} {_num(a)} | {r['b_name']} {_num(b)} | "
                     f"{_num(r['difference'])} [{_num(r['low'])}, {_num(r['high'])}] | {r['n_seeds']} | "
                     f"**{r['verdict']}** |")
    return "\n".join(lines)
