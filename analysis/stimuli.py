"""Stimulus sets: a table of stimulus ids and metadata with the images they name.

Images are float32 in [0, 1], grayscale ``(1, H, W)`` or RGB ``(3, H, W)`` (RGB
images stay RGB; luminance only where a model or an analysis asks for it); a
stimulus set knows the size of its images in degrees of visual angle.

Image conversion, luminance, geometry and the image-suffix list live in
:mod:`analysis.images`; images that ship inside installed wheels in
:mod:`analysis.bundled`; texture stimulus sets in :mod:`analysis.texture_stimuli`,
phase randomization in :mod:`analysis.spectral_noise`, Portilla–Simoncelli
synthesis in :mod:`analysis.texture_synthesis`. Import their names from those
modules (or from :mod:`analysis`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis._display import html_summary
from analysis.images import as_image, check_color, convert_color, stack_images

__all__ = ["StimulusSet"]


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
        imgs = stack_images([as_image(im, f"image {i}", color) for i, im in enumerate(images)])
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
        check_color(color)
        if self.images is not None:
            return convert_color(self.images, color)
        imgs = [self.image(i, color) for i in range(len(self))]
        return stack_images(imgs, "images on disk")

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
