"""Normalizing flows and linear-systems component extraction.

Implements the analysis of Feinman & Parthasarathy (2019), *A linear systems theory
of normalizing flows*. A flow ``f`` maps data ``x`` in R^d to latents ``z = f(x)``
with density ``log p(x) = log N(f(x); 0, I) + log|det J(x)|``, ``J = dz/dx``.
Around any point the flow is locally linear, and at a maximum-likelihood optimum
it whitens the local covariance, ``J^T J = Sigma_local^{-1}``. With the Jacobian
(Tikhonov) penalty ``alpha_J * mean ||J(x)||_F^2`` added to the negative
log-likelihood the optimum becomes ``J^T J = (Sigma_local + 2 alpha_J I)^{-1}``,
a covariance shrinkage that also removes the divergence of the plain likelihood
on data of low intrinsic dimension (singular ``Sigma``).

Components at a point: the SVD ``J = U diag(s) V^T`` gives local principal
directions (rows of ``V^T``) with local standard deviations ``1/s``; the
un-whitened latent coordinates are ``z U diag(1/s)`` (data units), ordered by
``1/s`` descending. Signs are made consistent between neighbouring points by
:func:`orient_components`.

Public API
----------
fit_flow, FittedFlow, jacobians, local_components, LocalComponents,
orient_components, the toy data sets (s_curve, swiss_roll, noisy_circle,
gaussian_mixture, gaussian_plane, digits, load_mnist) and the figures
(plot_component_coordinates, plot_local_components, plot_component_images,
plot_training_history).

Examples
--------
>>> import torch
>>> from analysis.flows import fit_flow, local_components
>>> g = torch.Generator().manual_seed(0)
>>> x = torch.randn(2000, 2, generator=g, dtype=torch.float64) @ torch.tensor(
...     [[2.0, 0.0], [1.0, 0.5]], dtype=torch.float64)
>>> flow = fit_flow(x, flow="linear", progress=False)
>>> comps = local_components(flow, x[:5])
>>> comps.scales.shape
torch.Size([5, 2])
"""
from __future__ import annotations

import copy
import math
import os
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from ._toy_manifolds import (ToyData, digits, gaussian_mixture, gaussian_plane,
                             mnist_from_file, mnist_points, noisy_circle, s_curve, swiss_roll)

__all__ = [
    "fit_flow",
    "FittedFlow",
    "FlowDivergenceWarning",
    "FlowDivergenceError",
    "jacobians",
    "local_components",
    "LocalComponents",
    "orient_components",
    "ToyData",
    "s_curve",
    "swiss_roll",
    "noisy_circle",
    "gaussian_mixture",
    "gaussian_plane",
    "digits",
    "load_mnist",
    "plot_component_coordinates",
    "plot_local_components",
    "plot_component_images",
    "plot_training_history",
]

FLOW_KINDS = ("realnvp", "maf", "nsf", "linear")
_LOG_2PI = math.log(2 * math.pi)


class FlowDivergenceWarning(RuntimeWarning):
    """The likelihood has no optimum: the flow collapses a direction of the data."""


class FlowDivergenceError(RuntimeError):
    """Raised instead of :class:`FlowDivergenceWarning` with ``on_divergence='raise'``."""


# --------------------------------------------------------------------------- flows
class _LinearFlow(nn.Module):
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

    def _slopes(self, a: Tensor) -> Tensor:
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
            ladj = ladj + torch.log(self._slopes(a)).sum(-1)
        return z, ladj

    def frobenius_sq(self, u: Tensor) -> Tensor:
        """Exact ``||J(u)||_F^2`` per point, shape ``(n,)``."""
        row_sq = (self.weight ** 2).sum(1)
        if self.nonlinearity == "tanh":
            a = u @ self.weight.T + self.bias
            return (self._slopes(a) ** 2 * row_sq).sum(-1)
        return row_sq.sum().expand(u.shape[:-1])


