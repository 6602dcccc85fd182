"""Images that ship inside installed wheels (scikit-image, plenoptic), as stimulus sets.

Offline by construction: nothing is downloaded. :func:`bundled_images` gives natural
images (``skimage.data`` camera, astronaut, ...; ``plenoptic.data`` einstein, curie,
parrot), :func:`bundled_textures` homogeneous texture photographs (brick, grass,
gravel, reptile_skin, and texture-like crops of other bundled images), each
centre-cropped and resampled to a square (:func:`analysis.images.resize_square`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.images import as_image, check_image_size, resize_square
from analysis.stimuli import StimulusSet

__all__ = ["bundled_images", "bundled_textures", "NATURAL_IMAGES", "TEXTURE_SOURCES", "DEFAULT_TEXTURES"]

#: Natural images shipped inside installed wheels: name -> (package, loader name).
NATURAL_IMAGES: dict[str, tuple[str, str]] = {
    "camera": ("skimage", "camera"),
    "astronaut": ("skimage", "astronaut"),
    "coffee": ("skimage", "coffee"),
    "chelsea": ("skimage", "chelsea"),
    "rocket": ("skimage", "rocket"),
    "moon": ("skimage", "moon"),
    "einstein": ("plenoptic", "einstein"),
    "curie": ("plenoptic", "curie"),
    "parrot": ("plenoptic", "parrot"),
}

#: Texture sources: name -> (package, loader name, crop (rows, cols) or None).
#: The first four are photographs of homogeneous textures; the others are
#: texture-like crops of other bundled images (documented in docs/data_model.md).
TEXTURE_SOURCES: dict[str, tuple[str, str, tuple | None]] = {
    "brick": ("skimage", "brick", None),
    "grass": ("skimage", "grass", None),
    "gravel": ("skimage", "gravel", None),
    "reptile_skin": ("plenoptic", "reptile_skin", None),
    "coins": ("skimage", "coins", ((0, 303), (40, 343))),
    "stars": ("skimage", "hubble_deep_field", ((0, 512), (0, 512))),
    "tissue": ("skimage", "immunohistochemistry", ((0, 256), (0, 256))),
    "text": ("skimage", "page", ((40, 190), (20, 170))),
}
DEFAULT_TEXTURES = ("brick", "grass", "gravel", "reptile_skin")


def _load_bundled(package: str, loader: str, crop=None, color: str | None = "gray") -> np.ndarray:
    """One bundled image as float32 (C, H, W) in [0, 1] (``color`` as in :func:`as_image`)."""
    if package == "skimage":
        import skimage.data

        img = getattr(skimage.data, loader)()
    elif package == "plenoptic":
        try:
            import plenoptic.data
        except ImportError as err:  # the Brain-Score venv has no plenoptic
            raise ImportError(
                f"the bundled image {loader!r} ships with plenoptic, which is not installed "
                f"in this environment; pip install plenoptic or use a scikit-image image"
            ) from err
        img = getattr(plenoptic.data, loader)().detach().cpu().numpy()[0]
    else:  # pragma: no cover - registry is module-local
        raise ValueError(f"unknown package {package!r}")
    img = as_image(img, loader, color)
    if crop is not None:
        (r0, r1), (c0, c1) = crop
        img = img[:, r0:r1, c0:c1]
    return img


def _resize_channels(img: np.ndarray, size: int) -> np.ndarray:
    return np.stack([resize_square(channel, size) for channel in img])


def _lookup(names, registry: dict, kind: str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown bundled {kind} {unknown}; available: {sorted(registry)}")
    if len(set(names)) != len(names):
        raise ValueError(f"bundled {kind} names repeat: {names}")
    return names


def bundled_images(names: Sequence[str] | None = None, size: int = 128,
                   color: str | None = "gray") -> StimulusSet:
    """Natural images that ship inside installed wheels, as a stimulus set.

    Each image is converted to ``color`` (default luminance, :func:`rgb_to_luminance`;
    ``None`` keeps the colour images RGB and makes the set RGB), centre-cropped to a
    square and resampled to ``size`` × ``size`` (see :func:`resize_square`). Nothing is
    downloaded.

    Parameters
    ----------
    names : sequence of str, optional
        Keys of :data:`NATURAL_IMAGES` (default: all of them, in that order):
        ``skimage.data`` camera, astronaut, coffee, chelsea, rocket, moon and
        ``plenoptic.data`` einstein, curie, parrot.
    size : int
        Side in pixels.
    color : {'gray', None, 'rgb'}
        Channels of the set (see :func:`as_image`).

    Returns
    -------
    StimulusSet
        Columns ``stimulus_id`` (= name), ``image_label`` (= name), ``package``.

    Examples
    --------
    >>> s = bundled_images(["camera", "moon"], size=32)
    >>> s.load_images().shape
    (2, 1, 32, 32)
    """
    size = check_image_size(size, "size")
    names = _lookup(NATURAL_IMAGES if names is None else names, NATURAL_IMAGES, "images")
    imgs = [_resize_channels(_load_bundled(*NATURAL_IMAGES[n], color=color), size) for n in names]
    s = StimulusSet.from_images(
        imgs, stimulus_ids=names, visual_degrees=4.0, name="bundled_images",
        image_label=names, package=[NATURAL_IMAGES[n][0] for n in names],
    )
    s.attrs.update({"size": size, "source": "skimage.data, plenoptic.data"})
    return s


def bundled_textures(size: int = 128, names: Sequence[str] | None = None) -> StimulusSet:
    """Homogeneous texture photographs that ship inside installed wheels.

    Default families: ``skimage.data`` brick, grass, gravel and ``plenoptic.data``
    reptile_skin. Extra families available by name (texture-like crops of other
    bundled images, see :data:`TEXTURE_SOURCES`): ``coins`` (skimage coins, a grid
    of coins), ``stars`` (top-left 512² of skimage hubble_deep_field), ``tissue``
    (top-left 256² of skimage immunohistochemistry), ``text`` (a 150² crop of the
    printed text of skimage page). Each is converted to luminance, centre-cropped to
    a square and resampled to ``size`` × ``size``.

    Parameters
    ----------
    size : int
        Side in pixels.
    names : sequence of str or "all", optional
        Families to include (default :data:`DEFAULT_TEXTURES`).

    Returns
    -------
    StimulusSet
        Columns ``stimulus_id`` and ``texture_family`` (both = family name), ``package``.

    Examples
    --------
    >>> s = bundled_textures(size=32)
    >>> list(s.metadata("texture_family"))
    ['brick', 'grass', 'gravel', 'reptile_skin']
    """
    size = check_image_size(size, "size")
    if names is None:
        names = DEFAULT_TEXTURES
    elif isinstance(names, str) and names == "all":
        names = list(TEXTURE_SOURCES)
    names = _lookup(names, TEXTURE_SOURCES, "textures")
    imgs = [_resize_channels(_load_bundled(*TEXTURE_SOURCES[n]), size) for n in names]
    s = StimulusSet.from_images(
        imgs, stimulus_ids=names, visual_degrees=4.0, name="bundled_textures",
        texture_family=names, package=[TEXTURE_SOURCES[n][0] for n in names],
    )
    s.attrs.update({"size": size, "source": "skimage.data, plenoptic.data"})
    return s
