"""Centred kernel alignment (CKA) between two representations of the same stimuli.

``CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with ``HSIC(K, L) =
tr(K H L H)`` (Kornblith et al. 2019, eq. 3), ``H = I − 11ᵀ/n``, linear
(``K = X Xᵀ``) or RBF kernels; ``debiased=True`` uses the unbiased HSIC estimator
of Song et al. (2012) through U-centred Gram matrices.

Range [0, 1] (the debiased estimate can be slightly negative); invariant to
orthogonal transforms and isotropic scaling of either representation (RBF: with
the median-distance bandwidth), not to arbitrary invertible linear maps.

Examples
--------
>>> import numpy as np
>>> from analysis.cka import cka
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(10, 50))
>>> round(cka(x, x @ np.linalg.qr(rng.normal(size=(50, 50)))[0]), 6)
1.0
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import xarray as xr

from analysis._gram import self_gram
from analysis._representations import as_tensor, check_finite, pairwise_sq_distances, squeeze_time
from analysis.assemblies import align, average_repetitions, validate

__all__ = ["cka", "paired_features", "cka_of_features"]

KERNELS = ("linear", "rbf")


def _features(x, name):
    if isinstance(x, xr.DataArray):
        a = squeeze_time(validate(x))
        ids = a["stimulus_id"].values
        if len(np.unique(ids)) != len(ids):
            a = average_repetitions(a)
        return a
    t = as_tensor(x)
    if t.ndim != 2:
        raise ValueError(f"{name} must be (n_stimuli, n_features); got shape {tuple(t.shape)}")
    return t


def paired_features(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    """Two (n, p) float64 tensors over the same stimuli (assemblies aligned by stimulus id)."""
    fx, fy = _features(x, "x"), _features(y, "y")
    if isinstance(fx, xr.DataArray) and isinstance(fy, xr.DataArray):
        fx, fy = align(fx, fy)
    tx = as_tensor(fx.values if isinstance(fx, xr.DataArray) else fx, dtype=torch.float64)
    ty = as_tensor(fy.values if isinstance(fy, xr.DataArray) else fy, device=tx.device, dtype=torch.float64)
    if tx.shape[0] != ty.shape[0]:
        raise ValueError(f"x and y must hold the same stimuli; got {tx.shape[0]} and {ty.shape[0]} rows")
    if tx.shape[0] < 4:
        raise ValueError(f"CKA needs at least 4 stimuli; got {tx.shape[0]}")
    check_finite(tx, "x", fn="cka")
    check_finite(ty, "y", fn="cka")
    return tx, ty


def _gram(x: torch.Tensor, kernel: str, sigma, threshold: float) -> torch.Tensor:
    if kernel == "linear":
        return self_gram(x)
    sq = torch.clamp(pairwise_sq_distances(x, x), min=0.0)
    sq = 0.5 * (sq + sq.T)
    sq.fill_diagonal_(0.0)
    if sigma is None:  # median of all squared distances (numpy's median: mean of the middle two)
        flat = torch.sort(sq.flatten()).values
        m = flat.numel()
        med = 0.5 * (flat[(m - 1) // 2] + flat[m // 2])
        s2 = threshold**2 * med
    else:
        s2 = torch.as_tensor(float(sigma) ** 2, dtype=x.dtype, device=x.device)
    return torch.exp(-sq / (2 * s2))


def _centre_gram(k: torch.Tensor, unbiased: bool) -> torch.Tensor:
    """Centred Gram (H K H), or its U-centred version for the unbiased HSIC."""
    k = k.clone()
    n = k.shape[0]
    if unbiased:
        k.fill_diagonal_(0.0)
        means = k.sum(0) / (n - 2)
        means = means - means.sum() / (2 * (n - 1))
        k = k - means[:, None] - means[None, :]
        k.fill_diagonal_(0.0)
        return k
    means = k.mean(0)
    means = means - means.mean() / 2
    return k - means[:, None] - means[None, :]


def cka_of_features(x: torch.Tensor, y: torch.Tensor, kernel: str = "linear", debiased: bool = False,
                    sigma=None, threshold: float = 1.0, nan_policy: str = "raise") -> float:
    """CKA of two (n, p) tensors already paired by row (see :func:`cka`)."""
    flat = {"x": bool((x == x[:1]).all()), "y": bool((y == y[:1]).all())}
    if not any(flat.values()):
        kx = _centre_gram(_gram(x, kernel, sigma, threshold), debiased)
        ky = _centre_gram(_gram(y, kernel, sigma, threshold), debiased)
        nx, ny = torch.linalg.norm(kx), torch.linalg.norm(ky)
        flat = {"x": bool(nx == 0), "y": bool(ny == 0)}
    if any(flat.values()):
        which = " and ".join(k for k, v in flat.items() if v)
        msg = (f"CKA is undefined: {which} is constant across stimuli (its centred "
               f"{kernel} Gram matrix is zero), so 0/0.")
        if nan_policy == "raise":
            raise ValueError(msg + " Remove the constant representation, or pass nan_policy='omit' to get NaN.")
        warnings.warn(msg + " Returning NaN (nan_policy='omit').", RuntimeWarning, stacklevel=2)
        return float("nan")
    return float((kx * ky).sum() / (nx * ny))


def cka(x, y, kernel: str = "linear", debiased: bool = False, *, sigma: float | None = None,
        threshold: float = 1.0, nan_policy: str = "raise") -> float:
    """Centred kernel alignment between two representations of the same stimuli.

    ``CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with ``HSIC(K, L) =
    tr(K H L H)`` (Kornblith et al. 2019, eq. 3) or, with ``debiased=True``, the
    unbiased HSIC estimator of Song et al. (2012) via U-centred Grams.

    Parameters
    ----------
    x, y : assemblies (aligned by stimulus id) or arrays (n_stimuli, n_features)
    kernel : {'linear', 'rbf'}
        RBF: ``k(a, b) = exp(−‖a − b‖² / (2σ²))``.
    debiased : bool
    sigma : float, optional
        RBF bandwidth; default ``threshold · sqrt(median squared distance)``
        (Kornblith et al. 2019), computed separately for x and y.
    threshold : float
    nan_policy : {'raise', 'omit'}
        A representation that is constant across stimuli makes CKA 0/0:
        ``'raise'`` (default) refuses, ``'omit'`` returns NaN with a warning.

    Returns
    -------
    float in [0, 1] (the debiased estimate can be slightly negative).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(1).normal(size=(20, 5))
    >>> round(cka(x, 3 * x), 6), round(cka(x, x, kernel="rbf"), 6)
    (1.0, 1.0)
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be 'linear' or 'rbf'; got {kernel!r}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit'; got {nan_policy!r}")
    tx, ty = paired_features(x, y)
    return cka_of_features(tx, ty, kernel, debiased, sigma, threshold, nan_policy)
