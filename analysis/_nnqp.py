"""Batched non-negative quadratic programs with one Gram matrix per problem group.

Solves, for every group ``p`` (a manifold) and every column ``j`` (a Gaussian
sample ``t``), the convex problem

    minimize_{λ ≥ 0}  ½ λᵀ G_p λ − b_pjᵀ λ,                                (1)

with ``G_p`` positive semi-definite. This is the dual of the anchor-point QP of
manifold capacity (Chung, Lee & Sompolinsky 2018, PRX 8, 031003, Sec. III A):
``min ½‖v − t‖²`` s.t. ``Sᵀv ≤ −κ`` has ``v = t − Sλ`` with ``λ`` solving (1) for
``G = SᵀS`` and ``b = Sᵀt + κ``; at κ = 0, (1) is exactly the non-negative least
squares problem ``min_{λ≥0} ‖t − Sλ‖²``.

Method (all groups and columns at once, batched tensor operations only):

0. Columns with b ≤ 0 everywhere (interior samples) have λ = 0 and need no work.
1. Exact batched active set (Lawson & Hanson 1974, ch. 23, NNLS algorithm
   generalized to (1)) on compact supports: every column starts from the single
   point with the largest normalized projection b_i/√G_ii; each step computes the
   gradient ``g = Gλ − b`` from the rows of G on the support only, certifies the
   column by the KKT test of step 3 (λ_F > 0, ``|g_F| ≤ tol·scale``, ``g_i ≥
   −tol·scale`` off the support, ``scale = max(1, max|b|, max diag G)`` per group),
   and otherwise adds ``argmin_i g_i`` to the support, solves ``G_FF λ_F = b_F`` by
   batched Cholesky (ridge 1e-13·max diag(G), a relative change of ~1e-13 that keeps
   a singular G_FF solvable) and runs the inner loop while the solution has
   non-positive entries. Supports are index lists of the current largest size, so
   one step costs O(n·k·M + n·k³) for n open columns with support ≤ k; anchor points
   of M = 100 point clouds have k ≤ 6 and finish in about as many steps. Columns
   not certified within ``active_set_iter`` steps, or whose step stalls numerically
   (the new point is dropped again, or the Cholesky fails), continue below from
   their feasible last iterate.
2. FISTA (accelerated projected gradient, step 1/L with L = λ_max(G_p)) with the
   gradient-based adaptive restart of O'Donoghue & Candès (2015).
3. Every ``polish_every`` iterations an *active-set polish* on the unfinished
   columns whose support F = {λ_i > 0} did not change since the last round:
   solve the KKT system on F exactly (as in step 1), run the inner loop of Lawson &
   Hanson's NNLS while the solution has non-positive entries, and accept the
   candidate if it satisfies every KKT condition of (1). Accepted columns are exact
   optima (up to rounding) and leave the working set, which is re-packed every
   round.
4. Degenerate columns (support larger than rank G, e.g. many sampled points of a
   low-dimensional sphere) after 10 rounds, and any column not certified after
   ``max_iter`` iterations, are solved exactly by Lawson–Hanson NNLS
   (``scipy.optimize.nnls``) on the factor G = RᵀR; ``info`` counts them.

The result agrees with a general QP solver per column to the solver's rounding
(tested to 1e-6 on anchor points; typically ~1e-12).

This module checks and scales the problem and runs the rounds (steps 0, 2 and the
schedule of 3 and 4); the exact steps on supports (the active set of 1, the polish
of 3, the fallback of 4) are in :mod:`analysis._active_set`.
"""
from __future__ import annotations

import torch

from analysis._active_set import active_set, exact_nnls, polish

__all__ = ["batched_nonnegative_qp"]


def _kkt_violation(G, lam, B, scale):
    """Largest KKT violation of (1) per column: max(−λ, −g off support, |g| on support)."""
    g = torch.bmm(G, lam) - B
    on = lam > 0
    viol = torch.where(on, g.abs(), (-g).clamp(min=0))
    return viol.amax(dim=1) / scale[:, None], g


