"""The loader registry: a manifest's files → the data model (assemblies, stimulus sets, tables).

A manifest names its ``loader``; :func:`load` looks the manifest up and calls
``LOADERS[manifest.loader](manifest, **manifest.loader_kwargs, **kwargs)``. Every
loader receives the manifest it was called for and reads that manifest's folder, so
a new manifest works with a generic loader (``image_folder``, ``texture_folder``,
``brainscore``) without code changes. Add a loader with :func:`register_loader`.

The named functions (:func:`load_freemanziemba2013`, :func:`load_majajhong2015`,
:func:`load_model_vs_human`, :func:`load_mnist`) read a folder given to them, or the
folder of their dataset's manifest by default.

Examples
--------
>>> from analysis.datasets import LOADERS
>>> sorted(LOADERS)[:3]
['brainscore', 'freemanziemba2013', 'image_folder']
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .image_folders import load_image_folder, load_model_vs_human_images, load_texture_folder
from .manifest import DatasetError, Manifest, check_relative_name, get_manifest
from .readers import load_brainscore_assembly, load_brainscore_stimulus_set, read_idx

__all__ = ["LOADERS", "register_loader", "load", "load_brainscore", "load_mnist",
           "load_freemanziemba2013", "load_freeman_ziemba2013", "load_majajhong2015",
           "load_model_vs_human"]

#: Loader name (a manifest's ``loader``) → function ``loader(manifest, **kwargs)``.
LOADERS: dict[str, Callable] = {}


def register_loader(name: str) -> Callable:
    """Register ``fn(manifest, **kwargs)`` as the loader that manifests call ``name``.

    Examples
    --------
    >>> @register_loader("my_table")
    ... def my_table(manifest, file="table.csv"):
    ...     import pandas as pd
    ...     return pd.read_csv(manifest.folder() / file)
    >>> "my_table" in LOADERS
    True
    >>> del LOADERS["my_table"]
    """
    def decorate(fn: Callable) -> Callable:
        if name in LOADERS and LOADERS[name] is not fn:
            raise ValueError(f"a loader named {name!r} is already registered ({LOADERS[name].__name__})")
        LOADERS[name] = fn
        return fn
    return decorate


def load(name: str | Manifest, **kwargs):
    """Load a fetched dataset into the data model with the loader its manifest names.

    ``kwargs`` override the manifest's ``loader_kwargs``.

    Examples
    --------
    Not run as a doctest: it needs the DTD files on disk (``fetch("DTD")``).

    >>> from analysis.datasets import load
    >>> stimuli = load("DTD", size=64, max_per_class=4)  # doctest: +SKIP
    """
    manifest = get_manifest(name)
    if manifest.loader not in LOADERS:
        raise DatasetError(f"{manifest.name}: unknown loader {manifest.loader!r} in {manifest.path}; "
                           f"known: {sorted(LOADERS)}")
    return LOADERS[manifest.loader](manifest, **{**manifest.loader_kwargs, **kwargs})


def _subpath(manifest: Manifest, name: str) -> Path:
    """``manifest.folder() / name``, refusing names that leave the dataset folder."""
    return manifest.folder() / check_relative_name(str(name), f"{manifest.name} (manifest {manifest.path})")


# ----------------------------------------------------------------------------- generic loaders
@register_loader("image_folder")
def _image_folder(manifest: Manifest, root: str = ".", **kwargs):
    """``<folder>/<root>/<class>/<image>`` → StimulusSet (see :func:`load_image_folder`)."""
    kwargs.setdefault("name", f"{manifest.name}" + ("" if root in (".", "") else f"-{root}"))
    return load_image_folder(_subpath(manifest, root), **kwargs)


@register_loader("texture_folder")
def _texture_folder(manifest: Manifest, root: str = ".", **kwargs):
    """``<folder>/<root>/<family>/<image>`` → StimulusSet with ``texture_family``."""
    kwargs.setdefault("name", manifest.name)
    return load_texture_folder(_subpath(manifest, root), **kwargs)


@register_loader("brainscore")
def _brainscore(manifest: Manifest, assembly: str, stimuli: str, visual_degrees: float,
                time_window=None, region: str | None = None):
    """Brain-Score (BrainIO) files named in ``loader_kwargs`` (see :func:`load_brainscore`)."""
    for n in (assembly, stimuli):
        _subpath(manifest, n)
    return load_brainscore(manifest.folder(), assembly, stimuli, visual_degrees,
                           time_window=time_window, region=region, source=manifest.name)


def load_brainscore(folder: str | os.PathLike, assembly: str, stimuli: str, visual_degrees: float,
                    time_window=None, region: str | None = None, source: str | None = None,
                    name: str | None = None):
    """A Brain-Score assembly and its stimulus set (BrainIO files) → (assembly, StimulusSet).

    Parameters
    ----------
    folder : path
        Folder holding the files.
    assembly : str
        The assembly netCDF file (``assy_<...>.nc``).
    stimuli : str
        The stimulus set's file stem: ``<stimuli>.csv`` and ``<stimuli>.zip``.
    visual_degrees : float
        Size of the stimuli in degrees of visual angle.
    time_window : (float, float) or None
        Time bins inside this window (ms after onset) are averaged; None: all bins.
    region : str, optional
        Keep only the neuroids of this ``region``.
    source : str, optional
        ``attrs["source"]`` (default: the assembly file's stem).
    name : str, optional
        Name of the stimulus set (default: ``stimuli``).

    Returns
    -------
    (xarray.DataArray, StimulusSet)
    """
    folder = Path(folder)
    window = None if time_window is None else tuple(float(t) for t in time_window)
    asm = load_brainscore_assembly(folder / assembly, time_window=window,
                                   source=source or Path(assembly).stem)
    if region is not None:
        regions = asm["region"].values.astype(str) if "region" in asm.coords else np.array([])
        if region not in set(regions):
            raise ValueError(f"region {region!r} is not in {folder / assembly}; regions present: "
                             f"{sorted(set(regions.tolist()))}")
        asm = asm.isel(neuroid=np.flatnonzero(regions == region))
    stim = load_brainscore_stimulus_set(folder / f"{stimuli}.csv", folder / f"{stimuli}.zip",
                                        visual_degrees=visual_degrees, name=name or stimuli)
    return asm, stim


# ----------------------------------------------------------------------------- named datasets
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


@register_loader("mnist")
def _mnist(manifest: Manifest, split: str = "train"):
    return load_mnist(manifest.folder(), split=split)


def _access(access: str) -> str:
    if access not in ("public", "private"):
        raise ValueError(f"access must be 'public' or 'private'; got {access!r}")
    return access


def load_freemanziemba2013(region: str | None = None, access: str = "public",
                           folder: str | os.PathLike | None = None,
                           time_window: tuple[float, float] = (50, 200)):
    """FreemanZiemba2013 V1/V2 recordings and stimuli (Brain-Score files) → (assembly, StimulusSet).

    Reads ``assy_movshon_FreemanZiemba2013_<access>.nc`` and
    ``image_movshon_FreemanZiemba2013-<access>.csv``/``.zip`` (Freeman et al. 2013;
    Brain-Score's files).

    Parameters
    ----------
    region : 'V1', 'V2' or None (both)
    access : 'public' (Brain-Score's public 30 %) or 'private'
    folder : path, optional
        Folder holding the Brain-Score files (default: the manifest's folder).
    time_window : (float, float)
        Averaged window in ms after onset (Brain-Score: 50–200 ms).

    Returns
    -------
    (xarray.DataArray, StimulusSet)
        All repetitions (``repetition`` coord), ``region`` along neuroid; 4° stimuli.
    """
    _access(access)
    if region is not None and region not in ("V1", "V2"):
        raise ValueError(f"region must be 'V1', 'V2' or None; got {region!r}")
    folder = Path(folder) if folder is not None else get_manifest("FreemanZiemba2013").folder()
    return load_brainscore(folder, f"assy_movshon_FreemanZiemba2013_{access}.nc",
                           f"image_movshon_FreemanZiemba2013-{access}", visual_degrees=4.0,
                           time_window=time_window, region=region, source=f"FreemanZiemba2013.{access}",
                           name=f"FreemanZiemba2013-{access}")


#: Alias (the name the experiments package looks up).
load_freeman_ziemba2013 = load_freemanziemba2013


@register_loader("freemanziemba2013")
def _freemanziemba2013(manifest: Manifest, **kwargs):
    return load_freemanziemba2013(folder=manifest.folder(), **kwargs)


def load_majajhong2015(region: str | None = None, access: str = "public",
                       folder: str | os.PathLike | None = None,
                       time_window: tuple[float, float] = (70, 170)):
    """MajajHong2015 V4/IT recordings and HvM stimuli (Brain-Score files) → (assembly, StimulusSet).

    Reads ``assy_dicarlo_MajajHong2015_<access>.nc`` and
    ``image_dicarlo_hvm-<access>.csv``/``.zip`` (Majaj et al. 2015). Time bins in
    70–170 ms are averaged, as Brain-Score's benchmarks do; stimuli span 8°.
    ``region`` is ``'V4'``, ``'IT'`` or None (both).
    """
    _access(access)
    folder = Path(folder) if folder is not None else get_manifest("MajajHong2015").folder()
    return load_brainscore(folder, f"assy_dicarlo_MajajHong2015_{access}.nc",
                           f"image_dicarlo_hvm-{access}", visual_degrees=8.0,
                           time_window=time_window, region=region, source=f"MajajHong2015.{access}",
                           name=f"hvm-{access}")


@register_loader("majajhong2015")
def _majajhong2015(manifest: Manifest, **kwargs):
    return load_majajhong2015(folder=manifest.folder(), **kwargs)


def load_model_vs_human(experiment: str | None = None, folder: str | os.PathLike | None = None):
    """Human trial data of model-vs-human (Geirhos et al. 2021) → tidy DataFrame.

    Locates ``raw-data/<experiment>/`` through the manifest (or ``folder``) and
    reads it with :func:`analysis.error_consistency.read_human_trials` (columns subj,
    session, trial, rt, object_response, category, condition, imagename, plus
    ``experiment``, ``image_id`` and ``correct``). ``experiment`` None reads all.
    """
    from analysis.error_consistency import read_human_trials as read_trials

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


@register_loader("model_vs_human")
def _model_vs_human(manifest: Manifest, experiment: str | None = None, images: str | None = None,
                    **kwargs):
    """Trials (``experiment=``) by default; with ``images='<dataset>'`` its StimulusSet."""
    if images is not None:
        return load_model_vs_human_images(images, manifest.folder(), **kwargs)
    return load_model_vs_human(experiment, folder=manifest.folder())

