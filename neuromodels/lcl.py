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
import torch.nn.functional as F

from .layers import ConvStage, LuminanceContrastNormalization
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
    embedding
        What each stage's loss sees (:meth:`embedding`): ``"local"`` (default) the
        stage's features at every position, or averaged over cells ``embedding_cell``
        receptive fields wide — (B, P, C); ``"global"`` the features averaged over a
        ``embedding_grid`` × ``embedding_grid`` grid and flattened — (B, C·g²); g = 1
        is the global spatial mean (the form before issue 14).
    embedding_cell
        Local cell width in units of the stage's receptive field (default 0: one
        cell per position). See ``docs/models.md`` for the measured view agreement.
    embedding_grid
        Grid of the ``"global"`` embedding (default 1).
    input_normalization
        Luminance and contrast gain control before stage 1 (default True;
        :class:`neuromodels.layers.LuminanceContrastNormalization` with
        ``input_sigma`` pixels and ``input_epsilon``), so that the loss cannot be met
        by encoding patch brightness and contrast.
    input_sigma, input_epsilon
        Its Gaussian pool (default 4 px) and constant (default 0.02).
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
                 norm_kernel: int = 5, norm_sigma: float = 0.1, embedding: str = "local",
                 embedding_cell: float = 0.0, embedding_grid: int = 1, input_normalization: bool = True,
                 input_sigma: float = 4.0, input_epsilon: float = 0.02, visual_degrees: float = 8.0):
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
        if embedding not in ("local", "global"):
            raise ValueError(f"embedding must be 'local' or 'global'; got {embedding!r}")
        if not (isinstance(embedding_cell, (int, float)) and embedding_cell >= 0):
            raise ValueError(f"embedding_cell must be >= 0 receptive fields (0: every position); got {embedding_cell!r}")
        if not (isinstance(embedding_grid, int) and embedding_grid >= 1):
            raise ValueError(f"embedding_grid must be a positive integer; got {embedding_grid!r}")
        self.embedding_mode = embedding
        self.embedding_cell = float(embedding_cell)
        self.embedding_grid = int(embedding_grid)
        self.out_channels = channels[-1]
        self.frontend = None
        # registered first: the receptive-field walk counts it (as a pointwise step)
        self.input_norm = (LuminanceContrastNormalization(input_sigma, input_epsilon)
                           if input_normalization else torch.nn.Identity())
        ins = [1] + channels[:-1]
        self.stages = torch.nn.ModuleList(
            ConvStage(ci, co, k, p, s, pooling, normalization, norm_kernel, norm_sigma)
            for ci, co, k, p, s in zip(ins, channels, kernels, pools, strides)
        )
        self._finish()
        rfs = self.receptive_fields()
        self._cell_pixels = {name: (rfs[name].size, rfs[name].stride) for name in self.stage_names}

    def prepare(self, x) -> torch.Tensor:
        """Check the images (see :func:`neuromodels.base.check_images`), then apply the
        luminance and contrast gain control (when ``input_normalization``)."""
        return self.input_norm(super().prepare(x))

    def embedding_cell_size(self, stage) -> int:
        """Side (in positions of the stage's map) of the local embedding's cells.

        ``max(1, round(embedding_cell × RF size / RF stride))`` for the stage's
        receptive field (input pixels); 1 = every position.
        """
        size, stride = self._cell_pixels[self.stage_names[self._stage_index(stage)]]
        return max(1, round(self.embedding_cell * size / stride))

    def embedding(self, features: torch.Tensor, stage=None) -> torch.Tensor:
        """What a stage's loss sees: local features (B, P, C) or a global vector (B, C·g²).

        ``embedding="local"``: the map averaged over non-overlapping cells of
        :meth:`embedding_cell_size` positions (every position when 1), as (B, P, C)
        with P cells in row-major order; the loss pairs cell p of one view with
        cell p of the other (the views are deformations of the same patch, so cell p
        sees the same place). ``embedding="global"``: the spatial mean over a g × g
        grid, flattened (:meth:`neuromodels.base.StagedModel.embedding`).
        """
        if self.embedding_mode == "global":
            return super().embedding(features, stage)
        if features.ndim != 4:
            raise ValueError(f"embedding expects stage features (B, C, H, W); got shape {tuple(features.shape)}")
        k = 1 if stage is None else self.embedding_cell_size(stage)
        if k > 1:
            k = min(k, features.shape[-1], features.shape[-2])
            features = F.avg_pool2d(features, k, k)
        return features.flatten(2).transpose(1, 2)


def load_lcl_v2(checkpoint: str | None = None, **config) -> LCLV2:
    """An LCL-V2 model, with weights from a trainer checkpoint when ``checkpoint`` is given.

    The checkpoint is a ``torch.save``d dict with ``model`` (state_dict),
    ``model_name`` and ``model_config`` (``docs/interfaces.md``); its config wins
    over ``config``.
    """
    if checkpoint is None:
        return LCLV2(**config)
    from .training.checkpoints import CorruptCheckpointError, read_checkpoint  # the one (safe) reader

    try:
        state = read_checkpoint(checkpoint, require_checksum=False)
    except CorruptCheckpointError as err:
        raise ValueError(f"{checkpoint} is not a training checkpoint: {err}") from None
    name = state.get("model_name", "lcl_v2")
    model = build_model(name, **dict(state.get("model_config") or {}))
    if not isinstance(model, LCLV2):
        raise ValueError(f"{checkpoint} holds a {name!r} model; LCL-V2Net needs an lcl_v2 checkpoint")
    model.load_state_dict(state["model"])
    return model


# -- registry ------------------------------------------------------------------------


@register_model(supervision=("self-supervised", "layerwise local invariance + decorrelation losses on deformed views, no labels"), region_layers={"V1": "stages.0", "V2": "stages.1"})
def lcl_v2(weights=None, **config) -> LCLV2:
    """LCL-V2: two learned conv → ReLU → L2-pooling stages (see :class:`LCLV2`).

    ``weights``: pretrained weights (:class:`neuromodels.weights.LCLV2Weights` member,
    its name, or a :class:`neuromodels.weights.Weights` entry); the architecture
    comes with them and their SHA-256 is checked before loading.
    """
    if weights is not None:
        from .weights import build_with_weights

        return build_with_weights(LCLV2, "lcl_v2", weights, config)
    return LCLV2(**config)


@register_model(supervision=("supervised", "object recognition on top of a frozen self-supervised LCL-V2 front end"), region_layers={"V1": "frontend.stages.0", "V2": "frontend.stages.1", "V4": "backend.layer3", "IT": "backend.layer4"}, image_size=224)
def lcl_v2net(frontend_checkpoint: str | None = None, frontend_config: dict | None = None,
              pretrained: bool = False, num_classes: int = 1000) -> FrontEndResNet50:
    """LCL-V2Net: a frozen LCL-V2 (from ``frontend_checkpoint``) + 1×1 bottleneck + ResNet-50.

    Without a checkpoint the front end is an untrained LCL-V2 (for tests and
    shape checks). Output logits (B, num_classes).
    """
    front = load_lcl_v2(frontend_checkpoint, **(frontend_config or {}))
    return FrontEndResNet50(front, front.out_channels, front.layers, pretrained, num_classes)
