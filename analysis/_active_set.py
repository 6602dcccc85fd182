"""Exact active-set steps for the batched non-negative QP of :mod:`analysis._nnqp`.

For every listed (group ``p``, column ``j``) pair of problem (1) there,
``min_{λ≥0} ½ λᵀ G_p λ − b_pjᵀ λ``:

- :func:`active_set`: batched Lawson–Hanson NNLS (Lawson & Hanson 1974, ch. 23,
  generalized to (1)) on compact supports, from the best single point (step 1 of
  :mod:`analysis._nnqp`);
- :func:`polish`: the active-set polish of FISTA iterates whose support is stable,
  certified by the KKT conditions of (1) (step 3);
- :func:`exact_nnls`: ``scipy.optimize.nnls`` per column on the factor G = RᵀR, for
  degenerate or unfinished columns (step 4).

The KKT systems ``G_FF z_F = b_F`` on a support F are solved by batched Cholesky with
a ridge of 1e-13·max diag(G) (a relative change of ~1e-13 that keeps a singular
G_FF solvable).
"""
from __future__ import annotations

import torch

__all__ = ["active_set", "polish", "exact_nnls"]


def exact_nnls(G, B, lam, cols):
    """Exact Lawson–Hanson NNLS (scipy) for the listed (group, column) pairs."""
    import numpy as np
    from scipy.optimize import nnls

    lam = lam.clone()
    Gc = G.detach().cpu().numpy()
    Bc = B.detach().cpu().numpy()
    out = lam.detach().cpu().numpy()
    factors = {}
    for p, j in cols.cpu().numpy():
        if p not in factors:
            w, Q = np.linalg.eigh(Gc[p])
            keep = w > 1e-12 * max(w[-1], 1e-300)
            factors[p] = (np.sqrt(w[keep])[:, None] * Q[:, keep].T, Q[:, keep] / np.sqrt(w[keep])[None, :])
        R, Rinv_t = factors[p]
        x, _ = nnls(R, Rinv_t.T @ Bc[p, :, j], maxiter=50 * R.shape[1])
        out[p, :, j] = x
    return torch.as_tensor(out, dtype=lam.dtype, device=lam.device)


def _solve_on_support(G, p, support, b_c, ridge):
    """Minimizer of (1) restricted to ``support`` (zeros elsewhere), batched.

    The KKT system ``G_FF z_F = b_F`` is solved by Cholesky on the support
    compacted to its largest size; the ridge makes a singular G_FF pick
    (numerically) the minimum-norm solution.
    """
    n, M = b_c.shape
    z = torch.zeros_like(b_c)
    k = int(support.sum(dim=1).max().item()) if n else 0
    if k == 0:
        return z, torch.ones(n, dtype=torch.bool, device=G.device)
    zero = torch.zeros((), dtype=G.dtype, device=G.device)
    order = torch.argsort((~support).to(torch.int8), dim=1, stable=True)[:, :k]  # support first
    valid = torch.gather(support, 1, order)  # (n, k)
    Gs = G[p[:, None, None], order[:, :, None], order[:, None, :]]  # (n, k, k)
    Gs = torch.where(valid[:, :, None] & valid[:, None, :], Gs, zero)
    diag_fill = torch.where(valid, ridge[p][:, None], torch.ones((), dtype=G.dtype, device=G.device))
    Gs = Gs + torch.eye(k, dtype=G.dtype, device=G.device) * diag_fill[:, :, None]
    bs = torch.where(valid, torch.gather(b_c, 1, order), zero)
    L, info = torch.linalg.cholesky_ex(Gs)
    xs = torch.cholesky_solve(bs[:, :, None], L)[:, :, 0]
    z.scatter_(1, order, torch.where(valid, xs, zero))
    return z, info == 0


