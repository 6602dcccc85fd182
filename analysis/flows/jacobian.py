"""Jacobians ``J(x) = dz/dx`` of a flow at many points, and the Jacobian penalty ``||J||_F^2``.

A flow maps each point on its own (points do not interact), so the Jacobians of a
whole batch are a few batched passes: forward mode pushes the ``d`` basis tangents
through the flow once for all points (``torch.func.jvp`` vectorized with ``vmap``
over the tangents), reverse mode pulls the ``d_out`` basis cotangents back
(``torch.func.vjp``). Forward mode keeps no tape and is the faster choice when the
input dimension is no larger than the output dimension (always, for a flow).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from analysis._progress import progress_bar

from .models import FittedFlow, LinearFlow, check_points

__all__ = ["jacobians", "frobenius_sq", "JACOBIAN_MODES"]

#: ``'auto'`` picks ``'fwd'`` when the input dimension is <= the output dimension.
JACOBIAN_MODES = ("auto", "fwd", "rev")
_ELEMENTS_PER_CHUNK = 2 ** 16  # points x input dims per batched call (bounds memory)


def _chunk_jacobian(flow: Callable[[Tensor], Tensor], x: Tensor, d_out: int, mode: str) -> Tensor:
    """``(m, d_out, d)`` Jacobians of one chunk: ``d`` JVPs (fwd) or ``d_out`` VJPs (rev)."""
    from torch.func import jvp, vjp, vmap

    m, d = x.shape
    if mode == "fwd":
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        columns = vmap(lambda e: jvp(flow, (x,), (e.expand(m, d),))[1])(eye)  # (d, m, d_out)
        return columns.permute(1, 2, 0)
    _, pullback = vjp(flow, x)
    eye = torch.eye(d_out, dtype=x.dtype, device=x.device)
    rows = vmap(lambda e: pullback(e.expand(m, d_out))[0])(eye)  # (d_out, m, d)
    return rows.transpose(0, 1)


def jacobians(flow: Callable[[Tensor], Tensor], x, chunk_size: int | None = None,
              mode: str = "auto", progress: bool = False) -> Tensor:
    """Jacobians ``J(x) = dz/dx`` of a flow at many points at once.

    For a chunk of ``m`` points in R^d, forward mode (``mode='fwd'``) computes all
    ``m`` Jacobians from one vectorized ``torch.func.jvp`` over the ``d`` basis
    tangents ``e_k`` (column ``k`` of every ``J`` at once, since points do not
    interact); reverse mode (``'rev'``) from one vectorized ``torch.func.vjp`` over
    the ``d_out`` basis cotangents (row ``a`` of every ``J``). ``'auto'`` takes
    forward mode when ``d <= d_out`` (every flow: it keeps no autograd tape and was
    the faster one in ``benchmarks/bench_flows.py``). No graph is kept: the
    result carries no gradient.

    Parameters
    ----------
    flow : callable
        A :class:`~analysis.flows.FittedFlow` or any module mapping ``(n, d)`` to
        ``(n, d_out)`` row by row (points must not interact: no batch statistics).
    x : Tensor or ndarray, shape (n, d)
        Points, on the flow's device and dtype.
    chunk_size : int, optional
        Points per batched call; default ``max(1, 65536 // d)`` (the batched call
        holds ``chunk_size * d`` copies of the flow's activations).
    mode : {'auto', 'fwd', 'rev'}
        Forward- or reverse-mode differentiation (see above).
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
    x = check_points(x)
    n, d = x.shape
    if chunk_size is None:
        chunk_size = max(1, _ELEMENTS_PER_CHUNK // max(d, 1))
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int (points per batched call), got "
                         f"{chunk_size!r}.")
    if mode not in JACOBIAN_MODES:
        raise ValueError(f"mode must be one of {JACOBIAN_MODES}, got {mode!r}.")
    with torch.no_grad():
        if n == 0:
            return x.new_zeros((0, d, d))
        probe = flow(x[:1])
        if probe.ndim != 2 or probe.shape[0] != 1:
            raise ValueError(f"the flow must map (n, {d}) points to (n, d_out) rows; it returned "
                             f"shape {tuple(probe.shape)} for one point.")
        d_out = probe.shape[1]
        if mode == "auto":
            mode = "fwd" if d <= d_out else "rev"
        out = []
        for start in progress_bar(range(0, n, chunk_size), progress, "jacobians", leave=False):
            out.append(_chunk_jacobian(flow, x[start:start + chunk_size], d_out, mode))
    return torch.cat(out)


def frobenius_sq(flow: FittedFlow, x: Tensor, estimator: str = "hutchinson", n_probes: int = 1,
                 points: int = 64, generator: torch.Generator | None = None) -> Tensor:
    """Differentiable estimate of the Jacobian penalty ``mean_i ||J(x_i)||_F^2``.

    The penalty of Feinman & Parthasarathy (2019), in squared latent units per
    squared data unit. For a :class:`~analysis.flows.LinearFlow` core it is exact
    and closed-form. Otherwise ``'hutchinson'`` uses ``E_v ||J^T v||^2 = ||J||_F^2``
    with ``v ~ N(0, I)`` (one backward pass per probe, unbiased), and ``'exact'``
    the full Jacobians of a random subsample of ``points`` rows (``d_out`` batched
    backward passes).

    Parameters
    ----------
    flow : FittedFlow
    x : Tensor, shape (n, d)
    estimator : {'hutchinson', 'exact'}
    n_probes : int
        Gaussian probes (Hutchinson).
    points : int
        Rows of the random subsample (exact).
    generator : torch.Generator, optional
        CPU generator of the probes and the subsample.

    Returns
    -------
    Tensor
        A scalar with a graph back to the flow's parameters.

    Examples
    --------
    >>> import torch
    >>> from analysis.flows import fit_flow
    >>> f = fit_flow(torch.randn(50, 2, dtype=torch.float64), "linear", max_epochs=1,
    ...              progress=False)
    >>> J = jacobians(f, torch.zeros(1, 2, dtype=torch.float64))[0]
    >>> bool(torch.isclose(frobenius_sq(f, torch.zeros(1, 2, dtype=torch.float64)), (J ** 2).sum()))
    True
    """
    if estimator not in ("hutchinson", "exact"):
        raise ValueError(f"estimator must be 'hutchinson' or 'exact', got {estimator!r}.")
    if isinstance(flow.core, LinearFlow):
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
