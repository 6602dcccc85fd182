"""Simulated manifold capacity: bisection on the projected dimension with exact separability checks.

The direct measurement that the mean-field value of :func:`analysis.capacity.manifold_capacity`
must agree with: random Gaussian projections to n dimensions, balanced random
dichotomies of the P manifolds, exact hard-margin separability with bias (an LP,
HiGHS), bisection on n for P(separable) = ½; α_sim = P / n_c (Chung, Lee &
Sompolinsky 2018, Sec. VI; Cohen et al. 2020).

Examples
--------
>>> import numpy as np
>>> from analysis.capacity_simulation import linearly_separable
>>> linearly_separable(np.array([[0.0], [1.0]]), np.array([-1, 1]))
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._display import html_summary, short_repr
from analysis._manifolds import as_manifolds
from neurocommon.progress import progress_bar

__all__ = ["SimulatedCapacityResult", "simulated_capacity", "linearly_separable"]


# ----------------------------------------------------------------------------- simulation
def linearly_separable(points: np.ndarray, labels: np.ndarray, tol: float = 1e-9) -> bool:
    """Exact hard-margin linear separability with bias (an LP, HiGHS).

    Solves the bounded LP ``max s`` s.t. ``y_i (w·x_i + b) ≥ s`` for all i,
    ``−1 ≤ w_k, b ≤ 1``, ``s ≤ 1``. It is always feasible (w = 0, b = 0, s = 0) and
    bounded, so HiGHS never meets the numerical trouble of the plain feasibility
    form ``y_i (w·x_i + b) ≥ 1`` near the separability threshold; the classes are
    strictly separable iff the optimal s > 0 (here: > ``tol`` · max |x|).

    Parameters
    ----------
    points : np.ndarray, shape (n_points, n)
    labels : np.ndarray of ±1, shape (n_points,)
    tol : float
        Relative margin below which the optimum counts as 0 (not separable).
    """
    from scipy.optimize import linprog

    X = np.asarray(points, dtype=float)
    y = np.asarray(labels, dtype=float)
    n_pts, n = X.shape
    A = np.hstack([-y[:, None] * X, -y[:, None], np.ones((n_pts, 1))])  # −y(w·x + b) + s ≤ 0
    c = np.zeros(n + 2)
    c[-1] = -1.0
    bounds = [(-1.0, 1.0)] * (n + 1) + [(None, 1.0)]
    res = linprog(c, A_ub=A, b_ub=np.zeros(n_pts), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"LP separability test did not finish (HiGHS status {res.status}: {res.message})")
    return bool(-res.fun > tol * max(np.abs(X).max(), 1e-300))


@dataclass
class SimulatedCapacityResult:
    """Capacity measured by random projections and separability checks.

    Attributes
    ----------
    capacity : float
        α_sim = P / n_c.
    capacity_bias_corrected : float
        P / (n_c + 1): the bias counted as one more dimension. With a bias, P points
        in n dimensions are separable exactly as P points in n + 1 dimensions
        without one (Cover 1965), so this is the finite-size-consistent value to
        compare with the mean-field theory (whose classifier has no bias); for
        P = 50 the two differ by 2 %.
    n_c : float
        Projected dimension where half the balanced dichotomies are separable
        (logistic fit through all trials, bracketed by the bisection).
    n_manifolds : int
    trials : pandas.DataFrame
        One row per evaluated n: ``n, n_separable, n_rep, fraction``.
    """

    capacity: float
    n_c: float
    n_manifolds: int
    trials: pd.DataFrame

    @property
    def capacity_bias_corrected(self) -> float:
        return self.n_manifolds / (self.n_c + 1.0)

    def _display_items(self) -> dict:
        return {"P": self.n_manifolds, "capacity": self.capacity,
                "capacity_bias_corrected": self.capacity_bias_corrected, "n_c": self.n_c}

    def __repr__(self) -> str:
        return short_repr(self, self._display_items())

    def _repr_html_(self) -> str:
        return html_summary(self, self._display_items(), self.trials, full_table=".trials",
                            note="separable fraction of random dichotomies against projected dimension n")

    def to_dataframe(self) -> pd.DataFrame:
        """The evaluated dimensions with their separable fractions, plus n_c and the capacities."""
        return self.trials.assign(n_c=self.n_c, capacity=self.capacity,
                                  capacity_bias_corrected=self.capacity_bias_corrected)


def _fit_half_point(ns, k, m):
    """n where a logistic fit of P(separable | n) crosses ½ (Newton's method)."""
    ns, k, m = map(lambda a: np.asarray(a, float), (ns, k, m))
    mu, sd = ns.mean(), max(ns.std(), 1.0)
    x = (ns - mu) / sd
    w = np.zeros(2)
    for _ in range(100):
        z = w[0] + w[1] * x
        p = 1 / (1 + np.exp(-z))
        grad = np.array([(k - m * p).sum(), ((k - m * p) * x).sum()])
        h = m * p * (1 - p)
        H = np.array([[h.sum(), (h * x).sum()], [(h * x).sum(), (h * x * x).sum()]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(H, grad)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    if w[1] <= 0 or not np.isfinite(w).all():
        return None
    return mu - sd * w[0] / w[1]


def simulated_capacity(
    manifolds,
    n_rep: int = 40,
    seed: int = 0,
    *,
    by: str | None = None,
    n_min: int = 1,
    n_max: int | None = None,
    progress: bool = False,
) -> SimulatedCapacityResult:
    """Simulated manifold capacity by bisection on the projected dimension.

    For a projected dimension n, each of ``n_rep`` trials draws a Gaussian random
    projection N → n (unit-norm columns) and a balanced random dichotomy of the P
    manifolds (P/2 labelled +1, the rest −1), and checks exact hard-margin linear
    separability with bias of *all* the projected points
    (:func:`linearly_separable`). Bisection on integer n brackets the dimension
    where the separable fraction crosses ½; n_c is the ½-point of a logistic fit
    through all trials (the bracket midpoint if the fit fails); α_sim = P / n_c
    (Chung, Lee & Sompolinsky 2018, Sec. VI; Cohen et al. 2020).

    Parameters
    ----------
    manifolds : as in :func:`manifold_capacity`
    n_rep : int
        Dichotomies (each with its own projection) per evaluated n.
    seed : int
    by : str, optional
        Presentation coord labelling the manifolds, for assemblies.
    n_min, n_max : int
        Bisection bracket (default 1 and N).
    progress : bool
        Show a tqdm bar over the bisection steps.

    Returns
    -------
    SimulatedCapacityResult
    """
    Xs, labels, _ = as_manifolds(manifolds, by, "cpu", fn="simulated_capacity")
    if int(n_rep) < 1:
        raise ValueError(f"n_rep must be ≥ 1; got {n_rep}")
    Xs = [x.numpy() for x in Xs]
    P, N = len(Xs), Xs[0].shape[1]
    allx = np.concatenate(Xs)
    owner = np.concatenate([np.full(len(x), i) for i, x in enumerate(Xs)])
    rng = np.random.default_rng(seed)
    cache: dict[int, int] = {}

    def n_separable(n):
        if n not in cache:
            hits = 0
            for _ in range(int(n_rep)):
                W = rng.standard_normal((N, n))
                W /= np.linalg.norm(W, axis=0, keepdims=True)
                lab = np.full(P, -1.0)
                lab[rng.permutation(P)[: P // 2]] = 1.0
                hits += linearly_separable(allx @ W, lab[owner])
            cache[n] = hits
        return cache[n]

    lo, hi = int(n_min), int(n_max if n_max is not None else N)
    if not 1 <= lo < hi:
        raise ValueError(f"need 1 ≤ n_min < n_max; got n_min={lo}, n_max={hi}")
    steps = int(np.ceil(np.log2(max(hi - lo, 1)))) + 1
    bar = progress_bar(None, progress, "simulated capacity", total=steps)
    if 2 * n_separable(hi) < n_rep:
        bar.close()
        raise ValueError(
            f"fewer than half of the dichotomies are separable even at n = {hi}; raise n_max "
            f"(capacity is below P / n_max = {P / hi:.3g})"
        )
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if 2 * n_separable(mid) >= n_rep:
            hi = mid
        else:
            lo = mid
        bar.update(1)
    bar.close()
    ns = np.array(sorted(cache))
    k = np.array([cache[n] for n in ns])
    nc = _fit_half_point(ns, k, np.full(len(ns), n_rep))
    if nc is None or not lo - 1 <= nc <= hi + 1:
        nc = 0.5 * (lo + hi)
    trials = pd.DataFrame({"n": ns, "n_separable": k, "n_rep": int(n_rep), "fraction": k / n_rep})
    return SimulatedCapacityResult(capacity=P / nc, n_c=float(nc), n_manifolds=P, trials=trials)


# ----------------------------------------------------------------------------- layer-wise