def batched_nonnegative_qp(
    G: torch.Tensor,
    B: torch.Tensor,
    tol: float = 1e-10,
    max_iter: int = 1000,
    polish_every: int = 3,
    memory: float = 2e7,
    active_set_iter: int = 100,
) -> tuple[torch.Tensor, dict]:
    """Solve ``min_{λ≥0} ½λᵀG_pλ − b_pjᵀλ`` for all groups ``p`` and columns ``j``.

    Parameters
    ----------
    G : torch.Tensor, shape (P, M, M)
        Positive semi-definite Gram matrices, one per group. Padded variables
        (points a manifold does not have) must be given a unit diagonal, zero
        off-diagonal entries and a negative ``b`` so their optimum is 0. ``b`` must
        lie in the range of ``G`` (true for ``G = SᵀS``, ``b = Sᵀw``).
    B : torch.Tensor, shape (P, M, T)
        Linear terms, one column per problem.
    tol : float
        KKT tolerance relative to ``max(1, max|b|, max diag G)`` of each group.
    max_iter : int
        FISTA iterations before the columns still open are handed to the exact
        fallback (Lawson–Hanson NNLS per column, ``scipy.optimize.nnls``, on the
        factor G = RᵀR). With points in general position this is rarely needed;
        it catches degenerate supports (many sampled points on a low-dimensional
        sphere).
    polish_every : int
        FISTA iterations between active-set polishing attempts.
    memory : float
        Bound on the numbers held by one batched Cholesky call (chunk · k²), and on
        the columns handled together by the active set (chunk · 16 · M).
    active_set_iter : int
        Outer steps of the batched active set (step 1 above) before the columns
        still open continue with FISTA (0: FISTA from the best single point).

    Returns
    -------
    lam : torch.Tensor, shape (P, M, T)
        Solutions, on the device and in the dtype of ``G``.
    info : dict
        ``iterations`` (FISTA iterations run), ``active_set_steps`` (outer steps
        of the active set), ``n_fallback`` (columns solved by
        the fallback), ``n_unconverged`` (columns failing the final KKT check) and
        ``max_kkt_violation`` (relative, over all columns).

    Examples
    --------
    >>> import torch
    >>> S = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    >>> t = torch.tensor([[2.0], [-1.0]], dtype=torch.float64)   # NNLS: min ‖t − Sλ‖²
    >>> lam, info = batched_nonnegative_qp((S.T @ S)[None], (S.T @ t)[None])
    >>> [round(v, 9) for v in lam[0, :, 0].tolist()]
    [2.0, 0.0]
    """
    if G.ndim != 3 or G.shape[1] != G.shape[2]:
        raise ValueError(f"G must have shape (P, M, M); got {tuple(G.shape)}")
    if B.ndim != 3 or B.shape[:2] != G.shape[:2]:
        raise ValueError(f"B must have shape (P, M, T) matching G {tuple(G.shape)}; got {tuple(B.shape)}")
    P, M, T = B.shape
    dtype, device = G.dtype, G.device
    diag_max = torch.diagonal(G, dim1=1, dim2=2).amax(dim=1)
    b_abs = torch.maximum(B.amax(dim=(1, 2)), -B.amin(dim=(1, 2)))  # max |b| per group
    scale = torch.maximum(torch.maximum(b_abs, diag_max), torch.ones((), dtype=dtype, device=device))
    ridge = 1e-13 * diag_max.clamp(min=1.0)
    lam = torch.zeros_like(B)
    # columns where λ = 0 is already optimal (b ≤ 0 everywhere) are done at once
    done = (B <= 0).all(dim=1)
    # exact batched active set (Lawson–Hanson) from the best single point: certifies
    # almost every column in a few steps (anchor points have small supports)
    viol_parts = []
    cols = torch.nonzero(~done)
    chunk = max(1, int(memory // (16 * M)))
    as_steps = 0
    for start in range(0, len(cols), chunk):
        done_parts, open_parts, steps = active_set(G, B, cols[start:start + chunk], tol, scale, ridge,
                                                   active_set_iter)
        as_steps = max(as_steps, steps)
        for c, idx, x, viol in done_parts:
            cp, cj = c[:, 0], c[:, 1]
            col = torch.zeros(len(c), M, dtype=dtype, device=device).scatter_add_(1, idx, x)
            lam[cp, :, cj] = col
            done[cp, cj] = True
            viol_parts.append(viol)
        for c, idx, x in open_parts:
            lam[c[:, 0], :, c[:, 1]] = torch.zeros(len(c), M, dtype=dtype, device=device).scatter_add_(1, idx, x)
    it = 0
    n_fallback = 0
    if bool(done.all()):
        viol = torch.cat(viol_parts) if viol_parts else torch.zeros(0, dtype=dtype, device=device)
        return lam, {
            "iterations": it,
            "active_set_steps": as_steps,
            "n_fallback": n_fallback,
            "n_unconverged": int((viol > tol).sum().item()),
            "max_kkt_violation": float(viol.max().item()) if viol.numel() else 0.0,
        }
    evals = torch.linalg.eigvalsh(G)
    Lip = evals[:, -1].clamp(min=1e-300)  # (P,)
    rank_G = (evals > 1e-10 * Lip[:, None]).sum(dim=1)  # a basic solution has ≤ rank entries
    step = (1.0 / Lip)[:, None, None]
    y = lam.clone()
    theta_all = torch.ones(P, 1, T, dtype=dtype, device=device)
    prev_support = torch.zeros_like(B, dtype=torch.bool)
    while it < max_iter and not bool(done.all()):
        # working set: the unfinished columns of every group, packed to a common width
        n_open = (~done).sum(dim=1)
        width = int(n_open.max().item())
        rank = torch.argsort(done.to(torch.int8), dim=1, stable=True)[:, :width]  # open first
        active = torch.arange(width, device=device)[None, :] < n_open[:, None]  # (P, width)
        idx = rank[:, None, :].expand(P, M, width)
        frozen = ~active[:, None, :]
        # padding slots get b = −1 and λ = 0, which FISTA leaves at 0
        Bw = torch.where(frozen, -1.0, torch.gather(B, 2, idx))
        lw = torch.where(frozen, 0.0, torch.gather(lam, 2, idx))
        yw = torch.where(frozen, 0.0, torch.gather(y, 2, idx))
        theta = torch.gather(theta_all, 2, rank[:, None, :])
        for _ in range(polish_every):
            grad = torch.bmm(G, yw).sub_(Bw)
            l_new = torch.addcmul(yw, step, grad, value=-1.0).clamp_(min=0)
            # adaptive restart (O'Donoghue & Candès 2015): momentum pointing uphill
            diff = l_new - lw
            restart = (grad * diff).sum(dim=1, keepdim=True) > 0
            theta_new = 0.5 * (1 + torch.sqrt(1 + 4 * theta**2))
            beta = torch.where(restart, 0.0, (theta - 1) / theta_new)
            theta = torch.where(restart, 1.0, theta_new)
            yw = torch.addcmul(l_new, beta, diff)
            lw = l_new
            it += 1
        # write back the open columns only (padding slots alias finished columns)
        lam.scatter_(2, idx, torch.where(frozen, torch.gather(lam, 2, idx), lw))
        y.scatter_(2, idx, torch.where(frozen, torch.gather(y, 2, idx), yw))
        theta_all.scatter_(2, rank[:, None, :], theta)
        # polish the columns whose support did not change since the last round
        support = lam > 0
        stable = (support == prev_support).all(dim=1) & ~done
        prev_support = support
        # columns with more support than rank(G) are degenerate: after a short burn-in
        # they go to the exact fallback instead of waiting for FISTA
        degenerate = support.sum(dim=1) > rank_G[:, None]
        if it >= 10 * polish_every:
            deg_cols = torch.nonzero(degenerate & ~done)
            if len(deg_cols):
                lam = exact_nnls(G, B, lam, deg_cols)
                done[deg_cols[:, 0], deg_cols[:, 1]] = True
                n_fallback += len(deg_cols)
        stable &= ~degenerate & ~done
        cols = torch.nonzero(stable)
        if not len(cols):
            continue
        k_max = int(support[cols[:, 0], :, cols[:, 1]].sum(dim=1).max().item())
        polish_chunk = max(1, int(memory // max(k_max, 1) ** 2))
        for start in range(0, len(cols), polish_chunk):
            c = cols[start:start + polish_chunk]
            cand, ok = polish(G, lam, B, c, tol, scale, ridge)
            if bool(ok.any()):
                cp, cj = c[ok, 0], c[ok, 1]
                lam[cp, :, cj] = cand[ok]
                y[cp, :, cj] = cand[ok]
                done[cp, cj] = True
    open_cols = torch.nonzero(~done)
    if len(open_cols):
        lam = exact_nnls(G, B, lam, open_cols)
        n_fallback += len(open_cols)
    viol, _ = _kkt_violation(G, lam, B, scale)
    info = {
        "iterations": it,
        "active_set_steps": as_steps,
        "n_fallback": n_fallback,
        "n_unconverged": int((viol > tol).sum().item()),
        "max_kkt_violation": float(viol.max().item()) if viol.numel() else 0.0,
    }
    return lam, info
