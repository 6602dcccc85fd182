"""Image datasets laid out in folders → StimulusSet: class folders (ImageNet, DTD) and model-vs-human."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .manifest import DatasetError

__all__ = ["load_image_folder", "load_texture_folder", "load_model_vs_human_images"]


def _read_images(paths, size: int, color: str | None = None) -> np.ndarray:
    """Read, centre-crop and resample images to ``(n, C, size, size)``; RGB kept unless ``color``."""
    from skimage.io import imread

    from analysis.images import as_image, convert_color, resize_square

    images = [as_image(imread(p), str(p), color) for p in paths]
    if any(im.shape[0] == 3 for im in images):  # a set that mixes gray and RGB is RGB
        images = [convert_color(im, "rgb") for im in images]
    return np.stack([np.stack([resize_square(ch, size) for ch in im]) for im in images])


def load_image_folder(root: str | os.PathLike, size: int | None = None,
                      max_per_class: int | None = None, label_column: str = "image_label",
                      visual_degrees: float = 8.0, name: str | None = None, seed: int = 0,
                      color: str | None = None):
    """An image folder (``root/<class>/<image>``, as torchvision's ImageFolder) → StimulusSet.

    Parameters
    ----------
    root : path
        Folder with one sub-folder per class (ImageNet ``train/`` or ``val/`` with
        WordNet ids, DTD ``images/``, ...).
    size : int, optional
        If given, images are read now, centre-cropped and resampled to ``size`` ×
        ``size`` (held in memory); otherwise the set keeps paths and reads on demand
        (images must then share one size).
    max_per_class : int, optional
        Keep at most this many images per class (a seeded random choice).
    label_column : str
        Column holding the class (sub-folder) name.
    visual_degrees : float
        Size of the images in degrees of visual angle.
    name : str, optional
        Name of the stimulus set (default: the folder's name).
    seed : int
        Seed of the ``max_per_class`` choice.
    color : None, 'gray' or 'rgb'
        With ``size``: None keeps the images' own channels (RGB files stay RGB),
        ``'gray'`` converts to luminance (:func:`neurocommon.images.rgb_to_luminance`).

    Returns
    -------
    StimulusSet
        Columns ``stimulus_id`` (``class/file``), ``label_column``, ``path``.
    """
    import pandas as pd

    from analysis.stimuli import StimulusSet
    from neurocommon.images import IMAGE_SUFFIXES, image_files

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"no image folder at {root}")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{root} has no class sub-folders (expected root/<class>/<image files>)")
    rng = np.random.default_rng(seed)
    rows = []
    for c in classes:
        files = image_files(c)
        if max_per_class is not None and len(files) > max_per_class:
            files = [files[i] for i in sorted(rng.choice(len(files), max_per_class, replace=False))]
        rows += [{"stimulus_id": f"{c.name}/{f.name}", label_column: c.name, "path": str(f)}
                 for f in files]
    if not rows:
        raise DatasetError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    table = pd.DataFrame(rows)
    images = None if size is None else _read_images(table["path"], size, color)
    return StimulusSet(table, images, visual_degrees=visual_degrees, name=name or root.name)


def load_texture_folder(root: str | os.PathLike, size: int | None = None,
                        max_per_class: int | None = None, **kwargs):
    """A texture database folder (``root/<family>/<image>``, e.g. DTD ``images/``) →
    StimulusSet with a ``texture_family`` column (see :func:`load_image_folder`)."""
    return load_image_folder(root, size=size, max_per_class=max_per_class,
                             label_column="texture_family", **kwargs)


def load_model_vs_human_images(dataset: str, folder: str | os.PathLike, size: int | None = None,
                               visual_degrees: float = 8.0, color: str | None = None):
    """The stimulus images of one model-vs-human dataset → StimulusSet.

    model-vs-human (Geirhos et al. 2021) keeps each dataset's images as
    ``datasets/<dataset>/dnn/session-<k>/<a>_<b>_<c>_<condition>_<category>_<rest>.png``
    (its ``InfoMappingWithSessions``): the 4th and 5th ``_``-separated fields of the
    file name are the condition and the 16-class category. The file name is the
    ``imagename`` of the human trial CSVs, so it is the ``stimulus_id`` here.

    Parameters
    ----------
    dataset : str
        e.g. ``'cue-conflict'``, ``'contrast'``, ``'sketch'``.
    folder : path
        The model-vs-human folder holding ``datasets/`` (``$MODELVSHUMANDIR``).
    size : int, optional
        Read the images now, resampled to ``size`` × ``size``.
    visual_degrees : float
        Size of the images in degrees of visual angle (the toolkit's default 8°).
    color : None, 'gray' or 'rgb'
        With ``size``: keep the images' channels (None) or convert them.

    Returns
    -------
    StimulusSet
        Columns ``stimulus_id``, ``session``, ``condition``, ``category``, ``path``.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> from skimage.io import imsave
    >>> with tempfile.TemporaryDirectory() as d:
    ...     s1 = pathlib.Path(d, "datasets", "contrast", "dnn", "session-1")
    ...     s1.mkdir(parents=True)
    ...     imsave(s1 / "0001_cop_dnn_c05_cat_n02123045_9.png", np.zeros((8, 8), np.uint8),
    ...            check_contrast=False)
    ...     s = load_model_vs_human_images("contrast", d)
    ...     print(s.table[["condition", "category"]].values.tolist())
    [['c05', 'cat']]
    """
    import pandas as pd

    from analysis.stimuli import StimulusSet
    from neurocommon.images import image_files

    from .manifest import check_relative_name

    check_relative_name(dataset, "model-vs-human dataset")
    root = Path(folder) / "datasets" / dataset / "dnn"
    if not root.is_dir():
        base = Path(folder) / "datasets"
        have = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        raise DatasetError(
            f"no model-vs-human images at {root} (expected datasets/{dataset}/dnn/session-1/*.png); "
            f"datasets present: {have}. The images come with model-vs-human's dataset download "
            f"(see its README), into $MODELVSHUMANDIR/datasets."
        )
    rows = []
    for session in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("session-")):
        for f in image_files(session):
            parts = f.stem.split("_")
            if len(parts) < 5:
                raise DatasetError(
                    f"{f}: model-vs-human file names have at least 5 '_'-separated fields "
                    f"(<a>_<b>_<c>_<condition>_<category>...); got {f.name!r}"
                )
            rows.append({"stimulus_id": f.name, "session": session.name, "condition": parts[3],
                         "category": parts[4], "path": str(f)})
    if not rows:
        raise DatasetError(f"no images under {root}/session-*/")
    table = pd.DataFrame(rows)
    images = None if size is None else _read_images(table["path"], size, color)
    return StimulusSet(table, images, visual_degrees=visual_degrees, name=f"model-vs-human-{dataset}")

