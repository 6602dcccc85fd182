"""Regressions from model features to neuroids, fitted and evaluated per split.

Paths share one interface (``prepare`` once per feature matrix, then
``fit_predict`` per train/test split, or ``fit_predict_splits`` for many at once):

- :class:`PLSPath` — Brain-Score's ``pls`` regression (scikit-learn
  ``PLSRegression(n_components=25, scale=False)``, Yamins et al. 2014) in kernel
  form (:func:`kernel_pls`): NIPALS step for step on the n × n Gram matrix, all
  splits of one feature matrix in one batch, float64.
- :class:`RidgePath` — ridge regression with intercept in closed form (torch, any
  device). All stimuli's Gram matrix ``G = X Xᵀ`` is computed once per feature
  matrix; each split's centred training Gram is read off it and diagonalised once
  (``Kc = U Λ Uᵀ``), after which every regularisation strength and every neuroid
  costs only small matrix products (dual / kernel form, Hastie, Tibshirani &
  Friedman 2009 §5.8 and §7.10):

  ``ŷ_test = ȳ + K_test,train U diag(1 / (λ + α)) Uᵀ (y − ȳ)``.

  α is chosen per neuroid on the training stimuli only, by generalised
  cross-validation (Golub, Heath & Wahba 1979)
  ``GCV(α) = n ‖(I − H_α) y‖² / (n − tr H_α)²`` or by exact leave-one-out error
  ``Σ_i ((y_i − ŷ_i) / (1 − H_ii))²`` (the efficient LOO of scikit-learn's
  ``RidgeCV``), with ``H_α = 11ᵀ/n + U diag(λ / (λ + α)) Uᵀ``.
- :class:`LinearPath` — ordinary least squares with intercept (minimum-norm
  solution through the pseudo-inverse) for small problems.
- :class:`EstimatorPath` — any scikit-learn-style regressor, cloned per split.

:class:`BatchedPLS` and :class:`BatchedRidge` expose the two Gram paths as
estimators (``fit``/``predict``, fitted attributes ending in ``_``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "BatchedPLS", "BatchedRidge", "PLSPath", "RidgePath", "LinearPath", "EstimatorPath", "kernel_pls",
    "dual_ridge", "dual_ridge_fit", "centred_blocks", "centred_gram", "fit_predict_splits", "pearson_columns", "self_gram",
    "make_path", "regression_name", "REGRESSIONS",
]

REGRESSIONS = ("pls", "ridge", "linear")


def _as_tensor(x, device, dtype=None) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, device=device)
    if dtype is not None:
        t = t.to(dtype)
    return t


def compute_dtype(x) -> torch.dtype:
    """float32 inputs stay float32; everything else is computed in float64."""
    dt = x.dtype if isinstance(x, (np.ndarray, torch.Tensor)) else np.asarray(x).dtype
    return torch.float32 if dt in (np.float32, torch.float32, np.float16, torch.float16) else torch.float64


def self_gram(x: torch.Tensor) -> torch.Tensor:
    """``x @ x.T`` for a (…, n, p) tensor.

    On the CPU a contiguous 2-D product goes through numpy, whose BLAS call
    recognises ``A Aᵀ`` and runs the symmetric rank-k update (syrk, half the
    flops of a general product); elsewhere it is a torch matmul.
    """
    if x.device.type == "cpu" and x.ndim == 2 and x.dtype in (torch.float32, torch.float64):
        a = x.contiguous().numpy()
        return torch.from_numpy(a @ a.T)
    return x @ x.transpose(-1, -2)


def centred_gram(X, dtype: torch.dtype, device=None, block: int = 2048) -> torch.Tensor:
    """Gram matrix of the column-centred features, ``(X − 1μᵀ)(X − 1μᵀ)ᵀ``, by column blocks.

    ``X`` (n × p array or tensor) is read ``block`` columns at a time: each block
    is converted to ``dtype`` on ``device``, centred on its column means and its
    Gram (``syrk``) added to the n × n result. So a float32 feature matrix never
    gets a float64 or a centred copy: the extra memory is one n × block block
    and the n × n result, whatever p is.
    """
    Xt = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    n, p = Xt.shape
    dev = torch.device(device) if device is not None else Xt.device
    G = torch.zeros(n, n, dtype=dtype, device=dev)
    for s in range(0, p, block):
        xb = Xt[:, s:s + block].to(device=dev, dtype=dtype, copy=True)
        xb -= xb.mean(0, keepdim=True)
        G += self_gram(xb)
    return G


def pearson_columns(pred, target) -> np.ndarray:
    """Pearson r between matching columns of two (n, m) arrays (NaN where constant).

    r_j = Σ_i (p_ij − p̄_j)(t_ij − t̄_j) / (‖p_j − p̄_j‖ ‖t_j − t̄_j‖), computed in
    float64; a column with zero variance gives NaN, as ``scipy.stats.pearsonr`` does.
    """
    p0 = torch.as_tensor(pred)
    t0 = torch.as_tensor(target).to(p0.device)
    # exactly constant columns give NaN, as scipy.stats.pearsonr does
    const = (p0 == p0[:1]).all(0) | (t0 == t0[:1]).all(0)
    p = p0.to(torch.float64)
    t = t0.to(torch.float64)
    p = p - p.mean(0, keepdim=True)
    t = t - t.mean(0, keepdim=True)
    r = (p * t).sum(0) / (torch.linalg.vector_norm(p, dim=0) * torch.linalg.vector_norm(t, dim=0))
    r = torch.where(const, torch.full_like(r, float("nan")), r.clamp(-1.0, 1.0))
    return r.cpu().numpy()


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

    def prepare(self, X) -> "_Gram":
        n, p = X.shape
        if self.n_components > min(n, p):
            raise ValueError(
                f"PLS with n_components={self.n_components} needs at least that many stimuli and "
                f"features; got {n} stimuli x {p} features. Lower n_components or use "
                f"regression='ridge'."
            )
        # float64 Gram of the centred features, block by block: no float64 or centred copy of X
        return _Gram(gram=centred_gram(X, torch.float64, self.device), n_features=p)

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
        Y = _as_tensor(Y, G.device, torch.float64)
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


@dataclass
class _Gram:
    gram: torch.Tensor  # (n, n) Gram of globally centred features
    n_features: int


def centred_blocks(G: torch.Tensor, train, test):
    """Training Gram and test-by-training Gram, both centred with the training mean.

    From the Gram ``G`` of all stimuli (any common centring):
    ``K = G_tt − r 1ᵀ − 1 rᵀ + c`` and ``K_x = G_st − r_s 1ᵀ − 1 rᵀ + c``, with r the
    row means of ``G_tt``, r_s those of ``G_st`` and c the mean of r.
    """
    tr = torch.as_tensor(np.asarray(train), device=G.device)
    te = torch.as_tensor(np.asarray(test), device=G.device)
    G_tt = G[tr][:, tr]
    G_st = G[te][:, tr]
    r_t = G_tt.mean(1)          # mean over training columns, per training row
    r_s = G_st.mean(1)          # same, per test row
    c = r_t.mean()
    K = G_tt - r_t[:, None] - r_t[None, :] + c
    K = 0.5 * (K + K.T)
    Kx = G_st - r_s[:, None] - r_t[None, :] + c
    return K, Kx


class RidgePath:
    """Closed-form ridge with intercept, α per neuroid by GCV or LOO (torch).

    Parameters
    ----------
    alphas : sequence of float, optional
        Absolute regularisation strengths. Default: a scale-free grid
        ``mean(λ) · 10^k``, k = −4 … 4 in steps of 0.5, where mean(λ) is the mean
        eigenvalue of the split's centred training Gram (the mean squared norm of a
        centred training stimulus).
    selection : {'gcv', 'loo'}
        Generalised cross-validation (cheapest: all α and neuroids from the
        eigenvalues) or exact leave-one-out error.
    device : torch device, optional
        Where to compute (default CPU). The Gram matrix is computed in the
        features' dtype (float32 stays float32), the n × n algebra in float64.
    """

    name = "ridge"

    def __init__(self, alphas=None, selection: str = "gcv", device=None):
        if selection not in ("gcv", "loo"):
            raise ValueError(f"alpha selection must be 'gcv' or 'loo'; got {selection!r}")
        self.alphas = None if alphas is None else np.asarray(alphas, dtype=float)
        if self.alphas is not None and (self.alphas.ndim != 1 or (self.alphas <= 0).any()):
            raise ValueError(f"alphas must be a 1-D sequence of positive numbers; got {alphas!r}")
        self.selection = selection
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    def prepare(self, X) -> _Gram:
        # centring is exact within any split and avoids cancellation; the n²p product runs
        # in the input's dtype, block by block (no centred copy of X); the small n×n algebra
        # after it (eigendecomposition, α selection) runs in float64 so that near-equal GCV
        # values are ranked the same way whatever the input precision
        gram = centred_gram(X, compute_dtype(X), self.device)
        return _Gram(gram=gram.to(torch.float64), n_features=int(X.shape[1]))

    def fit_predict(self, prepared: _Gram, Y, train, test, order=None):
        G = prepared.gram
        Y = _as_tensor(Y, G.device, G.dtype)
        K, Kx = centred_blocks(G, train, test)
        Ytr = Y[torch.as_tensor(np.asarray(train), device=G.device)]
        pred, alpha = dual_ridge(K, Kx, Ytr, self.alphas, self.selection)
        return pred.cpu().numpy(), {"alpha": alpha.cpu().numpy()}


def default_alpha_grid(eigenvalues: torch.Tensor) -> torch.Tensor:
    """Scale-free α grid: mean eigenvalue of the centred training Gram × 10^[-4..4]."""
    scale = torch.clamp(eigenvalues, min=0).mean()
    if not torch.isfinite(scale) or scale <= 0:
        scale = torch.ones((), dtype=eigenvalues.dtype, device=eigenvalues.device)
    return scale * torch.logspace(-4, 4, 17, dtype=eigenvalues.dtype, device=eigenvalues.device)


def dual_ridge_fit(K: torch.Tensor, Y: torch.Tensor, alphas=None, selection="gcv"):
    """Dual ridge coefficients from a centred training Gram, α chosen per target column.

    Parameters
    ----------
    K : (n, n) tensor
        Centred training Gram ``(X − μ)(X − μ)ᵀ``, μ the training mean.
    Y : (n, m) tensor
        Training targets.
    alphas : array, optional
        Absolute α values; default :func:`default_alpha_grid`.
    selection : {'gcv', 'loo'}

    Returns
    -------
    dual : (n, m) tensor
        Predictions are ``ȳ + K_x · dual`` with ``K_x = (X_test − μ)(X − μ)ᵀ``;
        the primal weights are ``(X − μ)ᵀ · dual``.
    alpha : (m,) tensor of the chosen α per target
    y_mean : (1, m) tensor
    """
    n = K.shape[0]
    lam, U = torch.linalg.eigh(K)
    lam = torch.clamp(lam, min=0)
    if alphas is None:
        a = default_alpha_grid(lam)
    else:
        a = torch.as_tensor(alphas, dtype=K.dtype, device=K.device)
    y_mean = Y.mean(0, keepdim=True)
    UtY = U.T @ (Y - y_mean)                                  # (n, m)
    shrink = a[:, None] / (lam[None, :] + a[:, None])         # (A, n): α/(λ+α) = 1 − h
    if selection == "gcv":
        rss = torch.einsum("ak,km->am", shrink**2, UtY**2)    # ‖(I − H) y‖²
        dof = 1.0 + (1.0 - shrink).sum(1)                     # tr H, intercept included
        crit = n * rss / torch.clamp(n - dof, min=1e-12)[:, None] ** 2
    else:
        resid = torch.einsum("ik,ak,km->aim", U, shrink, UtY)  # (A, n, m)
        lev = 1.0 / n + torch.einsum("ik,ak->ai", U**2, 1.0 - shrink)
        crit = ((resid / torch.clamp(1.0 - lev, min=1e-12)[:, :, None]) ** 2).sum(1)
    best = torch.argmin(crit, dim=0)                          # (m,)
    alpha = a[best]
    dual = U @ (UtY / (lam[:, None] + alpha[None, :]))        # (n, m)
    return dual, alpha, y_mean


def dual_ridge(K: torch.Tensor, Kx: torch.Tensor, Y: torch.Tensor, alphas=None, selection="gcv"):
    """Ridge predictions ``ȳ + K_x · dual`` (see :func:`dual_ridge_fit`); returns (predictions, alpha)."""
    dual, alpha, y_mean = dual_ridge_fit(K, Y, alphas, selection)
    return y_mean + Kx @ dual, alpha


class LinearPath:
    """Ordinary least squares with intercept (minimum-norm when underdetermined)."""

    name = "linear"

    def __init__(self, device=None):
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    def prepare(self, X) -> torch.Tensor:
        return _as_tensor(X, self.device, compute_dtype(X))

    def fit_predict(self, prepared: torch.Tensor, Y, train, test, order=None):
        X = prepared
        Y = _as_tensor(Y, X.device, X.dtype)
        tr = torch.as_tensor(np.asarray(train), device=X.device)
        te = torch.as_tensor(np.asarray(test), device=X.device)
        mx, my = X[tr].mean(0, keepdim=True), Y[tr].mean(0, keepdim=True)
        W = torch.linalg.pinv(X[tr] - mx) @ (Y[tr] - my)
        return ((X[te] - mx) @ W + my).cpu().numpy(), {}


class EstimatorPath:
    """Any scikit-learn-style regressor (``fit(X, Y)`` / ``predict(X)``), cloned for every split.

    Training rows are sorted by stimulus id (as Brain-Score's ``XarrayRegression``
    sorts them) before fitting.
    """

    def __init__(self, estimator):
        if not (callable(getattr(estimator, "fit", None)) and callable(getattr(estimator, "predict", None))):
            raise TypeError(
                f"regression must be 'pls', 'ridge', 'linear' or an estimator with fit(X, Y) and "
                f"predict(X) methods (scikit-learn style); got {type(estimator).__name__}"
            )
        self.estimator = estimator
        self.name = type(estimator).__name__

    def prepare(self, X) -> np.ndarray:
        return X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)

    def fit_predict(self, prepared, Y, train, test, order=None):
        from sklearn.base import clone

        train = np.asarray(train)
        if order is not None:
            train = train[np.argsort(order[train], kind="stable")]
        Y = Y.detach().cpu().numpy() if isinstance(Y, torch.Tensor) else np.asarray(Y)
        try:
            est = clone(self.estimator)
        except TypeError:  # not a scikit-learn estimator: an independent copy
            import copy

            est = copy.deepcopy(self.estimator)
        est.fit(prepared[train], Y[train])
        pred = np.asarray(est.predict(prepared[np.asarray(test)]))
        return pred.reshape(len(test), -1), {}


def fit_predict_splits(path, prepared, Y, splits, order=None):
    """(predictions, info) for every (train, test) split, batched where the path can."""
    if hasattr(path, "fit_predict_splits"):
        return path.fit_predict_splits(prepared, Y, splits, order)
    return [path.fit_predict(prepared, Y, tr, te, order) for tr, te in splits]


# ----------------------------------------------------------------------------- estimators


class _GramEstimator:
    """fit/predict in the dual: predictions ``ȳ + (X − μ) coef_ᵀ``; parameters as scikit-learn's."""

    def get_params(self, deep=True):
        return {k: getattr(self, k) for k in self._param_names}

    def set_params(self, **params):
        for k, v in params.items():
            if k not in self._param_names:
                raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}; valid: {self._param_names}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._param_names)
        return f"{type(self).__name__}({args})"

    def _inputs(self, X, Y):
        X = _as_tensor(X, self.device, torch.float64)
        Y = _as_tensor(Y, X.device, torch.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be (n_samples, n_features); got shape {tuple(X.shape)}")
        self._1d = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X and Y must have the same number of rows; got {X.shape[0]} and {Y.shape[0]}")
        self.x_mean_ = X.mean(0)
        Xc = X - self.x_mean_
        return Xc, Y, self_gram(Xc)

    def _finish(self, Xc, dual, y_mean):
        self.coef_ = (Xc.T @ dual).T.cpu().numpy()        # (n_targets, n_features), as scikit-learn
        self.intercept_ = y_mean.reshape(-1).cpu().numpy()
        self.x_mean_ = self.x_mean_.cpu().numpy()
        self.n_features_in_ = Xc.shape[1]
        return self

    def predict(self, X):
        """Predictions ``(X − x_mean_) coef_ᵀ + intercept_``, shape (n_samples, n_targets)."""
        if not hasattr(self, "coef_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit(X, Y) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must be (n_samples, {self.n_features_in_}); got shape {X.shape}")
        out = (X - self.x_mean_) @ self.coef_.T + self.intercept_
        return out[:, 0] if self._1d else out


class BatchedPLS(_GramEstimator):
    """PLS regression as Brain-Score's ``pls`` metric, in kernel form (float64, torch).

    Same numbers as ``sklearn.cross_decomposition.PLSRegression(n_components,
    scale=False)`` (see :func:`kernel_pls`), computed from the n × n Gram matrix:
    fast when features outnumber stimuli. Inside :func:`analysis.predictivity.neural_predictivity`
    and ``score_layers`` the Gram is computed once per feature matrix and all
    splits are fitted in one batch.

    Parameters
    ----------
    n_components : int
        Brain-Score: 25.
    device : torch device, optional

    Attributes
    ----------
    coef_ : ndarray (n_targets, n_features)
    intercept_ : ndarray (n_targets,)
    x_mean_ : ndarray (n_features,)
    n_iter_ : ndarray (n_components,)
        Power iterations per component.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cross_decomposition import PLSRegression
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(30, 200)), rng.normal(size=(30, 3))
    >>> ours = BatchedPLS(n_components=5).fit(X, Y).predict(X)
    >>> ref = PLSRegression(n_components=5, scale=False).fit(X, Y).predict(X)
    >>> bool(np.abs(ours - ref).max() < 1e-8)
    True
    """

    _param_names = ("n_components", "device")

    def __init__(self, n_components: int = 25, device=None):
        self.n_components = n_components
        self.device = device

    def path(self):
        return PLSPath(self.n_components, self.device)

    def fit(self, X, Y):
        Xc, Yt, K = self._inputs(X, Y)
        if self.n_components > min(Xc.shape):
            raise ValueError(f"n_components={self.n_components} exceeds min(n_samples, n_features) = {min(Xc.shape)}")
        y_mean = Yt.mean(0, keepdim=True)
        # dual coefficients: predictions ȳ + Kx·dual; obtained with Kx = K's rows of the identity map
        eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
        dual_pred, n_iter = kernel_pls(K[None], eye[None], Yt[None], int(self.n_components))
        self.n_iter_ = n_iter[0].cpu().numpy()
        return self._finish(Xc, dual_pred[0] - y_mean, y_mean)


class BatchedRidge(_GramEstimator):
    """Ridge regression with intercept, α chosen per target by GCV or leave-one-out (torch).

    The dual (kernel) form of :class:`RidgePath`: one eigendecomposition of the
    centred n × n Gram serves every α and every target. Inside
    :func:`analysis.predictivity.neural_predictivity` and ``score_layers`` the Gram
    is computed once per feature matrix for all splits.

    Parameters
    ----------
    alphas : sequence of float, optional
        Absolute α grid; default scale-free (mean Gram eigenvalue × 10^(−4…4)).
    alpha_selection : {'gcv', 'loo'}
    device : torch device, optional

    Attributes
    ----------
    coef_ : ndarray (n_targets, n_features)
    intercept_ : ndarray (n_targets,)
    alpha_ : ndarray (n_targets,)
        Chosen α per target.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import RidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 100)), rng.normal(size=40)
    >>> ours = BatchedRidge(alphas=[0.1, 1.0, 10.0], alpha_selection="loo").fit(X, y)
    >>> ref = RidgeCV(alphas=[0.1, 1.0, 10.0]).fit(X, y)
    >>> float(ours.alpha_[0]) == ref.alpha_, bool(np.allclose(ours.predict(X), ref.predict(X)))
    (True, True)
    """

    _param_names = ("alphas", "alpha_selection", "device")

    def __init__(self, alphas=None, alpha_selection: str = "gcv", device=None):
        self.alphas = alphas
        self.alpha_selection = alpha_selection
        self.device = device

    def path(self):
        return RidgePath(self.alphas, self.alpha_selection, self.device)

    def fit(self, X, Y):
        path = self.path()  # validates the parameters
        Xc, Yt, K = self._inputs(X, Y)
        dual, alpha, y_mean = dual_ridge_fit(K, Yt, path.alphas, path.selection)
        self.alpha_ = alpha.cpu().numpy()
        return self._finish(Xc, dual, y_mean)


def make_path(regression, device=None, n_components: int = 25, alphas=None, alpha_selection="gcv"):
    """The regression path for ``regression``: a name ('pls', 'ridge', 'linear') or an estimator.

    :class:`BatchedPLS` and :class:`BatchedRidge` instances get their batched Gram
    paths; any other object with ``fit``/``predict`` is cloned and fitted per split.
    """
    if isinstance(regression, (BatchedPLS, BatchedRidge)):
        return regression.path()
    if not isinstance(regression, str):
        return EstimatorPath(regression)
    if regression == "pls":
        return PLSPath(n_components=n_components, device=device)
    if regression == "ridge":
        return RidgePath(alphas=alphas, selection=alpha_selection, device=device)
    if regression == "linear":
        return LinearPath(device=device)
    raise ValueError(
        f"unknown regression {regression!r}; choose one of {list(REGRESSIONS)} or pass an estimator "
        f"with fit/predict (e.g. sklearn.linear_model.RidgeCV(alpha_per_target=True))"
    )


def regression_name(regression) -> str:
    """The name a result reports for ``regression``: the string, or the estimator's repr."""
    return regression if isinstance(regression, str) else repr(regression)
