"""Stimulus sets: a table of stimulus ids and metadata with the images they name.

Images are float32 in [0, 1], grayscale ``(1, H, W)`` or RGB ``(3, H, W)`` (RGB
images stay RGB; luminance only where a model or an analysis asks for it); a
stimulus set knows the size of its images in degrees of visual angle. This module
also holds the image conversion of the analysis package (:func:`as_image`) and its
one luminance conversion (:func:`rgb_to_luminance`, the weights of
``skimage.color.rgb2gray``), image geometry
(:func:`resize_square`) and the images that ship inside installed wheels
(:func:`bundled_images`, :func:`bundled_textures`). Texture stimulus sets (phase
randomization, Portilla–Simoncelli synthesis) live in :mod:`analysis.texture_stimuli`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis._display import html_summary

__all__ = [
    "StimulusSet",
    "as_image",
    "as_gray_image",
    "convert_color",
    "rgb_to_luminance",
    "LUMINANCE_WEIGHTS",
    "bundled_images",
    "bundled_textures",
    "check_image_size",
    "image_files",
    "resize_square",
    "IMAGE_SUFFIXES",
    "NATURAL_IMAGES",
    "TEXTURE_SOURCES",
    "DEFAULT_TEXTURES",
]

#: File suffixes read as images everywhere in the analysis package (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm")


def image_files(folder: str | Path) -> list[Path]:
    """The image files (by :data:`IMAGE_SUFFIXES`) directly inside ``folder``, sorted.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for n in ("b.png", "a.JPG", "c.txt"):
    ...         _ = (pathlib.Path(d) / n).write_bytes(b"")
    ...     print([p.name for p in image_files(d)])
    ['a.JPG', 'b.png']
    """
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


#: Weights of R, G, B in the luminance of an RGB image: those of ``skimage.color.rgb2gray``
#: (Rec. ITU-R BT.709 primaries, ``Y = 0.2125 R + 0.7154 G + 0.0721 B``). The one
#: luminance conversion of the toolkit: ``neuromodels.base.LUMINANCE_WEIGHTS`` holds the
#: same numbers (the packages do not import each other; a test checks all three agree).
LUMINANCE_WEIGHTS = (0.2125, 0.7154, 0.0721)


def rgb_to_luminance(images, channel_axis: int = -3):
    """Luminance of RGB images, ``Y = 0.2125 R + 0.7154 G + 0.0721 B`` (:data:`LUMINANCE_WEIGHTS`).

    The weights are those of ``skimage.color.rgb2gray`` (Rec. ITU-R BT.709), applied to
    the values as given (no gamma decoding, as scikit-image does).

    Parameters
    ----------
    images : numpy.ndarray or torch.Tensor
        RGB (or RGBA: alpha is dropped) along ``channel_axis``, values in [0, 1].
    channel_axis : int
        Axis holding the colour channels (default -3: channel-first ``(..., 3, H, W)``).

    Returns
    -------
    Same type as ``images`` (float), with ``channel_axis`` of length 1.

    Examples
    --------
    >>> import numpy as np
    >>> rgb_to_luminance(np.ones((2, 3, 4, 4))).shape
    (2, 1, 4, 4)
    >>> float(rgb_to_luminance(np.array([0.0, 1.0, 0.0])[:, None, None])[0, 0, 0])
    0.7154
    """
    if type(images).__module__.startswith("torch"):
        import torch

        x = torch.movedim(images, channel_axis, -1)[..., :3]
        if x.shape[-1] != 3:
            raise ValueError(f"rgb_to_luminance needs 3 colour channels on axis {channel_axis}; "
                             f"got shape {tuple(images.shape)}")
        x = x if x.is_floating_point() else x.float()
        y = x @ torch.tensor(LUMINANCE_WEIGHTS, dtype=x.dtype, device=x.device)
        return torch.movedim(y[..., None], -1, channel_axis)
    x = np.moveaxis(np.asarray(images), channel_axis, -1)[..., :3]
    if x.shape[-1] != 3:
        raise ValueError(f"rgb_to_luminance needs 3 colour channels on axis {channel_axis}; "
                         f"got shape {np.shape(images)}")
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    y = x @ np.asarray(LUMINANCE_WEIGHTS, dtype=x.dtype)
    return np.moveaxis(y[..., None], -1, channel_axis)


_COLORS = (None, "gray", "rgb")


def _check_color(color) -> None:
    if color not in _COLORS:
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
    _check_color(color)
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
    _check_color(color)
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


def _stack_images(images: list[np.ndarray], what: str = "images") -> np.ndarray:
    """Stack (C, H, W) images; gray ones become RGB when the set mixes both."""
    if any(im.shape[0] == 3 for im in images):
        images = [convert_color(im, "rgb") for im in images]
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"{what} differ in size: {sorted(shapes)[:3]}; resize them first")
    return np.stack(images)


@dataclass
class StimulusSet:
    """A table of stimuli (one row each) with their images.

    Parameters
    ----------
    table : pandas.DataFrame
        Column ``stimulus_id`` (unique) plus any metadata columns
        (``texture_family``, ``texture_type``, ``sample``, ``image_label``, ...);
        an optional ``path`` column names image files on disk.
    images : numpy.ndarray, optional
        float32 ``(n, C, H, W)`` in [0, 1], C = 1 (grayscale) or 3 (RGB), row-aligned
        with ``table``. If omitted, images are read from ``table['path']`` on demand
        (their own channels kept: RGB files stay RGB).
    visual_degrees : float
        Width of each image in degrees of visual angle (FreemanZiemba2013: 4°).
    name : str
        Identifier of the set (used as ``source`` in assemblies).
    """

    table: pd.DataFrame
    images: np.ndarray | None = None
    visual_degrees: float = 4.0
    name: str = "stimuli"
    attrs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "stimulus_id" not in self.table.columns:
            raise ValueError(
                f"a stimulus table needs a 'stimulus_id' column; got columns {list(self.table.columns)}"
            )
        self.table = self.table.reset_index(drop=True).copy()
        self.table["stimulus_id"] = self.table["stimulus_id"].astype(str)
        dup = self.table["stimulus_id"][self.table["stimulus_id"].duplicated()]
        if len(dup):
            raise ValueError(f"stimulus_id must be unique; repeated: {list(dup.unique()[:5])}")
        if not (np.isfinite(self.visual_degrees) and self.visual_degrees > 0):
            raise ValueError(f"visual_degrees must be a positive number; got {self.visual_degrees}")
        if self.images is not None:
            imgs = np.asarray(self.images)
            if imgs.ndim == 3:
                imgs = imgs[:, None]
            if imgs.ndim != 4 or imgs.shape[1] not in (1, 3):
                raise ValueError(
                    f"images must have shape (n, 1, H, W) (grayscale) or (n, 3, H, W) (RGB); "
                    f"got {imgs.shape}"
                )
            if len(imgs) != len(self.table):
                raise ValueError(
                    f"{len(imgs)} images for {len(self.table)} table rows; they must be row-aligned"
                )
            imgs = imgs.astype(np.float32, copy=False)
            if not np.isfinite(imgs).all() or imgs.min() < -1e-6 or imgs.max() > 1 + 1e-6:
                raise ValueError("images must be finite floats in [0, 1]")
            self.images = imgs
        elif "path" not in self.table.columns:
            raise ValueError("give either images or a 'path' column naming image files")

    @classmethod
    def from_images(
        cls,
        images: Sequence[np.ndarray] | np.ndarray,
        stimulus_ids: Sequence[str] | None = None,
        visual_degrees: float = 4.0,
        name: str = "stimuli",
        color: str | None = None,
        **metadata: Sequence,
    ) -> "StimulusSet":
        """Build a set from in-memory images (any layout :func:`as_image` accepts).

        RGB images stay RGB (``color=None``; a set that mixes gray and RGB images is
        stored as RGB); ``color='gray'`` converts them to luminance, ``'rgb'`` makes
        every image RGB.
        """
        imgs = _stack_images([as_image(im, f"image {i}", color) for i, im in enumerate(images)])
        ids = list(stimulus_ids) if stimulus_ids is not None else [f"{name}_{i:04d}" for i in range(len(imgs))]
        table = pd.DataFrame({"stimulus_id": ids, **{k: list(v) for k, v in metadata.items()}})
        return cls(table=table, images=imgs, visual_degrees=visual_degrees, name=name)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def stimulus_ids(self) -> np.ndarray:
        return self.table["stimulus_id"].to_numpy(dtype=str)

    def metadata(self, column: str) -> np.ndarray:
        if column not in self.table.columns:
            raise KeyError(f"no column {column!r}; columns are {list(self.table.columns)}")
        return self.table[column].to_numpy()

    def load_images(self, color: str | None = None) -> np.ndarray:
        """All images as float32 ``(n, C, H, W)`` in [0, 1].

        ``color``: ``None`` keeps the set's channels (1 or 3; files read from disk
        keep theirs, a mix becomes RGB), ``'gray'`` converts to luminance
        (:func:`rgb_to_luminance`), ``'rgb'`` repeats gray to three channels. For
        large sets read images a batch at a time (:meth:`image`,
        :func:`analysis.activations.extract`).
        """
        _check_color(color)
        if self.images is not None:
            return convert_color(self.images, color)
        imgs = [self.image(i, color) for i in range(len(self))]
        return _stack_images(imgs, "images on disk")

    def image(self, index: int, color: str | None = None) -> np.ndarray:
        """Image ``index`` (row position) as float32 ``(C, H, W)`` in [0, 1] (see :func:`as_image`)."""
        if self.images is not None:
            return convert_color(self.images[index], color)
        from skimage.io import imread

        path = Path(self.table["path"].iloc[index])
        return as_image(imread(path), str(path), color)

    @property
    def is_rgb(self) -> bool:
        """Whether the images are RGB (for sets read from disk: whether the first one is)."""
        if self.images is not None:
            return self.images.shape[1] == 3
        return len(self) > 0 and self.image(0).shape[0] == 3

    def __repr__(self) -> str:
        cols = [c for c in self.table.columns if c not in ("stimulus_id", "path")]
        where = "in memory" if self.images is not None else "on disk"
        return (f"StimulusSet({self.name!r}, {len(self)} stimuli, {self.visual_degrees:g} deg, "
                f"images {where}, metadata {cols})")

    def _repr_html_(self) -> str:
        items = {"name": self.name, "stimuli": len(self), "visual degrees": self.visual_degrees,
                 "images": "in memory" if self.images is not None else "on disk"}
        if self.images is not None:
            items["image shape (C, H, W)"] = "×".join(str(s) for s in self.images.shape[1:])
        for c in self.table.columns:
            if c not in ("stimulus_id", "path") and not pd.api.types.is_numeric_dtype(self.table[c]):
                items[f"{c} values"] = self.table[c].nunique()
        return html_summary(self, items, self.table, full_table=".table")

    def subset(self, selector) -> "StimulusSet":
        """Rows selected by a boolean mask or a list of stimulus ids (in that order)."""
        if isinstance(selector, (list, tuple, np.ndarray, pd.Index)) and len(selector) and isinstance(
            np.asarray(selector).flat[0], str
        ):
            pos = {s: i for i, s in enumerate(self.stimulus_ids)}
            missing = [s for s in selector if s not in pos]
            if missing:
                raise KeyError(f"unknown stimulus ids: {missing[:5]}")
            idx = np.array([pos[s] for s in selector])
        else:
            idx = np.flatnonzero(np.asarray(selector, dtype=bool))
        imgs = None if self.images is None else self.images[idx]
        return StimulusSet(self.table.iloc[idx], imgs, self.visual_degrees, self.name, dict(self.attrs))


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


# --------------------------------------------------------------------------------------
# Bundled images (offline: shipped inside the scikit-image and plenoptic wheels)
# --------------------------------------------------------------------------------------

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