def polish(G, lam, B, cols, tol, scale, ridge, max_inner=64):
    """Active-set polish of the listed columns, certified by the KKT conditions.

    Starting from the (non-negative) FISTA iterate and its support F, solve (1) on
    F; while that solution has non-positive entries, step from the current point
    towards it until the first entry reaches zero and drop it from F (the inner
    loop of Lawson & Hanson's NNLS, which also reduces degenerate supports such as
    the embedded regime of a sampled sphere to a basic solution).

    Parameters
    ----------
    G : (P, M, M); lam, B : (P, M, T)
    cols : (n, 2) long tensor of (group, column) pairs to polish.

    Returns
    -------
    cand : (n, M) candidate solutions; ok : (n,) bool, whether KKT certified it.
    """
    p, j = cols[:, 0], cols[:, 1]
    x = lam[p, :, j].clone()  # (n, M)
    b_c = B[p, :, j]
    support = x > 0
    z, chol_ok = _solve_on_support(G, p, support, b_c, ridge)
    for _ in range(max_inner):
        neg = support & (z <= 0)
        has_neg = neg.any(dim=1)
        if not bool(has_neg.any()):
            break
        ratio = torch.where(neg, x / (x - z).clamp(min=1e-300), torch.full_like(x, torch.inf))
        a = ratio.amin(dim=1, keepdim=True).clamp(max=1.0)
        first = ratio == ratio.amin(dim=1, keepdim=True)
        x_new = x + a * (z - x)
        drop = neg & (first | (x_new <= 0))
        x = torch.where(has_neg[:, None], torch.where(drop, 0.0, x_new.clamp(min=0)), x)
        support = torch.where(has_neg[:, None], support & ~drop, support)
        sub = torch.nonzero(has_neg)[:, 0]
        z_sub, ok_sub = _solve_on_support(G, p[sub], support[sub], b_c[sub], ridge)
        z[sub] = z_sub
        chol_ok[sub] = chol_ok[sub] & ok_sub
    cand = torch.where(support, z, 0.0)
    # KKT check of the candidate: gradient from the columns of G on the support only
    k = max(int(support.sum(dim=1).max().item()), 1) if len(cols) else 1
    order = torch.argsort((~support).to(torch.int8), dim=1, stable=True)[:, :k]
    xs = torch.gather(cand, 1, order)  # zero where the slot is padding
    Gcols = G[p[:, None], :, order]  # (n, k, M): G[:, i] for the support points i
    g = torch.einsum("nkm,nk->nm", Gcols, xs) - b_c
    sc = scale[p][:, None]
    feasible = ~(support & (cand <= 0)).any(dim=1)
    dual_ok = ((g >= -tol * sc) | support).all(dim=1)
    stat_ok = ((g.abs() <= tol * sc) | ~support).all(dim=1)
    return cand.clamp(min=0), feasible & dual_ok & stat_ok & chol_ok


def _solve_compact(G, p, idx, valid, b, ridge):
    """Minimizer of (1) on the support listed in ``idx`` (slots where ``valid``), batched.

    ``idx`` (n, k) holds point indices, ``valid`` (n, k) marks the used slots; the KKT
    system ``G_FF z_F = b_F`` is solved by Cholesky with the same ridge as
    :func:`_solve_on_support`. Returns z (n, k), zero on unused slots, and whether the
    factorization succeeded.
    """
    Gs = G[p[:, None, None], idx[:, :, None], idx[:, None, :]]  # (n, k, k)
    zero = torch.zeros((), dtype=G.dtype, device=G.device)
    Gs = torch.where(valid[:, :, None] & valid[:, None, :], Gs, zero)
    fill = torch.where(valid, ridge[p][:, None], torch.ones((), dtype=G.dtype, device=G.device))
    Gs = Gs + torch.diag_embed(fill)
    bs = torch.where(valid, torch.gather(b, 1, idx), zero)
    L, info = torch.linalg.cholesky_ex(Gs)
    z = torch.cholesky_solve(bs[:, :, None], L)[:, :, 0]
    ok = (info == 0) & torch.isfinite(z).all(dim=1)
    return torch.where(valid & ok[:, None], z, zero), ok


