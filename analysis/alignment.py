"""Manifold alignment: how class manifolds are positioned and oriented relative to each other.

Measures (after removing the global mean of all samples; Chou et al., GLUE /
GCMC, and the alignment analyses of the Chung group):

- **center alignment** — mean over pairs μ ≠ ν of |cos(c_μ, c_ν)| between the
  manifold centers;
- **axis alignment** — between the manifolds' principal axes u_μi (right singular
  vectors of the centered samples), variance weighted:
  A_μν = Σ_ij w_μi w_νj |u_μi·u_νj|, w_μi = σ²_μi / Σ_i σ²_μi over the k_μ kept axes;
- **anchor-axis alignment** — the same between the *anchor-point axes*: principal
  axes of the anchor points s̃(t) of the capacity solution around their mean
  (the directions that actually limit linear separability), mapped back to the
  feature space;
- **center–axis alignment** — Σ_i w_νi |cos(c_μ, u_νi)|, for μ ≠ ν (mean over
  pairs) and for μ = ν (``self_center_axis_alignment``: variability along the
  manifold's own center, e.g. gain changes);
- **principal angles** between the manifolds' principal subspaces (cos θ = the
  singular values of U_μᵀU_ν), summarized by the mean angle (degrees) and the
  subspace overlap mean cos²θ.

k_μ is ``n_axes`` if given, else the fewest axes that explain ``variance`` (90 %)
of the manifold's variance.

Examples
--------
>>> import numpy as np
>>> from analysis.alignment import manifold_alignment
>>> rng = np.random.default_rng(0)
>>> u = rng.standard_normal(50)
>>> segs = [rng.standard_normal(50)[None] + np.linspace(-1, 1, 5)[:, None] * u for _ in range(6)]
>>> res = manifold_alignment(segs, n_t=50)
>>> round(res.axis_alignment, 6)            # all segments share one direction
1.0
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from analysis.capacity import _as_manifolds, _capacity_from_prepared, _prepare

__all__ = ["ManifoldAlignmentResult", "manifold_alignment", "plot_alignment"]

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
        ``center_axis_alignment`` (row μ: center of μ, column ν: axes of ν),
        ``principal_angle`` (mean principal angle, degrees), ``subspace_overlap``
        (mean cos² of the principal angles). Dimensionless unless stated.
    n_axes : np.ndarray (P,)
        Principal axes kept per manifold.
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
        return self._offdiag_mean("center_alignment")

    @property
    def axis_alignment(self) -> float:
        return self._offdiag_mean("axis_alignment")

    @property
    def anchor_axis_alignment(self) -> float:
        return self._offdiag_mean("anchor_axis_alignment")

    @property
    def center_axis_alignment(self) -> float:
        return self._offdiag_mean("center_axis_alignment")

    @property
    def self_center_axis_alignment(self) -> float:
        return float(np.mean(np.diag(self.matrices["center_axis_alignment"])))

    @property
    def principal_angle(self) -> float:
        """Mean principal angle between manifold subspaces (degrees)."""
        return self._offdiag_mean("principal_angle")

    @property
    def subspace_overlap(self) -> float:
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

    def to_dataframe(self) -> pd.DataFrame:
        """Tidy table, one row per ordered pair μ ≠ ν (``manifold_a``, ``manifold_b``, measures)."""
        P = len(self.labels)
        a, b = np.nonzero(~np.eye(P, dtype=bool))
        data = {"manifold_a": [self.labels[i] for i in a], "manifold_b": [self.labels[j] for j in b]}
        for name in _MATRICES:
            data[name] = self.matrices[name][a, b]
        return pd.DataFrame(data)

    def plot(self):
        """Heatmaps of center alignment, axis alignment and subspace overlap."""
        return plot_alignment(self)


def plot_alignment(result: ManifoldAlignmentResult):
    """Figure: pairwise center alignment, axis alignment and subspace overlap (heatmaps).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    names = [("center_alignment", "center alignment |cos|"), ("axis_alignment", "axis alignment |cos|"),
             ("subspace_overlap", "subspace overlap mean cos²θ")]
    with sns.axes_style("white"):
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
        for ax, (name, title) in zip(axes, names):
            df = pd.DataFrame(result.matrices[name], index=result.labels, columns=result.labels)
            sns.heatmap(df, ax=ax, vmin=0, vmax=1, cmap="viridis", square=True,
                        cbar_kws={"label": title})
            ax.set_xlabel("manifold")
            ax.set_ylabel("manifold")
            ax.set_title(title)
        fig.tight_layout()
    return fig


def _n_keep(var: torch.Tensor, n_axes, variance) -> int:
    r = int((var > 1e-12 * var.max().clamp(min=1e-300)).sum()) if var.numel() else 0
    if r == 0:
        return 0
    if n_axes is not None:
        return min(int(n_axes), r)
    frac = torch.cumsum(var[:r], 0) / var[:r].sum()
    return min(int((frac < variance - 1e-12).sum()) + 1, r)


