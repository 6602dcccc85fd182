"""The texture model of Parthasarathy & Simoncelli (2020).

"Self-supervised learning of a biologically-inspired visual texture model"
(arXiv:2006.16976). A fixed V1 front end (rectified simple cells at four phases
and phase-invariant complex cells of a steerable pyramid, as in the paper;
:class:`neuromodels.frontends.SteerableV1`) feeds one learned V2 stage —
convolution over the V1 channels → half-wave rectification → spatial pooling —
whose spatial average is a low-dimensional texture representation. It is
trained without labels on homogeneous textures only (the evaluation families
held out: :mod:`neuromodels.texture_families`) with the Gaussian-information
loss (:class:`neuromodels.losses.GaussianInformationLoss`) over several random
crops of each image.
"""
from __future__ import annotations

import torch

from .base import StagedModel
from .frontends.steerable import SteerableV1
from .layers import ConvStage
from .registry import register_model

__all__ = ["TextureModel"]


class TextureModel(StagedModel):
    """Fixed steerable-pyramid V1 → learned V2 stage → spatially pooled texture vector.

    Parameters
    ----------
    n_scales, n_orientations
        V1 pyramid (default 4 × 4; images need a side ≥ 2^(n_scales+2) pixels).
    v1_cells
        V1 population fed to V2: ``"both"`` (default, the paper's: rectified simple
        cells and complex cells, 5 × scales × orientations channels), ``"complex"``
        (the toolkit's earlier default) or ``"simple"``.
    v1_pool_size, v1_stride
        V1 scale-dependent pooling base (pixels) and subsampling (default 1 and 2).
    channels
        V2 channels, the dimension D of the texture representation (default 32).
    kernel_size, pool_size, pool_stride, pooling
        V2 convolution (7), pooling window (4), stride (2) and kind (``"avg"``).
    normalization
        Divisive normalization of V1 and V2 (default False).
    visual_degrees
        Field of view (degrees).

    Notes
    -----
    ``forward`` returns the V2 map (B, channels, H₂, W₂); ``embedding`` averages it
    over space to (B, channels). Layers: ``frontend`` (V1) and ``stages.0`` (V2).

    Examples
    --------
    >>> m = TextureModel(n_scales=2, channels=8)
    >>> m.embedding(m(torch.rand(2, 1, 32, 32))).shape
    torch.Size([2, 8])
    """

    def __init__(self, n_scales: int = 4, n_orientations: int = 4, v1_cells: str = "both",
                 v1_pool_size: int = 1, v1_stride: int = 2, channels: int = 32, kernel_size: int = 7,
                 pool_size: int = 4, pool_stride: int = 2, pooling: str = "avg",
                 normalization: bool = False, visual_degrees: float = 8.0):
        super().__init__()
        self.in_channels = 1
        self.visual_degrees = float(visual_degrees)
        self.embedding_grid = 1
        self.frontend = SteerableV1(n_scales, n_orientations, cells=v1_cells, normalization=normalization,
                                    pool_size=v1_pool_size, stride=v1_stride, visual_degrees=visual_degrees)
        self.out_channels = channels
        self.stages = torch.nn.ModuleList(
            [ConvStage(self.frontend.out_channels, channels, kernel_size, pool_size, pool_stride, pooling,
                       normalization)]
        )
        self._finish()


@register_model(supervision=("self-supervised", "Gaussian-information loss over crops of texture images, no labels"), region_layers={"V1": "frontend", "V2": "stages.0"})
def texture_model(weights=None, **config) -> TextureModel:
    """Parthasarathy & Simoncelli (2020) texture model (see :class:`TextureModel`).

    ``weights``: pretrained weights (:class:`neuromodels.weights.TextureModelWeights`
    member, its name, or a :class:`neuromodels.weights.Weights` entry), hash-checked.
    """
    if weights is not None:
        from .weights import build_with_weights

        return build_with_weights(TextureModel, "texture_model", weights, config)
    return TextureModel(**config)