def active_set(G, B, cols, tol, scale, ridge, max_iter):
    """Batched Lawson–Hanson NNLS for the listed (group, column) pairs, on compact supports.

    Every column starts from the single point with the largest normalized projection
    b_i/√G_ii. Each outer step computes the gradient ``g = Gλ − b`` from the rows of G
    on the support only, certifies the column if it meets every KKT condition of (1)
    (same test and tolerance as :func:`polish`), and otherwise adds the most violated
    point ``argmin_i g_i`` to the support, solves on the support exactly and runs the
    inner loop of Lawson & Hanson (1974, ch. 23) while the solution has non-positive
    entries. Supports are held as index lists of the current largest size (a handful
    of points for anchor points), so a step costs O(n·k·M + n·k³), not O(n·M²).

    Returns
    -------
    done_parts : list of (cols, idx, x, viol): certified columns, their support
        indices (padded slots carry x = 0), values and relative KKT violation;
    open_parts : list of (cols, idx, x): columns not certified within ``max_iter``
        steps (or whose step stalled numerically), with their feasible last iterate;
    steps : int, outer steps taken.
    """
    device, dtype = G.device, G.dtype
    p, j = cols[:, 0], cols[:, 1]
    b = B[p, :, j]  # (n, M)
    n, M = b.shape
    d = torch.diagonal(G, dim1=1, dim2=2).clamp(min=1e-300)  # (P, M)
    k1 = torch.argmax(b * d.rsqrt()[p], dim=1, keepdim=True)  # (n, 1)
    idx = k1
    x = (torch.gather(b, 1, k1) / d[p[:, None], k1]).clamp(min=0)
    valid = x > 0
    sc = scale[p]
    done_parts, open_parts = [], []
    for step in range(max_iter + 1):
        if not n:
            break
        Gr = G[p[:, None], idx]  # (n, k, M): rows of G for the support points
        xv = torch.where(valid, x, 0.0)
        g = torch.einsum("nkm,nk->nm", Gr, xv) - b
        on = torch.zeros((n, M), dtype=torch.int32, device=device).scatter_add_(1, idx, valid.to(torch.int32)) > 0
        viol_on = torch.where(on, g.abs(), 0.0).amax(dim=1)
        gmin, istar = torch.where(on, torch.inf, g).min(dim=1)
        viol = torch.maximum(viol_on, (-gmin).clamp(min=0)) / sc
        feasible = ~(valid & (x <= 0)).any(dim=1)
        ok = feasible & (viol <= tol)
        if bool(ok.any()):
            done_parts.append((cols[ok], idx[ok], xv[ok], viol[ok]))
        keep = ~ok
        if step == max_iter or not bool(keep.any()):
            if bool(keep.any()):
                open_parts.append((cols[keep], idx[keep], xv[keep]))
            break
        cols, p, b, sc, idx, x, valid, istar = (v[keep] for v in (cols, p, b, sc, idx, x, valid, istar))
        n = len(cols)
        # add the most violated point as a new slot (x = 0 there)
        idx = torch.cat([idx, istar[:, None]], dim=1)
        x = torch.cat([torch.where(valid, x, 0.0), torch.zeros(n, 1, dtype=dtype, device=device)], dim=1)
        valid = torch.cat([valid, torch.ones(n, 1, dtype=torch.bool, device=device)], dim=1)
        z, chol_ok = _solve_compact(G, p, idx, valid, b, ridge)
        for _ in range(idx.shape[1] + 1):
            neg = valid & (z <= 0)
            has_neg = neg.any(dim=1)
            if not bool(has_neg.any()):
                break
            ratio = torch.where(neg, x / (x - z).clamp(min=1e-300), torch.inf)
            rmin = ratio.amin(dim=1, keepdim=True)
            x_new = x + rmin.clamp(max=1.0) * (z - x)
            drop = neg & ((ratio == rmin) | (x_new <= 0))
            x = torch.where(has_neg[:, None], torch.where(drop, 0.0, x_new.clamp(min=0)), x)
            valid = torch.where(has_neg[:, None], valid & ~drop, valid)
            sub = torch.nonzero(has_neg)[:, 0]
            z_sub, ok_sub = _solve_compact(G, p[sub], idx[sub], valid[sub], b[sub], ridge)
            z[sub] = z_sub
            chol_ok[sub] &= ok_sub
        # stalled: the new point was dropped again, or the factorization failed
        stalled = ~valid[:, -1] | ~chol_ok | (valid & (z <= 0)).any(dim=1)
        x = torch.where(valid, z, 0.0)
        if bool(stalled.any()):
            open_parts.append((cols[stalled], idx[stalled], torch.where(valid, x, 0.0)[stalled].clamp(min=0)))
            go = ~stalled
            cols, p, b, sc, idx, x, valid = (v[go] for v in (cols, p, b, sc, idx, x, valid))
            n = len(cols)
        # re-pack the slots: used ones first, trimmed to the largest support
        order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)
        k = max(int(valid.sum(dim=1).max().item()), 1) if n else 1
        order = order[:, :k]
        idx, x, valid = torch.gather(idx, 1, order), torch.gather(x, 1, order), torch.gather(valid, 1, order)
    return done_parts, open_parts, step
