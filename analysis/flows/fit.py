"""Fitting a flow by (penalized) maximum likelihood, with early stopping and divergence detection.

Minimizes ``-mean log p(x) + alpha_J * mean ||J(x)||_F^2`` (nats per point;
Feinman & Parthasarathy 2019). :func:`fit_flow` reads top to bottom: check the
options, split and standardize the points, build the flow, then run epochs
(:func:`_lbfgs_epoch` or :func:`_adam_epoch`), evaluate on held-out points
(:func:`_evaluate`) and let :class:`_EarlyStopping` decide whether to go on.
"""
from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from neurocommon.progress import progress_bar

from .jacobian import frobenius_sq, jacobians
from .models import (FLOW_KINDS, LOG_2PI, FittedFlow, FlowDivergenceError, FlowDivergenceWarning,
                     build_core, check_points)

__all__ = ["fit_flow"]

_HISTORY_KEYS = ("epoch", "train_log_likelihood", "heldout_log_likelihood", "heldout_objective",
                 "heldout_log_det", "heldout_min_std")


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
    x = check_points(x)
    optimizer = _check_options(flow, jacobian_penalty, optimizer, penalty_estimator,
                               on_divergence, validation_fraction)
    lr = lr if lr is not None else (1.0 if optimizer == "lbfgs" else 1e-3)
    gen = torch.Generator().manual_seed(seed)
    x_train, x_val = _split_points(x, validation_fraction, gen)
    x_eval = x_val if len(x_val) else x_train  # no held-out points: monitor the training set
    x_mon = x_eval[:monitor_points]
    shift, scale = _standardization(x_train, standardize)
    data_scale = float(x_train.var(0, unbiased=False).mean().sqrt())

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        core = build_core(flow, x.shape[1], transforms=transforms, hidden_features=hidden_features,
                          nonlinearity=nonlinearity, **flow_kwargs)
    model = FittedFlow(core, flow, shift, scale, jacobian_penalty).to(device=x.device, dtype=x.dtype)
    alpha = float(jacobian_penalty)

    def loss_fn(batch: Tensor) -> tuple[Tensor, Tensor]:
        return _penalized_loss(model, batch, alpha, penalty_estimator, n_probes, penalty_points, gen)

    opt = _make_optimizer(optimizer, list(model.core.parameters()), lr)
    stopper = _EarlyStopping(model, patience, min_delta, collapse_tol * data_scale)
    bar = progress_bar(range(1, max_epochs + 1), progress, f"fit_flow[{flow}]", updates=True)
    for epoch in bar:
        model.train()
        if optimizer == "lbfgs":
            train_ll = _lbfgs_epoch(model, opt, loss_fn, x_train)
        else:
            train_ll = _adam_epoch(opt, loss_fn, x_train, batch_size, gen)
        scores = _evaluate(model, x_eval, x_mon, alpha)
        _record(model.history, epoch, train_ll, scores)
        bar.set_postfix(heldout_ll=f"{scores.log_likelihood:.3f}", log_det=f"{scores.log_det:.2f}")
        reason = stopper.update(epoch, train_ll, scores)
        if reason is not None:
            _report_divergence(flow, reason, on_divergence)
        if stopper.done:
            break
    bar.close()
    stopper.restore_best()
    model.eval()
    return model


def _check_options(flow: str, jacobian_penalty: float, optimizer: str | None,
                   penalty_estimator: str, on_divergence: str, validation_fraction: float) -> str:
    """Validate :func:`fit_flow`'s options; return the optimizer to use."""
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
    return optimizer


