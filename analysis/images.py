"""Image arrays: conversion to float ``(C, H, W)`` in [0, 1], colour, geometry.

The one image conversion of the analysis package (:func:`as_image`: uint8 or float,
channel-last or channel-first, gray or RGB → float32 ``(C, H, W)`` in [0, 1]) and image
geometry (:func:`resize_square`: centre crop and anti-aliased resampling, in pixels).
Luminance is the toolkit's one conversion, :func:`neurocommon.images.rgb_to_luminance`
(the weights of ``skimage.color.rgb2gray``; also reachable as
``analysis.rgb_to_luminance``), and the image-suffix list and folder listing are
:data:`neurocommon.images.IMAGE_SUFFIXES` and :func:`neurocommon.images.image_files`.
Stimulus sets built from these images are in :mod:`analysis.stimuli`; images that
ship inside installed wheels in :mod:`analysis.bundled`.
"""
from __future__ import annotations

import numpy as np

from neurocommon.images import rgb_to_luminance

__all__ = [
    "as_image",
    "as_gray_image",
    "convert_color",
    "check_color",
    "stack_images",
    "COLORS",
    "check_image_size",
    "resize_square",
]

#: Values of ``color`` everywhere: keep the image's channels, luminance, or RGB.
COLORS = (None, "gray", "rgb")


def check_color(color) -> None:
    """Refuse a ``color`` other than None (keep the image's channels), ``'gray'`` or ``'rgb'``."""
    if color not in COLORS:
        raise ValueError(f"color must be None (keep), 'gray' or 'rgb'; got {color!r}")


def convert_color(images: np.ndarray, color: str | None) -> np.ndarray:
    """Channel-first images ``(..., C, H, W)`` (C = 1 or 3) to ``color``.

    ``None`` keeps them; ``'gray'`` converts RGB with :func:`rgb_to_luminance`;
    ``'rgb'`` repeats a gray channel three times.

    Examples
    --------
    >>> import numpy as np
    >>> convert_color(np.ones((2, 1, 4, 4)), "rgb").shape
    (2, 3, 4, 4)
    """
    check_color(color)
    c = images.shape[-3]
    if color == "gray" and c == 3:
        return rgb_to_luminance(images).astype(images.dtype, copy=False)
    if color == "rgb" and c == 1:
        return np.repeat(images, 3, axis=-3)
    return images


def as_image(img, name: str = "image", color: str | None = None) -> np.ndarray:
    """Convert one image to float32 ``(C, H, W)`` in [0, 1], C = 1 (gray) or 3 (RGB).

    Accepts (H, W), (1, H, W), (H, W, 3|4) and (3, H, W) (alpha is dropped); uint8 is
    divided by 255, floats must already lie in [0, 1]. ``color``: ``None`` keeps the
    image's own channels, ``'gray'`` converts RGB to luminance
    (:func:`rgb_to_luminance`), ``'rgb'`` repeats a gray image to three channels.
    ``name`` labels the image in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> as_image(np.zeros((4, 5, 3), dtype=np.uint8)).shape
    (3, 4, 5)
    >>> as_image(np.zeros((4, 5, 3), dtype=np.uint8), color="gray").shape
    (1, 4, 5)
    """
    check_color(color)
    img = np.asarray(img)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    elif img.dtype.kind in "iu" or img.dtype.kind == "b":
        raise ValueError(f"{name}: integer images must be uint8 (0-255); got {img.dtype}")
    img = img.astype(np.float32)
    if img.ndim == 3 and img.shape[-1] in (3, 4) and img.shape[0] not in (1, 3):
        img = np.moveaxis(img[..., :3], -1, 0)
    elif img.ndim == 2:
        img = img[None]
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(
            f"{name}: expected a grayscale (H, W), (1, H, W) or RGB (H, W, 3) / (3, H, W) image; "
            f"got shape {np.shape(img)}"
        )
    if not np.isfinite(img).all():
        raise ValueError(f"{name}: image holds NaN or inf values")
    lo, hi = float(img.min()), float(img.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(
            f"{name}: float images must lie in [0, 1]; got range [{lo:.3g}, {hi:.3g}]. "
            f"Rescale (e.g. img / 255) before building the stimulus set."
        )
    return convert_color(np.clip(img, 0.0, 1.0), color)


def as_gray_image(img, name: str = "image") -> np.ndarray:
    """One image as float32 ``(1, H, W)`` luminance in [0, 1]: ``as_image(img, name, "gray")``.

    Examples
    --------
    >>> import numpy as np
    >>> as_gray_image(np.full((4, 4), 255, dtype=np.uint8)).shape
    (1, 4, 4)
    """
    return as_image(img, name, "gray")


def stack_images(images: list[np.ndarray], what: str = "images") -> np.ndarray:
    """Stack ``(C, H, W)`` images into ``(n, C, H, W)``; gray ones become RGB when the set mixes both.

    ``what`` names the images in the error raised when their sizes differ.

    Examples
    --------
    >>> import numpy as np
    >>> stack_images([np.zeros((1, 4, 4)), np.zeros((3, 4, 4))]).shape
    (2, 3, 4, 4)
    """
    if any(im.shape[0] == 3 for im in images):
        images = [convert_color(im, "rgb") for im in images]
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"{what} differ in size: {sorted(shapes)[:3]}; resize them first")
    return np.stack(images)


# --------------------------------------------------------------------------------------
# Image geometry
# --------------------------------------------------------------------------------------


def _center_square(img: np.ndarray) -> np.ndarray:
    """Largest centred square of a 2-D image."""
    h, w = img.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[..., top : top + s, left : left + s]


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop a 2-D image to a square and resample it to ``size`` × ``size``.

    Down-sampling is anti-aliased (Gaussian pre-filter with σ = (1/zoom − 1)/2 px, as
    ``skimage.transform.resize``), then linear interpolation on pixel centres
    (``scipy.ndimage.zoom(grid_mode=True)``); values stay in the input's range.

    Parameters
    ----------
    img : numpy.ndarray, shape (H, W)
    size : int
        Side of the output in pixels.

    Returns
    -------
    numpy.ndarray, shape (size, size), float32

    Examples
    --------
    >>> import numpy as np
    >>> resize_square(np.ones((30, 40)), 16).shape
    (16, 16)
    """
    from scipy import ndimage

    size = check_image_size(size, "size")
    img = np.asarray(img, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"resize_square takes a 2-D (H, W) image; got shape {img.shape}")
    sq = _center_square(img)
    if sq.shape[0] == size:
        return sq.astype(np.float32)
    zoom = size / sq.shape[0]
    if zoom < 1:
        sq = ndimage.gaussian_filter(sq, sigma=(1 / zoom - 1) / 2, mode="reflect")
    out = ndimage.zoom(sq, zoom, order=1, mode="reflect", grid_mode=True)
    lo, hi = float(img.min()), float(img.max())
    return np.clip(out, lo, hi).astype(np.float32)


def check_image_size(size, name: str = "size") -> int:
    """``size`` as an int number of pixels >= 8, or a ValueError naming ``name``."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"{name} must be an integer number of pixels >= 8; got {size!r}")
    return int(size)
