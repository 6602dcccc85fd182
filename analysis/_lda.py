"""Shrinkage linear discriminant analysis: a scikit-learn-style estimator and its batched core.

The decoder of the texture analyses (:mod:`analysis.texture`). Gaussian classes with
one shared covariance, estimated as the pooled within-class covariance
``C = ZᵀZ / n`` (``Z``: training points minus their class mean, ``n`` training
points) shrunk towards a scaled identity,

    ``Σ = (1 − λ) C + (λ tr(C)/d + ρ tr(T)/d) I``,

with ``T`` the total covariance of the training points (the ``ρ`` term keeps Σ
invertible when every class has one training point: the decoder then becomes the
nearest-class-mean rule). Scores ``s_k(x) = xᵀΣ⁻¹m_k − ½ m_kᵀΣ⁻¹m_k + log π_k`` with
class means ``m_k`` and empirical priors ``π_k``. With ``ρ = 0`` this is
scikit-learn's ``LinearDiscriminantAnalysis(solver='lsqr',
covariance_estimator=ShrunkCovariance(shrinkage=λ))``. When ``d > n`` the solve runs
in the n-dimensional span of the data (Woodbury identity), so wide model layers need
no d × d matrix.

:func:`lda_weights` / :func:`lda_scores` solve a leading batch of independent
problems at once in torch (random subpopulations, random training draws), on the
device of their inputs; :class:`ShrinkageLDA` wraps one problem as an estimator.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["ShrinkageLDA", "lda_weights", "lda_scores", "standardize", "decode", "check_shrinkage"]


def check_shrinkage(shrinkage) -> float:
    """``shrinkage`` as a float in [0, 1], or a ValueError saying what came."""
    s = float(shrinkage)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"shrinkage must lie in [0, 1]; got {shrinkage}")
    return s


def lda_weights(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    n_classes: int,
    shrinkage: float = 0.1,
    ridge: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminant weights ``W = Σ⁻¹M`` (B, d, K) and biases (B, K), batched over B problems.

    Parameters
    ----------
    x_train : (B, n, d) tensor
    y_train : (n,) long tensor, labels in [0, n_classes), shared by the B problems
    n_classes : int
    shrinkage : float in [0, 1]
        λ of the covariance estimate (module docstring).
    ridge : float ≥ 0
        ρ, a multiple of the total variance added to the diagonal.
    """
    b, n, d = x_train.shape
    onehot = torch.nn.functional.one_hot(y_train, n_classes).to(x_train.dtype)  # (n, K)
    counts = onehot.sum(0)
    if (counts == 0).any():
        raise ValueError("every class needs at least one training example")
    means = torch.einsum("nk,bnd->bkd", onehot, x_train) / counts[:, None]  # (B, K, d)
    z = x_train - means[:, y_train]
    tr_c = (z * z).sum((1, 2)) / n  # (B,)
    xc = x_train - x_train.mean(1, keepdim=True)
    tr_t = (xc * xc).sum((1, 2)) / n
    a = 1.0 - shrinkage
    diag = (shrinkage * tr_c + ridge * tr_t) / d  # (B,)
    if not bool((diag > 0).all()):
        raise ValueError(
            "the decoder's covariance is singular: the training features are constant "
            "(every unit responds identically to every training stimulus)"
        )
    mt = means.transpose(1, 2)  # (B, d, K)
    if d <= n or a == 0:
        eye = torch.eye(d, dtype=x_train.dtype, device=x_train.device)
        sigma = a * (z.transpose(1, 2) @ z) / n + diag[:, None, None] * eye
        w = torch.linalg.solve(sigma, mt)
    else:
        gram = z @ z.transpose(1, 2)  # (B, n, n)
        eye = torch.eye(n, dtype=x_train.dtype, device=x_train.device)
        inner = torch.linalg.solve(gram + (n * diag / a)[:, None, None] * eye, z @ mt)
        w = (mt - z.transpose(1, 2) @ inner) / diag[:, None, None]
    bias = -0.5 * (means * w.transpose(1, 2)).sum(-1) + torch.log(counts / n)  # (B, K)
    return w, bias


def lda_scores(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    n_classes: int,
    shrinkage: float = 0.1,
    ridge: float = 1e-6,
) -> torch.Tensor:
    """Discriminant scores (B, t, K) of test points ``x_test`` (B, t, d); argmax = predicted class.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[[0.0], [0.2], [2.0], [2.2]]], dtype=torch.float64)
    >>> y = torch.tensor([0, 0, 1, 1])
    >>> lda_scores(x, y, torch.tensor([[[0.1], [2.1]]], dtype=torch.float64), 2).argmax(-1).tolist()
    [[0, 1]]
    """
    w, bias = lda_weights(x_train, y_train, n_classes, shrinkage, ridge)
    return x_test @ w + bias[:, None, :]


