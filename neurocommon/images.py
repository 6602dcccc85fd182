"""Luminance of RGB images and the image files of a folder: one definition of each for the toolkit.

- :data:`LUMINANCE_WEIGHTS` and :func:`rgb_to_luminance`: the weights of
  ``skimage.color.rgb2gray`` (Rec. ITU-R BT.709 primaries), on numpy arrays and torch
  tensors alike, any channel axis;
- :data:`IMAGE_SUFFIXES` and :func:`image_files`: which files are read as images.

numpy is imported here; torch only when a tensor is converted.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["LUMINANCE_WEIGHTS", "rgb_to_luminance", "IMAGE_SUFFIXES", "image_files"]

#: Weights of R, G, B in the luminance of an RGB image: those of ``skimage.color.rgb2gray``
#: (Rec. ITU-R BT.709 primaries, ``Y = 0.2125 R + 0.7154 G + 0.0721 B``), applied to the
#: values as given (no gamma decoding, as scikit-image does).
LUMINANCE_WEIGHTS = (0.2125, 0.7154, 0.0721)

#: File suffixes read as images everywhere in the toolkit (compared in lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".pgm", ".ppm")


def rgb_to_luminance(images, channel_axis: int = -3):
    """Luminance of RGB images, ``Y = 0.2125 R + 0.7154 G + 0.0721 B`` (:data:`LUMINANCE_WEIGHTS`).

    The weights are those of ``skimage.color.rgb2gray`` (Rec. ITU-R BT.709), applied to
    the values as given (no gamma decoding, as scikit-image does).

    Parameters
    ----------
    images : numpy.ndarray or torch.Tensor
        RGB (or RGBA: alpha is dropped) along ``channel_axis``, values in [0, 1].
        Integer arrays are converted to float64 (numpy) or float32 (torch) as they are.
    channel_axis : int
        Axis holding the colour channels (default -3: channel-first ``(..., 3, H, W)``).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Same type as ``images`` (float; a tensor keeps its dtype and device), with
        ``channel_axis`` of length 1.

    Raises
    ------
    ValueError
        If ``channel_axis`` holds fewer than 3 channels.

    Examples
    --------
    >>> import numpy as np
    >>> rgb_to_luminance(np.ones((2, 3, 4, 4))).shape
    (2, 1, 4, 4)
    >>> float(rgb_to_luminance(np.array([0.0, 1.0, 0.0])[:, None, None])[0, 0, 0])
    0.7154
    >>> import torch
    >>> rgb_to_luminance(torch.ones(1, 3, 2, 2, dtype=torch.float64)).flatten().tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    if type(images).__module__.startswith("torch"):
        import torch

        x = torch.movedim(images, channel_axis, -1)[..., :3]
        if x.shape[-1] != 3:
            raise ValueError(f"rgb_to_luminance needs 3 colour channels on axis {channel_axis}; "
                             f"got shape {tuple(images.shape)}")
        x = x if x.is_floating_point() else x.float()
        y = torch.einsum("...c,c->...", x, torch.tensor(LUMINANCE_WEIGHTS, dtype=x.dtype, device=x.device))
        return torch.movedim(y[..., None], -1, channel_axis)
    x = np.moveaxis(np.asarray(images), channel_axis, -1)[..., :3]
    if x.shape[-1] != 3:
        raise ValueError(f"rgb_to_luminance needs 3 colour channels on axis {channel_axis}; "
                         f"got shape {np.shape(images)}")
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    y = x @ np.asarray(LUMINANCE_WEIGHTS, dtype=x.dtype)
    return np.moveaxis(y[..., None], -1, channel_axis)


def image_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """The image files (by :data:`IMAGE_SUFFIXES`, any letter case) in ``folder``, sorted by path.

    Parameters
    ----------
    folder : str or path
    recursive : bool
        Also search every folder below ``folder`` (default: only files directly inside).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for n in ("b.png", "a.JPG", "c.txt", "sub/d.webp"):
    ...         (pathlib.Path(d) / n).parent.mkdir(exist_ok=True)
    ...         _ = (pathlib.Path(d) / n).write_bytes(b"")
    ...     print([p.name for p in image_files(d)], [p.name for p in image_files(d, recursive=True)])
    ['a.JPG', 'b.png'] ['a.JPG', 'b.png', 'd.webp']
    """
    folder = Path(folder)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in candidates if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
