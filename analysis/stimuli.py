"""Stimulus sets: a table of stimulus ids and metadata with the images they name.

Images are float32 in [0, 1], grayscale ``(1, H, W)``; a stimulus set knows the
size of its images in degrees of visual angle.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["StimulusSet"]


def _as_gray_float(img: np.ndarray, name: str = "image") -> np.ndarray:
    """Convert one image to float32 ``(1, H, W)`` in [0, 1] (RGB → luminance, Rec. 601)."""
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
        imgs = np.stack([_as_gray_float(im, f"image {i}") for i, im in enumerate(images)])
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

        imgs = [_as_gray_float(imread(Path(p)), str(p)) for p in self.table["path"]]
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
