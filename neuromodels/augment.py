"""Complexity-matched local deformations (batched, on the images' device).

Parthasarathy, Hénaff & Simoncelli (2023) train each LCL-V2 stage to be invariant
to small local deformations whose size matches the stage's receptive field. The
smooth random displacement field and the warp are the toolkit's one pair,
:func:`neurocommon.deformations.displacement_field` (``normalize="expected"``: the
RMS displacement is ``amplitude`` in expectation over fields and image) and
:func:`neurocommon.deformations.warp` (bilinear, reflection at the borders); their
smoothness is tested in ``tests/neurocommon/test_deformations.py`` and
``tests/neuromodels/test_augment.py``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from neurocommon.deformations import displacement_field, warp

__all__ = ["LocalDeformation", "matched_amplitude"]


def _stage_name(model: nn.Module, stage) -> str:
    names = list(getattr(model, "stage_names", None) or getattr(model, "layers", []))
    if isinstance(stage, str):
        if stage not in names:
            raise ValueError(f"unknown stage {stage!r}; this model's stages are {names}")
        return stage
    if isinstance(stage, int) and not isinstance(stage, bool):
        if not 0 <= stage < len(names):
            raise ValueError(
                f"stage index {stage} out of range for stages {names} (0-based index, or pass the name)"
            )
        return names[stage]
    raise TypeError(f"stage must be a stage name (str) or a 0-based index (int); got {stage!r}")


def matched_amplitude(model: nn.Module, stage, c: float) -> float:
    """Complexity-matched deformation amplitude: ``c`` × the stage's receptive-field size.

    Parameters
    ----------
    model
        A model with ``receptive_fields()`` and ``stage_names`` (or ``layers``).
    stage
        Stage name, or its 0-based index in ``model.stage_names``.
    c
        Proportionality constant (dimensionless).

    Returns
    -------
    float
        Amplitude in input pixels.
    """
    name = _stage_name(model, stage)
    rf = model.receptive_fields()[name]
    if math.isinf(rf.size):
        raise ValueError(f"stage {name!r} has a global receptive field; matching needs a finite size")
    return float(c) * float(rf.size)


class LocalDeformation(nn.Module):
    """Random smooth local deformation plus a small global translation of each image.

    Parameters
    ----------
    amplitude
        RMS displacement of the local field (pixels); ``c × receptive-field size`` of
        the stage being trained when complexity-matched (:func:`matched_amplitude`),
        one value for all stages in the unmatched ablation.
    cell_size
        Node spacing of the coarse random grid (pixels): the smoothness scale.
    translation
        Each image is also shifted by a uniform random offset in
        ``[-translation, translation]`` pixels along each axis (RMS shift
        ``translation·sqrt(2/3)`` pixels). Use :meth:`matched` to scale it with the
        receptive field like the deformation; the shipped LCL-V2 configs set it to 0.

    Examples
    --------
    >>> deform = LocalDeformation(amplitude=2.0, cell_size=8.0, translation=1.0)
    >>> g = torch.Generator().manual_seed(0)
    >>> deform(torch.rand(4, 1, 32, 32), generator=g).shape
    torch.Size([4, 1, 32, 32])
    """

    def __init__(self, amplitude: float, cell_size: float, translation: float = 0.0):
        super().__init__()
        if amplitude < 0 or translation < 0:
            raise ValueError(f"amplitude and translation must be >= 0; got {amplitude}, {translation}")
        if cell_size < 1:
            raise ValueError(f"cell_size must be >= 1 pixel; got {cell_size}")
        self.amplitude = float(amplitude)
        self.cell_size = float(cell_size)
        self.translation = float(translation)

    @classmethod
    def matched(cls, model: nn.Module, stage, c: float, cell_c: float = 0.5,
                translation_c: float = 0.0) -> "LocalDeformation":
        """Complexity-matched deformation for ``stage``.

        Amplitude ``c·RF``, cell size ``cell_c·RF`` and global shift bound
        ``translation_c·RF`` (pixels; RF = the stage's receptive-field size), so every
        displacement of the views — local and global — scales with the receptive
        field. The default shift is 0: a shift that does not scale would, at
        stage 1, exceed the matched local amplitude (issue 14, cause 3).
        """
        rf = matched_amplitude(model, stage, 1.0)
        return cls(amplitude=c * rf, cell_size=max(1.0, cell_c * rf), translation=translation_c * rf)

    def field(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The displacement (B, 2, H, W) in pixels that :meth:`forward` would apply."""
        b, _, h, w = images.shape
        disp = displacement_field(b, h, w, self.amplitude, self.cell_size, generator,
                                  images.dtype, images.device, normalize="expected")
        if self.translation > 0:
            gen_device = generator.device if generator is not None else images.device
            shift = torch.rand(b, 2, 1, 1, generator=generator, dtype=images.dtype, device=gen_device)
            disp = disp + (2 * shift.to(images.device) - 1) * self.translation
        return disp

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Deform a batch (B, C, H, W) on its own device; identical draws for the same generator state."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or not torch.is_floating_point(images):
            raise ValueError(
                "LocalDeformation expects a float tensor of images (B, C, H, W); got "
                f"{type(images).__name__} {getattr(images, 'shape', '')} {getattr(images, 'dtype', '')}"
            )
        if self.amplitude == 0 and self.translation == 0:
            return images
        return warp(images, self.field(images, generator), padding_mode="reflection")

    def extra_repr(self) -> str:
        return f"amplitude={self.amplitude}, cell_size={self.cell_size}, translation={self.translation}"
