"""Which units of a hooked layer activations keep, and how: feature reduction plans.

A layer's per-image output ``(C, H, W)``, ``(C,)`` or ``(T, D)`` (tokens) is reduced
to a feature budget either by keeping a seeded random subset of units (the same for
every stimulus) or by adaptive average pooling over space to the largest grid with
``C·h·w <= budget`` (then random channels if ``C`` alone exceeds it). The plan is
decided on the first batch (:func:`reduction_plan`) and applied to every batch
(:func:`reduce_features`) by :func:`analysis.activations.extract`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["hooked_tensor", "pool_shape", "reduction_plan", "reduce_features"]


def hooked_tensor(output, name: str) -> torch.Tensor:
    """The tensor a forward hook of layer ``name`` keeps: ``output`` or its first element."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(
        f"layer {name!r} returned {type(output).__name__}; extract needs a tensor output "
        f"(or a tuple whose first element is one). Hook a submodule that returns a tensor."
    )


def pool_shape(c: int, h: int, w: int, budget: int) -> tuple[int, int]:
    """Largest spatial grid (h', w') with c·h'·w' <= budget, keeping the aspect ratio."""
    scale = np.sqrt(budget / (c * h * w))
    return max(1, min(h, int(np.floor(h * scale)))), max(1, min(w, int(np.floor(w * scale))))


def reduction_plan(shape, max_features, reduction, rng, name) -> dict:
    """Which units (and which pooling) a layer of per-image output ``shape`` keeps.

    ``reduction`` is ``'random'`` or ``'pool'`` (see the module docstring); ``rng`` draws
    the random subset; ``name`` labels the layer in errors. The plan holds the kept
    units' ``channel``, ``y``, ``x`` (grid positions) and whether anything was reduced.

    Examples
    --------
    >>> import numpy as np
    >>> p = reduction_plan((4, 6, 6), 36, "pool", np.random.default_rng(0), "conv")
    >>> p["pooled"], len(p["channel"])
    ((3, 3), 36)
    """
    if len(shape) == 1:
        c, h, w = shape[0], 1, 1
    elif len(shape) == 3:
        c, h, w = shape
    elif len(shape) == 2:  # (tokens, dim) e.g. transformers: tokens as positions
        h, c, w = shape[0], shape[1], 1
    else:
        raise ValueError(
            f"layer {name!r} outputs per-image shape {tuple(shape)}; expected (C,), (C, H, W) or (T, D)"
        )
    pooled = None
    if max_features is not None and c * h * w > max_features and reduction == "pool" and len(shape) == 3:
        pooled = pool_shape(c, h, w, max_features)
        h, w = pooled
    grid_c, grid_y, grid_x = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    channel, y, x = grid_c.ravel(), grid_y.ravel(), grid_x.ravel()
    keep = None
    if max_features is not None and len(channel) > max_features:
        keep = np.sort(rng.choice(len(channel), size=int(max_features), replace=False))
        channel, y, x = channel[keep], y[keep], x[keep]
    return {"rank": len(shape), "pooled": pooled, "keep": keep, "channel": channel, "y": y, "x": x,
            "reduced": pooled is not None or keep is not None}


def reduce_features(out: torch.Tensor, plan: dict) -> np.ndarray:
    """A batch of layer outputs ``(B, ...)`` reduced by ``plan``, as float32 ``(B, kept units)``."""
    if plan["rank"] == 2:  # (B, T, D) -> channel-major (B, D, T)
        out = out.transpose(1, 2)
    if plan["pooled"] is not None:
        out = F.adaptive_avg_pool2d(out, plan["pooled"])
    flat = out.reshape(out.shape[0], -1)
    if plan["keep"] is not None:
        flat = flat[:, torch.as_tensor(plan["keep"], device=flat.device)]
    return flat.float().cpu().numpy()
