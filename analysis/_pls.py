"""Kernel PLS: Brain-Score's ``pls`` regression (scikit-learn NIPALS, ``scale=False``) on Gram matrices.

:func:`kernel_pls` runs scikit-learn's PLS2 NIPALS step for step in the n-dimensional
space of the training stimuli, for a batch of training sets at once; :class:`PLSPath`
prepares one Gram per feature matrix and fits all splits of equal size in one batch.
"""
from __future__ import annotations

import numpy as np
import torch

from analysis._gram import Gram, centred_blocks, centred_gram, to_tensor

__all__ = ["kernel_pls", "PLSPath"]


def _mv(M: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Batched matrix-vector product (S, i, j) · (S, j) → (S, i)."""
    return (M @ v[:, :, None])[:, :, 0]


def _quad(v: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """Batched quadratic form vᵀ M v → (S,)."""
    return (v * _mv(M, v)).sum(-1)

def _pinv(M: torch.Tensor) -> torch.Tensor:
    """Pseudo-inverse of a batch of small matrices, cutoff ``max(m, n)·eps·σ_max`` (scipy's, as scikit-learn uses).

    On the CPU through numpy's LAPACK, which is loaded already: torch's first
    ``linalg.pinv`` call maps ~30 MiB of library pages for a (S, 25, 25) problem.
    """
    rcond = max(M.shape[-2:]) * torch.finfo(M.dtype).eps
    if M.device.type == "cpu":
        return torch.from_numpy(np.linalg.pinv(M.numpy(), rcond=rcond)).to(M.dtype)
    return torch.linalg.pinv(M, rtol=rcond)

def kernel_pls(K: torch.Tensor, Kx: torch.Tensor, Y: torch.Tensor, n_components: int = 25,
               max_iter: int = 500, tol: float = 1e-06):
    """PLS2 regression predictions from Gram matrices, for a batch of training sets at once.

    The NIPALS algorithm of ``sklearn.cross_decomposition.PLSRegression`` (mode A,
    ``deflation_mode='regression'``, ``scale=False``; Wold et al. 1984; Wegelin 2000
    §4.1) rewritten in the n-dimensional space of the training stimuli (kernel PLS,
    Lindgren, Geladi & Wold 1993; Rännar et al. 1994). Every feature-space vector is
    ``X_kᵀ a`` for some ``a ∈ ℝⁿ``, so the whole fit needs only the centred training
    Gram ``K = X_c X_cᵀ``:

    - power iteration for the first singular vectors of ``X_kᵀ Y_k``:
      ``a ← u / (uᵀu)``, ``a ← a / (√(aᵀ K_k a) + ε)``, ``t = K_k a``,
      ``c = Y_kᵀ t / (tᵀt)``, ``u = Y_k c / (cᵀc + ε)``, stopped as scikit-learn
      stops (``‖Δw‖² = Δaᵀ K_k Δa < tol``, or one target);
    - deflation ``X_{k+1} = Π X_k`` with ``Π = I − t tᵀ / (tᵀt)``, i.e.
      ``K_{k+1} = Π K_k Π``; ``Y_{k+1} = Y_k − t qᵀ``, ``q = Y_kᵀ t / (tᵀt)``;
    - the weights and x-loadings in the original coordinates are ``W = X_cᵀ A``,
      ``P = X_cᵀ B`` (A, B: the ``a`` and ``t / tᵀt`` mapped back through the earlier
      projections), so ``PᵀW = Bᵀ K A`` and the predictions are
      ``ŷ = ȳ + K_x A (Bᵀ K A)⁺ Qᵀ``.

    The iterations are scikit-learn's, step for step (same start, same stopping
    rule, same treatment of targets whose residual vanishes), so the predictions
    equal ``PLSRegression(n_components, scale=False)`` to rounding; the cost is
    O(n²) per iteration instead of O(n·p).

    Parameters
    ----------
    K : tensor (S, n, n)
        Centred training Grams of S training sets of n stimuli each.
    Kx : tensor (S, t, n)
        Test-by-training Grams, centred with the training mean.
    Y : tensor (S, n, q)
        Training targets (centred here).
    n_components : int
    max_iter, tol
        scikit-learn's power-iteration limits.

    Returns
    -------
    predictions : tensor (S, t, q)
    n_iter : tensor (S, n_components) of power iterations per component
    """
    S, n, _ = K.shape
    dtype, dev = K.dtype, K.device
    eps = torch.finfo(dtype).eps
    y_mean = Y.mean(1, keepdim=True)
    Yk = Y - y_mean
    Kk = K.clone()
    q = Y.shape[-1]
    A = torch.zeros(S, n, n_components, dtype=dtype, device=dev)
    B = torch.zeros_like(A)
    Q = torch.zeros(S, q, n_components, dtype=dtype, device=dev)
    T = torch.zeros_like(A)           # x-scores, for mapping back through earlier deflations
    n_iter = torch.zeros(S, n_components, dtype=torch.long, device=dev)
    alive = torch.ones(S, dtype=torch.bool, device=dev)  # y residual not yet constant
    batch = torch.arange(S, device=dev)

    def back(v, k):
        """Π_0 … Π_{k-1} v: express a vector of deflated space k in the original X's."""
        for j in range(k):
            tj = T[:, :, j]
            tt = (tj * tj).sum(-1, keepdim=True)
            v = v - tj * (tj * v).sum(-1, keepdim=True) / torch.where(tt > 0, tt, torch.ones_like(tt))
        return v

    for k in range(n_components):
        Yk = torch.where((Yk.abs() < 10 * eps).all(1, keepdim=True), torch.zeros_like(Yk), Yk)
        nonconst = (Yk.abs() > eps).any(1)                     # (S, q)
        alive = alive & nonconst.any(1)
        if not alive.any():
            break
        first = torch.argmax(nonconst.to(torch.int8), dim=1)  # first non-constant target column
        done = ~alive
        if q < n:  # iterate on coefficients γ of u = Y_k γ: q × q products instead of n × n
            KY = Kk @ Yk
            C1 = Yk.transpose(1, 2) @ Yk
            C2 = Yk.transpose(1, 2) @ KY
            C3 = KY.transpose(1, 2) @ KY
            g = torch.zeros(S, q, dtype=dtype, device=dev)
            g[batch, first] = 1.0
            ga = torch.zeros_like(g)
            ga_old = v_old = None
            for it in range(max_iter):
                ga_new = g / _quad(g, C1)[:, None]                       # a = u / uᵀu
                v = _mv(C2, ga_new)
                scale = 1.0 / (torch.sqrt(torch.clamp((ga_new * v).sum(-1), min=0)) + eps)
                ga_new, v = ga_new * scale[:, None], v * scale[:, None]  # a /= ‖Xᵀa‖ + ε
                c = v / _quad(ga_new, C3)[:, None]                       # y-weights Y_kᵀt / tᵀt
                g_new = c / ((c * c).sum(-1, keepdim=True) + eps)        # u = Y_k c / (cᵀc + ε)
                ga = torch.where(done[:, None], ga, ga_new)
                v = v if v_old is None else torch.where(done[:, None], v_old, v)
                g = torch.where(done[:, None], g, g_new)
                n_iter[:, k] = torch.where(done, n_iter[:, k], it + 1)
                if q == 1:
                    break
                if ga_old is not None:
                    done = done | (((ga - ga_old) * (v - v_old)).sum(-1) < tol)  # ‖Δw‖² = Δaᵀ K Δa
                    if done.all():
                        break
                ga_old, v_old = ga, v
            a = _mv(Yk, ga)
        else:
            u = Yk[batch, :, first]                                      # (S, n)
            a = torch.zeros_like(u)
            t_old = a_old = None
            for it in range(max_iter):
                a_new = u / (u * u).sum(-1, keepdim=True)
                Ka = _mv(Kk, a_new)
                scale = 1.0 / (torch.sqrt(torch.clamp((a_new * Ka).sum(-1), min=0)) + eps)
                a_new, t = a_new * scale[:, None], Ka * scale[:, None]
                c = _mv(Yk.transpose(1, 2), t) / (t * t).sum(-1, keepdim=True)
                u_new = _mv(Yk, c) / ((c * c).sum(-1, keepdim=True) + eps)
                a = torch.where(done[:, None], a, a_new)
                u = torch.where(done[:, None], u, u_new)
                t = _mv(Kk, a) if t_old is None else torch.where(done[:, None], t_old, t)
                n_iter[:, k] = torch.where(done, n_iter[:, k], it + 1)
                if q == 1:
                    break
                if a_old is not None:
                    done = done | (((a - a_old) * (t - t_old)).sum(-1) < tol)
                    if done.all():
                        break
                a_old, t_old = a, t
        if it == max_iter - 1 and not done.all():
            import warnings

            from sklearn.exceptions import ConvergenceWarning

            warnings.warn("Maximum number of iterations reached", ConvergenceWarning, stacklevel=2)
        a = torch.where(alive[:, None], a, torch.zeros_like(a))
        t = torch.einsum("sij,sj->si", Kk, a)                 # x-scores
        tt = (t * t).sum(-1, keepdim=True)
        tt = torch.where(alive[:, None], tt, torch.ones_like(tt))
        q_k = torch.einsum("siq,si->sq", Yk, t) / tt           # y-loadings
        A[:, :, k] = back(a, k)
        B[:, :, k] = back(t / tt, k)
        Q[:, :, k] = q_k
        T[:, :, k] = t
        # deflation: K ← Π K Π = K − (u vᵀ + v uᵀ) with u = t / tᵀt, v = K t − ½ (tᵀK t) u,
        # as two rank-one updates in place (no (S, n, n) temporaries); Y ← Y − t qᵀ
        Kt = torch.einsum("sij,sj->si", Kk, t)
        u = t / tt
        v = Kt - 0.5 * (t * Kt).sum(-1, keepdim=True) * u
        Kk.baddbmm_(u[:, :, None], v[:, None, :], alpha=-1.0)
        Kk.baddbmm_(v[:, :, None], u[:, None, :], alpha=-1.0)
        Yk = Yk - t[:, :, None] * q_k[:, None, :]
    M = B.transpose(1, 2) @ K @ A                              # PᵀW
    coef = A @ _pinv(M) @ Q.transpose(1, 2)                     # (S, n, q) dual coefficients
    return y_mean + Kx @ coef, n_iter

class PLSPath:
    """Brain-Score's PLS (``PLSRegression(n_components, scale=False)``, PLS2) in kernel form.

    One Gram matrix of the (globally centred) features is computed per feature
    matrix in float64; each split's centred training and test blocks are read off it
    and all splits of equal training size run through :func:`kernel_pls` at once.
    """

    name = "pls"

    def __init__(self, n_components: int = 25, device=None):
        self.n_components = int(n_components)
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    def prepare(self, X) -> "Gram":
        n, p = X.shape
        if self.n_components > min(n, p):
            raise ValueError(
                f"PLS with n_components={self.n_components} needs at least that many stimuli and "
                f"features; got {n} stimuli x {p} features. Lower n_components or use "
                f"regression='ridge'."
            )
        # float64 Gram of the centred features, block by block: no float64 or centred copy of X
        return Gram(gram=centred_gram(X, torch.float64, self.device), n_features=p)

    def fit_predict(self, prepared, Y, train, test, order=None):
        return self.fit_predict_splits(prepared, Y, [(train, test)], order)[0]

    def fit_predict_splits(self, prepared, Y, splits, order=None):
        G = prepared.gram
        n_train_max = min(len(tr) for tr, _ in splits)
        if self.n_components > min(n_train_max, prepared.n_features):
            raise ValueError(
                f"PLS with n_components={self.n_components} needs at least that many training stimuli; "
                f"the smallest training split holds {n_train_max}. Lower n_components or use more stimuli."
            )
        Y = to_tensor(Y, G.device, torch.float64)
        out = [None] * len(splits)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, (tr, te) in enumerate(splits):
            by_size.setdefault((len(tr), len(te)), []).append(i)
        for (n_tr, n_te), members in by_size.items():
            K = torch.empty(len(members), n_tr, n_tr, dtype=G.dtype, device=G.device)
            Kx = torch.empty(len(members), n_te, n_tr, dtype=G.dtype, device=G.device)
            for j, i in enumerate(members):  # written in place: no list of blocks beside the stack
                K[j], Kx[j] = centred_blocks(G, *splits[i])
            Ytr = torch.stack([Y[torch.as_tensor(np.asarray(splits[i][0]), device=G.device)] for i in members])
            pred, _ = kernel_pls(K, Kx, Ytr, self.n_components)
            for j, i in enumerate(members):
                out[i] = (pred[j].cpu().numpy(), {})
        return out
