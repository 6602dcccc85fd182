"""Dataset loaders: a manifest's files → the data model (assemblies, stimulus sets, tables).

``LOADERS`` maps the ``loader`` name a manifest gives to a function; :func:`load`
looks a dataset's manifest up and calls its loader.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .manifest import DatasetError, get_manifest
from .readers import load_brainscore_assembly, load_brainscore_stimulus_set, read_idx

__all__ = ["LOADERS", "load", "load_image_folder", "load_texture_folder", "load_mnist",
           "load_freemanziemba2013", "load_freeman_ziemba2013", "load_majajhong2015",
           "load_model_vs_human"]



def load_image_folder(root: str | os.PathLike, size: int | None = None,
                      max_per_class: int | None = None, label_column: str = "image_label",
                      visual_degrees: float = 8.0, name: str | None = None, seed: int = 0):
    """An image folder (``root/<class>/<image>``, as torchvision's ImageFolder) → StimulusSet.

    Parameters
    ----------
    root : path
        Folder with one sub-folder per class (ImageNet ``train/`` or ``val/`` with
        WordNet ids, DTD ``images/``, ...).
    size : int, optional
        If given, images are read now, converted to luminance, centre-cropped and
        resampled to ``size`` × ``size`` (held in memory); otherwise the set keeps
        paths and reads on demand (images must then share one size).
    max_per_class : int, optional
        Keep at most this many images per class (a seeded random choice).
    label_column : str
        Column holding the class (sub-folder) name.

    Returns
    -------
    StimulusSet
        Columns ``stimulus_id`` (``class/file``), ``label_column``, ``path``.
    """
    import pandas as pd

    from analysis.stimuli import IMAGE_SUFFIXES, StimulusSet, as_gray_image, image_files, resize_square

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
    images = None
    if size is not None:
        from skimage.io import imread

        images = np.stack([resize_square(as_gray_image(imread(p), p)[0], size)[None]
                           for p in table["path"]])
    return StimulusSet(table, images, visual_degrees=visual_degrees, name=name or root.name)


def load_texture_folder(root: str | os.PathLike, size: int | None = None,
                        max_per_class: int | None = None, **kwargs):
    """A texture database folder (``root/<family>/<image>``, e.g. DTD ``images/``) →
    StimulusSet with a ``texture_family`` column (see :func:`load_image_folder`)."""
    return load_image_folder(root, size=size, max_per_class=max_per_class,
                             label_column="texture_family", **kwargs)



def load_mnist(folder: str | os.PathLike | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``(n, 28, 28)`` uint8 and labels ``(n,)`` uint8 from the IDX files.

    ``folder`` defaults to the fetched dataset's folder; ``split`` is ``'train'``
    (60 000) or ``'test'`` (10 000).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    folder = Path(folder) if folder is not None else get_manifest("MNIST").folder()
    prefix = "train" if split == "train" else "t10k"
    paths = [folder / f"{prefix}-{kind}-idx{d}-ubyte.gz" for kind, d in (("images", 3), ("labels", 1))]
    for p in paths:
        if not p.is_file():
            raise DatasetError(f"MNIST file {p.name} is missing; expected at {p}. "
                               f"Run: python -m analysis.datasets fetch MNIST")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"MNIST {split}: {images.shape} images do not match {labels.shape} labels")
    return images, labels



def load_freemanziemba2013(region: str | None = None, access: str = "public",
                           folder: str | os.PathLike | None = None,
                           time_window: tuple[float, float] = (50, 200)):
    """FreemanZiemba2013 V1/V2 recordings and stimuli (Brain-Score files) → (assembly, StimulusSet).

    Parameters
    ----------
    region : 'V1', 'V2' or None (both)
    access : 'public' (Brain-Score's public 30 %) or 'private'
    folder : path, optional
        Folder holding the Brain-Score files (default: the fetched dataset's).
    time_window : (float, float)
        Averaged window in ms after onset (Brain-Score: 50–200 ms).

    Returns
    -------
    (xarray.DataArray, StimulusSet)
        All repetitions (``repetition`` coord), ``region`` along neuroid; 4° stimuli.
    """
    if access not in ("public", "private"):
        raise ValueError(f"access must be 'public' or 'private'; got {access!r}")
    manifest = get_manifest("FreemanZiemba2013")
    folder = Path(folder) if folder is not None else manifest.folder()
    asm = load_brainscore_assembly(folder / f"assy_movshon_FreemanZiemba2013_{access}.nc",
                                   time_window=time_window, source=f"FreemanZiemba2013.{access}")
    if region is not None:
        if region not in ("V1", "V2"):
            raise ValueError(f"region must be 'V1', 'V2' or None; got {region!r}")
        asm = asm.isel(neuroid=np.flatnonzero(asm["region"].values == region))
    stem = f"image_movshon_FreemanZiemba2013-{access}"
    stimuli = load_brainscore_stimulus_set(folder / f"{stem}.csv", folder / f"{stem}.zip",
                                           visual_degrees=4.0, name=f"FreemanZiemba2013-{access}")
    return asm, stimuli


#: Alias (the name the experiments package looks up).
load_freeman_ziemba2013 = load_freemanziemba2013


def load_majajhong2015(region: str | None = None, access: str = "public",
                       folder: str | os.PathLike | None = None):
    """MajajHong2015 V4/IT recordings and HvM stimuli (Brain-Score files) → (assembly, StimulusSet).

    Time bins (if any) in 70–170 ms are averaged, as Brain-Score's benchmarks do;
    stimuli span 8°.
    """
    if access not in ("public", "private"):
        raise ValueError(f"access must be 'public' or 'private'; got {access!r}")
    manifest = get_manifest("MajajHong2015")
    folder = Path(folder) if folder is not None else manifest.folder()
    asm = load_brainscore_assembly(folder / f"assy_dicarlo_MajajHong2015_{access}.nc",
                                   time_window=(70, 170), source=f"MajajHong2015.{access}")
    if region is not None:
        asm = asm.isel(neuroid=np.flatnonzero(asm["region"].values == region))
    stem = f"image_dicarlo_hvm-{access}"
    stimuli = load_brainscore_stimulus_set(folder / f"{stem}.csv", folder / f"{stem}.zip",
                                           visual_degrees=8.0, name=f"hvm-{access}")
    return asm, stimuli


def load_model_vs_human(experiment: str | None = None, folder: str | os.PathLike | None = None):
    """Human trial data of model-vs-human (Geirhos et al. 2021) → tidy DataFrame.

    Locates ``raw-data/<experiment>/`` through the manifest (or ``folder``) and
    reads it with :func:`analysis.robustness.load_model_vs_human` (columns subj,
    session, trial, rt, object_response, category, condition, imagename, plus
    ``experiment``, ``image_id`` and ``correct``). ``experiment`` None reads all.
    """
    from analysis.robustness import load_model_vs_human as read_trials

    folder = Path(folder) if folder is not None else get_manifest("model-vs-human").folder()
    raw = folder / "raw-data"
    if not raw.is_dir():
        raise DatasetError(f"no model-vs-human raw-data folder at {raw}; clone "
                           f"https://github.com/bethgelab/model-vs-human and set local_path")
    dirs = [raw / experiment] if experiment else sorted(p for p in raw.iterdir() if p.is_dir())
    for d in dirs:
        if not d.is_dir():
            raise DatasetError(f"no experiment {d.name!r} in {raw}; available: "
                               f"{sorted(p.name for p in raw.iterdir() if p.is_dir())}")
    try:
        return read_trials(dirs)
    except (FileNotFoundError, ValueError) as err:
        raise DatasetError(str(err)) from err


def _load_imagenet(split: str = "val", folder=None, **kwargs):
    folder = Path(folder) if folder is not None else get_manifest("ImageNet").folder()
    return load_image_folder(folder / split, name=f"imagenet-{split}", **kwargs)


def _load_dtd(folder=None, **kwargs):
    folder = Path(folder) if folder is not None else get_manifest("DTD").folder()
    return load_texture_folder(folder / "dtd" / "images", name="dtd", **kwargs)


#: Loader name (manifest ``loader``) → function.
LOADERS = {
    "image_folder": _load_imagenet,
    "texture_folder": _load_dtd,
    "mnist": load_mnist,
    "freemanziemba2013": load_freemanziemba2013,
    "majajhong2015": load_majajhong2015,
    "model_vs_human": load_model_vs_human,
}


def load(name: str, **kwargs):
    """Load a fetched dataset into the data model with the loader its manifest names."""
    manifest = get_manifest(name)
    if manifest.loader not in LOADERS:
        raise DatasetError(f"{manifest.name}: unknown loader {manifest.loader!r}; known: {sorted(LOADERS)}")
    return LOADERS[manifest.loader](**{**manifest.loader_kwargs, **kwargs})

