"""Shared steps of the manifold analyses: inputs, preparation, anchor points, anchor geometry.

Used by :mod:`analysis.capacity` (capacity, radius, dimension) and
:mod:`analysis.alignment` (anchor-axis alignment). The steps follow the
pipeline of the reference implementation ``mftma`` (Stephenson et al. 2019,
Cohen et al. 2020; after Chung, Lee & Sompolinsky 2018, Phys. Rev. X 8, 031003):

1. :func:`as_manifolds` — any accepted input → P float64 tensors (M_μ, N) and labels;
2. :func:`prepare_manifolds` — subtract the global mean, remove the common center
   subspace (:func:`analysis._stiefel.center_subspace`), and per manifold: project
   out of that subspace, subtract its center, divide by the residual center norm,
   express the offsets in an orthonormal basis of their D_μ-dimensional span and
   append a center coordinate of 1. The spans come from the eigendecomposition of
   each manifold's M×M Gram matrix (offsets Y = U Λ^½, exactly-null directions
   dropped), computed from the data without a projected copy and decomposed in
   batched chunks of bounded memory;
3. :func:`gaussian_samples` — t ~ N(0, I_{D_μ+1}) per manifold, from a generator
   seeded by ``seed`` and the manifold's label;
4. :func:`anchor_points` — the anchor point s̃(t) of every sample of every manifold
   (dual NNQP, :func:`analysis._nnqp.batched_nonnegative_qp`);
5. :func:`anchor_geometry` — α_μ, R_M and D_M (PRX eqs. 16–17, 28, 29), batched.
"""
from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from analysis._nnqp import batched_nonnegative_qp
from analysis._stiefel import center_subspace, mean_abs_correlation

__all__ = [
    "DTYPE",
    "PreparedManifolds",
    "as_manifolds",
    "prepare_manifolds",
    "gaussian_samples",
    "anchor_points",
    "anchor_geometry",
    "manifold_seed",
]

DTYPE = torch.float64
#: elements of one chunk of padded Gram matrices (chunk × M_max²) in the span step (≈ 128 MB in float64)
CHUNK_ELEMENTS = 16_000_000


# ----------------------------------------------------------------------------- inputs
def as_manifolds(manifolds, by: str | None, device,
                 fn: str = "manifold_capacity") -> tuple[list[torch.Tensor], list[str], torch.device]:
    """Turn the accepted inputs into a list of float64 tensors (M_μ, N) and their labels.

    Input checks are :mod:`analysis._validation`'s (one message style for the
    package); finite values are first checked by one sum per manifold (a sum is
    finite only if every term is), the element-wise count only when it is not.

    Parameters
    ----------
    manifolds : list/tuple of array-like (M_μ, N), dict of them, assembly, or (assembly, coord)
    by : str, optional
        Presentation coord labelling the manifolds of an assembly.
    device : torch.device or str, optional
        Default: the device of the first tensor input, else CPU.
    fn : str
        Name of the calling analysis, used in error messages.
    """
    # an assembly can only have been made if xarray is imported: the array path never imports it
    xr = sys.modules.get("xarray")
    is_assembly = xr is not None and (
        isinstance(manifolds, xr.DataArray)
        or (isinstance(manifolds, tuple) and len(manifolds) == 2 and isinstance(manifolds[0], xr.DataArray)))
    if is_assembly:
        from analysis._validation import check_assembly, presentation_coord

        if isinstance(manifolds, tuple):
            manifolds, by = manifolds
        check_assembly(manifolds, fn)
        if by is None:
            raise ValueError(
                f"{fn}: an assembly was given without the presentation coord that labels the manifolds; "
                f"pass e.g. {fn}(assembly, by='object_name') or {fn}((assembly, 'object_name'))"
            )
        labels_all = presentation_coord(manifolds, by, fn)
        _, first = np.unique(labels_all, return_index=True)
        labels = [labels_all[i] for i in np.sort(first)]
        values = np.asarray(manifolds.values)
        arrays = [values[labels_all == lab] for lab in labels]
        labels = [str(lab) for lab in labels]
    elif isinstance(manifolds, (list, tuple)):
        arrays = list(manifolds)
        labels = [str(i) for i in range(len(arrays))]
    elif isinstance(manifolds, Mapping):
        labels = [str(k) for k in manifolds]
        arrays = list(manifolds.values())
    else:
        raise TypeError(
            f"{fn}: manifolds must be a list of arrays/tensors of shape (M, N), a dict of them, or an "
            f"assembly with by=<presentation coord>; got {type(manifolds).__name__}"
        )
    if len(arrays) < 2:
        raise ValueError(f"{fn} needs at least P = 2 manifolds; got P = {len(arrays)}")
    if device is None:
        device = next((a.device for a in arrays if isinstance(a, torch.Tensor)), torch.device("cpu"))
    device = torch.device(device)
    out = []
    for i, a in enumerate(arrays):
        t = a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a, dtype=np.float64))
        if t.ndim != 2 or t.shape[0] < 1:
            from analysis._validation import check_2d

            check_2d(t, f"manifold {labels[i]!r}", fn, what="(M samples, N features)")
            raise ValueError(f"{fn}: manifold {labels[i]!r} has no samples; drop it or add samples")
        t = t.to(device=device, dtype=DTYPE)
        if not bool(torch.isfinite(t.sum())):
            from analysis._validation import check_finite

            check_finite(t, f"manifold {labels[i]!r}", fn)
        out.append(t)
    sizes = {t.shape[1] for t in out}
    if len(sizes) > 1:
        shapes = [tuple(t.shape) for t in out]
        raise ValueError(
            f"{fn}: all manifolds must have the same number of features N; got shapes {shapes[:10]}"
            f"{' ...' if len(shapes) > 10 else ''}; select the same neuroids/units for every manifold"
        )
    return out, labels, device


