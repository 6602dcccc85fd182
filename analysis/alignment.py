"""Manifold alignment: how class manifolds are positioned and oriented relative to each other.

Every measure is basis-free (it depends on the manifolds' points only through
their centers and covariances, never on a choice of principal axes), lies in
[0, 1] (principal angles in degrees), equals 1 for identical manifolds and 0 for
manifolds in orthogonal subspaces, and is unchanged by global rotations, by
permutations of the points of a manifold and of the manifolds (the matrices
permute with them) and by scaling. Let X_μ (M_μ × N) hold the samples of
manifold μ, c_μ its center minus the global mean of all samples, ĉ_μ = c_μ/‖c_μ‖
and C_μ = (X_μ − X̄_μ)ᵀ(X_μ − X̄_μ)/M_μ its covariance (N × N):

- **center alignment** ``|ĉ_μ·ĉ_ν|`` — do the manifolds sit along shared directions
  from the origin of the representation? (1: collinear centers; 0: orthogonal.)
- **axis alignment** ``⟨C_μ, C_ν⟩_F / (‖C_μ‖_F ‖C_ν‖_F)`` — the normalised overlap
  of the covariances: do the manifolds vary along the same directions, with the
  same relative variances? (1: the same covariance up to scale; 0: their
  variability lives in orthogonal subspaces.) With ``n_axes = k``, C_μ is
  restricted to its top-k axes, C_μ ≈ Σ_{i≤k} σ²_μi u_μi u_μiᵀ; the measure is
  still basis-free (it does not depend on the axes inside a degenerate eigenspace
  as long as the cut does not split one).
- **anchor-axis alignment** — the same overlap between the covariances of the
  manifolds' *anchor points* s̃(t) of the capacity solution (mapped back to
  feature space): the directions of each manifold that actually limit linear
  separability (Chung, Lee & Sompolinsky 2018), compared between manifolds.
- **center–axis alignment** ``ĉ_μᵀ C_ν ĉ_μ / tr C_ν`` (row μ, column ν) — the share
  of ν's variance along μ's center direction (1: ν varies only along ĉ_μ; 0: ν
  never moves along ĉ_μ; a random direction in N dimensions takes ≈ 1/N of an
  isotropic manifold's variance). The diagonal (μ = ν,
  ``self_center_axis_alignment``) is the share of a manifold's variance along its
  own center, e.g. from gain changes.
- **principal angles** between the manifolds' principal subspaces (the top-k
  axes, k = ``n_axes`` or the fewest axes that explain ``variance`` of the
  manifold's variance): mean angle (degrees) and subspace overlap (mean cos²θ).

These follow the geometric measures of the Chung group's later work (Chou et
al., GLUE — the "geometric measures of linear separability" that relate capacity
to center alignment, axis alignment and center–axis alignment — and Kuoch et al.
2023, who use them to follow how class manifolds untangle across the layers of
trained networks); the covariance-overlap form used here is the basis-free
version of their "axis alignment" between principal axes.

Examples
--------
>>> import numpy as np
>>> from analysis.alignment import manifold_alignment
>>> rng = np.random.default_rng(0)
>>> u = rng.standard_normal(50)
>>> segs = [rng.standard_normal(50)[None] + np.linspace(-1, 1, 5)[:, None] * u for _ in range(6)]
>>> res = manifold_alignment(segs, n_t=50)
>>> round(res.axis_alignment, 6)            # all segments vary along one direction
1.0
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from analysis._display import html_summary, short_repr
from analysis._manifolds import anchor_points, as_manifolds, gaussian_samples, prepare_manifolds

__all__ = ["ManifoldAlignmentResult", "manifold_alignment", "covariance_overlap"]

_MATRICES = (
    "center_alignment",
    "axis_alignment",
    "anchor_axis_alignment",
    "center_axis_alignment",
    "principal_angle",
    "subspace_overlap",
)


@dataclass
class ManifoldAlignmentResult:
    """Pairwise alignment matrices (P, P) and their summaries.

    Attributes
    ----------
    labels : list of str
    matrices : dict of name → np.ndarray (P, P)
        ``center_alignment``, ``axis_alignment``, ``anchor_axis_alignment``,
        ``center_axis_alignment`` (row μ: center of μ, column ν: covariance of ν),
        ``principal_angle`` (mean principal angle, degrees), ``subspace_overlap``
        (mean cos² of the principal angles). Dimensionless unless stated; see the
        module docstring for the definitions.
    n_axes : np.ndarray (P,)
        Principal axes per manifold used for the principal angles.
    """

    labels: list
    matrices: dict
    n_axes: np.ndarray

    def _offdiag_mean(self, name):
        M = self.matrices[name]
        P = len(M)
        return float((M.sum() - np.trace(M)) / (P * (P - 1)))

    @property
    def center_alignment(self) -> float:
        """Mean over pairs μ ≠ ν of |ĉ_μ·ĉ_ν|."""
        return self._offdiag_mean("center_alignment")

    @property
    def axis_alignment(self) -> float:
        """Mean over pairs μ ≠ ν of the normalised covariance overlap."""
        return self._offdiag_mean("axis_alignment")

    @property
    def anchor_axis_alignment(self) -> float:
        """Mean over pairs μ ≠ ν of the normalised overlap of the anchor-point covariances."""
        return self._offdiag_mean("anchor_axis_alignment")

    @property
    def center_axis_alignment(self) -> float:
        """Mean over pairs μ ≠ ν of ĉ_μᵀC_νĉ_μ / tr C_ν."""
        return self._offdiag_mean("center_axis_alignment")

    @property
    def self_center_axis_alignment(self) -> float:
        """Mean over μ of ĉ_μᵀC_μĉ_μ / tr C_μ (variance along the manifold's own center)."""
        return float(np.mean(np.diag(self.matrices["center_axis_alignment"])))

    @property
    def principal_angle(self) -> float:
        """Mean principal angle between manifold subspaces (degrees)."""
        return self._offdiag_mean("principal_angle")

    @property
    def subspace_overlap(self) -> float:
        """Mean over pairs of the mean cos² of the principal angles."""
        return self._offdiag_mean("subspace_overlap")

    def summary(self) -> dict:
        """Summaries (means over pairs μ ≠ ν) as a flat dict."""
        return {
            "center_alignment": self.center_alignment,
            "axis_alignment": self.axis_alignment,
            "anchor_axis_alignment": self.anchor_axis_alignment,
            "center_axis_alignment": self.center_axis_alignment,
            "self_center_axis_alignment": self.self_center_axis_alignment,
            "principal_angle": self.principal_angle,
            "subspace_overlap": self.subspace_overlap,
        }

    def __repr__(self) -> str:
        s = self.summary()
        return short_repr(self, {"P": len(self.labels), **{k: s[k] for k in (
            "center_alignment", "axis_alignment", "center_axis_alignment", "principal_angle")}})

    def _repr_html_(self) -> str:
        return html_summary(self, {"manifolds (P)": len(self.labels), **self.summary()},
                            note="means over pairs of manifolds; principal angle in degrees")

    def to_dataframe(self) -> pd.DataFrame:
        """Tidy table, one row per ordered pair μ ≠ ν (``manifold_a``, ``manifold_b``, measures)."""
        P = len(self.labels)
        a, b = np.nonzero(~np.eye(P, dtype=bool))
        data = {"manifold_a": [self.labels[i] for i in a], "manifold_b": [self.labels[j] for j in b]}
        for name in _MATRICES:
            data[name] = self.matrices[name][a, b]
        return pd.DataFrame(data)

    def plot(self, ax=None):
        """Heatmaps of the alignment matrices: :func:`analysis.plot.manifolds.plot_alignment`."""
        from analysis.plot.manifolds import plot_alignment

        return plot_alignment(self, ax=ax)


def _n_keep(var: torch.Tensor, n_axes, variance) -> int:
    r = int((var > 1e-12 * var.max().clamp(min=1e-300)).sum()) if var.numel() else 0
    if r == 0:
        return 0
    if n_axes is not None:
        return min(int(n_axes), r)
    frac = torch.cumsum(var[:r], 0) / var[:r].sum()
    return min(int((frac < variance - 1e-12).sum()) + 1, r)


def covariance_overlap(factors: list[torch.Tensor]) -> np.ndarray:
    """Normalised Frobenius overlaps ⟨C_μ, C_ν⟩_F / (‖C_μ‖_F ‖C_ν‖_F) of covariances C_μ = Z_μᵀZ_μ.

    Parameters
    ----------
    factors : list of torch.Tensor (r_μ, N)
        Any factor Z_μ of each covariance (e.g. centered samples / √M, or
        diag(σ) Uᵀ of its top axes); ⟨C_μ, C_ν⟩_F = ‖Z_μ Z_νᵀ‖_F², so no N × N
        matrix is formed.

    Returns
    -------
    np.ndarray (P, P)
        Symmetric, in [0, 1], ones on the diagonal (0 for a zero covariance).

    Examples
    --------
    >>> import torch
    >>> Z = torch.eye(3, dtype=torch.float64)
    >>> covariance_overlap([Z[:2], Z[:2] * 5, Z[2:]]).round(6).tolist()
    [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    P = len(factors)
    Zall = torch.cat(factors, dim=0)
    owner = torch.cat([torch.full((z.shape[0],), i, device=Zall.device) for i, z in enumerate(factors)])
    E = torch.nn.functional.one_hot(owner, P).to(Zall.dtype)  # (Σr, P)
    out = torch.empty(P, P, dtype=Zall.dtype, device=Zall.device)
    for i, z in enumerate(factors):  # one row block at a time: memory r_μ × Σr
        out[i] = (((z @ Zall.T) ** 2) @ E).sum(0)
    norm = torch.sqrt(torch.diagonal(out)).clamp(min=1e-300)
    A = out / norm[:, None] / norm[None, :]
    return A.clamp(0.0, 1.0).cpu().numpy()


def manifold_alignment(
    manifolds,
    kappa: float = 0.0,
    n_t: int = 200,
    seed: int = 0,
    device=None,
    remove_center_correlations: bool = True,
    *,
    by: str | None = None,
    n_axes: int | None = None,
    variance: float = 0.9,
) -> ManifoldAlignmentResult:
    """Center, axis, anchor-axis and center–axis alignment and principal angles of P manifolds.

    Definitions, ranges and invariances are in the module docstring
    (:mod:`analysis.alignment`).

    Parameters
    ----------
    manifolds : as in :func:`analysis.capacity.manifold_capacity`
        Every manifold needs at least 2 distinct samples (its covariance must not vanish).
    kappa, n_t, seed, device, remove_center_correlations
        Passed to the capacity solution that gives the anchor points.
    by : str, optional
        Presentation coord that labels the manifolds of an assembly.
    n_axes : int, optional
        Restrict every covariance (samples and anchor points) to its top-k axes, and
        use k axes for the principal angles. Default: full covariances; principal
        subspaces explain ``variance`` of each manifold's variance.
    variance : float
        Fraction of variance the principal subspaces explain when ``n_axes`` is None.

    Returns
    -------
    ManifoldAlignmentResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> B = np.linalg.qr(rng.standard_normal((40, 40)))[0]
    >>> a = 3 * B[0] + rng.standard_normal((20, 2)) @ B[2:4]   # varies in span(B2, B3)
    >>> b = 3 * B[1] + rng.standard_normal((20, 2)) @ B[4:6]   # varies in span(B4, B5)
    >>> res = manifold_alignment([a, b], n_t=50, remove_center_correlations=False)
    >>> round(float(res.matrices["axis_alignment"][0, 1]), 6)   # orthogonal subspaces
    0.0
    """
    _check_axes(n_axes, variance)
    Xs, labels, device = as_manifolds(manifolds, by, device, fn="manifold_alignment")
    _check_samples(Xs, labels)
    # anchor points of the capacity solution (the same as manifold_capacity's for these arguments)
    prep = prepare_manifolds(Xs, remove_center_correlations, seed, keep_bases=True)
    t = gaussian_samples(prep.S, labels, int(n_t), seed, device)
    s_tilde, _ = anchor_points(prep.S, float(kappa), t, device)
    return alignment_from_prepared(Xs, labels, prep, s_tilde, n_axes=n_axes, variance=variance)


def _check_axes(n_axes, variance):
    if not 0 < variance <= 1:
        raise ValueError(f"variance must be in (0, 1]; got {variance}")
    if n_axes is not None and int(n_axes) < 1:
        raise ValueError(f"n_axes must be ≥ 1 or None; got {n_axes}")


def _check_samples(Xs, labels):
    for lab, x in zip(labels, Xs):
        if x.shape[0] < 2:
            raise ValueError(
                f"manifold {lab!r} has a single sample: its covariance (axes) is undefined; "
                f"alignment needs at least 2 samples per manifold"
            )


def alignment_from_prepared(Xs, labels, prep, s_tilde, *, n_axes: int | None = None,
                            variance: float = 0.9) -> ManifoldAlignmentResult:
    """:func:`manifold_alignment` on manifolds already prepared for capacity (no second preparation).

    Parameters
    ----------
    Xs : list of torch.Tensor (M_μ, N)
        The manifolds, as returned by :func:`analysis._manifolds.as_manifolds`.
    labels : list of str
    prep : analysis._manifolds.PreparedManifolds
        From :func:`analysis._manifolds.prepare_manifolds` with ``keep_bases=True``.
    s_tilde : torch.Tensor (P, D_max+1, n_t)
        Anchor points of the capacity solution (:func:`analysis.capacity.capacity_from_prepared`).
    n_axes, variance
        As in :func:`manifold_alignment`.
    """
    _check_axes(n_axes, variance)
    _check_samples(Xs, labels)
    if prep.bases is None:
        raise ValueError("alignment_from_prepared needs prepare_manifolds(..., keep_bases=True)")
    device = Xs[0].device
    P = len(Xs)
    origin = sum(x.sum(dim=0) for x in Xs) / sum(x.shape[0] for x in Xs)
    centers = torch.stack([x.mean(dim=0) for x in Xs]) - origin
    cn = centers / centers.norm(dim=1, keepdim=True).clamp(min=1e-300)
    center_al = (cn @ cn.T).abs().clamp(max=1.0).cpu().numpy()

    factors, axes, ks = [], [], []
    for lab, x in zip(labels, Xs):
        _, s, Wt = torch.linalg.svd((x - x.mean(dim=0)) / np.sqrt(x.shape[0]), full_matrices=False)
        r = _n_keep(s**2, None, 1.0)
        if r == 0:
            raise ValueError(f"manifold {lab!r}: all its samples coincide, so it has no covariance")
        kf = r if n_axes is None else min(int(n_axes), r)
        factors.append(s[:kf, None] * Wt[:kf])  # C_μ (top-k) = Zᵀ Z
        k = _n_keep(s**2, n_axes, variance)
        axes.append(Wt[:k].T)
        ks.append(k)
    axis_al = covariance_overlap(factors)
    # center–axis: ĉ_μᵀ C_ν ĉ_μ / tr C_ν = ‖Z_ν ĉ_μ‖² / ‖Z_ν‖_F²
    traces = torch.stack([(z**2).sum() for z in factors])
    center_axis = torch.stack([((z @ cn.T) ** 2).sum(0) for z in factors], dim=1) / traces[None, :]
    center_axis = center_axis.clamp(0.0, 1.0).cpu().numpy()

    kmax = max(ks)
    Upad = torch.zeros(P, Xs[0].shape[1], kmax, dtype=Xs[0].dtype, device=device)
    for i, a in enumerate(axes):
        Upad[i, :, : a.shape[1]] = a
    flat = Upad.permute(1, 0, 2).reshape(-1, P * kmax)  # (N, P·kmax), one GEMM for all pairs
    blocks = (flat.T @ flat).reshape(P, kmax, P, kmax).permute(0, 2, 1, 3)
    cos = torch.linalg.svdvals(blocks).clamp(max=1.0)  # (P, P, kmax)
    kk = torch.minimum(torch.tensor(ks)[:, None], torch.tensor(ks)[None, :]).to(device)
    valid = torch.arange(kmax, device=device)[None, None, :] < kk[:, :, None]
    angles = torch.rad2deg(torch.arccos(cos))
    principal_angle = ((angles * valid).sum(-1) / kk).cpu().numpy()
    overlap = (((cos**2) * valid).sum(-1) / kk).cpu().numpy()
    np.fill_diagonal(principal_angle, 0.0)  # a subspace with itself (arccos is ill-conditioned at 1)
    np.fill_diagonal(overlap, 1.0)

    # anchor points of the capacity solution, their covariances mapped back to feature space
    a_factors = []
    for i, S in enumerate(prep.S):
        D = S.shape[0] - 1
        if D == 0:
            raise ValueError(f"manifold {labels[i]!r} has no extent after center removal; no anchor axes")
        sD = s_tilde[i, 1 : D + 1]
        dev = sD - sD.mean(dim=1, keepdim=True)
        evals, evecs = torch.linalg.eigh(dev @ dev.T / dev.shape[1])
        evals, evecs = evals.flip(0).clamp(min=0), evecs.flip(1)
        k = D if n_axes is None else min(int(n_axes), D)
        a_factors.append(evals[:k, None].sqrt() * (prep.bases[i] @ evecs[:, :k]).T)
    anchor_al = covariance_overlap(a_factors)
    mats = {
        "center_alignment": center_al,
        "axis_alignment": axis_al,
        "anchor_axis_alignment": anchor_al,
        "center_axis_alignment": center_axis,
        "principal_angle": principal_angle,
        "subspace_overlap": overlap,
    }
    return ManifoldAlignmentResult(labels=labels, matrices=mats, n_axes=np.asarray(ks))
