"""Regressions from model features to neuroids, fitted and evaluated per split.

Three paths share one interface (``prepare`` once per feature matrix, then
``fit_predict`` per train/test split):

- :class:`PLSPath` — scikit-learn ``PLSRegression(n_components=25, scale=False)``,
  exactly the regression of Brain-Score's ``pls`` metric (Yamins et al. 2014).
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
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PLSPath", "RidgePath", "LinearPath", "pearson_columns", "self_gram", "make_path", "REGRESSIONS"]

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


class PLSPath:
    """Partial least squares, as Brain-Score's ``pls_regression()``.

    One ``sklearn.cross_decomposition.PLSRegression(n_components, scale=False)`` is
    fitted jointly on all neuroids of the target (PLS2), on training rows sorted by
    ``stimulus_id`` as Brain-Score's ``XarrayRegression`` sorts them.
    """

    name = "pls"

    def __init__(self, n_components: int = 25):
        self.n_components = int(n_components)

    def prepare(self, X) -> np.ndarray:
        X = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
        n, p = X.shape
        if self.n_components > min(n, p):
            raise ValueError(
                f"PLS with n_components={self.n_components} needs at least that many stimuli and "
                f"features; got {n} stimuli x {p} features. Lower n_components or use "
                f"regression='ridge'."
            )
        return X

    def fit_predict(self, prepared, Y, train, test, order=None):
        from sklearn.cross_decomposition import PLSRegression

        train = np.asarray(train)
        if order is not None:  # Brain-Score sorts training rows by stimulus_id
            train = train[np.argsort(order[train], kind="stable")]
        Y = Y.detach().cpu().numpy() if isinstance(Y, torch.Tensor) else np.asarray(Y)
        pls = PLSRegression(n_components=self.n_components, scale=False)
        pls.fit(prepared[train], Y[train])
        return pls.predict(prepared[np.asarray(test)]), {}


@dataclass
class _Gram:
    gram: torch.Tensor  # (n, n) Gram of globally centred features
    n_features: int


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
        dtype = compute_dtype(X)
        X = _as_tensor(X, self.device, dtype)
        X = X - X.mean(0, keepdim=True)  # exact within any split; avoids cancellation
        # the n²p product runs in the input's dtype; the small n×n algebra after it
        # (eigendecomposition, α selection) runs in float64 so that near-equal GCV
        # values are ranked the same way whatever the input precision
        return _Gram(gram=self_gram(X).to(torch.float64), n_features=X.shape[1])

    def _centred_blocks(self, G: torch.Tensor, train, test):
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

    def fit_predict(self, prepared: _Gram, Y, train, test, order=None):
        G = prepared.gram
        Y = _as_tensor(Y, G.device, G.dtype)
        K, Kx = self._centred_blocks(G, train, test)
        Ytr = Y[torch.as_tensor(np.asarray(train), device=G.device)]
        pred, alpha = dual_ridge(K, Kx, Ytr, self.alphas, self.selection)
        return pred.cpu().numpy(), {"alpha": alpha.cpu().numpy()}


def default_alpha_grid(eigenvalues: torch.Tensor) -> torch.Tensor:
    """Scale-free α grid: mean eigenvalue of the centred training Gram × 10^[-4..4]."""
    scale = torch.clamp(eigenvalues, min=0).mean()
    if not torch.isfinite(scale) or scale <= 0:
        scale = torch.ones((), dtype=eigenvalues.dtype, device=eigenvalues.device)
    return scale * torch.logspace(-4, 4, 17, dtype=eigenvalues.dtype, device=eigenvalues.device)


def dual_ridge(K: torch.Tensor, Kx: torch.Tensor, Y: torch.Tensor, alphas=None, selection="gcv"):
    """Ridge predictions from centred Gram blocks, α chosen per target column.

    Parameters
    ----------
    K : (n, n) tensor
        Centred training Gram ``(X − μ)(X − μ)ᵀ``, μ the training mean.
    Kx : (t, n) tensor
        ``(X_test − μ)(X − μ)ᵀ``.
    Y : (n, m) tensor
        Training targets.
    alphas : array, optional
        Absolute α values; default :func:`default_alpha_grid`.
    selection : {'gcv', 'loo'}

    Returns
    -------
    predictions : (t, m) tensor
    alpha : (m,) tensor of the chosen α per target
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
    coef = UtY / (lam[:, None] + alpha[None, :])              # (n, m) dual coefficients in U basis
    pred = y_mean + (Kx @ U) @ coef
    return pred, alpha


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


def make_path(regression: str, device=None, n_components: int = 25, alphas=None, alpha_selection="gcv"):
    """Build the regression path named ``regression`` ('pls', 'ridge' or 'linear')."""
    if regression == "pls":
        return PLSPath(n_components=n_components)
    if regression == "ridge":
        return RidgePath(alphas=alphas, selection=alpha_selection, device=device)
    if regression == "linear":
        return LinearPath(device=device)
    raise ValueError(f"unknown regression {regression!r}; choose one of {list(REGRESSIONS)}")