# ----------------------------------------------------------------------------- preparation
@dataclass
class PreparedManifolds:
    """Manifolds after steps 1–2, ready for the anchor points.

    Attributes
    ----------
    S : list of torch.Tensor (D_μ+1, M_μ)
        Row 0 the center coordinate (= 1), rows 1..D_μ the offsets in their span's
        basis, in units of the residual center norm.
    bases : list of torch.Tensor (N, D_μ) or None
        Orthonormal basis of each span (feature space), when asked for.
    center_norms : np.ndarray (P,)
        Residual center norms (feature units).
    K : int
        Rank of the removed common center subspace.
    rho_before, rho_after : float
        ρ_c before and after the removal.
    removed : torch.Tensor (N, K)
        Orthonormal basis of the removed subspace.
    """

    S: list
    bases: list | None
    center_norms: np.ndarray
    K: int
    rho_before: float
    rho_after: float
    removed: torch.Tensor


def _deterministic_signs(Y: torch.Tensor) -> torch.Tensor:
    """±1 per column (last dim) that makes each column's largest-|entry| positive (batched)."""
    idx = Y.abs().argmax(dim=-2, keepdim=True)
    sign = torch.sign(Y.gather(-2, idx)).squeeze(-2)
    return torch.where(sign == 0, torch.ones_like(sign), sign)


