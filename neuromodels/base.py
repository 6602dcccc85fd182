"""Common behaviour of every model: input checks, luminance conversion, layer names.

Every model in the registry derives from :class:`VisionModel`. It fixes the contract
of ``docs/interfaces.md``: ``layers`` (dotted names from ``named_modules()``),
``receptive_fields()``, ``visual_degrees`` and ``in_channels``, and a single place
where bad input is refused with a message that says what to do.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from neurocommon.images import rgb_to_luminance

from .receptive_fields import ReceptiveField, receptive_fields_of

__all__ = ["VisionModel", "StagedModel", "check_images"]


def check_images(x, in_channels: int, model_name: str = "model") -> torch.Tensor:
    """Validate a batch of images and convert it to ``in_channels`` channels.

    Accepts (B, 1, H, W) or (B, 3, H, W) floating tensors. A grayscale model
    (``in_channels=1``) converts RGB to luminance (:func:`neurocommon.images.rgb_to_luminance`,
    the weights of ``skimage.color.rgb2gray``); an RGB model (``in_channels=3``)
    repeats a single channel three times.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    ValueError
        If ``x`` is not 4-D or has a channel count other than 1 or 3.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{model_name} expects a torch.Tensor of images (B, 1, H, W); got {type(x).__name__}. "
            "Convert with torch.as_tensor(images, dtype=torch.float32)."
        )
    if not torch.is_floating_point(x):
        raise TypeError(
            f"{model_name} expects floating-point images in [0, 1]; got dtype {x.dtype}. "
            "Convert with images.float() / 255 for 8-bit images."
        )
    if x.ndim != 4:
        raise ValueError(
            f"{model_name} expects a 4-D batch (B, C, H, W) with C = 1 or 3; got shape "
            f"{tuple(x.shape)}. Add a batch dimension with x[None] or a channel one with x[:, None]."
        )
    c = x.shape[1]
    if c not in (1, 3):
        raise ValueError(
            f"{model_name} expects 1 (grayscale) or 3 (RGB) channels; got {c} channels in shape "
            f"{tuple(x.shape)}. Images must be channel-first (B, C, H, W)."
        )
    if in_channels == 1 and c == 3:
        return rgb_to_luminance(x)
    if in_channels == 3 and c == 1:
        return x.expand(-1, 3, -1, -1)
    return x


class VisionModel(nn.Module):
    """Base class of the registry's models.

    Subclasses set ``layers`` (ordered dotted module names, each a real entry of
    ``named_modules()``), ``visual_degrees`` (field of view of the input, degrees of
    visual angle) and ``in_channels`` (1 for grayscale models, 3 for RGB ones), and call
    :meth:`prepare` on their input.
    """

    layers: list[str]
    visual_degrees: float
    in_channels: int

    def prepare(self, x) -> torch.Tensor:
        """Check ``x`` and convert it to ``self.in_channels`` channels (see :func:`check_images`)."""
        return check_images(x, self.in_channels, type(self).__name__)

    def receptive_fields(self) -> dict[str, ReceptiveField]:
        """Receptive field (size and stride, input pixels) of every layer in ``self.layers``.

        Computed by walking the convolution and pooling modules in order
        (:func:`neuromodels.receptive_fields.receptive_fields_of`).
        """
        return receptive_fields_of(self, self.layers)

    def _check_layers(self) -> None:
        names = dict(self.named_modules())
        missing = [n for n in self.layers if n not in names]
        if missing:  # a programming error in the architecture file
            raise RuntimeError(f"{type(self).__name__}.layers names missing modules: {missing}")


class StagedModel(VisionModel):
    """A model made of an optional fixed front end and trainable stages in depth order.

    Implements the trainer's contract (``docs/interfaces.md``): ``frontend`` (fixed
    module or None), ``stages`` (``nn.ModuleList``), ``stage_names`` (their dotted
    names, also entries of ``layers``), :meth:`stage_outputs` and :meth:`embedding`.

    Subclasses set ``frontend``, ``stages`` and ``embedding_grid`` and call
    :meth:`_finish` at the end of ``__init__``.
    """

    frontend: nn.Module | None
    stages: nn.ModuleList
    embedding_grid: int = 1

    def _finish(self) -> None:
        self.stage_names = [f"stages.{i}" for i in range(len(self.stages))]
        self.layers = (["frontend"] if self.frontend is not None else []) + list(self.stage_names)
        if self.frontend is not None:
            for p in self.frontend.parameters():
                p.requires_grad_(False)
        self._check_layers()

    def _stage_index(self, stage) -> int:
        if isinstance(stage, str):
            if stage not in self.stage_names:
                raise ValueError(f"unknown stage {stage!r}; stages are {self.stage_names}")
            return self.stage_names.index(stage)
        if isinstance(stage, int) and not isinstance(stage, bool) and 0 <= stage < len(self.stages):
            return stage
        raise ValueError(
            f"stage must be a name in {self.stage_names} or a 0-based index < {len(self.stages)}; got {stage!r}"
        )

    def stage_outputs(self, x: torch.Tensor, upto=None) -> list[torch.Tensor]:
        """Outputs of stages 1..``upto`` (all by default), each (B, C_k, H_k, W_k).

        Parameters
        ----------
        x
            Images (B, 1, H, W) in [0, 1] (RGB is converted to luminance).
        upto
            Number of stages to run (1-based count), a stage name (inclusive), or None.
        """
        if upto is None:
            n = len(self.stages)
        elif isinstance(upto, str):
            n = self._stage_index(upto) + 1
        elif isinstance(upto, int) and not isinstance(upto, bool) and 1 <= upto <= len(self.stages):
            n = upto
        else:
            raise ValueError(
                f"upto must be None, a count in 1..{len(self.stages)} or a stage name in {self.stage_names}; "
                f"got {upto!r}"
            )
        h = self.prepare(x)
        if self.frontend is not None:
            h = self.frontend(h)
        outs = []
        for stage in list(self.stages)[:n]:
            h = stage(h)
            outs.append(h)
        return outs

    def embedding(self, features: torch.Tensor, stage=None) -> torch.Tensor:
        """Vector fed to a stage's loss: (B, C, H, W) → (B, C·g²).

        Spatial average over a ``g × g`` grid of regions (``embedding_grid``; g = 1
        is the global mean over positions), flattened. ``stage`` (name or 0-based
        index) is accepted for the contract; the map is the same for every stage.
        """
        if stage is not None:
            self._stage_index(stage)
        if features.ndim != 4:
            raise ValueError(f"embedding expects stage features (B, C, H, W); got shape {tuple(features.shape)}")
        return F.adaptive_avg_pool2d(features, self.embedding_grid).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the last stage, (B, C_last, H_last, W_last)."""
        return self.stage_outputs(x)[-1]
