"""Manifold capacity and geometry (mean-field theory) and simulated capacity.

For P class manifolds (point clouds of M_μ samples in N features) the replica
mean-field theory of Chung, Lee & Sompolinsky 2018 (Phys. Rev. X 8, 031003)
gives the largest load α = P/N at which a random dichotomy of the manifolds is
linearly separable with margin κ, and the manifolds' *anchor* radius R_M and
dimension D_M. This module follows the pipeline of the reference implementation
used by the field (``mftma``; Stephenson et al. 2019, Cohen et al. 2020):

1. subtract the global mean of all samples;
2. remove a low-rank common center subspace that minimizes the correlations of
   the manifold centers (Riemannian conjugate gradient on the Stiefel manifold,
   see :mod:`analysis._stiefel`);
3. per manifold: project its samples out of that subspace, subtract its center
   and divide by the residual center norm, express the offsets in an orthonormal
   basis of their D ≤ M−1 dimensional span, and append a center coordinate of 1;
4. per Gaussian sample t ~ N(0, I_{D+1}): the anchor point s̃(t) of the QP
   ``min ½‖v − t‖²`` s.t. ``v·s ≤ −κ`` for every point s (samples with
   max_s t·s + κ < 0 are interior: no solve, the anchor is the max-projection
   point; otherwise s̃ = Sλ/Σλ with λ the dual solution);
5. α⁻¹ = mean_t max(t·s̃ + κ, 0)² / ‖s̃‖² (PRX eqs. 16–17),
   R_M = sqrt(mean_t ‖(s̃ − mean_t s̃)_D / s̃₀‖²) (eq. 28),
   D_M = D (mean_t t̂_D·ŝ_D)² (eq. 29).

The reference writes the constraint as ``v·s ≤ −κ``; the issue's form ``v·s ≥ κ``
is the same problem under t → −t, which leaves every Gaussian average unchanged.

All QPs (all t, all manifolds padded to a common size) are solved at once by
:func:`analysis._nnqp.batched_nonnegative_qp`: the dual
``min_{λ≥0} ½λᵀ(SᵀS)λ − λᵀ(Sᵀt + κ)`` shares one Gram matrix per manifold across
all t (exactly NNLS at κ = 0); an exact batched active set (Lawson–Hanson) on
compact supports, with accelerated projected gradient + active-set polish for the
columns it leaves open, certified optimal to a relative KKT tolerance of 1e-10.

Differences from ``mftma`` (documented choices): the span in step 3 is found by a
rank-revealing SVD (exactly-null directions dropped) instead of an economic QR to
min(M, N) columns — α and R_M are unchanged, D counts only real dimensions; the
rank schedule of step 2 is capped at P − 2 (small-P workaround) and skipped for
P < 4; the Gaussian samples of each manifold come from its own generator, seeded
by ``seed`` and the manifold's label (assembly coord value, dict key, or list
index), so reordering labelled manifolds or rotating the feature space leaves
every number unchanged (the offsets' basis has deterministic signs). Everything is computed in float64 on
``device`` (default: the device of the first input tensor, else CPU).

Simulated capacity (:func:`~analysis.capacity_simulation.simulated_capacity`, in
:mod:`analysis.capacity_simulation`) measures the same quantity directly: random Gaussian projections to n dimensions, balanced random
dichotomies, exact hard-margin separability with bias (an LP, HiGHS),
bisection on n for P(separable) = ½; α_sim = P / n_c.

Examples
--------
>>> import numpy as np
>>> from analysis.capacity import manifold_capacity
>>> rng = np.random.default_rng(0)
>>> points = [rng.standard_normal((1, 300)) for _ in range(100)]   # M = 1: points
>>> res = manifold_capacity(points, n_t=400, remove_center_correlations=False)
>>> bool(abs(res.capacity - 2.0) < 0.15)                           # Gardner: α = 2
True
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis._display import html_summary, short_repr
from analysis._manifolds import (
    PreparedManifolds,
    anchor_geometry,
    anchor_points,
    as_manifolds,
    gaussian_samples,
    prepare_manifolds,
)
from neurocommon.progress import progress_bar

__all__ = [
    "ManifoldCapacityResult",
    "manifold_capacity",
    "manifold_geometry_by_layer",
    "manifold_geometry_by_region",
]


# ----------------------------------------------------------------------------- results
@dataclass
class ManifoldCapacityResult:
    """Mean-field capacity and geometry of P manifolds.

    Attributes
    ----------
    capacities, radii, dimensions : np.ndarray, shape (P,)
        Per-manifold α_μ (load P/N), anchor radius R_M (relative to the center
        norm, dimensionless) and anchor dimension D_M (dimensions).
    labels : list of str
        Manifold names (coord values of the assembly, or list indices).
    center_correlation : float
        ρ_c, mean off-diagonal |correlation| of the mean-subtracted centers before
        the common subspace is removed.
    residual_center_correlation : float
        The same after removal (equal to ``center_correlation`` when K = 0).
    K : int
        Rank of the removed common center subspace.
    kappa : float
        Margin.
    n_t : int
        Gaussian samples per manifold.
    spans : np.ndarray
        D of each manifold's span (dimensions used for the samples t).
    solver_info : dict
        Iterations, unconverged columns, KKT violation, interior samples.
    """

    capacities: np.ndarray
    radii: np.ndarray
    dimensions: np.ndarray
    labels: list
    center_correlation: float
    residual_center_correlation: float
    K: int
    kappa: float
    n_t: int
    spans: np.ndarray
    solver_info: dict = field(default_factory=dict)

    @property
    def capacity(self) -> float:
        """Summary capacity 1 / mean_μ(1/α_μ) (load P/N)."""
        return float(1.0 / np.mean(1.0 / self.capacities))

    @property
    def radius(self) -> float:
        """Mean anchor radius R_M (relative to center norm)."""
        return float(np.mean(self.radii))

    @property
    def dimension(self) -> float:
        """Mean anchor dimension D_M."""
        return float(np.mean(self.dimensions))

    def summary(self) -> dict:
        """Summaries as a flat dict (one row of a layer-wise table)."""
        return {
            "capacity": self.capacity,
            "radius": self.radius,
            "dimension": self.dimension,
            "center_correlation": self.center_correlation,
            "residual_center_correlation": self.residual_center_correlation,
            "K": self.K,
            "kappa": self.kappa,
            "n_manifolds": len(self.labels),
        }

    def __repr__(self) -> str:
        return short_repr(self, {"P": len(self.labels), **{k: v for k, v in self.summary().items()
                                                            if k not in ("n_manifolds", "residual_center_correlation")}})

    def _repr_html_(self) -> str:
        return html_summary(self, {"manifolds (P)": len(self.labels), **self.summary(), "n_t": self.n_t},
                            self.to_dataframe())

    def to_dataframe(self) -> pd.DataFrame:
        """One row per manifold: ``manifold, capacity, radius, dimension, span, kappa``."""
        return pd.DataFrame(
            {
                "manifold": list(self.labels),
                "capacity": self.capacities,
                "radius": self.radii,
                "dimension": self.dimensions,
                "span": self.spans,
                "kappa": self.kappa,
            }
        )

    def plot(self, ax=None):
        """Per-manifold capacity, radius and dimension: :func:`analysis.plot.manifolds.plot_manifold_geometry`."""
        from analysis.plot.manifolds import plot_manifold_geometry

        return plot_manifold_geometry(self, ax=ax)


def manifold_capacity(
    manifolds,
    kappa: float = 0.0,
    n_t: int = 200,
    seed: int = 0,
    device=None,
    remove_center_correlations: bool = True,
    *,
    by: str | None = None,
) -> ManifoldCapacityResult:
    """Mean-field manifold capacity, radius and dimension (Chung, Lee & Sompolinsky 2018).

    Parameters
    ----------
    manifolds : list of array-like / torch.Tensor of shape (M_μ, N), dict of them, or assembly
        P ≥ 2 point clouds (samples × features). An assembly (dims presentation ×
        neuroid) is split by the presentation coord ``by`` (or pass the tuple
        ``(assembly, "coord")``); every presentation is one point (average
        repetitions first if wanted).
    kappa : float
        Margin κ ≥ 0 (in units of the center norm).
    n_t : int
        Gaussian samples t per manifold.
    seed : int
        Seed of the samples and of the center-subspace restarts.
    device : torch.device or str, optional
        Where to compute (default: the device of the first tensor input, else CPU).
    remove_center_correlations : bool
        Remove the low-rank common center subspace (the reference pipeline).
    by : str, optional
        Presentation coord labelling the manifolds, when ``manifolds`` is an assembly.

    Returns
    -------
    ManifoldCapacityResult

    Raises
    ------
    ValueError
        P < 2, NaN/inf values, mismatched numbers of features, non-2-D manifolds,
        negative κ or n_t < 1.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> centers = rng.standard_normal((20, 200))
    >>> clouds = [c + 0.05 * rng.standard_normal((30, 200)) for c in centers]
    >>> res = manifold_capacity(clouds, n_t=100)
    >>> res.to_dataframe().shape
    (20, 6)
    """
    _check_kappa_n_t(kappa, n_t)
    Xs, labels, device = as_manifolds(manifolds, by, device, fn="manifold_capacity")
    prep = prepare_manifolds(Xs, remove_center_correlations, seed)
    return capacity_from_prepared(prep, labels, kappa, int(n_t), seed, device)[0]


def _check_kappa_n_t(kappa, n_t):
    if not np.isfinite(kappa) or kappa < 0:
        raise ValueError(f"kappa must be a finite margin ≥ 0; got {kappa}")
    if int(n_t) < 1:
        raise ValueError(f"n_t must be a positive number of Gaussian samples; got {n_t}")


def capacity_from_prepared(prep: PreparedManifolds, labels, kappa: float, n_t: int, seed: int, device):
    """Steps 4–5 on prepared manifolds; returns (result, t, s̃) — the samples and anchors too.

    Parameters
    ----------
    prep : analysis._manifolds.PreparedManifolds
    labels : list of str
    kappa, n_t, seed, device
        As in :func:`manifold_capacity`.
    """
    t = gaussian_samples(prep.S, labels, n_t, seed, device)
    s_tilde, info = anchor_points(prep.S, float(kappa), t, device)
    spans = np.array([s.shape[0] - 1 for s in prep.S])
    a, r, d = anchor_geometry(spans, t, s_tilde, float(kappa))
    res = ManifoldCapacityResult(
        capacities=a,
        radii=r,
        dimensions=d,
        labels=labels,
        center_correlation=prep.rho_before,
        residual_center_correlation=prep.rho_after,
        K=prep.K,
        kappa=float(kappa),
        n_t=n_t,
        spans=spans,
        solver_info=info,
    )
    return res, t, s_tilde

def _geometry_row(data, by, kappa, n_t, seed, device, remove, alignment):
    """Capacity (and alignment) summary of one layer/region; the manifolds are prepared once for both."""
    _check_kappa_n_t(kappa, n_t)
    Xs, labels, device = as_manifolds(data, by, device, fn="manifold_geometry_by_layer")
    prep = prepare_manifolds(Xs, remove, seed, keep_bases=alignment)
    res, _, s_tilde = capacity_from_prepared(prep, labels, kappa, int(n_t), seed, device)
    row = res.summary()
    if alignment:
        from analysis.alignment import alignment_from_prepared

        row.update(alignment_from_prepared(Xs, labels, prep, s_tilde).summary())
    return row


def manifold_geometry_by_layer(
    activations: Mapping,
    by: str,
    kappa: float = 0.0,
    n_t: int = 200,
    seed: int = 0,
    device=None,
    remove_center_correlations: bool = True,
    alignment: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Capacity, geometry (and alignment) for every layer of a model's activations.

    Parameters
    ----------
    activations : dict of layer name → assembly
        As returned by ``analysis.activations.extract``.
    by : str
        Presentation coord that labels the manifolds (e.g. ``"texture_family"``).
    alignment : bool
        Also compute :func:`analysis.alignment.manifold_alignment` summaries.

    Returns
    -------
    pandas.DataFrame
        One row per layer, in the dict's order: ``layer``, ``capacity``, ``radius``,
        ``dimension``, ``center_correlation``, ``K``, ... (+ alignment columns).
    """
    if not isinstance(activations, Mapping) or not activations:
        raise TypeError("activations must be a non-empty dict of layer name → assembly")
    rows = []
    for layer, asm in progress_bar(activations.items(), progress, "layers"):
        row = {"layer": str(layer)}
        row.update(_geometry_row(asm, by, kappa, n_t, seed, device, remove_center_correlations, alignment))
        rows.append(row)
    return pd.DataFrame(rows)


def manifold_geometry_by_region(
    recording,
    by: str,
    region_coord: str = "region",
    kappa: float = 0.0,
    n_t: int = 200,
    seed: int = 0,
    device=None,
    remove_center_correlations: bool = True,
    alignment: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Capacity, geometry (and alignment) per recorded region of one assembly.

    The neuroids are split by ``region_coord`` (regions in order of first
    appearance); the result has the same columns as
    :func:`manifold_geometry_by_layer` with ``layer`` holding the region name, so
    models and recordings share one table and one figure.
    """
    from analysis.assemblies import NEUROID, validate

    validate(recording)
    if region_coord not in recording.coords or recording[region_coord].dims != (NEUROID,):
        raise ValueError(f"the recording has no neuroid coord {region_coord!r} to split regions by")
    reg = recording[region_coord].values
    _, first = np.unique(reg, return_index=True)
    regions = [reg[i] for i in np.sort(first)]
    parts = {str(r): recording.isel({NEUROID: np.flatnonzero(reg == r)}) for r in regions}
    return manifold_geometry_by_layer(parts, by, kappa, n_t, seed, device, remove_center_correlations,
                                      alignment, progress)