def prepare_manifolds(Xs: list[torch.Tensor], remove: bool, seed: int, keep_bases: bool = False,
                      chunk_elements: int = CHUNK_ELEMENTS) -> PreparedManifolds:
    """Steps 1–2 of the module docstring (global mean, center subspace, spans).

    Parameters
    ----------
    Xs : list of torch.Tensor (M_μ, N), float64, one device
    remove : bool
        Remove the common center subspace (the reference pipeline).
    seed : int
        Seed of the center-subspace restarts.
    keep_bases : bool
        Also return each span's orthonormal basis in feature space.
    chunk_elements : int
        Bound on chunk × M_max² for the batched Gram eigendecompositions (memory).
    """
    device = Xs[0].device
    P, N = len(Xs), Xs[0].shape[1]
    sizes = [x.shape[0] for x in Xs]
    origin = sum(x.sum(dim=0) for x in Xs) / sum(sizes)
    centers = torch.stack([x.mean(dim=0) for x in Xs])
    if remove:
        V, K, rho0, rho1 = center_subspace(centers, seed=seed)
    else:
        rho0 = mean_abs_correlation(centers - centers.mean(dim=0, keepdim=True))
        V, K, rho1 = centers.new_zeros((N, 0)), 0, rho0
    # residual centers (after removing the common subspace), all at once
    c_all = centers - origin
    if K:
        c_all = c_all - (c_all @ V) @ V.T
    norms = c_all.norm(dim=1)
    center_scale = float((centers - origin).abs().max())
    eps = torch.finfo(DTYPE).eps
    S, bases = [None] * P, ([None] * P if keep_bases else None)
    # per manifold, the M×M Gram matrix of its offsets from the residual center, projected out of
    # the common subspace: with A = X − (origin + c), G = (AAᵀ − (AV)(AV)ᵀ) / ‖c‖² — no N-wide
    # projected copy of the data is made; the eigendecompositions run batched, in chunks (memory)
    order = sorted(range(P), key=lambda i: sizes[i])  # group by size so that padding is rare
    start = 0
    while start < P:
        stop = start + 1
        while stop < P and (stop - start + 1) * sizes[order[stop]] ** 2 <= chunk_elements:
            stop += 1
        idx = order[start:stop]
        Mc = max(sizes[i] for i in idx)
        G = torch.zeros(len(idx), Mc, Mc, dtype=DTYPE, device=device)
        spread = torch.zeros(len(idx), dtype=DTYPE, device=device)
        offsets = []
        for j, i in enumerate(idx):
            A = Xs[i] - (origin + c_all[i])
            Gi = A @ A.T
            if K:
                AV = A @ V
                Gi = Gi - AV @ AV.T
            spread[j] = torch.diagonal(Gi).sum() / sizes[i]  # mean squared offset
            G[j, : sizes[i], : sizes[i]] = Gi / norms[i] ** 2
            if keep_bases:
                offsets.append(A)
        # a center at the global mean (relative to the data's scale: the largest center offset and
        # the manifold's rms spread) leaves the capacity undefined
        scale = torch.maximum(spread.sqrt(), torch.full_like(spread, max(center_scale, 1e-300)))
        bad = torch.nonzero(~(norms[idx] > 1e-12 * scale)).flatten().tolist()
        if bad:
            raise ValueError(
                f"manifold {idx[bad[0]]}: its center coincides with the global mean after removing the "
                f"common center subspace, so its capacity is undefined; check for duplicated manifolds"
            )
        evals, evecs = torch.linalg.eigh(G)
        evals, evecs = evals.flip(-1), evecs.flip(-1)  # descending
        tol = 10 * max(Mc, 1) * eps * evals[:, :1].clamp(min=1.0)
        keep = evals > tol
        sq = evals.clamp(min=0).sqrt()
        Y = evecs * sq[:, None, :]  # (B, Mc, Mc) coordinates of the offsets
        sign = _deterministic_signs(Y)
        Y = Y * sign[:, None, :]
        for j, i in enumerate(idx):
            r = int(keep[j].sum())
            Yi = Y[j, : sizes[i], :r]
            S[i] = torch.cat([torch.ones(1, sizes[i], dtype=DTYPE, device=device), Yi.T], dim=0)
            if keep_bases:
                E = evecs[j, : sizes[i], :r] * (sign[j, :r] / (sq[j, :r] * norms[i]))
                B = offsets[j].T @ E  # (N, r): the projected offsets' basis
                bases[i] = B - V @ (V.T @ B) if K else B
        start = stop
    return PreparedManifolds(S, bases, norms.cpu().numpy(), K, rho0, rho1, V)


# ----------------------------------------------------------------------------- anchor points
def manifold_seed(seed: int, label: str) -> int:
    """Seed of one manifold's Gaussian samples, from ``seed`` and the manifold's label."""
    text = f"{int(seed)}|{label}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def gaussian_samples(S_list, labels, n_t: int, seed: int, device) -> torch.Tensor:
    """t ~ N(0, I_{D_μ+1}) per manifold, zero-padded to (P, D_max+1, n_t)."""
    P = len(S_list)
    Dmax1 = max(s.shape[0] for s in S_list)
    t = torch.zeros(P, Dmax1, n_t, dtype=DTYPE)
    for i, s in enumerate(S_list):
        g = torch.Generator(device="cpu").manual_seed(manifold_seed(seed, labels[i]))
        t[i, : s.shape[0]] = torch.randn(s.shape[0], n_t, generator=g, dtype=DTYPE)
    return t.to(device)