class _ZukoFlow(nn.Module):
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

    def _check(self, x: Tensor) -> Tensor:
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
        return self.core((self._check(x) - self.shift) / self.scale)

    transform = forward

    def call_and_ladj(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z, log|det J(x)|)``; the log-determinant in nats, shape ``(...)``."""
        z, ladj = self.core.call_and_ladj((self._check(x) - self.shift) / self.scale)
        return z, ladj - self.features * torch.log(self.scale)

    def log_abs_det_jacobian(self, x: Tensor) -> Tensor:
        """``log|det J(x)|`` per point (nats)."""
        return self.call_and_ladj(x)[1]

    def log_prob(self, x: Tensor) -> Tensor:
        """``log p(x) = log N(f(x); 0, I) + log|det J(x)|`` per point (nats)."""
        z, ladj = self.call_and_ladj(x)
        return -0.5 * (z ** 2).sum(-1) - 0.5 * self.features * _LOG_2PI + ladj

    def history_frame(self):
        """The training history as a tidy :class:`pandas.DataFrame`, one row per epoch."""
        import pandas as pd

        return pd.DataFrame(self.history)


# ------------------------------------------------------------------------ checks
def _as_points(x, name: str = "x") -> Tensor:
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


# ---------------------------------------------------------------------- jacobians
def jacobians(flow: Callable[[Tensor], Tensor], x, chunk_size: int = 1024,
              mode: str = "rev", progress: bool = False) -> Tensor:
    """Jacobians ``J(x) = dz/dx`` of a flow at many points at once.

    Computed with ``torch.func.vmap`` over ``torch.func.jacrev`` (``mode='rev'``,
    d vector-Jacobian products per point) or ``jacfwd`` (``mode='fwd'``, d
    Jacobian-vector products), in chunks of ``chunk_size`` points to bound memory.
    No graph is kept: the result carries no gradient.

    Parameters
    ----------
    flow : callable
        A :class:`FittedFlow` or any module mapping ``(n, d)`` to ``(n, d)``
        row by row (points must not interact).
    x : Tensor, shape (n, d)
        Points, on the flow's device and dtype.
    chunk_size : int
        Points per vectorized call.
    mode : {'rev', 'fwd'}
        Reverse- or forward-mode differentiation.
    progress : bool
        Show a tqdm bar over chunks.

    Returns
    -------
    Tensor, shape (n, d_out, d)
        ``J[i, a, b] = dz_a / dx_b`` at ``x[i]``.

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Linear(3, 3)
    >>> J = jacobians(lin, torch.randn(10, 3))
    >>> torch.allclose(J[4], lin.weight)
    True
    """
    x = _as_points(x)
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}.")
    if mode not in ("rev", "fwd"):
        raise ValueError(f"mode must be 'rev' or 'fwd', got {mode!r}.")
    from torch.func import jacfwd, jacrev, vmap
    from tqdm.auto import tqdm

    def single(xi: Tensor) -> Tensor:
        return flow(xi.unsqueeze(0)).squeeze(0)

    jac = vmap((jacrev if mode == "rev" else jacfwd)(single))
    out = []
    starts = range(0, len(x), chunk_size)
    with torch.no_grad():
        for start in tqdm(starts, desc="jacobians", disable=not progress, leave=False):
            out.append(jac(x[start:start + chunk_size]))
    return torch.cat(out) if out else x.new_zeros((0, x.shape[1], x.shape[1]))


def _frobenius_sq(flow: FittedFlow, x: Tensor, estimator: str, n_probes: int,
                  points: int, generator: torch.Generator | None) -> Tensor:
    """Differentiable estimate of ``mean ||J(x)||_F^2`` over the rows of ``x``.

    Linear flow: exact closed form. Otherwise ``'hutchinson'`` uses
    ``E_v ||J^T v||^2 = ||J||_F^2`` with ``v ~ N(0, I)`` (one backward pass per
    probe, unbiased), and ``'exact'`` the full Jacobian of a random subsample of
    ``points`` rows (d backward passes, batched).
    """
    if isinstance(flow.core, _LinearFlow):
        u = (x - flow.shift) / flow.scale
        return flow.core.frobenius_sq(u).mean() / flow.scale ** 2
    if estimator == "exact":
        if len(x) > points:
            idx = torch.randperm(len(x), generator=generator, device="cpu")[:points]
            x = x[idx.to(x.device)]
        x = x.detach().requires_grad_(True)
        z = flow(x)
        eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
        rows = torch.autograd.grad(z, x, eye[:, None, :].expand(-1, len(x), -1),
                                   create_graph=True, is_grads_batched=True)[0]
        return (rows ** 2).sum((0, 2)).mean()
    x = x.detach().requires_grad_(True)
    z = flow(x)
    total = 0.0
    for _ in range(n_probes):
        v = torch.randn(z.shape, generator=generator, dtype=z.dtype, device="cpu").to(z.device)
        g = torch.autograd.grad(z, x, v, create_graph=True)[0]
        total = total + (g ** 2).sum(1).mean()
    return total / n_probes


# -------------------------------------------------------------------------- fit
def fit_flow(
    x,
    flow: str = "realnvp",
    jacobian_penalty: float = 0.0,
    *,
    transforms: int = 4,
    hidden_features: Sequence[int] = (64, 64),
    nonlinearity: str | None = None,
    optimizer: str | None = None,
    lr: float | None = None,
    batch_size: int = 256,
    max_epochs: int = 500,
    patience: int = 20,
    min_delta: float = 1e-5,
    validation_fraction: float = 0.1,
    penalty_estimator: str = "hutchinson",
    n_probes: int = 1,
    penalty_points: int = 64,
    monitor_points: int = 64,
    collapse_tol: float = 1e-3,
    on_divergence: str = "warn",
    standardize: bool = True,
    seed: int = 0,
    progress: bool = True,
    **flow_kwargs,
) -> FittedFlow:
    """Fit a normalizing flow by (penalized) maximum likelihood.

    Minimizes ``-mean log p(x) + alpha_J * mean ||J(x)||_F^2`` (nats per point),
    with ``log p(x) = log N(f(x); 0, I) + log|det J(x)|`` (Feinman &
    Parthasarathy 2019). For a linear flow on Gaussian data the optimum is
    ``J^T J = (Sigma + 2 alpha_J I)^{-1}``, ``Sigma`` the covariance of the
    training points.

    Training holds out ``validation_fraction`` of the points, evaluates the
    held-out objective after every epoch, stops when it has not improved by
    ``min_delta`` for ``patience`` epochs and keeps the best parameters.

    Divergence (data of low intrinsic dimension, e.g. a plane in R^3, where the
    plain likelihood has no maximum and ``log|det J|`` grows without bound) is
    detected when the loss becomes non-finite or when the smallest local
    standard deviation ``1/s_max(J)`` on the monitored held-out points falls below
    ``collapse_tol`` times the data scale. Then training stops, ``diverged`` is
    set, and a :class:`FlowDivergenceWarning` is issued (or
    :class:`FlowDivergenceError` raised with ``on_divergence='raise'``); the fix is
    ``jacobian_penalty > 0``.

    Parameters
    ----------
    x : Tensor or ndarray, shape (n, d)
        Training points (data units). The flow is built on ``x``'s device and
        dtype (numpy input becomes a CPU tensor of the same dtype).
    flow : {'realnvp', 'maf', 'nsf', 'linear'}
        zuko ``RealNVP`` (affine coupling), ``MAF`` (masked autoregressive,
        affine), ``NSF`` (autoregressive rational-quadratic splines), or the dense
        affine (+ optional elementwise ``tanh``) flow of the linear theory.
    jacobian_penalty : float
        ``alpha_J >= 0`` (per point, same units as the log-likelihood times
        squared data units).
    transforms, hidden_features
        Number of zuko transforms and hidden layer widths of their networks.
    nonlinearity : {None, 'tanh'}
        Elementwise nonlinearity of the linear flow (``None``: affine only).
    optimizer : {'adam', 'lbfgs'}, optional
        Default ``'lbfgs'`` (full batch, strong-Wolfe line search, one step of
        20 iterations per epoch) for ``flow='linear'``, else ``'adam'``
        (mini-batches of ``batch_size``).
    lr : float, optional
        Learning rate; default 1 for L-BFGS, 1e-3 for Adam.
    batch_size, max_epochs, patience, min_delta, validation_fraction
        Mini-batch size, epoch limit, early-stopping patience (epochs) and minimal
        improvement (nats per point), fraction of points held out (0 disables
        early stopping; the training points are then monitored).
    penalty_estimator : {'hutchinson', 'exact'}
        How ``||J||_F^2`` is estimated for zuko flows during training:
        ``'hutchinson'`` (``n_probes`` Gaussian probes per batch, unbiased) or
        ``'exact'`` (full Jacobians of ``penalty_points`` random points of each
        batch). Exact for the linear flow. The held-out penalty is always exact,
        on ``monitor_points`` fixed points.
    monitor_points : int
        Held-out points whose exact Jacobians are evaluated every epoch (penalty
        and collapse detection).
    collapse_tol : float
        Relative local standard deviation below which training counts as diverged.
    on_divergence : {'warn', 'raise'}
        What to do when divergence is detected.
    standardize : bool
        Center the data and divide by one global scale (RMS standard deviation)
        before the flow; part of the map, so all outputs are in data units.
    seed : int
        Seed of the initialization, the split and the mini-batch order (the global
        RNG state is left untouched).
    progress : bool
        Show a tqdm bar over epochs.
    **flow_kwargs
        Passed to the zuko flow constructor (e.g. ``bins=8`` for NSF).

    Returns
    -------
    FittedFlow

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(1000, 2, dtype=torch.float64) * torch.tensor([2.0, 0.5])
    >>> f = fit_flow(x, flow="linear", progress=False)
    >>> f.log_prob(x).shape
    torch.Size([1000])
    """
    x = _as_points(x)
    if flow not in FLOW_KINDS:
        raise ValueError(f"flow must be one of {FLOW_KINDS}, got {flow!r}.")
    if not (math.isfinite(jacobian_penalty) and jacobian_penalty >= 0):
        raise ValueError(f"jacobian_penalty must be a finite number >= 0, got "
                         f"{jacobian_penalty!r}.")
    optimizer = optimizer or ("lbfgs" if flow == "linear" else "adam")
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}.")
    if penalty_estimator not in ("hutchinson", "exact"):
        raise ValueError(f"penalty_estimator must be 'hutchinson' or 'exact', got "
                         f"{penalty_estimator!r}.")
    if on_divergence not in ("warn", "raise"):
        raise ValueError(f"on_divergence must be 'warn' or 'raise', got {on_divergence!r}.")
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}.")
    n, d = x.shape
    n_val = int(round(validation_fraction * n))
    if n - n_val < 2:
        raise ValueError(f"need at least 2 training points, got n={n} with "
                         f"validation_fraction={validation_fraction}.")
    lr = lr if lr is not None else (1.0 if optimizer == "lbfgs" else 1e-3)
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen).to(x.device)
    x_val, x_train = x[perm[:n_val]], x[perm[n_val:]]
    x_mon = (x_val if n_val > 0 else x_train)[:monitor_points]

    if standardize:
        shift = x_train.mean(0)
        scale = x_train.var(0, unbiased=False).mean().sqrt().clamp_min(
            torch.finfo(x.dtype).tiny)
    else:
        shift, scale = torch.zeros_like(x[0]), torch.ones((), dtype=x.dtype, device=x.device)
    data_scale = float(x_train.var(0, unbiased=False).mean().sqrt())

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if flow == "linear":
            core = _LinearFlow(d, nonlinearity)
        else:
            core = _ZukoFlow(flow, d, transforms, hidden_features, **flow_kwargs)
    model = FittedFlow(core, flow, shift, scale, jacobian_penalty).to(
        device=x.device, dtype=x.dtype)
    params = list(model.core.parameters())
    alpha = float(jacobian_penalty)

    def objective(batch: Tensor) -> tuple[Tensor, Tensor]:
        ll = model.log_prob(batch).mean()
        loss = -ll
        if alpha > 0:
            loss = loss + alpha * _frobenius_sq(model, batch, penalty_estimator, n_probes,
                                                penalty_points, gen)
        return loss, ll

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=20, history_size=20,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                                tolerance_change=1e-14)
    else:
        opt = torch.optim.Adam(params, lr=lr)

    def evaluate() -> tuple[float, float, float, float]:
        with torch.no_grad():
            src = x_val if n_val > 0 else x_train
            z, ladj = model.call_and_ladj(src)
            ll = float((-0.5 * (z ** 2).sum(-1) - 0.5 * d * _LOG_2PI + ladj).mean())
            logdet = float(ladj.mean())
        J = jacobians(model, x_mon)
        pen = float((J ** 2).sum((1, 2)).mean()) if alpha > 0 else 0.0
        min_std = float(1.0 / torch.linalg.matrix_norm(J, ord=2).max())
        return ll, ll - alpha * pen, logdet, min_std

    def diverge(reason: str) -> None:
        model.diverged = True
        message = (f"fit_flow({flow!r}): the likelihood diverged ({reason}). The data are "
                   "probably of lower intrinsic dimension than d (singular local "
                   "covariance), so log|det J| grows without bound; fit with "
                   "jacobian_penalty > 0 (e.g. 1e-3 times the data variance) to shrink "
                   "the covariance, or add noise / remove constant features.")
        if on_divergence == "raise":
            raise FlowDivergenceError(message)
        warnings.warn(message, FlowDivergenceWarning, stacklevel=3)

    best = -math.inf
    best_state = copy.deepcopy(model.core.state_dict())
    last_finite = best_state
    stale = 0
    bar = tqdm(range(1, max_epochs + 1), desc=f"fit_flow[{flow}]", disable=not progress)
    for epoch in bar:
        model.train()
        if optimizer == "lbfgs":
            def closure():
                opt.zero_grad()
                loss, _ = objective(x_train)
                if torch.isfinite(loss):
                    loss.backward()
                return loss
            opt.step(closure)
            with torch.no_grad():
                train_ll = float(model.log_prob(x_train).mean())
        else:
            order = torch.randperm(len(x_train), generator=gen).to(x.device)
            lls = []
            for start in range(0, len(x_train), batch_size):
                opt.zero_grad()
                loss, ll = objective(x_train[order[start:start + batch_size]])
                if not torch.isfinite(loss):
                    break
                loss.backward()
                opt.step()
                lls.append(float(ll.detach()))
            train_ll = float(np.mean(lls)) if lls else math.nan
        params_finite = all(bool(torch.isfinite(p).all()) for p in params)
        val_ll, val_obj, logdet, min_std = (evaluate() if params_finite
                                            else (math.nan,) * 4)
        model.history["epoch"].append(epoch)
        model.history["train_log_likelihood"].append(train_ll)
        model.history["heldout_log_likelihood"].append(val_ll)
        model.history["heldout_objective"].append(val_obj)
        model.history["heldout_log_det"].append(logdet)
        model.history["heldout_min_std"].append(min_std)
        bar.set_postfix(heldout_ll=f"{val_ll:.3f}", log_det=f"{logdet:.2f}")
        if not (math.isfinite(train_ll) and math.isfinite(val_obj)):
            model.core.load_state_dict(last_finite)
            best_state = last_finite
            model.best_epoch = epoch - 1
            diverge(f"non-finite loss at epoch {epoch}; parameters of epoch {epoch - 1} kept")
            break
        last_finite = copy.deepcopy(model.core.state_dict())
        if min_std < collapse_tol * data_scale:
            best_state, model.best_epoch = last_finite, epoch
            diverge(f"at epoch {epoch} the smallest local standard deviation is "
                    f"{min_std:.3g}, below collapse_tol={collapse_tol:g} x data scale "
                    f"{data_scale:.3g}; mean log|det J| = {logdet:.1f} and rising")
            break
        if val_obj > best + min_delta:
            best, best_state, model.best_epoch, stale = val_obj, last_finite, epoch, 0
        else:
            stale += 1
            if stale >= patience:
                model.converged = True
                break
    bar.close()
    model.core.load_state_dict(best_state)
    model.eval()
    return model


# --------------------------------------------------------------------- components
@dataclass
class LocalComponents:
    """Local linear components of a flow at a set of points.

    Attributes
    ----------
    points : Tensor, shape (n, d)
        Where the components were computed (data units).
    directions : Tensor, shape (n, d, d)
        ``directions[i, k]`` is the k-th local principal direction at point i
        (row k of ``V^T`` after reordering) scaled by its local standard deviation
        ``1/s_k`` (data units); ordered by ``1/s`` descending.
    scales : Tensor, shape (n, d)
        Local standard deviations ``1/s_k`` (data units), descending.
    coordinates : Tensor, shape (n, d)
        Un-whitened latent coordinates ``(z U diag(1/s))_k`` (data units).
    latents : Tensor, shape (n, d)
        ``z = f(x)``.
    jacobians : Tensor, shape (n, d, d)
        ``J(x)``.
    """

    points: Tensor
    directions: Tensor
    scales: Tensor
    coordinates: Tensor
    latents: Tensor
    jacobians: Tensor
    attrs: dict = field(default_factory=dict)

    @property
    def unit_directions(self) -> Tensor:
        """``directions`` normalized to unit length, shape (n, d, d)."""
        return self.directions / self.scales.unsqueeze(-1)

    def to_dataframe(self):
        """Tidy table: one row per (point, component) with scale and coordinate."""
        import pandas as pd

        n, d = self.scales.shape
        return pd.DataFrame({
            "point": np.repeat(np.arange(n), d),
            "component": np.tile(np.arange(d), n),
            "scale": self.scales.detach().cpu().numpy().ravel(),
            "coordinate": self.coordinates.detach().cpu().numpy().ravel(),
        })


def orient_components(points, directions, n_neighbors: int = 10, n_sweeps: int = 2,
                      root: int | None = None, connect: bool = True) -> np.ndarray:
    """Signs that make local components consistent between neighbouring points.

    The sign of each SVD component is arbitrary. We build a symmetrized
    k-nearest-neighbour graph of ``points`` and, in every connected part, visit
    points in breadth-first order from a root (default: the point closest to the
    part's mean). The root's components are oriented so that their largest-
    magnitude entry is positive; every later point takes, per component, the sign
    that agrees (positive dot product) with the sum of the already-oriented
    neighbours' unit directions. Then ``n_sweeps`` sweeps of iterated conditional
    modes on the pairwise agreement energy ``-sum_{ij in graph} s_i s_j cos_ij``
    (a Markov random field over the graph, as Feinman & Parthasarathy used) flip
    any sign that disagrees with the majority of its neighbours. Components are
    matched by rank, so where two local scales cross the orientation of those two
    components is not meaningful. If the neighbour graph falls apart (gaps in the
    sampling), its parts are joined through their closest pairs of points
    (``connect=True``); with ``connect=False`` each part is oriented on its own.

    Parameters
    ----------
    points : array_like, shape (n, d_x)
        Positions defining the neighbour graph.
    directions : array_like, shape (n, k, d)
        Component vectors (any lengths).
    n_neighbors : int
        Neighbours per point in the graph.
    n_sweeps : int
        ICM refinement sweeps after the breadth-first pass.
    root : int, optional
        Root point of the first connected part.
    connect : bool
        Join disconnected parts of the graph through their closest points.

    Returns
    -------
    np.ndarray, shape (n, k)
        +1 / -1 per point and component.

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.linspace(0, 1, 50)[:, None]
    >>> dirs = np.ones((50, 1, 2)) * np.where(np.arange(50) % 2, -1, 1)[:, None, None]
    >>> signs = orient_components(pts, dirs, n_neighbors=3)
    >>> bool(np.all(signs[:, 0] * dirs[:, 0, 0] == 1))
    True
    """
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import NearestNeighbors

    pts = np.asarray(points.detach().cpu() if isinstance(points, Tensor) else points, float)
    dirs = np.asarray(directions.detach().cpu() if isinstance(directions, Tensor)
                      else directions, float)
    if pts.ndim != 2 or dirs.ndim != 3 or len(pts) != len(dirs):
        raise ValueError(f"expected points (n, d_x) and directions (n, k, d) with the same n, "
                         f"got {pts.shape} and {dirs.shape}.")
    n = len(pts)
    if n == 1:
        return np.where(dirs[0][np.arange(dirs.shape[1]),
                                np.abs(dirs[0]).argmax(1)] < 0, -1.0, 1.0)[None]
    unit = dirs / np.maximum(np.linalg.norm(dirs, axis=2, keepdims=True), 1e-300)
    if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive int, got {n_neighbors!r}.")
    k_nn = min(int(n_neighbors), n - 1)
    # X=None queries the fitted points themselves, excluding each point from its own list
    graph = NearestNeighbors(n_neighbors=k_nn).fit(pts).kneighbors_graph(mode="connectivity")
    graph = ((graph + graph.T) > 0).tolil()
    graph.setdiag(0)
    n_parts, part = connected_components(graph, directed=False)
    while connect and n_parts > 1:
        # join every part to its nearest point outside it (each round at least halves
        # the number of parts), so one orientation spans the whole point set
        for p in range(n_parts):
            inside, outside = np.flatnonzero(part == p), np.flatnonzero(part != p)
            dist, j = NearestNeighbors(n_neighbors=1).fit(pts[outside]).kneighbors(pts[inside])
            a = inside[np.argmin(dist[:, 0])]
            b = outside[j[np.argmin(dist[:, 0]), 0]]
            graph[a, b] = graph[b, a] = 1
        n_parts, part = connected_components(graph, directed=False)
    graph = graph.tocsr()
    graph.eliminate_zeros()
    neighbours = [graph.indices[graph.indptr[i]:graph.indptr[i + 1]] for i in range(n)]
    signs = np.zeros(dirs.shape[:2])
    order = []
    for p in range(n_parts):
        members = np.flatnonzero(part == p)
        if p == 0 and root is not None:
            start = int(root)
        else:
            start = members[np.argmin(((pts[members] - pts[members].mean(0)) ** 2).sum(1))]
        top = unit[start][np.arange(unit.shape[1]), np.abs(unit[start]).argmax(1)]
        signs[start] = np.where(top < 0, -1.0, 1.0)
        order.append(start)
        queue = deque([start])
        while queue:
            i = queue.popleft()
            for j in neighbours[i]:
                if signs[j, 0] == 0:
                    nb = neighbours[j]
                    done = nb[signs[nb, 0] != 0]
                    ref = np.einsum("mk,mkd->kd", signs[done], unit[done])
                    agree = np.einsum("kd,kd->k", ref, unit[j])
                    signs[j] = np.where(agree < 0, -1.0, 1.0)
                    order.append(j)
                    queue.append(j)
    for _ in range(n_sweeps):
        flips = 0
        for i in order:
            nb = neighbours[i]
            if len(nb) == 0:
                continue
            agree = np.einsum("kd,mk,mkd->k", unit[i], signs[nb], unit[nb])
            wrong = agree * signs[i] < 0
            if wrong.any():
                signs[i, wrong] *= -1
                flips += int(wrong.sum())
        if flips == 0:
            break
    return signs


def local_components(flow: FittedFlow, x, orient: bool = True, n_neighbors: int = 10,
                     chunk_size: int = 1024, progress: bool = False) -> LocalComponents:
    """Local principal components of a flow (Feinman & Parthasarathy 2019).

    At each point ``J(x) = U diag(s) V^T``. The local principal directions are the
    rows of ``V^T`` with local standard deviations ``1/s`` (the flow locally
    whitens ``Sigma_local = V diag(1/s^2) V^T``); they are ordered by ``1/s``
    descending. The un-whitened latent coordinates are ``z U diag(1/s)`` in data
    units (for an affine flow ``z = W x + b`` they are ``V^T x`` plus a constant).
    Signs are made consistent across neighbouring points with
    :func:`orient_components` (flipping ``u_k`` and ``v_k`` together leaves ``J``
    unchanged).

    Parameters
    ----------
    flow : FittedFlow
        A fitted flow (or any row-wise module ``x -> z``).
    x : Tensor, shape (n, d)
        Points on the flow's device and dtype.
    orient : bool
        Make signs consistent between neighbours (needs n > 1 to matter).
    n_neighbors : int
        Neighbours in the orientation graph.
    chunk_size : int
        Points per batched Jacobian call.
    progress : bool
        Show progress bars.

    Returns
    -------
    LocalComponents

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Linear(2, 2).double()
    >>> comps = local_components(lin, torch.randn(4, 2, dtype=torch.float64))
    >>> bool(torch.allclose(comps.scales[0], 1 / torch.linalg.svdvals(lin.weight).flip(0)))
    True
    """
    x = _as_points(x)
    J = jacobians(flow, x, chunk_size=chunk_size, progress=progress)
    if J.shape[1] != J.shape[2]:
        raise ValueError(f"flows are square maps; got Jacobians of shape {tuple(J.shape[1:])}.")
    with torch.no_grad():
        z = flow(x)
        U, s, Vh = torch.linalg.svd(J)
        U, s, Vh = U.flip(-1), s.flip(-1), Vh.flip(-2)
        if orient and len(x) > 1:
            signs = torch.as_tensor(orient_components(x, Vh, n_neighbors=n_neighbors),
                                    dtype=x.dtype, device=x.device)
        else:
            top = Vh.gather(-1, Vh.abs().argmax(-1, keepdim=True)).squeeze(-1)
            signs = torch.where(top < 0, -1.0, 1.0).to(x.dtype)
        U = U * signs.unsqueeze(-2)
        Vh = Vh * signs.unsqueeze(-1)
        scales = 1.0 / s
        coordinates = torch.einsum("na,nak->nk", z, U) * scales
        directions = Vh * scales.unsqueeze(-1)
    return LocalComponents(x, directions, scales, coordinates, z, J,
                           {"oriented": int(orient), "n_neighbors": n_neighbors})


# ------------------------------------------------------------------------- data
def load_mnist(path: str | os.PathLike | None = None, labels_path=None, split: str = "train",
               n: int | None = None, dequantize: bool = True, seed: int = 0) -> ToyData:
    """MNIST as points in R^784, from a local file or through its data manifest.

    Parameters
    ----------
    path : path, optional
        A local IDX image file (``train-images-idx3-ubyte[.gz]``) or ``.npz``
        (see :func:`analysis._toy_manifolds.mnist_from_file`), or a folder holding
        the four IDX ``.gz`` files. If omitted, the manifest's folder is used via
        ``analysis.datasets.load_mnist`` (which names the missing file and says to
        run ``python -m analysis.datasets fetch MNIST``; nothing is downloaded here).
    labels_path : path, optional
        IDX label file when ``path`` is an IDX image file.
    split : {'train', 'test'}
        Which split to read from a folder or the manifest.
    n, dequantize, seed
        Keep the first ``n`` images; dequantize pixels as ``(v + u)/256``; noise seed.

    Returns
    -------
    ToyData
        ``x`` shape ``(n, 784)``, ``labels``, ``attrs["image_shape"] == (28, 28)``.
    """
    if path is not None and not os.path.isdir(path):
        return mnist_from_file(path, labels_path, n=n, dequantize=dequantize, seed=seed)
    try:
        from . import datasets as _datasets
    except ImportError as err:
        raise RuntimeError(
            "analysis.datasets is not available in this installation; pass the path of a "
            "local MNIST file: load_mnist('train-images-idx3-ubyte.gz', "
            "labels_path='train-labels-idx1-ubyte.gz').") from err
    images, labels = _datasets.load_mnist(path, split=split)
    return mnist_points(images, labels, n=n, dequantize=dequantize, seed=seed,
                        source=f"mnist:{split}")


# ---------------------------------------------------------------------- figures
def _figure(ncols: int = 1, projection: str | None = None, size: float = 4.0):
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    fig = plt.figure(figsize=(size * ncols, size))
    axes = [fig.add_subplot(1, ncols, i + 1, projection=projection) for i in range(ncols)]
    return fig, axes


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t)


def plot_component_coordinates(components: LocalComponents, which: Sequence[int] = (0, 1),
                               dims: Sequence[int] = (0, 1, 2), units: str = "a.u."):
    """Data points colored by their un-whitened latent coordinates.

    Parameters
    ----------
    components : LocalComponents
    which : sequence of int
        Components to show, one panel each (0 = largest local standard deviation).
    dims : sequence of int
        Data dimensions on the axes (2 or 3 of them).
    units : str
        Data units for the axis and color-bar labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pts, coords = _np(components.points), _np(components.coordinates)
    dims = [k for k in dims if k < pts.shape[1]]
    if len(dims) < 2:
        raise ValueError(f"need at least 2 data dimensions to plot, got dims={dims}.")
    three = len(dims) == 3
    fig, axes = _figure(len(which), "3d" if three else None, size=5.0)
    for ax, k in zip(axes, which):
        cols = [pts[:, j] for j in dims]
        lo, hi = np.percentile(coords[:, k], [2, 98])  # robust to a few tail points
        sc = ax.scatter(*cols, c=coords[:, k], cmap="viridis", s=6, vmin=lo, vmax=hi)
        ax.set_xlabel(f"x{dims[0]} ({units})")
        ax.set_ylabel(f"x{dims[1]} ({units})")
        if three:
            ax.set_zlabel(f"x{dims[2]} ({units})")
        ax.set_title(f"component {k} coordinate")
        fig.colorbar(sc, ax=ax, shrink=0.6, pad=0.15 if three else 0.05,
                     label=f"coordinate ({units})")
    fig.tight_layout()
    return fig


def plot_local_components(components: LocalComponents, n_arrows: int = 150,
                          which: Sequence[int] = (0, 1), background=None,
                          units: str = "a.u.", arrow_scale: float | None = None,
                          seed: int = 0):
    """Local component arrows on 2-D or 3-D data.

    Each arrow starts at a point and points along the component's direction with
    length ``arrow_scale / s_k``, proportional to the local standard deviation.

    Parameters
    ----------
    components : LocalComponents
        Computed on 2-D or 3-D points.
    n_arrows : int
        Number of (randomly chosen) points that get arrows.
    which : sequence of int
        Components drawn (colors in order).
    background : array_like, shape (m, d), optional
        Points drawn in gray behind the arrows (default: ``components.points``).
    units : str
        Data units for the axis labels.
    arrow_scale : float, optional
        Arrow length per unit local s.d.; default: the median arrow of the first
        drawn component is 8% of the data's largest extent (1 would draw the local
        s.d. itself).
    seed : int
        Seed of the choice of arrow points.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import seaborn as sns

    pts, dirs = _np(components.points), _np(components.directions)
    d = pts.shape[1]
    if d not in (2, 3):
        raise ValueError(f"arrows need 2-D or 3-D data, got d={d}; use "
                         "plot_component_coordinates or plot_component_images.")
    bg = pts if background is None else _np(background)
    fig, (ax,) = _figure(1, "3d" if d == 3 else None, size=5)
    ax.scatter(*bg.T, s=3, color="0.75", alpha=0.5)
    idx = np.random.default_rng(seed).choice(len(pts), min(n_arrows, len(pts)), replace=False)
    if arrow_scale is None:
        extent = float((bg.max(0) - bg.min(0)).max())
        arrow_scale = 0.08 * extent / max(float(np.median(np.linalg.norm(
            dirs[idx, which[0]], axis=1))), 1e-300)
    colors = sns.color_palette("deep", len(which))
    for c, k in zip(colors, which):
        p, v = pts[idx], arrow_scale * dirs[idx, k]
        if d == 3:
            ax.quiver(*p.T, *v.T, color=c, linewidth=1)
        else:
            ax.quiver(*p.T, *v.T, color=c, angles="xy", scale_units="xy", scale=1, width=0.004)
        ax.plot([], [], color=c, label=f"component {k}")
    ax.set_xlabel(f"x0 ({units})")
    ax.set_ylabel(f"x1 ({units})")
    if d == 3:
        ax.set_zlabel(f"x2 ({units})")
    else:
        ax.set_aspect("equal")
    ax.legend(loc="best")
    ax.set_title(f"local components (arrow = {arrow_scale:.2g} x local s.d.)")
    fig.tight_layout()
    return fig


def plot_component_images(components: LocalComponents, image_shape: Sequence[int],
                          points: Sequence[int] = (0,), n_components: int = 8):
    """Component directions shown as images (e.g. digits).

    Row r shows, for ``points[r]``, the image itself followed by its first
    ``n_components`` directions reshaped to ``image_shape`` (pixel intensity
    per local standard deviation; diverging colormap centred on 0).

    Parameters
    ----------
    components : LocalComponents
        Computed on flattened images.
    image_shape : sequence of int
        ``(H, W)`` with ``H * W == d``.
    points : sequence of int
        Indices of the points shown.
    n_components : int
        Components per point.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    h, w = image_shape
    pts, dirs, scales = _np(components.points), _np(components.directions), _np(components.scales)
    if h * w != pts.shape[1]:
        raise ValueError(f"image_shape {tuple(image_shape)} has {h * w} pixels but the points "
                         f"have {pts.shape[1]} features.")
    n_components = min(n_components, pts.shape[1])
    sns.set_theme(style="white", context="notebook")
    fig, axes = plt.subplots(len(points), n_components + 1,
                             figsize=(1.4 * (n_components + 1), 1.6 * len(points)),
                             squeeze=False)
    for r, i in enumerate(points):
        axes[r, 0].imshow(pts[i].reshape(h, w), cmap="gray")
        axes[r, 0].set_title(f"point {i}", fontsize=8)
        lim = np.abs(dirs[i, :n_components]).max()
        for k in range(n_components):
            ax = axes[r, k + 1]
            ax.imshow(dirs[i, k].reshape(h, w), cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(f"c{k}, s.d. {scales[i, k]:.2g}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[-1, 0].set_xlabel(f"{w} px")
    axes[-1, 0].set_ylabel(f"{h} px")
    fig.tight_layout()
    return fig


def plot_training_history(flow: FittedFlow):
    """Train / held-out log-likelihood and held-out mean log|det J| per epoch.

    Returns
    -------
    matplotlib.figure.Figure
    """
    df = flow.history_frame()
    fig, (a, b) = _figure(2)
    a.plot(df["epoch"], df["train_log_likelihood"], label="train")
    a.plot(df["epoch"], df["heldout_log_likelihood"], label="held-out")
    a.axvline(flow.best_epoch, color="0.5", ls="--", label="kept")
    a.set_xlabel("epoch")
    a.set_ylabel("log-likelihood (nats / point)")
    a.legend()
    b.plot(df["epoch"], df["heldout_log_det"], color="C2")
    b.set_xlabel("epoch")
    b.set_ylabel("mean log|det J| (nats)")
    b.set_title("diverged" if flow.diverged else "")
    fig.tight_layout()
    return fig
