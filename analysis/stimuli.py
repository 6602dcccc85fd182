"""Stimulus sets: a table of stimulus ids and metadata with the images they name.

Images are float32 in [0, 1], grayscale ``(1, H, W)``; a stimulus set knows the
size of its images in degrees of visual angle. This module also holds the one image
conversion of the analysis package (:func:`as_gray_image`), image geometry
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

__all__ = [
    "StimulusSet",
    "as_gray_image",
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


def as_gray_image(img: np.ndarray, name: str = "image") -> np.ndarray:
    """Convert one image to float32 ``(1, H, W)`` in [0, 1] (RGB → luminance, Rec. 601).

    Accepts (H, W), (1, H, W), (H, W, 3|4) and (3, H, W); uint8 is divided by 255,
    floats must already lie in [0, 1]. ``name`` labels the image in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> as_gray_image(np.full((4, 4), 255, dtype=np.uint8)).shape
    (1, 4, 4)
    """
    img = np.asarray(img)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    elif img.dtype.kind in "iu":
        raise ValueError(f"{name}: integer images must be uint8 (0-255); got {img.dtype}")
    img = img.astype(np.float32)
    if img.ndim == 3 and img.shape[-1] in (3, 4) and img.shape[0] not in (1, 3):
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    elif img.ndim == 3 and img.shape[0] == 3:
        img = np.tensordot(np.array([0.299, 0.587, 0.114], dtype=np.float32), img, axes=1)
    elif img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise ValueError(
            f"{name}: expected a grayscale (H, W), (1, H, W) or RGB (H, W, 3) image; "
            f"got shape {img.shape}"
        )
    if not np.isfinite(img).all():
        raise ValueError(f"{name}: image holds NaN or inf values")
    lo, hi = float(img.min()), float(img.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(
            f"{name}: float images must lie in [0, 1]; got range [{lo:.3g}, {hi:.3g}]. "
            f"Rescale (e.g. img / 255) before building the stimulus set."
        )
    return np.clip(img, 0.0, 1.0)[None]


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
        float32 ``(n, 1, H, W)`` in [0, 1], row-aligned with ``table``. If omitted,
        images are read from ``table['path']`` on demand.
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
            if imgs.ndim != 4 or imgs.shape[1] != 1:
                raise ValueError(f"images must have shape (n, 1, H, W); got {imgs.shape}")
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
        **metadata: Sequence,
    ) -> "StimulusSet":
        """Build a set from in-memory images (any of the accepted image layouts)."""
        imgs = np.stack([as_gray_image(im, f"image {i}") for i, im in enumerate(images)])
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

    def load_images(self) -> np.ndarray:
        """All images as float32 ``(n, 1, H, W)`` in [0, 1]."""
        if self.images is not None:
            return self.images
        from skimage.io import imread

        imgs = [as_gray_image(imread(Path(p)), str(p)) for p in self.table["path"]]
        shapes = {im.shape for im in imgs}
        if len(shapes) > 1:
            raise ValueError(f"images on disk differ in size: {sorted(shapes)[:3]}; resize them first")
        return np.stack(imgs)

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


def _load_bundled(package: str, loader: str, crop=None) -> np.ndarray:
    """One bundled image as float32 (H, W) in [0, 1] (RGB → luminance)."""
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
    img = as_gray_image(img, loader)[0]
    if crop is not None:
        (r0, r1), (c0, c1) = crop
        img = img[r0:r1, c0:c1]
    return img


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


def bundled_images(names: Sequence[str] | None = None, size: int = 128) -> StimulusSet:
    """Natural images that ship inside installed wheels, as a stimulus set.

    Each image is converted to luminance (Rec. 601), centre-cropped to a square and
    resampled to ``size`` × ``size`` (see :func:`resize_square`). Nothing is downloaded.

    Parameters
    ----------
    names : sequence of str, optional
        Keys of :data:`NATURAL_IMAGES` (default: all of them, in that order):
        ``skimage.data`` camera, astronaut, coffee, chelsea, rocket, moon and
        ``plenoptic.data`` einstein, curie, parrot.
    size : int
        Side in pixels.

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
    imgs = [resize_square(_load_bundled(*NATURAL_IMAGES[n]), size) for n in names]
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
    imgs = [resize_square(_load_bundled(*TEXTURE_SOURCES[n]), size) for n in names]
    s = StimulusSet.from_images(
        imgs, stimulus_ids=names, visual_degrees=4.0, name="bundled_textures",
        texture_family=names, package=[TEXTURE_SOURCES[n][0] for n in names],
    )
    s.attrs.update({"size": size, "source": "skimage.data, plenoptic.data"})
    return s