def anchor_points(S_list, kappa: float, t: torch.Tensor, device) -> tuple[torch.Tensor, dict]:
    """Anchor points s̃ (P, D_max+1, n_t) of every manifold and sample, batched.

    Samples with max_s t·s + κ < 0 are interior (anchor = the max-projection
    point, no solve); otherwise s̃ = Sλ/Σλ with λ the solution of the dual
    ``min_{λ≥0} ½λᵀ(SᵀS)λ − λᵀ(Sᵀt + κ)``.
    """
    P = len(S_list)
    Dmax1 = t.shape[1]
    n_t = t.shape[2]
    Mmax = max(s.shape[1] for s in S_list)
    S = torch.zeros(P, Dmax1, Mmax, dtype=DTYPE, device=device)
    pmask = torch.zeros(P, Mmax, dtype=torch.bool, device=device)
    for i, s in enumerate(S_list):
        S[i, : s.shape[0], : s.shape[1]] = s
        pmask[i, : s.shape[1]] = True
    padded = not bool(pmask.all())  # manifolds of unequal size: mask the padding slots
    proj = S.transpose(1, 2) @ t  # (P, Mmax, n_t): t·s
    neg_inf = torch.tensor(-torch.inf, dtype=DTYPE, device=device)
    proj_m = torch.where(pmask[:, :, None], proj, neg_inf) if padded else proj
    gmax, arg = proj_m.max(dim=1)  # (P, n_t)
    interior = gmax + kappa < 0
    G = S.transpose(1, 2) @ S
    B = proj + kappa
    if padded:
        eye = torch.eye(Mmax, dtype=DTYPE, device=device)
        pad2 = ~(pmask[:, :, None] & pmask[:, None, :])
        G = torch.where(pad2, eye.expand(P, Mmax, Mmax), G)
        B = torch.where(~pmask[:, :, None], torch.tensor(-1.0, dtype=DTYPE, device=device), B)
    # interior samples have b = t·s + κ < 0 for every point, so the solver returns λ = 0
    # for them without any work (no QP is solved)
    lam, info = batched_nonnegative_qp(G, B)
    if padded:
        lam = torch.where(pmask[:, :, None], lam, torch.zeros((), dtype=DTYPE, device=device))
    Slam = S @ lam  # (P, Dmax1, n_t) = t − v
    total = lam.sum(dim=1)  # Σλ
    s_max = torch.gather(S, 2, arg[:, None, :].expand(P, Dmax1, n_t))
    # mftma: a solution within 1e-8 of t is treated as interior
    use_max = interior | (torch.linalg.vector_norm(Slam, dim=1) < 1e-8) | (total <= 0)
    s_tilde = torch.where(use_max[:, None, :], s_max, Slam / total.clamp(min=1e-300)[:, None, :])
    info["n_interior"] = int(interior.sum())
    return s_tilde, info


def anchor_geometry(spans, t: torch.Tensor, s_tilde: torch.Tensor, kappa: float):
    """α_μ, R_M and D_M per manifold from the samples and their anchor points (batched).

    α⁻¹ = mean_t max(t·s̃ + κ, 0)² / ‖s̃‖² (PRX eqs. 16–17);
    R_M = sqrt(mean_t ‖(s̃ − mean_t s̃)_D / s̃₀‖²) (eq. 28);
    D_M = D (mean_t t̂_D·ŝ_D)² (eq. 29). Rows beyond D_μ+1 are zero padding.

    Parameters
    ----------
    spans : array-like of int (P,)
        D_μ of each manifold.
    t, s_tilde : torch.Tensor (P, D_max+1, n_t)
    """
    D = torch.as_tensor(np.asarray(spans), device=t.device)
    ts = (t * s_tilde).sum(1)
    ssq = (s_tilde**2).sum(1)
    F = torch.where(ssq > 0, (ts + kappa).clamp(min=0) ** 2 / ssq.clamp(min=1e-300), 0.0)
    meanF = F.mean(1)
    alphas = torch.where(meanF == 0, torch.inf, 1.0 / meanF.clamp(min=1e-300))
    ds = (s_tilde - s_tilde.mean(dim=2, keepdim=True))[:, 1:] / s_tilde[:, 0:1]
    radii = torch.sqrt((ds**2).sum(1).mean(1))
    tD, sD = t[:, 1:], s_tilde[:, 1:]
    th = tD / tD.norm(dim=1, keepdim=True).clamp(min=1e-300)
    sh = sD / torch.sqrt((sD**2).sum(1, keepdim=True) + 1e-12)
    dims = torch.where(D > 0, D * (th * sh).sum(1).mean(1) ** 2, 0.0)
    return alphas.cpu().numpy(), radii.cpu().numpy(), dims.cpu().numpy()