def standardize(x_train: torch.Tensor, x_test: torch.Tensor):
    """z-score features with training statistics (per problem); constant features → 0."""
    mu = x_train.mean(1, keepdim=True)
    sd = x_train.std(1, keepdim=True, unbiased=False)
    sd = torch.where(sd > 0, sd, torch.ones_like(sd))
    return (x_train - mu) / sd, (x_test - mu) / sd


def decode(x_train, y_train, x_test, n_classes: int, shrinkage: float, standardize_features: bool = True):
    """Predicted class (B, t) of each test point; features z-scored first when asked."""
    if standardize_features:
        x_train, x_test = standardize(x_train, x_test)
    return lda_scores(x_train, y_train, x_test, n_classes, shrinkage).argmax(-1)


class ShrinkageLDA:
    """Shrinkage linear discriminant classifier (scikit-learn conventions).

    Parameters
    ----------
    shrinkage : float in [0, 1]
        λ: weight of the scaled identity in the covariance estimate.
    ridge : float ≥ 0
        ρ: multiple of the mean total variance added to the diagonal (keeps one
        training example per class solvable: nearest class mean).
    standardize : bool
        z-score every feature with the training mean and standard deviation first.
    device : torch device, optional
        Where the solve runs (default CPU).

    Attributes
    ----------
    classes_ : ndarray (K,)
    coef_ : ndarray (K, d)
        Discriminant weights on the (standardized) features.
    intercept_ : ndarray (K,)
    mean_, scale_ : ndarray (d,)
        Standardization of the features (0 and 1 when ``standardize=False``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0], [0.1, 1.2], [2.0, 0.0], [2.2, 0.1]])
    >>> clf = ShrinkageLDA(shrinkage=0.5).fit(x, ["a", "a", "b", "b"])
    >>> clf.predict([[0.05, 1.1], [2.1, 0.0]]).tolist()
    ['a', 'b']
    """

    def __init__(self, shrinkage: float = 0.1, ridge: float = 1e-6, standardize: bool = True, device=None):
        self.shrinkage = shrinkage
        self.ridge = ridge
        self.standardize = standardize
        self.device = device

    def get_params(self, deep: bool = True) -> dict:
        return {"shrinkage": self.shrinkage, "ridge": self.ridge, "standardize": self.standardize,
                "device": self.device}

    def set_params(self, **params) -> "ShrinkageLDA":
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"ShrinkageLDA has no parameter {k!r}; valid: {sorted(self.get_params())}")
            setattr(self, k, v)
        return self

    def _tensor(self, x) -> torch.Tensor:
        dev = torch.device("cpu") if self.device is None else torch.device(self.device)
        return torch.as_tensor(np.asarray(x, dtype=np.float64), device=dev)

    def fit(self, X, y) -> "ShrinkageLDA":
        """Fit class means and the shrunk shared covariance on ``X`` (n, d), labels ``y`` (n,)."""
        shrinkage = check_shrinkage(self.shrinkage)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (n_samples, n_features) with one label per row; got X "
                             f"{X.shape} and {len(y)} labels")
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes; got {self.classes_.tolist()}")
        self.mean_ = X.mean(0) if self.standardize else np.zeros(X.shape[1])
        sd = X.std(0) if self.standardize else np.ones(X.shape[1])
        self.scale_ = np.where(sd > 0, sd, 1.0)
        x = self._tensor((X - self.mean_) / self.scale_)[None]
        w, b = lda_weights(x, torch.as_tensor(codes, device=x.device), len(self.classes_), shrinkage,
                           float(self.ridge))
        self.coef_ = w[0].T.cpu().numpy()
        self.intercept_ = b[0].cpu().numpy()
        return self

    def decision_function(self, X) -> np.ndarray:
        """Scores (n, K): ``s_k(x)`` of the module docstring."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("this ShrinkageLDA is not fitted yet; call fit(X, y) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[1]:
            raise ValueError(f"X must be (n_samples, {self.coef_.shape[1]}); got {X.shape}")
        return ((X - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        return self.classes_[scores.argmax(1)]

    def score(self, X, y) -> float:
        """Fraction of ``X`` classified as ``y``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
