"""The flows themselves: a dense linear flow, zuko's flows, and the fitted map ``x -> z``.

A flow ``f`` maps data ``x`` in R^d to latents ``z = f(x)`` with density
``log p(x) = log N(f(x); 0, I) + log|det J(x)|``, ``J = dz/dx`` (Feinman &
Parthasarathy 2019). :class:`FittedFlow` is what :func:`analysis.flows.fit_flow`
returns: an input standardization followed by a trained core (:class:`LinearFlow`
or :class:`ZukoFlow`), every quantity in data units.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["FLOW_KINDS", "FlowDivergenceWarning", "FlowDivergenceError", "LinearFlow",
           "ZukoFlow", "FittedFlow", "build_core", "check_points"]

#: The kinds of flow :func:`analysis.flows.fit_flow` can build.
FLOW_KINDS = ("realnvp", "maf", "nsf", "linear")
LOG_2PI = math.log(2 * math.pi)


class FlowDivergenceWarning(RuntimeWarning):
    """The likelihood has no optimum: the flow collapses a direction of the data."""


class FlowDivergenceError(RuntimeError):
    """Raised instead of :class:`FlowDivergenceWarning` with ``on_divergence='raise'``."""


class LinearFlow(nn.Module):
    """Dense affine map followed by an optional elementwise nonlinearity.

    ``z = g(W u + b)`` with ``g`` the identity or ``g(a) = a + beta * tanh(a)``,
    ``beta = softplus(rho) >= 0`` per feature (strictly increasing, ``g' >= 1``).
    ``J = diag(g'(W u + b)) W``, so ``log|det J|`` and ``||J||_F^2`` are exact and
    cheap. With the identity the maximum-likelihood optimum whitens the data,
    ``W^T W = Sigma^{-1}`` (the linear theory of Feinman & Parthasarathy 2019).
    """

    def __init__(self, features: int, nonlinearity: str | None = None) -> None:
        super().__init__()
        if nonlinearity not in (None, "identity", "tanh"):
            raise ValueError(f"nonlinearity must be None, 'identity' or 'tanh', got "
                             f"{nonlinearity!r}.")
        self.nonlinearity = None if nonlinearity == "identity" else nonlinearity
        self.weight = nn.Parameter(torch.eye(features))
        self.bias = nn.Parameter(torch.zeros(features))
        if self.nonlinearity == "tanh":
            self.rho = nn.Parameter(torch.full((features,), -2.0))

    def slopes(self, a: Tensor) -> Tensor:
        """Elementwise derivative of the nonlinearity, 1 + β (1 − tanh² a) (β = softplus ρ)."""
        beta = nn.functional.softplus(self.rho)
        return 1 + beta * (1 - torch.tanh(a) ** 2)

    def forward(self, u: Tensor) -> Tensor:
        a = u @ self.weight.T + self.bias
        if self.nonlinearity == "tanh":
            return a + nn.functional.softplus(self.rho) * torch.tanh(a)
        return a

    def call_and_ladj(self, u: Tensor) -> tuple[Tensor, Tensor]:
        z = self.forward(u)
        ladj = torch.linalg.slogdet(self.weight)[1].expand(u.shape[:-1])
        if self.nonlinearity == "tanh":
            a = u @ self.weight.T + self.bias
            ladj = ladj + torch.log(self.slopes(a)).sum(-1)
        return z, ladj

    def frobenius_sq(self, u: Tensor) -> Tensor:
        """Exact ``||J(u)||_F^2`` per point, shape ``(n,)``."""
        row_sq = (self.weight ** 2).sum(1)
        if self.nonlinearity == "tanh":
            a = u @ self.weight.T + self.bias
            return (self.slopes(a) ** 2 * row_sq).sum(-1)
        return row_sq.sum().expand(u.shape[:-1])


class ZukoFlow(nn.Module):
    """Adapter giving a zuko ``Flow`` the ``forward`` / ``call_and_ladj`` interface."""

    def __init__(self, kind: str, features: int, transforms: int,
                 hidden_features: Sequence[int], **kwargs) -> None:
        super().__init__()
        import zuko

        cls = {"realnvp": zuko.flows.RealNVP, "maf": zuko.flows.MAF,
               "nsf": zuko.flows.NSF}[kind]
        if kind == "realnvp" and features < 2:
            raise ValueError("a RealNVP coupling flow needs at least 2 features; use "
                             "flow='maf', 'nsf' or 'linear' for 1-D data.")
        self.flow = cls(features, transforms=transforms,
                        hidden_features=tuple(hidden_features), **kwargs)

    def forward(self, u: Tensor) -> Tensor:
        return self.flow().transform(u)

    def call_and_ladj(self, u: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow().transform.call_and_ladj(u)


class FittedFlow(nn.Module):
    """A normalizing flow fitted by :func:`fit_flow` (``x -> z``).

    The full map is ``z = core((x - shift) / scale)``: an input standardization
    (centering and one global scale, so the geometry of the data is unchanged)
    followed by the trained flow. Every Jacobian, log-determinant and penalty
    refers to this full map, in data units.

    Attributes
    ----------
    kind : str
        ``'realnvp'``, ``'maf'``, ``'nsf'`` or ``'linear'``.
    core : nn.Module
        The trained flow on standardized inputs.
    jacobian_penalty : float
        ``alpha_J`` used in training.
    history : dict of list
        Per epoch: ``epoch``, ``train_log_likelihood`` (mean over the epoch's
        batches), ``heldout_log_likelihood``, ``heldout_objective`` (held-out
        log-likelihood minus the penalty, the early-stopping criterion),
        ``heldout_log_det`` (mean log|det J| on held-out points),
        ``heldout_min_std`` (smallest local standard deviation ``1/s_max`` on the
        monitored held-out points, data units). Log-likelihoods are in nats per point.
    diverged : bool
        True if training stopped because the likelihood diverged.
    converged : bool
        True if early stopping ended training (held-out objective stopped improving).
    best_epoch : int
        Epoch whose parameters were kept.
    """

    def __init__(self, core: nn.Module, kind: str, shift: Tensor, scale: Tensor,
                 jacobian_penalty: float) -> None:
        super().__init__()
        self.core = core
        self.kind = kind
        self.register_buffer("shift", shift)
        self.register_buffer("scale", scale)
        self.jacobian_penalty = float(jacobian_penalty)
        self.history: dict[str, list] = {k: [] for k in (
            "epoch", "train_log_likelihood", "heldout_log_likelihood", "heldout_objective",
            "heldout_log_det", "heldout_min_std")}
        self.diverged = False
        self.converged = False
        self.best_epoch = 0

    @property
    def features(self) -> int:
        return self.shift.shape[-1]

    def checked_input(self, x: Tensor) -> Tensor:
        """``x`` as a tensor on the flow's device and dtype, its feature count checked (before standardization)."""
        x = torch.as_tensor(x)
        if x.shape[-1:] != self.shift.shape:
            raise ValueError(f"expected points with {self.features} features (last dim), got "
                             f"shape {tuple(x.shape)}.")
        if x.device != self.shift.device or x.dtype != self.shift.dtype:
            raise ValueError(f"the flow lives on {self.shift.device}/{self.shift.dtype} but x is "
                             f"{x.device}/{x.dtype}; move one of them, e.g. flow.to(x) or "
                             f"x.to(flow.shift).")
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Latents ``z = f(x)``, shape ``(..., d)``."""
        return self.core((self.checked_input(x) - self.shift) / self.scale)

    transform = forward

    def call_and_ladj(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z, log|det J(x)|)``; the log-determinant in nats, shape ``(...)``."""
        z, ladj = self.core.call_and_ladj((self.checked_input(x) - self.shift) / self.scale)
        return z, ladj - self.features * torch.log(self.scale)

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        """``log|det J(x)|`` per point (nats)."""
        return self.call_and_ladj(x)[1]

    def log_prob(self, x: Tensor) -> Tensor:
        """``log p(x) = log N(f(x); 0, I) + log|det J(x)|`` per point (nats)."""
        z, ladj = self.call_and_ladj(x)
        return -0.5 * (z ** 2).sum(-1) - 0.5 * self.features * LOG_2PI + ladj

    def history_frame(self):
        """The training history as a tidy :class:`pandas.DataFrame`, one row per epoch."""
        import pandas as pd

        return pd.DataFrame(self.history)


def check_points(x, name: str = "x") -> Tensor:
    """``x`` as a floating-point tensor of shape ``(n_points, n_features)`` without NaN/inf.

    NumPy arrays become CPU tensors of the same dtype; anything else is one clear error.

    Examples
    --------
    >>> import numpy as np
    >>> check_points(np.zeros((3, 2))).shape
    torch.Size([3, 2])
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array of shape (n, d), got "
                        f"{type(x).__name__}.")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n_points, n_features), got {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point (float32 or float64), got {x.dtype}; "
                        f"convert with {name}.double().")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).any(1).nonzero()[:5, 0].tolist()
        raise ValueError(f"{name} contains NaN or inf (first bad rows: {bad}); remove them.")
    return x


def build_core(kind: str, features: int, *, transforms: int = 4,
               hidden_features: Sequence[int] = (64, 64), nonlinearity: str | None = None,
               **flow_kwargs) -> nn.Module:
    """An untrained flow of ``kind`` (one of :data:`FLOW_KINDS`) on ``features`` dimensions.

    Examples
    --------
    >>> core = build_core("linear", 3)
    >>> core(torch.zeros(2, 3)).shape
    torch.Size([2, 3])
    """
    if kind not in FLOW_KINDS:
        raise ValueError(f"flow must be one of {FLOW_KINDS}, got {kind!r}.")
    if kind == "linear":
        return LinearFlow(features, nonlinearity)
    return ZukoFlow(kind, features, transforms, hidden_features, **flow_kwargs)
