"""Ridge regression with intercept in dual (kernel) form, α chosen per target by GCV or leave-one-out.

One eigendecomposition of each split's centred training Gram serves every α and
every target (Hastie, Tibshirani & Friedman 2009 §5.8, §7.10; Golub, Heath & Wahba
1979): see :class:`RidgePath` and :func:`dual_ridge_fit`.
"""
from __future__ import annotations

import numpy as np
import torch

from analysis._gram import Gram, centred_blocks, centred_gram, compute_dtype, to_tensor

__all__ = ["RidgePath", "default_alpha_grid", "dual_ridge_fit", "dual_ridge"]


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

    def prepare(self, X) -> Gram:
        # centring is exact within any split and avoids cancellation; the n²p product runs
        # in the input's dtype, block by block (no centred copy of X); the small n×n algebra
        # after it (eigendecomposition, α selection) runs in float64 so that near-equal GCV
        # values are ranked the same way whatever the input precision
        gram = centred_gram(X, compute_dtype(X), self.device)
        return Gram(gram=gram.to(torch.float64), n_features=int(X.shape[1]))

    def fit_predict(self, prepared: Gram, Y, train, test, order=None):
        G = prepared.gram
        Y = to_tensor(Y, G.device, G.dtype)
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
