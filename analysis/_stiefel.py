"""Low-rank common center subspace that minimizes center correlations.

The reference manifold analysis (``mftma``, Stephenson et al. 2019; Cohen et al.
2020; after Chung, Lee & Sompolinsky 2018) removes from the P manifold centers a
K-dimensional subspace shared by all of them, chosen to minimize the squared
correlations of the residual centers,

    f(V) = ½ Σ_{μν} (C_μν − c_μ·c_ν)² / (c0_μ c0_ν),
    C = X Xᵀ,  c = X V,  c0_μ = C_μμ − ‖c_μ‖²,                              (1)

over V on the Stiefel manifold St(n, K) (VᵀV = I_K), where X holds the mean-
subtracted centers in an orthonormal basis of their span, n = its rank
(P − 1 when N ≥ P − 1, else ≤ N).

Optimizer (ours, documented): Riemannian conjugate gradient on St(n, K) —
Euclidean gradient by autograd, Riemannian gradient ``g − V sym(Vᵀg)``, QR
retraction (``qf``, signs fixed so diag(R) > 0), vector transport by tangent
projection, Polak–Ribière+ β, Armijo backtracking line search; stop when the
Riemannian gradient norm falls below ``gtol·(1 + f)`` (gtol = 1e-6), the
relative decrease of f in one iteration below ``ftol`` (1e-6), or after
``max_iter`` iterations (100 per rank). These are looser than the reference's
pymanopt run (absolute gradient 1e-6, up to 20000 iterations), which took minutes
for P = 100 here; the residual correlation that selects K changes in the third
digit (by < 0.01 in our checks). All restarts run in one batch.

Greedy rank schedule (as in the reference): for K = 1, 2, ..., maxK the
subspace is initialized from the K−1 solution plus one random direction,
optimized from ``n_restarts`` random initializations, and the restart with the
largest *stability* (min over centers of residual norm / original norm) is kept;
the loop stops after three consecutive increases of the residual correlation,
and the K with the smallest mean off-diagonal |correlation| is returned.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["center_subspace", "mean_abs_correlation"]


def mean_abs_correlation(X: torch.Tensor) -> float:
    """Mean off-diagonal |cosine| between the rows of ``X`` (P, n): ρ_c."""
    P = X.shape[0]
    norm = X.norm(dim=1, keepdim=True)
    C = (X @ X.T) / (norm @ norm.T)
    return float(((C.abs().sum() - torch.diagonal(C).abs().sum()) / (P * (P - 1))).item())


def _qf(A: torch.Tensor) -> torch.Tensor:
    """Q factor of a (batched) QR decomposition with diag(R) > 0 (QR retraction)."""
    Q, R = torch.linalg.qr(A)
    d = torch.sign(torch.diagonal(R, dim1=-2, dim2=-1))
    d = torch.where(d == 0, torch.ones_like(d), d)
    return Q * d[..., None, :]


class _Problem:
    """The fixed parts of cost (1): X (P, n), C = XXᵀ, C∘C and diag C, computed once."""

    def __init__(self, X: torch.Tensor):
        self.X = X
        self.C = X @ X.T
        self.C2 = self.C**2
        self.dC = torch.diagonal(self.C)


def _cost(V: torch.Tensor, prob: _Problem) -> torch.Tensor:
    """Cost (1) for a batch of V (R, n, K); returns (R,).

    With c = XV, w_μ = 1/c0_μ and Y = diag(w) c, the P × P residual is never formed:
    2f = wᵀ(C∘C)w − 2 tr(YᵀCY) + ‖cᵀ diag(w) c‖_F²  (R·P²·K operations, no R×P×P tensor).
    """
    c = prob.X @ V  # (R, P, K)
    c0 = prob.dC[None, :] - (c**2).sum(-1)  # (R, P)
    w = 1.0 / c0
    Y = w[:, :, None] * c
    t1 = ((w @ prob.C2) * w).sum(-1)
    t2 = ((prob.C @ Y) * Y).sum(dim=(1, 2))
    t3 = ((c.transpose(1, 2) @ Y) ** 2).sum(dim=(1, 2))
    return 0.5 * (t1 - 2 * t2 + t3)


def _value_and_rgrad(V, X):
    V = V.detach().requires_grad_(True)
    f = _cost(V, X)
    (g,) = torch.autograd.grad(f.sum(), V)
    V = V.detach()
    VtG = V.transpose(1, 2) @ g
    rg = g - V @ (0.5 * (VtG + VtG.transpose(1, 2)))
    return f.detach(), rg


def _proj(V, Z):
    VtZ = V.transpose(1, 2) @ Z
    return Z - V @ (0.5 * (VtZ + VtZ.transpose(1, 2)))


def _inner(A, B):
    return (A * B).sum(dim=(1, 2))


def stiefel_cg(X, V0, max_iter=100, gtol=1e-6, ftol=1e-6):
    """Minimize (1) from a batch of starting points V0 (R, n, K); returns (V, f)."""
    X = X if isinstance(X, _Problem) else _Problem(X)
    V = V0.clone()
    f, rg = _value_and_rgrad(V, X)
    d = -rg
    step = torch.ones_like(f)
    active = torch.ones_like(f, dtype=torch.bool)
    for _ in range(max_iter):
        active &= rg.flatten(1).norm(dim=1) > gtol * (1 + f.abs())
        if not bool(active.any()):
            break
        slope = _inner(rg, d)
        bad = slope >= 0  # not a descent direction: restart along −grad
        d = torch.where(bad[:, None, None], -rg, d)
        slope = torch.where(bad, -_inner(rg, rg), slope)
        alpha = step.clone()
        accepted = ~active
        Vn, fn = V.clone(), f.clone()
        for _ls in range(40):
            trial = _qf(V + alpha[:, None, None] * d)
            ft = _cost(trial, X).detach()
            ok = (ft <= f + 1e-4 * alpha * slope) & ~accepted
            Vn = torch.where(ok[:, None, None], trial, Vn)
            fn = torch.where(ok, ft, fn)
            accepted |= ok
            if bool(accepted.all()):
                break
            alpha = torch.where(accepted, alpha, alpha / 2)
        stalled = ~accepted  # no decrease found: treat as converged
        small = (f - fn).abs() <= ftol * f.abs().clamp(min=1e-300)
        fn_, rgn = _value_and_rgrad(Vn, X)
        d_t = _proj(Vn, d)
        rg_t = _proj(Vn, rg)
        beta = (_inner(rgn, rgn - rg_t) / _inner(rg, rg).clamp(min=1e-300)).clamp(min=0)
        upd = active & accepted
        V = torch.where(upd[:, None, None], Vn, V)
        f = torch.where(upd, fn_, f)
        d = torch.where(upd[:, None, None], -rgn + beta[:, None, None] * d_t, d)
        rg = torch.where(upd[:, None, None], rgn, rg)
        step = torch.where(upd, (2 * alpha).clamp(max=1e3), step)
        active &= ~stalled & ~small
    return V, f


def _residual_correlation(X, V):
    X0 = X - (X @ V) @ V.T
    return mean_abs_correlation(X0), X0


def center_subspace(
    centers: torch.Tensor,
    n_restarts: int = 10,
    seed: int = 0,
    max_iter: int = 100,
    max_k_offset: int = 11,
) -> tuple[torch.Tensor, int, float, float]:
    """Common center subspace of the reference pipeline.

    Parameters
    ----------
    centers : torch.Tensor, shape (P, N)
        Manifold centers (any offset; their mean is removed here).
    n_restarts : int
        Random initializations per rank K (the reference uses 10).
    seed : int
        Seed of the initializations.
    max_k_offset : int
        maxK = (last index where the cumulative center variance is below 95 %) +
        ``max_k_offset`` (11 in the reference), capped at n − 1, n = rank of the
        centers (P − 1, or fewer when N < P − 1), so that at least one residual
        dimension remains (the reference fails for small P or N; this cap is the
        workaround). For P < 4 or n < 2 no subspace is removed.

    Returns
    -------
    V : torch.Tensor, shape (N, K)
        Orthonormal basis of the removed subspace (K = 0 gives shape (N, 0)).
    K : int
    rho_before, rho_after : float
        Mean off-diagonal |correlation| of the mean-subtracted centers before and
        after removal.
    """
    P, N = centers.shape
    Xb = centers - centers.mean(dim=0, keepdim=True)
    rho0 = mean_abs_correlation(Xb)
    if P < 4:
        return centers.new_zeros((N, 0)), 0, rho0, rho0
    # permutation- and rotation-invariant coordinates of the center span: its rank is
    # P − 1 when N ≥ P − 1, else at most N (small recordings, small layers)
    U, s, Wt = torch.linalg.svd(Xb, full_matrices=False)
    tol = max(P, N) * torch.finfo(s.dtype).eps * float(s.max()) if s.numel() else 0.0
    n = int((s > tol).sum())
    if n < 2:
        return centers.new_zeros((N, 0)), 0, rho0, rho0
    W = Wt[:n].T  # (N, n)
    X = Xb @ W
    sign = torch.sign(X.gather(0, X.abs().argmax(dim=0, keepdim=True)))[0]
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    X, W = X * sign, W * sign
    var = (s**2 / (s**2).sum()).cumsum(0).cpu().numpy()
    below = np.where(var < 0.95, var, 0.0)
    max_k = int(np.argmax(below)) + max_k_offset
    max_k = max(1, min(max_k, n - 1))  # search up to the rank available, keep ≥ 1 residual dimension
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    prob = _Problem(X)
    V1 = None
    sols, res = [], []
    for k in range(1, max_k + 1):
        g = torch.randn(n_restarts, n, 1, generator=gen, dtype=torch.float64).to(X)
        if V1 is None:
            V0 = g
        else:
            V0 = torch.cat([g, V1[None].expand(n_restarts, n, k - 1)], dim=2)
        V0 = _qf(V0)
        Vk, _ = stiefel_cg(prob, V0, max_iter=max_iter)
        X0 = X[None] - (X[None] @ Vk) @ Vk.transpose(1, 2)
        stability = (X0.norm(dim=2) / X.norm(dim=1)[None]).amin(dim=1)
        V1 = Vk[int(torch.argmax(stability))]
        rho, _ = _residual_correlation(X, V1)
        sols.append(V1)
        res.append(rho)
        if k > 4 and res[-1] > res[-2] > res[-3] > res[-4]:
            break
    best = int(np.argmin(res))
    V = W @ sols[best]
    return V, best + 1, rho0, res[best]
