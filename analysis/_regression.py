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

The Gram machinery lives in :mod:`analysis._gram`, kernel PLS (:class:`PLSPath`)
in :mod:`analysis._pls`, dual ridge (:class:`RidgePath`) in :mod:`analysis._ridge`;
this module holds the other paths, the estimators and :func:`make_path`. The
estimators are public as ``analysis.BatchedPLS`` and ``analysis.BatchedRidge``.
"""
from __future__ import annotations

import numpy as np
import torch

from analysis._gram import compute_dtype, self_gram, to_tensor
from analysis._pls import PLSPath, kernel_pls
from analysis._ridge import RidgePath, dual_ridge_fit

__all__ = [
    "BatchedPLS", "BatchedRidge", "LinearPath", "EstimatorPath", "fit_predict_splits",
    "pearson_columns", "make_path", "regression_name", "REGRESSIONS",
]

REGRESSIONS = ("pls", "ridge", "linear")


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

class LinearPath:
    """Ordinary least squares with intercept (minimum-norm when underdetermined)."""

    name = "linear"

    def __init__(self, device=None):
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    def prepare(self, X) -> torch.Tensor:
        return to_tensor(X, self.device, compute_dtype(X))

    def fit_predict(self, prepared: torch.Tensor, Y, train, test, order=None):
        X = prepared
        Y = to_tensor(Y, X.device, X.dtype)
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
        X = to_tensor(X, self.device, torch.float64)
        Y = to_tensor(Y, X.device, torch.float64)
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
