"""Jacobians ``J(x) = dz/dx`` of a flow at many points, and the Jacobian penalty ``||J||_F^2``.

A flow maps each point on its own (points do not interact), so the Jacobians of a
whole batch are a few batched passes: forward mode pushes the ``d`` basis tangents
through the flow once for all points (``torch.func.jvp`` vectorized with ``vmap``
over the tangents), reverse mode pulls the ``d_out`` basis cotangents back
(``torch.func.vjp``). Forward mode keeps no tape and is the faster choice when the
input dimension is no larger than the output dimension (always, for a flow).

Flows whose structure is known take a faster, exact path (``mode='auto'``,
:func:`structured_jacobians`): a :class:`~analysis.flows.LinearFlow` has the closed
form ``J = diag(g'(W u + b)) W``; an affine coupling flow (zuko's RealNVP: affine
couplings whose conditioner is an MLP of linear layers and ReLUs) has, per layer,
``y_a = x_a``, ``y_b = x_b ⊙ s(x_a) + t(x_a)``, i.e. the block-triangular Jacobian
``[[I, 0], [C, diag(s)]]`` with ``C = diag(x_b ⊙ s') ∂a/∂x_a + ∂t/∂x_a``. The
conditioner's Jacobian is computed analytically on its ``d_a`` inputs only
(``W_L diag(σ'(h_{L−1})) … diag(σ'(h_1)) W_1``, batched over points) and the layers
are composed by batched matrix products acting on the ``b`` rows only:
``J_b ← diag(s) J_b + C J_a``. Any other flow goes through the generic forward mode.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from neurocommon.progress import progress_bar

from .models import FittedFlow, LinearFlow, check_points

__all__ = ["jacobians", "structured_jacobians", "frobenius_sq", "JACOBIAN_MODES"]

#: ``'auto'`` takes the flow's structure where it is known (``'structured'``), else
#: ``'fwd'`` when the input dimension is <= the output dimension.
JACOBIAN_MODES = ("auto", "structured", "fwd", "rev")
_ELEMENTS_PER_CHUNK = 2 ** 16  # points x input dims per batched call (bounds memory)
_STRUCTURED_ELEMENTS = 2 ** 19  # points x d_out x d per structured block (2 MiB in float32: cache-sized)


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


def _relu_mlp(net) -> list[tuple[Tensor, Tensor | None]] | None:
    """The (weight, bias) of each linear layer of a Linear–ReLU–…–Linear MLP, else None."""
    layers = list(net.children()) if isinstance(net, torch.nn.Sequential) else []
    linears = layers[0::2]
    if not layers or len(layers) % 2 != 1:
        return None
    if not all(isinstance(a, torch.nn.ReLU) for a in layers[1::2]):
        return None
    if not all(isinstance(getattr(lin, "weight", None), Tensor) and lin.weight.ndim == 2 for lin in linears):
        return None
    return [(lin.weight, lin.bias) for lin in linears]


def _coupling_layers(core) -> list | None:
    """Per layer (idx_a, idx_b, MLP weights) of a zuko affine coupling flow, else None."""
    try:
        from zuko.flows.coupling import GeneralCouplingTransform
        from zuko.transforms import MonotonicAffineTransform
    except ImportError:  # pragma: no cover - zuko is a dependency
        return None
    from .models import ZukoFlow

    if not isinstance(core, ZukoFlow) or getattr(core.flow.transform, "transforms", None) is None:
        return None
    out = []
    for t in core.flow.transform.transforms:
        if not (isinstance(t, GeneralCouplingTransform) and t.univariate is MonotonicAffineTransform
                and tuple(map(tuple, t.shapes)) == ((), ())):
            return None
        mlp = _relu_mlp(t.hyper)
        if mlp is None or mlp[0][0].shape[1] != int(t.mask.sum()):  # a conditioning context: not handled
            return None
        out.append((t.mask.nonzero().squeeze(-1), (~t.mask).nonzero().squeeze(-1), mlp))
    return out


def _blocks(layers, d: int):
    """A row order in which every layer's (a, b) split is two slices, if the layers share one partition.

    RealNVP alternates one mask and its complement, so ordering the coordinates
    as (a of the first layer, b of the first layer) makes every split contiguous
    and the per-layer updates act on views instead of gathered copies. Returns
    (permutation, [(a, b) slices or index tensors per layer]).
    """
    ia0, ib0 = layers[0][0], layers[0][1]
    k = len(ia0)
    first, second = slice(0, k), slice(k, d)
    out = []
    for ia, ib, _ in layers:
        if torch.equal(ia, ia0) and torch.equal(ib, ib0):
            out.append((first, second))
        elif torch.equal(ia, ib0) and torch.equal(ib, ia0):
            out.append((second, first))
        else:
            return None, [(ia, ib) for ia, ib, _ in layers]
    return torch.cat([ia0, ib0]), out


def _coupling_jacobian(layers, u: Tensor) -> Tensor:
    """(m, d, d) Jacobians of a composition of affine couplings at the points u (see the module doc).

    The conditioner's Jacobian is propagated transposed, ``Mᵀ = ∂h/∂x_a`` as (m, d_a, h), so each
    linear layer is one (m·d_a, h_in) × (h_in, h_out) product.
    """
    m, d = u.shape
    perm, splits = _blocks(layers, d)
    eye = torch.eye(d, dtype=u.dtype, device=u.device)
    J = (eye if perm is None else eye[perm.to(u.device)]).expand(m, d, d).clone()
    x = u if perm is None else u[:, perm.to(u.device)]
    log_slope = abs(math.log(1e-3))  # zuko's MonotonicAffineTransform: a ↦ a / (1 + |a| / |log slope|)
    for (_, _, mlp), (ia, ib) in zip(layers, splits):
        xa, xb = x[:, ia], x[:, ib]
        h, Mt = xa, None
        for k, (w, b) in enumerate(mlp):
            pre = h @ w.T if b is None else torch.addmm(b, h, w.T)
            Mt = w.T.expand(m, *w.T.shape) if Mt is None else (Mt.reshape(-1, Mt.shape[-1]) @ w.T).view(
                m, -1, w.shape[0])
            if k < len(mlp) - 1:
                on = pre > 0
                h = pre.clamp_min(0)
                Mt = Mt * on[:, None, :]
            else:
                h = pre
        shift, raw = h[:, 0::2], h[:, 1::2]                 # zuko unpacks (shift, scale) per feature
        denom = 1 + raw.abs() / log_slope
        s = torch.exp(raw / denom)
        ds = s / denom ** 2                                 # d s / d raw
        Ct = Mt[:, :, 1::2] * (xb * ds)[:, None, :] + Mt[:, :, 0::2]   # Cᵀ: (m, d_a, d_b)
        C = Ct.transpose(1, 2)
        if isinstance(ib, slice):                           # J_b ← diag(s) J_b + C J_a, on views
            Jb = J[:, ib]
            Jb.mul_(s[:, :, None]).add_(torch.bmm(C, J[:, ia]))  # (in-place baddbmm_ on a view loops)
        else:
            J[:, ib] = s[:, :, None] * J[:, ib] + torch.bmm(C, J[:, ia])
        x = x.clone()
        x[:, ib] = xb * s + shift
    if perm is not None:
        J = J[:, torch.argsort(perm).to(u.device)]
    return J


def _linear_jacobian(core: LinearFlow, u: Tensor) -> Tensor:
    W = core.weight.to(u.dtype)
    J = W.expand(u.shape[0], *W.shape)
    if core.nonlinearity == "tanh":
        J = core.slopes(u @ W.T + core.bias)[:, :, None] * J
    return J.clone()


def structured_jacobians(flow: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor] | None:
    """A function ``x ↦ (n, d, d)`` Jacobians that uses ``flow``'s structure, or None if it has none known.

    Handles a :class:`~analysis.flows.FittedFlow` (input standardization
    ``u = (x − shift) / scale``: ``J_x = J_u / scale``) around a
    :class:`~analysis.flows.LinearFlow` (closed form) or a zuko affine coupling
    flow (RealNVP; see the module docstring), and those cores on their own.

    Examples
    --------
    >>> import torch
    >>> from analysis.flows.models import build_core
    >>> core = build_core("realnvp", 4).double()
    >>> x = torch.randn(5, 4, dtype=torch.float64)
    >>> J = structured_jacobians(core)(x)
    >>> ref = torch.func.vmap(torch.func.jacrev(lambda v: core(v[None])[0]))(x)
    >>> bool(torch.allclose(J, ref))
    True
    """
    core, pre = flow, None
    if isinstance(flow, FittedFlow):
        core, pre = flow.core, flow
    if isinstance(core, LinearFlow):
        inner = lambda u: _linear_jacobian(core, u)  # noqa: E731
    else:
        layers = _coupling_layers(core)
        if layers is None:
            return None
        inner = lambda u: _coupling_jacobian(layers, u)  # noqa: E731
    if pre is None:
        return inner
    return lambda x: inner((pre.checked_input(x) - pre.shift) / pre.scale) / pre.scale


def jacobians(flow: Callable[[Tensor], Tensor], x, chunk_size: int | None = None,
              mode: str = "auto", progress: bool = False) -> Tensor:
    """Jacobians ``J(x) = dz/dx`` of a flow at many points at once.

    For a chunk of ``m`` points in R^d, forward mode (``mode='fwd'``) computes all
    ``m`` Jacobians from one vectorized ``torch.func.jvp`` over the ``d`` basis
    tangents ``e_k`` (column ``k`` of every ``J`` at once, since points do not
    interact); reverse mode (``'rev'``) from one vectorized ``torch.func.vjp`` over
    the ``d_out`` basis cotangents (row ``a`` of every ``J``). ``'auto'`` uses the
    flow's structure where it is known (linear and affine coupling flows: exact,
    several times faster, see :func:`structured_jacobians`) and otherwise forward
    mode when ``d <= d_out`` (every flow: it keeps no autograd tape and was the
    faster one in ``benchmarks/bench_flows.py``). No graph is kept: the result
    carries no gradient.

    Parameters
    ----------
    flow : callable
        A :class:`~analysis.flows.FittedFlow` or any module mapping ``(n, d)`` to
        ``(n, d_out)`` row by row (points must not interact: no batch statistics).
    x : Tensor or ndarray, shape (n, d)
        Points, on the flow's device and dtype.
    chunk_size : int, optional
        Points per batched call; default ``max(1, 65536 // d)`` (the batched call
        holds ``chunk_size * d`` copies of the flow's activations), and
        ``max(16, 2**19 // (d * d_out))`` on the structured path (cache-sized blocks).
    mode : {'auto', 'structured', 'fwd', 'rev'}
        ``'structured'``: the flow's own structure (linear or affine coupling
        flows, :func:`structured_jacobians`); ``'fwd'``/``'rev'``: forward- or
        reverse-mode differentiation (see above); ``'auto'``: structured where
        known, else forward mode.
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
    auto_chunk = chunk_size is None
    if auto_chunk:
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
        fast = structured_jacobians(flow) if mode in ("auto", "structured") else None
        if mode == "structured" and fast is None:
            raise ValueError(f"mode='structured' needs a linear or affine coupling (RealNVP) flow; "
                             f"{type(getattr(flow, 'core', flow)).__name__} has no known structure. "
                             f"Use mode='auto' (generic forward mode for it).")
        if mode in ("auto", "structured") and fast is None:
            mode = "fwd" if d <= d_out else "rev"
        if fast is not None and auto_chunk:  # the structured path streams (m, d, d) blocks: keep them cache-sized
            chunk_size = max(16, _STRUCTURED_ELEMENTS // max(d * d_out, 1))
        out = x.new_empty((n, d_out, d))
        for start in progress_bar(range(0, n, chunk_size), progress, "jacobians", leave=False):
            chunk = x[start:start + chunk_size]
            out[start:start + chunk_size] = fast(chunk) if fast is not None else _chunk_jacobian(flow, chunk, d_out,
                                                                                                 mode)
    return out


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