def _weighted_abs_cos(axes: list[torch.Tensor], weights: list[torch.Tensor]) -> np.ndarray:
    """A_μν = Σ_ij w_μi w_νj |u_μi·u_νj| for unit axes (N, k_μ)."""
    P = len(axes)
    U = torch.cat(axes, dim=1)
    w = torch.cat(weights)
    owner = torch.cat([torch.full((a.shape[1],), i, device=U.device) for i, a in enumerate(axes)])
    E = torch.nn.functional.one_hot(owner, P).to(U.dtype)  # (Σk, P)
    A = (U.T @ U).abs() * (w[:, None] * w[None, :])
    return (E.T @ A @ E).cpu().numpy()


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

    Parameters
    ----------
    manifolds : as in :func:`analysis.capacity.manifold_capacity`
        Every manifold needs at least 2 samples (its axes must exist).
    kappa, n_t, seed, device, remove_center_correlations
        Passed to the capacity solution that gives the anchor points.
    by : str, optional
        Presentation coord that labels the manifolds of an assembly.
    n_axes : int, optional
        Principal / anchor axes kept per manifold (default: enough for ``variance``).
    variance : float
        Fraction of variance the kept axes explain when ``n_axes`` is None.

    Returns
    -------
    ManifoldAlignmentResult
    """
    if not 0 < variance <= 1:
        raise ValueError(f"variance must be in (0, 1]; got {variance}")
    if n_axes is not None and int(n_axes) < 1:
        raise ValueError(f"n_axes must be ≥ 1 or None; got {n_axes}")
    Xs, labels, device = _as_manifolds(manifolds, by, device)
    for lab, x in zip(labels, Xs):
        if x.shape[0] < 2:
            raise ValueError(
                f"manifold {lab!r} has a single sample: its axes (geometry) are undefined; "
                f"alignment needs at least 2 samples per manifold"
            )
    P = len(Xs)
    origin = torch.cat(Xs).mean(dim=0)
    centers = torch.stack([x.mean(dim=0) for x in Xs]) - origin
    cn = centers / centers.norm(dim=1, keepdim=True).clamp(min=1e-300)
    center_al = (cn @ cn.T).abs().cpu().numpy()

    axes, weights, ks = [], [], []
    for lab, x in zip(labels, Xs):
        _, s, Wt = torch.linalg.svd(x - x.mean(dim=0), full_matrices=False)
        k = _n_keep(s**2, n_axes, variance)
        if k == 0:
            raise ValueError(f"manifold {lab!r}: all its samples coincide, so it has no axes")
        axes.append(Wt[:k].T)
        weights.append(s[:k] ** 2 / (s[:k] ** 2).sum())
        ks.append(k)
    axis_al = _weighted_abs_cos(axes, weights)
    owner = torch.cat([torch.full((a.shape[1],), i, device=device) for i, a in enumerate(axes)])
    E = torch.nn.functional.one_hot(owner, P).to(cn.dtype)  # (Σk, P)
    center_axis = (((cn @ torch.cat(axes, dim=1)).abs() * torch.cat(weights)) @ E).cpu().numpy()

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

    # anchor-point axes from the capacity solution
    prep = _prepare(Xs, remove_center_correlations, seed, keep_bases=True)
    _, t, s_tilde = _capacity_from_prepared(prep, labels, kappa, int(n_t), seed, device)
    a_axes, a_weights = [], []
    for i, S in enumerate(prep.S):
        D = S.shape[0] - 1
        if D == 0:
            raise ValueError(f"manifold {labels[i]!r} has no extent after center removal; no anchor axes")
        sD = s_tilde[i, 1 : D + 1]
        dev = sD - sD.mean(dim=1, keepdim=True)
        evals, evecs = torch.linalg.eigh(dev @ dev.T / dev.shape[1])
        evals, evecs = evals.flip(0).clamp(min=0), evecs.flip(1)
        k = max(_n_keep(evals, n_axes, variance), 1)
        ax = prep.bases[i] @ evecs[:, :k]
        a_axes.append(ax / ax.norm(dim=0, keepdim=True).clamp(min=1e-300))
        tot = evals[:k].sum()
        a_weights.append(evals[:k] / tot if tot > 0 else torch.full((k,), 1.0 / k, dtype=evals.dtype,
                                                                    device=evals.device))
    anchor_al = _weighted_abs_cos(a_axes, a_weights)
    mats = {
        "center_alignment": center_al,
        "axis_alignment": axis_al,
        "anchor_axis_alignment": anchor_al,
        "center_axis_alignment": center_axis,
        "principal_angle": principal_angle,
        "subspace_overlap": overlap,
    }
    return ManifoldAlignmentResult(labels=labels, matrices=mats, n_axes=np.asarray(ks))
