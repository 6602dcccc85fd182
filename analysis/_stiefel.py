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
Euclidean gradient in closed form (:func:`_value_and_grad`, no autograd),
Riemannian gradient ``g − V sym(Vᵀg)``, QR retraction (``qf``, signs fixed so
diag(R) > 0), vector transport by tangent projection, Polak–Ribière+ β, Armijo
line search started from the step predicted by the last decrease and backtracked
by quadratic interpolation (about 1.7 cost evaluations per iteration instead of
3.5 with step doubling/halving); stop when the Riemannian gradient norm falls
below ``gtol·(1 + f)``, the relative decrease of f in one iteration below
``ftol`` (both 1e-5), or after ``max_iter`` iterations (100 per rank). These are
much looser than the reference's pymanopt run (absolute gradient 1e-6, up to
20000 iterations), which took minutes for P = 100 here. The problem is flat near
its minima (restarts and tolerances end on subspaces whose projectors differ by
~0.4 in Frobenius norm at equal cost), and what the pipeline returns does not
depend on it: on the capacity benchmark (P = 100, M = 100, N = 2000, seeds 0–2)
tolerances 1e-5 and 1e-9 give the same K and α within 0.002 (mftma's own seed
sd: 0.011) with 2–10× fewer cost evaluations; 1e-4 picked K = 3 instead of the
planted 2 on one seed of the correlated-centers test (P = 40), 1e-3 changed K on
the benchmark. All restarts run
in one batch, and a restart leaves the batch once it has converged.

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


def _mm(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """A (P, n) @ B (R, n, K) → (R, P, K) as one matrix product (A is never copied R times)."""
    R, n, K = B.shape
    return (A @ B.transpose(0, 1).reshape(n, R * K)).reshape(A.shape[0], R, K).transpose(0, 1)


class _Problem:
    """The fixed parts of cost (1): X (P, n), C = XXᵀ, C∘C and diag C, computed once."""

    def __init__(self, X: torch.Tensor):
        self.X = X
        self.C = X @ X.T
        self.C2 = self.C**2
        self.dC = torch.diagonal(self.C)


def _cost(V: torch.Tensor, prob: _Problem) -> torch.Tensor:
    """Cost (1) for a batch of V (R, n, K); returns (R,)."""
    return _value_and_grad(V, prob)[0]


def _value_and_grad(V: torch.Tensor, prob: _Problem) -> tuple[torch.Tensor, torch.Tensor]:
    """Cost (1) and its Euclidean gradient for a batch of V (R, n, K), in closed form.

    With R = C − ccᵀ, w_μ = 1/c0_μ, Y = diag(w) c, M = cᵀY (K × K) and
    q = (R∘R) w = (C∘C) w − 2 rowsum(c ∘ CY) + rowsum(cM ∘ c):

        f = ½ wᵀq,
        ∂f/∂c = −2 diag(w)(CY − cM) + 2 diag(w² ∘ q) c,     ∂f/∂V = Xᵀ ∂f/∂c,

    (the second term is the dependence of w on c: ∂w_μ/∂c_μ = 2 w_μ² c_μ). No P × P
    residual is formed: R·P²·K operations, three matrix products of the batch.
    """
    c = _mm(prob.X, V)  # (R, P, K)
    w = 1.0 / (prob.dC - (c**2).sum(-1))  # (R, P)
    Y = w[..., None] * c
    CY = _mm(prob.C, Y)
    cM = c @ (c.transpose(1, 2) @ Y)
    q = w @ prob.C2 - 2 * (c * CY).sum(-1) + (cM * c).sum(-1)
    f = 0.5 * (w * q).sum(-1)
    Gc = -2 * w[..., None] * (CY - cM) + 2 * (w**2 * q)[..., None] * c
    return f, _mm(prob.X.T, Gc)


def _proj(V, Z):
    VtZ = V.transpose(1, 2) @ Z
    return Z - V @ (0.5 * (VtZ + VtZ.transpose(1, 2)))


def _inner(A, B):
    return (A * B).sum(dim=(1, 2))


def stiefel_cg(X, V0, max_iter=100, gtol=1e-5, ftol=1e-5):
    """Minimize (1) from a batch of starting points V0 (R, n, K); returns (V, f).

    Riemannian conjugate gradient (Polak–Ribière+), closed-form gradient
    (:func:`_value_and_grad`), QR retraction. Line search: Armijo (c₁ = 10⁻⁴) from the
    initial step 2(f_{k−1} − f_k)/(−slope) (Nocedal & Wright 2006, eq. 3.60; at most a
    unit move), backtracking by safeguarded quadratic interpolation. Each start leaves
    the batch when it has converged (gradient, or relative decrease below ``ftol``),
    so later iterations cost only the starts still moving.
    """
    prob = X if isinstance(X, _Problem) else _Problem(X)
    V = V0.clone()
    R = V.shape[0]
    f, g = _value_and_grad(V, prob)
    rg = _proj(V, g)
    d = -rg
    df_prev = torch.full_like(f, float("nan"))  # f_{k−1} − f_k
    act = torch.arange(R, device=V.device)
    for _ in range(max_iter):
        act = act[rg[act].flatten(1).norm(dim=1) > gtol * (1 + f[act].abs())]
        if act.numel() == 0:
            break
        Va, fa, rga, da = V[act], f[act], rg[act], d[act]
        slope = _inner(rga, da)
        bad = slope >= 0  # not a descent direction: restart along −grad
        da = torch.where(bad[:, None, None], -rga, da)
        slope = torch.where(bad, -_inner(rga, rga), slope)
        unit = 1.0 / da.flatten(1).norm(dim=1).clamp(min=1e-300)
        dfp = df_prev[act]
        alpha = torch.where(torch.isfinite(dfp) & (dfp > 0), 2.0 * dfp / (-slope), unit)
        alpha = torch.minimum(alpha, unit)
        pend = torch.ones(act.numel(), dtype=torch.bool, device=V.device)
        Vn, fn, gn = Va.clone(), fa.clone(), g[act].clone()
        for _ls in range(30):
            idx = pend.nonzero().squeeze(1)
            ai, si, fi = alpha[idx], slope[idx], fa[idx]
            trial = _qf(Va[idx] + ai[:, None, None] * da[idx])
            ft, gt = _value_and_grad(trial, prob)
            ok = ft <= fi + 1e-4 * ai * si
            oi = idx[ok]
            Vn[oi], fn[oi], gn[oi] = trial[ok], ft[ok], gt[ok]
            pend[oi] = False
            if not bool(pend.any()):
                break
            aq = -si * ai**2 / (2 * (ft - fi - si * ai)).clamp(min=1e-300)
            alpha[idx] = torch.where(ok, ai, torch.minimum(torch.maximum(aq, 0.1 * ai), 0.5 * ai))
        rgn = _proj(Vn, gn)
        beta = (_inner(rgn, rgn - _proj(Vn, rga)) / _inner(rga, rga).clamp(min=1e-300)).clamp(min=0)
        V[act], f[act], g[act], rg[act] = Vn, fn, gn, rgn
        d[act] = -rgn + beta[:, None, None] * _proj(Vn, da)
        df_prev[act] = fa - fn
        done = pend | ((fa - fn).abs() <= ftol * fa.abs().clamp(min=1e-300))  # stalled or converged
        rg[act[done]] = 0.0  # leaves the batch at the next check
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
