"""LCL-V2 (Parthasarathy, Hénaff & Simoncelli 2023) and LCL-V2Net.

"Layerwise complexity-matched learning yields an improved model of cortical area
V2" (TMLR 2024; arXiv:2312.11436). LCL-V2 is two learned stages, each a
convolution → half-wave rectification → spatial pooling (→ optional divisive
normalization), trained bottom-up one stage at a time with a local
invariance + decorrelation loss on locally deformed views whose amplitude is
matched to the stage's receptive field (see :mod:`neuromodels.augment`,
:mod:`neuromodels.losses`, :mod:`neuromodels.training`). LCL-V2Net puts the trained,
frozen LCL-V2 in front of a ResNet-50 trained for object recognition.

The end-to-end baseline is the same ``lcl_v2`` architecture; only the trainer's
schedule (``end_to_end`` instead of ``layerwise``) differs, so it has no registry
entry of its own.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import StagedModel
from .baselines import FrontEndResNet50
from .layers import ConvStage
from .registry import build_model, register_model

__all__ = ["LCLV2", "load_lcl_v2"]


def _per_stage(value, n: int, name: str) -> list:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n:
            raise ValueError(f"{name} needs one entry per stage ({n}); got {list(value)}")
        return list(value)
    return [value] * n


class LCLV2(StagedModel):
    """Two (or more) learned stages: conv → ReLU → pooling (→ divisive normalization).

    Parameters
    ----------
    channels
        Output channels of each stage (default (32, 64)).
    kernel_sizes
        Convolution sizes, odd (default (7, 5) pixels of each stage's input).
    pool_sizes, pool_strides
        Pooling windows and strides (default 4 and 2 for both stages).
    pooling
        ``"l2"`` (energy pooling, default), ``"avg"`` or ``"max"``.
    normalization
        Divisive normalization after pooling (default False).
    embedding_grid
        Loss embedding: stage output averaged over a g × g grid (default 1: D = C).
    visual_degrees
        Field of view of the input (degrees).

    Notes
    -----
    Input (B, 1, H, W); ``forward`` returns the last stage's map; with defaults the
    stage outputs are (B, 32, ⌊(H−4)/2⌋+1, ·) and (B, 64, ⌊(H₁−4)/2⌋+1, ·), and the
    receptive fields are 10 px (stride 2) and 24 px (stride 4).

    Examples
    --------
    >>> m = LCLV2()
    >>> [o.shape for o in m.stage_outputs(torch.rand(2, 1, 32, 32))]
    [torch.Size([2, 32, 15, 15]), torch.Size([2, 64, 6, 6])]
    """

    def __init__(self, channels: Sequence[int] = (32, 64), kernel_sizes=(7, 5), pool_sizes=4,
                 pool_strides=2, pooling: str = "l2", normalization: bool = False,
                 norm_kernel: int = 5, norm_sigma: float = 0.1, embedding_grid: int = 1,
                 visual_degrees: float = 8.0):
        super().__init__()
        channels = list(channels)
        n = len(channels)
        if n < 1:
            raise ValueError("LCLV2 needs at least one stage")
        kernels = _per_stage(kernel_sizes, n, "kernel_sizes")
        pools = _per_stage(pool_sizes, n, "pool_sizes")
        strides = _per_stage(pool_strides, n, "pool_strides")
        self.in_channels = 1
        self.visual_degrees = float(visual_degrees)
        self.embedding_grid = int(embedding_grid)
        self.out_channels = channels[-1]
        self.frontend = None
        ins = [1] + channels[:-1]
        self.stages = torch.nn.ModuleList(
            ConvStage(ci, co, k, p, s, pooling, normalization, norm_kernel, norm_sigma)
            for ci, co, k, p, s in zip(ins, channels, kernels, pools, strides)
        )
        self._finish()


def load_lcl_v2(checkpoint: str | None = None, **config) -> LCLV2:
    """An LCL-V2 model, with weights from a trainer checkpoint when ``checkpoint`` is given.

    The checkpoint is a ``torch.save``d dict with ``model`` (state_dict),
    ``model_name`` and ``model_config`` (``docs/interfaces.md``); its config wins
    over ``config``.
    """
    if checkpoint is None:
        return LCLV2(**config)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{checkpoint} is not a training checkpoint (expected a dict with a 'model' key)")
    name = state.get("model_name", "lcl_v2")
    model = build_model(name, **dict(state.get("model_config") or {}))
    if not isinstance(model, LCLV2):
        raise ValueError(f"{checkpoint} holds a {name!r} model; LCL-V2Net needs an lcl_v2 checkpoint")
    model.load_state_dict(state["model"])
    return model


# -- registry ------------------------------------------------------------------------


@register_model
def lcl_v2(**config) -> LCLV2:
    """LCL-V2: two learned conv → ReLU → L2-pooling stages (see :class:`LCLV2`)."""
    return LCLV2(**config)


@register_model
def lcl_v2net(frontend_checkpoint: str | None = None, frontend_config: dict | None = None,
              pretrained: bool = False, num_classes: int = 1000) -> FrontEndResNet50:
    """LCL-V2Net: a frozen LCL-V2 (from ``frontend_checkpoint``) + 1×1 bottleneck + ResNet-50.

    Without a checkpoint the front end is an untrained LCL-V2 (for tests and
    shape checks). Output logits (B, num_classes).
    """
    front = load_lcl_v2(frontend_checkpoint, **(frontend_config or {}))
    return FrontEndResNet50(front, front.out_channels, front.layers, pretrained, num_classes)
