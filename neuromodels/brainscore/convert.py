"""Toolkit assemblies and stimulus sets <-> Brain-Score's ``NeuroidAssembly`` and ``StimulusSet``.

The toolkit's data model (``docs/interfaces.md``) is a plain ``xarray.DataArray`` with
dims ``("presentation", "neuroid"[, "time_bin"])`` and *non-index* coords along each
dim (``stimulus_id``, ``repetition``, ``neuroid_id``, ``region``, ``layer``, ...).
Brain-Score's ``NeuroidAssembly`` (``brainscore_core.supported_data_standards.brainio``)
holds the same values with those coords gathered into one ``MultiIndex`` per dim.
The conversion moves values and every coord across unchanged, so both directions
round-trip exactly (values, coords, dtypes of numeric coords, attrs).

Brain-Score represents a recording's single time window as a scalar ``time_bin``
``MultiIndex`` (``time_bin_start``, ``time_bin_end``, ms), as its FreemanZiemba2013
benchmark does; here that is two scalar coords ``time_bin_start`` and
``time_bin_end``.

Images: a toolkit ``StimulusSet`` holds float images in [0, 1]; Brain-Score reads
image files. :func:`to_brainscore_stimulus_set` writes 8-bit PNG files (grayscale
for 1-channel images; ``round(255 x)``, exact for images that came from 8-bit files)
and :func:`from_brainscore_stimulus_set` returns the table (with a ``path`` column)
from which ``analysis.stimuli.StimulusSet(table, visual_degrees=...)`` is built.

All of this needs the Brain-Score environment (``make brainscore-env``); imports are lazy.

Examples
--------
>>> from neuromodels.brainscore.convert import to_neuroid_assembly, from_neuroid_assembly  # doctest: +SKIP
>>> bs = to_neuroid_assembly(recording, time_bin=(50, 200))  # doctest: +SKIP
>>> back = from_neuroid_assembly(bs)  # doctest: +SKIP
>>> bool((back.values == recording.values).all())  # doctest: +SKIP
True
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurocommon.files import atomic_path

__all__ = [
    "to_neuroid_assembly",
    "from_neuroid_assembly",
    "to_brainscore_stimulus_set",
    "from_brainscore_stimulus_set",
]

_DIMS = (("presentation", "neuroid"), ("presentation", "neuroid", "time_bin"))
_REQUIRED = {"presentation": "stimulus_id", "neuroid": "neuroid_id"}
_TIME_BIN_LEVELS = ("time_bin_start", "time_bin_end")


def _check_toolkit_assembly(assembly) -> None:
    import xarray as xr

    if not isinstance(assembly, xr.DataArray):
        raise TypeError(f"expected a toolkit assembly (xarray.DataArray); got {type(assembly).__name__}")
    if tuple(assembly.dims) not in _DIMS:
        raise ValueError(
            f"assembly dims must be ('presentation', 'neuroid') or ('presentation', 'neuroid', 'time_bin'); "
            f"got {tuple(assembly.dims)}"
        )
    for dim, coord in _REQUIRED.items():
        if coord not in assembly.coords or assembly[coord].dims != (dim,):
            raise ValueError(f"assembly needs the coord {coord!r} along {dim!r}; coords: {sorted(map(str, assembly.coords))}")
    for dim in assembly.dims:
        if dim in assembly.indexes:
            raise ValueError(
                f"toolkit assemblies carry plain coords; {dim!r} has an index ({list(assembly.indexes[dim].names)}). "
                f"Call assembly.reset_index({dim!r}) first."
            )
    ids = assembly["neuroid_id"].values
    if len(np.unique(ids)) != len(ids):
        raise ValueError("neuroid_id must be unique (Brain-Score indexes neuroids by it)")


def _plain(values: np.ndarray) -> np.ndarray:
    """Object arrays of str become numpy str arrays (the toolkit's convention); others pass through."""
    values = np.asarray(values)
    if values.dtype == object and values.size and all(isinstance(v, str) for v in values.ravel()):
        return values.astype(str)
    return values


def to_neuroid_assembly(assembly, time_bin: tuple[int, int] | None = None):
    """Toolkit assembly -> Brain-Score ``NeuroidAssembly``.

    Parameters
    ----------
    assembly : xarray.DataArray
        Toolkit assembly (``analysis.assemblies``), 2-D or 3-D.
    time_bin : (start, end), optional
        Time window of a 2-D recording in ms (FreemanZiemba2013: (50, 200)); stored as
        Brain-Score's scalar ``time_bin``. Taken from scalar coords ``time_bin_start`` /
        ``time_bin_end`` when the assembly has them.

    Returns
    -------
    NeuroidAssembly
        Same values (no copy where numpy allows), every coord, attrs.
    """
    from brainscore_core.supported_data_standards.brainio.assemblies import NeuroidAssembly

    _check_toolkit_assembly(assembly)
    coords, scalars = {}, {}
    for name in assembly.coords:
        c = assembly[name]
        if c.ndim == 0:
            scalars[str(name)] = c.values[()]
        else:
            coords[str(name)] = (c.dims[0], c.values)
    if time_bin is None and all(level in scalars for level in _TIME_BIN_LEVELS):
        time_bin = tuple(scalars[level] for level in _TIME_BIN_LEVELS)
    for level in _TIME_BIN_LEVELS:
        scalars.pop(level, None)
    out = NeuroidAssembly(assembly.values, coords=coords, dims=list(assembly.dims))
    for name, value in scalars.items():
        out = out.assign_coords({name: value})
    if time_bin is not None:
        if len(assembly.dims) == 3:
            raise ValueError("time_bin is for 2-D assemblies; a 3-D assembly carries its own time_bin dim")
        start, end = time_bin
        out = out.expand_dims("time_bin_start").expand_dims("time_bin_end")
        out["time_bin_start"], out["time_bin_end"] = [start], [end]
        out = out.stack(time_bin=list(_TIME_BIN_LEVELS)).squeeze("time_bin")
        out = out.transpose("presentation", "neuroid")
        out = type(out)(out)
    out.attrs = dict(assembly.attrs)
    return out


def from_neuroid_assembly(assembly, squeeze_time_bin: bool = True):
    """Brain-Score ``DataAssembly`` (``NeuroidAssembly``, recordings, model activations) -> toolkit assembly.

    Parameters
    ----------
    assembly : DataAssembly
        Dims ``presentation``, ``neuroid`` and optionally ``time_bin``.
    squeeze_time_bin : bool
        Drop a ``time_bin`` dim of size 1 (what ``look_at`` returns for one window),
        keeping its bounds as scalar coords ``time_bin_start`` / ``time_bin_end``.

    Returns
    -------
    xarray.DataArray
        Plain coords (no MultiIndex), str coords as numpy str arrays, attrs copied
        (except a ``stimulus_set``, which is not data).
    """
    import xarray as xr
    from brainscore_core.supported_data_standards.brainio.assemblies import walk_coords

    if squeeze_time_bin and "time_bin" in assembly.dims and assembly.sizes["time_bin"] == 1:
        assembly = assembly.squeeze("time_bin")
    dims = tuple(assembly.dims)
    if dims not in _DIMS:
        if set(dims) in (set(d) for d in _DIMS):
            assembly = assembly.transpose(*[d for d in _DIMS[len(dims) - 2]])
            dims = tuple(assembly.dims)
        else:
            raise ValueError(f"expected dims presentation, neuroid[, time_bin]; got {dims}")
    coords = {}
    for name, cdims, values in walk_coords(assembly):
        if name in dims:  # the MultiIndex itself; its levels are walked separately
            continue
        if name == "time_bin" and len(cdims) == 0:  # FreemanZiemba-style scalar window (start, end)
            window = np.asarray(values)[()]
            if isinstance(window, tuple) and len(window) == len(_TIME_BIN_LEVELS):
                for level, bound in zip(_TIME_BIN_LEVELS, window):
                    coords[level] = ((), np.asarray(bound)[()])
                continue
        values = _plain(values)
        if len(cdims) == 0 or np.ndim(values) == 0:
            coords[name] = ((), np.asarray(values)[()])
        else:
            coords[name] = (cdims[0], values)
    attrs = {k: v for k, v in assembly.attrs.items() if k != "stimulus_set"}
    out = xr.DataArray(np.asarray(assembly.values), dims=dims, coords=coords, attrs=attrs)
    for dim, coord in _REQUIRED.items():
        if coord not in out.coords:
            raise ValueError(f"the Brain-Score assembly has no {coord!r} coord along {dim!r}")
    return out


def _write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.min() < 0 or img.max() > 1:
        raise ValueError(f"images must lie in [0, 1]; got range [{img.min():.3g}, {img.max():.3g}]")
    u8 = np.round(img * 255.0).astype(np.uint8)
    with atomic_path(path, fsync=False, suffix=".png") as tmp:
        Image.fromarray(u8).save(tmp, format="PNG")


def to_brainscore_stimulus_set(stimulus_set, image_dir, identifier: str | None = None):
    """Toolkit ``StimulusSet`` -> Brain-Score ``StimulusSet`` with images written to ``image_dir``.

    Parameters
    ----------
    stimulus_set : analysis.stimuli.StimulusSet
        Anything with ``.table`` (``stimulus_id`` + metadata), ``.load_images()``
        (float (n, C, H, W) in [0, 1]) and ``.name``.
    image_dir : path
        Folder for the PNG files ``<stimulus_id>.png`` (written atomically).
    identifier : str, optional
        Brain-Score's stimulus-set identifier (default ``stimulus_set.name``); Brain-Score
        caches by it, so give distinct sets distinct identifiers.

    Returns
    -------
    brainio StimulusSet
        The table's columns (except ``path``) plus ``filename``; ``stimulus_paths`` maps
        each id to its file. The stimulus size in degrees is not a column (Brain-Score's
        benchmarks take it as a parameter): use ``stimulus_set.visual_degrees``.
    """
    from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet as BSStimulusSet

    table = stimulus_set.table.drop(columns=[c for c in ("path",) if c in stimulus_set.table.columns])
    images = stimulus_set.load_images()
    if len(images) != len(table):
        raise ValueError(f"{len(images)} images for {len(table)} stimuli")
    image_dir = Path(image_dir)
    image_dir.mkdir(parents=True, exist_ok=True)
    ids = table["stimulus_id"].astype(str).tolist()
    paths = {}
    for sid, img in zip(ids, images):
        if os.sep in sid or sid.startswith("."):
            raise ValueError(f"stimulus_id {sid!r} cannot be used as a file name")
        paths[sid] = image_dir / f"{sid}.png"
        _write_png(paths[sid], img)
    out = BSStimulusSet(table.assign(filename=[f"{sid}.png" for sid in ids]).reset_index(drop=True))
    out.stimulus_paths = paths
    out.identifier = identifier or getattr(stimulus_set, "name", None) or "stimuli"
    return out


def from_brainscore_stimulus_set(stimulus_set):
    """Brain-Score ``StimulusSet`` -> the table of a toolkit stimulus set (with a ``path`` column).

    Build the toolkit object with
    ``analysis.stimuli.StimulusSet(table, visual_degrees=..., name=stimulus_set.identifier)``;
    its images are then read from ``path`` on demand.
    """
    import pandas as pd

    table = pd.DataFrame(stimulus_set).reset_index(drop=True)
    if "stimulus_id" not in table.columns:
        raise ValueError(f"the stimulus set has no 'stimulus_id' column; columns: {list(table.columns)}")
    table["stimulus_id"] = table["stimulus_id"].astype(str)
    table["path"] = [str(stimulus_set.get_stimulus(sid)) for sid in stimulus_set["stimulus_id"]]
    return table.drop(columns=[c for c in ("filename",) if c in table.columns])