def _split_points(x: Tensor, validation_fraction: float,
                  gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random (training, held-out) split; the held-out part may be empty."""
    n = len(x)
    n_val = int(round(validation_fraction * n))
    if n - n_val < 2:
        raise ValueError(f"need at least 2 training points, got n={n} with "
                         f"validation_fraction={validation_fraction}.")
    perm = torch.randperm(n, generator=gen).to(x.device)
    return x[perm[n_val:]], x[perm[:n_val]]


def _standardization(x_train: Tensor, standardize: bool) -> tuple[Tensor, Tensor]:
    """``(shift, scale)``: the training mean and RMS standard deviation (or 0 and 1)."""
    if not standardize:
        return torch.zeros_like(x_train[0]), torch.ones((), dtype=x_train.dtype,
                                                         device=x_train.device)
    scale = x_train.var(0, unbiased=False).mean().sqrt().clamp_min(torch.finfo(x_train.dtype).tiny)
    return x_train.mean(0), scale


def _make_optimizer(kind: str, params: list, lr: float) -> torch.optim.Optimizer:
    if kind == "lbfgs":  # full batch, strong-Wolfe line search, one 20-iteration step per epoch
        return torch.optim.LBFGS(params, lr=lr, max_iter=20, history_size=20,
                                 line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                                 tolerance_change=1e-14)
    return torch.optim.Adam(params, lr=lr)


def _penalized_loss(model: FittedFlow, batch: Tensor, alpha: float, estimator: str,
                    n_probes: int, points: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """``(-mean log p + alpha * mean ||J||_F^2, mean log p)`` on one batch."""
    ll = model.log_prob(batch).mean()
    loss = -ll
    if alpha > 0:
        loss = loss + alpha * frobenius_sq(model, batch, estimator, n_probes, points, gen)
    return loss, ll


def _lbfgs_epoch(model: FittedFlow, opt: torch.optim.Optimizer,
                 loss_fn: Callable[[Tensor], tuple[Tensor, Tensor]], x_train: Tensor) -> float:
    """One full-batch L-BFGS step; the training log-likelihood after it."""
    def closure():
        opt.zero_grad()
        loss, _ = loss_fn(x_train)
        if torch.isfinite(loss):
            loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(model.log_prob(x_train).mean())


def _adam_epoch(opt: torch.optim.Optimizer, loss_fn: Callable[[Tensor], tuple[Tensor, Tensor]],
                x_train: Tensor, batch_size: int, gen: torch.Generator) -> float:
    """One pass of shuffled mini-batches; the mean batch log-likelihood (NaN if none finished)."""
    order = torch.randperm(len(x_train), generator=gen).to(x_train.device)
    lls = []
    for start in range(0, len(x_train), batch_size):
        opt.zero_grad()
        loss, ll = loss_fn(x_train[order[start:start + batch_size]])
        if not torch.isfinite(loss):
            break
        loss.backward()
        opt.step()
        lls.append(float(ll.detach()))
    return float(np.mean(lls)) if lls else math.nan


@dataclass
class _Scores:
    """Held-out scores of one epoch (nats per point; ``min_std`` in data units)."""

    log_likelihood: float = math.nan
    objective: float = math.nan
    log_det: float = math.nan
    min_std: float = math.nan


def _evaluate(model: FittedFlow, x_eval: Tensor, x_mon: Tensor, alpha: float) -> _Scores:
    """Held-out log-likelihood, objective (minus the exact penalty on ``x_mon``), mean
    log|det J|, and the smallest local standard deviation ``1/s_max(J)`` on ``x_mon``."""
    if not all(bool(torch.isfinite(p).all()) for p in model.core.parameters()):
        return _Scores()
    with torch.no_grad():
        z, ladj = model.call_and_ladj(x_eval)
        ll = float((-0.5 * (z ** 2).sum(-1) - 0.5 * x_eval.shape[1] * LOG_2PI + ladj).mean())
        log_det = float(ladj.mean())
    J = jacobians(model, x_mon)
    penalty = float((J ** 2).sum((1, 2)).mean()) if alpha > 0 else 0.0
    min_std = float(1.0 / torch.linalg.matrix_norm(J, ord=2).max())
    return _Scores(ll, ll - alpha * penalty, log_det, min_std)


def _record(history: dict, epoch: int, train_ll: float, scores: _Scores) -> None:
    values = (epoch, train_ll, scores.log_likelihood, scores.objective, scores.log_det,
              scores.min_std)
    for key, value in zip(_HISTORY_KEYS, values):
        history[key].append(value)


@dataclass
class _EarlyStopping:
    """Keeps the best parameters, counts stale epochs, and detects divergence.

    :meth:`update` returns a reason string when the fit diverged (``done`` is then
    set and ``model.diverged`` too), else ``None``; ``done`` is also set when the
    held-out objective has not improved by ``min_delta`` for ``patience`` epochs.
    """

    model: FittedFlow
    patience: int
    min_delta: float
    min_std_floor: float
    best: float = -math.inf
    stale: int = 0
    done: bool = False
    best_state: dict = field(init=False)
    last_finite: dict = field(init=False)

    def __post_init__(self) -> None:
        self.best_state = self.last_finite = copy.deepcopy(self.model.core.state_dict())

    def update(self, epoch: int, train_ll: float, scores: _Scores) -> str | None:
        if not (math.isfinite(train_ll) and math.isfinite(scores.objective)):
            self.model.core.load_state_dict(self.last_finite)
            self.best_state, self.model.best_epoch = self.last_finite, epoch - 1
            return self._diverged(f"non-finite loss at epoch {epoch}; parameters of epoch "
                                  f"{epoch - 1} kept")
        self.last_finite = copy.deepcopy(self.model.core.state_dict())
        if scores.min_std < self.min_std_floor:
            self.best_state, self.model.best_epoch = self.last_finite, epoch
            return self._diverged(
                f"at epoch {epoch} the smallest local standard deviation is {scores.min_std:.3g}, "
                f"below collapse_tol x data scale = {self.min_std_floor:.3g}; mean log|det J| = "
                f"{scores.log_det:.1f} and rising")
        if scores.objective > self.best + self.min_delta:
            self.best, self.best_state, self.model.best_epoch = scores.objective, self.last_finite, epoch
            self.stale = 0
        else:
            self.stale += 1
            if self.stale >= self.patience:
                self.model.converged = self.done = True
        return None

    def _diverged(self, reason: str) -> str:
        self.model.diverged = self.done = True
        return reason

    def restore_best(self) -> None:
        self.model.core.load_state_dict(self.best_state)


def _report_divergence(kind: str, reason: str, on_divergence: str) -> None:
    message = (f"fit_flow({kind!r}): the likelihood diverged ({reason}). The data are "
               "probably of lower intrinsic dimension than d (singular local "
               "covariance), so log|det J| grows without bound; fit with "
               "jacobian_penalty > 0 (e.g. 1e-3 times the data variance) to shrink "
               "the covariance, or add noise / remove constant features.")
    if on_divergence == "raise":
        raise FlowDivergenceError(message)
    warnings.warn(message, FlowDivergenceWarning, stacklevel=3)
