"""The shared data model: neural and model responses as labelled ``xarray.DataArray``.

An *assembly* has dims ``("presentation", "neuroid")`` (optionally ``"time_bin"``
last). Along ``presentation`` it carries ``stimulus_id`` (required), ``repetition``
(optional) and any stimulus metadata; along ``neuroid`` it carries ``neuroid_id``
(required, unique) and ``region`` (recordings) or ``layer``/``channel``/
``channel_x``/``channel_y`` (model activations). Brain-Score's ``NeuroidAssembly``
is built from the same values and coords without copying (see
``neuromodels.brainscore.convert``).

Examples
--------
>>> import numpy as np
>>> from analysis.assemblies import make_assembly, validate
>>> a = make_assembly(np.ones((4, 3)), stimulus_id=["a", "a", "b", "b"],
...                   presentation_coords={"repetition": [0, 1, 0, 1]},
...                   neuroid_coords={"region": ["V1", "V1", "V2"]})
>>> validate(a).sizes["neuroid"]
3
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from neurocommon.files import atomic_path

__all__ = [
    "PRESENTATION",
    "NEUROID",
    "TIME_BIN",
    "make_assembly",
    "validate",
    "average_repetitions",
    "align",
    "save",
    "load",
    "is_simulated",
]

PRESENTATION = "presentation"
NEUROID = "neuroid"
TIME_BIN = "time_bin"
_REQUIRED = {PRESENTATION: "stimulus_id", NEUROID: "neuroid_id"}


def make_assembly(
    values,
    stimulus_id: Sequence,
    neuroid_id: Sequence | None = None,
    presentation_coords: Mapping[str, Sequence] | None = None,
    neuroid_coords: Mapping[str, Sequence] | None = None,
    time_bins: Sequence | None = None,
    attrs: Mapping | None = None,
) -> xr.DataArray:
    """Build a validated assembly.

    Parameters
    ----------
    values : array-like, shape (n_presentations, n_neuroids) or (..., n_time_bins)
        Responses (spikes/s for recordings, activations for models).
    stimulus_id : sequence of str, length n_presentations
    neuroid_id : sequence of str, length n_neuroids, optional
        Unique ids; default ``"n0", "n1", ...``.
    presentation_coords, neuroid_coords : mapping of name to sequence, optional
        Extra coords along each dim (``repetition``, ``texture_family``, ``region``, ...).
    time_bins : sequence, optional
        Labels of the third dim (e.g. bin start in ms) when ``values`` is 3-D.
    attrs : mapping, optional
        ``source``, provenance, ``simulated`` (1/0) ...

    Returns
    -------
    xarray.DataArray
    """
    values = np.asarray(values)
    if values.ndim not in (2, 3):
        raise ValueError(
            f"values must be 2-D (presentation, neuroid) or 3-D (presentation, neuroid, "
            f"time_bin); got shape {values.shape}"
        )
    n_pres, n_neur = values.shape[:2]
    if neuroid_id is None:
        neuroid_id = [f"n{i}" for i in range(n_neur)]
    coords: dict[str, tuple[str, np.ndarray]] = {}

    def _add(dim: str, name: str, seq, n: int) -> None:
        arr = np.asarray(seq)
        if arr.ndim != 1 or len(arr) != n:
            raise ValueError(
                f"coord {name!r} along {dim!r} must have length {n} to match values of shape "
                f"{values.shape}; got shape {arr.shape}"
            )
        if name in _REQUIRED.values():  # before str() turns None/NaN into 'None'/'nan'
            if arr.dtype.kind in "fO":
                _check_ids(arr, name)
            elif arr.dtype.kind == "U" and np.isin(arr, ["nan", "None"]).any():  # mixed with str
                _check_ids(np.asarray(list(seq), dtype=object), name)
        if arr.dtype.kind in "OU":
            arr = arr.astype(str)
        coords[name] = (dim, arr)

    _add(PRESENTATION, "stimulus_id", stimulus_id, n_pres)
    _add(NEUROID, "neuroid_id", neuroid_id, n_neur)
    for name, seq in (presentation_coords or {}).items():
        _add(PRESENTATION, name, seq, n_pres)
    for name, seq in (neuroid_coords or {}).items():
        _add(NEUROID, name, seq, n_neur)
    dims = [PRESENTATION, NEUROID]
    if values.ndim == 3:
        dims.append(TIME_BIN)
        if time_bins is not None:
            _add(TIME_BIN, TIME_BIN, time_bins, values.shape[2])
    elif time_bins is not None:
        raise ValueError("time_bins given but values are 2-D; pass 3-D values to use time bins")
    assembly = xr.DataArray(values, dims=dims, coords=coords, attrs=dict(attrs or {}))
    return validate(assembly)


def _check_ids(ids: np.ndarray, name: str) -> None:
    """Refuse missing ids (None, NaN) in ``stimulus_id``/``neuroid_id``, naming where they are."""
    if ids.dtype.kind == "O":
        missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in ids], bool)
    elif ids.dtype.kind == "f":
        missing = np.isnan(ids)
    else:
        return
    if missing.any():
        where = np.flatnonzero(missing)
        raise ValueError(
            f"{name} holds {len(where)} missing value(s) (None or NaN) at position(s) "
            f"{where[:10].tolist()}{' ...' if len(where) > 10 else ''}; every presentation needs a "
            f"stimulus id and every neuroid an id (strings)"
            if name == "stimulus_id" else
            f"{name} holds {len(where)} missing value(s) (None or NaN) at position(s) "
            f"{where[:10].tolist()}{' ...' if len(where) > 10 else ''}; every neuroid needs a unique id"
        )


def validate(assembly: xr.DataArray, allow_nonfinite: bool = False) -> xr.DataArray:
    """Check that ``assembly`` follows the data model; return it unchanged.

    Raises
    ------
    TypeError
        If it is not an ``xarray.DataArray``.
    ValueError
        Naming the problem: wrong dims, no presentations or no neuroids, a missing
        required coord or missing ids (None/NaN) in it, duplicated ``neuroid_id``,
        non-numeric or boolean values, or NaN/inf values (how many and where).
    """
    if not isinstance(assembly, xr.DataArray):
        raise TypeError(f"expected an xarray.DataArray assembly, got {type(assembly).__name__}")
    dims = tuple(assembly.dims)
    if dims not in ((PRESENTATION, NEUROID), (PRESENTATION, NEUROID, TIME_BIN)):
        raise ValueError(
            f"assembly dims must be ('presentation', 'neuroid') or ('presentation', 'neuroid', "
            f"'time_bin'); got {dims}. Use assembly.transpose(...) or rename the dims."
        )
    for dim, coord in _REQUIRED.items():
        if coord not in assembly.coords:
            raise ValueError(
                f"assembly is missing the required coord {coord!r} along {dim!r}; "
                f"present coords: {sorted(map(str, assembly.coords))}"
            )
        if assembly[coord].dims != (dim,):
            raise ValueError(f"coord {coord!r} must lie along {dim!r}, not {assembly[coord].dims}")
        _check_ids(assembly[coord].values, coord)
    for dim in (PRESENTATION, NEUROID):
        if assembly.sizes[dim] == 0:
            raise ValueError(
                f"the assembly has no {dim}s (shape {tuple(assembly.shape)}); an analysis needs at "
                f"least one. Check the selection that produced it (e.g. a region or texture type "
                f"that is absent)."
            )
    if assembly.dtype.kind == "b":
        raise ValueError(
            "assembly values are boolean; responses must be numbers (spikes/s or activations). "
            "If 0/1 responses are meant, convert with assembly.astype(float)."
        )
    if assembly.dtype.kind not in "iufc":
        raise ValueError(
            f"assembly values must be numeric (responses in spikes/s or activations); got dtype "
            f"{assembly.dtype}. Convert with assembly.astype(float)."
        )
    ids = assembly["neuroid_id"].values
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1]
        raise ValueError(
            f"neuroid_id must be unique; {len(dup)} id(s) occur more than once, e.g. "
            f"{list(map(str, dup[:5]))}"
        )
    if not allow_nonfinite and assembly.dtype.kind in "fc":
        bad = ~np.isfinite(assembly.values)
        n_bad = int(bad.sum())
        if n_bad:
            n_nan = int(np.isnan(assembly.values).sum())
            pres = np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))
            neur = np.flatnonzero(np.moveaxis(bad, 1, 0).reshape(bad.shape[1], -1).any(axis=1))
            stim = assembly["stimulus_id"].values[pres[:5]]
            neu = assembly["neuroid_id"].values[neur[:5]]
            raise ValueError(
                f"assembly holds {n_bad} non-finite value(s) ({n_nan} NaN, {n_bad - n_nan} inf) "
                f"in {len(pres)} presentation(s) (e.g. stimulus_id {list(map(str, stim))}) and "
                f"{len(neur)} neuroid(s) (e.g. neuroid_id {list(map(str, neu))})"
            )
    return assembly


def _presentation_coords(assembly: xr.DataArray) -> list[str]:
    return [str(c) for c in assembly.coords if assembly[c].dims == (PRESENTATION,)]


def average_repetitions(assembly: xr.DataArray) -> xr.DataArray:
    """Mean over presentations that share a ``stimulus_id``.

    Presentation coords that are constant within each stimulus (stimulus metadata)
    are kept; those that vary across repetitions (``repetition``, trial ids) are
    dropped. Stimuli keep the order of their first presentation.
    """
    validate(assembly)
    sid = assembly["stimulus_id"].values
    uniq, first, inverse = np.unique(sid, return_index=True, return_inverse=True)
    order = np.argsort(first)
    uniq, first = uniq[order], first[order]
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    group = remap[inverse]
    counts = np.bincount(group, minlength=len(uniq)).astype(float)
    vals = np.moveaxis(assembly.values, 0, -1)
    sums = np.zeros(vals.shape[:-1] + (len(uniq),), dtype=np.result_type(vals.dtype, float))
    np.add.at(np.moveaxis(sums, -1, 0), group, np.moveaxis(vals, -1, 0))
    means = np.moveaxis(sums / counts, -1, 0)
    coords = {}
    for c in _presentation_coords(assembly):
        if c == "stimulus_id":
            continue
        col = assembly[c].values
        same = np.array_equal(col, col[first][group], equal_nan=col.dtype.kind in "fc")
        if same:  # constant within every stimulus: stimulus metadata
            coords[c] = (PRESENTATION, col[first])
    coords["stimulus_id"] = (PRESENTATION, uniq)
    for c in assembly.coords:
        if assembly[c].dims != (PRESENTATION,):
            coords[str(c)] = assembly[c]
    out = xr.DataArray(means, dims=assembly.dims, coords=coords, attrs=dict(assembly.attrs))
    return validate(out)


def align(
    a: xr.DataArray, b: xr.DataArray, on: str = "stimulus_id"
) -> tuple[xr.DataArray, xr.DataArray]:
    """Reorder two assemblies so their presentations match one-to-one by ``on``.

    Both must hold each id once (average repetitions first). The returned pair is
    in ``a``'s order.

    Raises
    ------
    ValueError
        Listing the ids present on one side only, or ids that repeat.
    """
    for name, x in (("first", a), ("second", b)):
        validate(x)
        ids = x[on].values
        if len(np.unique(ids)) != len(ids):
            raise ValueError(
                f"the {name} assembly holds repeated {on!r} values; call "
                f"average_repetitions() before aligning"
            )
    ia, ib = list(map(str, a[on].values)), list(map(str, b[on].values))
    sa, sb = set(ia), set(ib)
    if sa != sb:
        only_a, only_b = sorted(sa - sb), sorted(sb - sa)
        raise ValueError(
            f"stimulus ids do not match: {len(only_a)} only in the first assembly "
            f"{only_a[:10]}{' ...' if len(only_a) > 10 else ''}, {len(only_b)} only in the second "
            f"{only_b[:10]}{' ...' if len(only_b) > 10 else ''}"
        )
    pos_b = {s: i for i, s in enumerate(ib)}
    return a, b.isel({PRESENTATION: [pos_b[s] for s in ia]})


def is_simulated(assembly: xr.DataArray) -> bool:
    """Whether the assembly's attrs mark it as simulated data."""
    return bool(int(assembly.attrs.get("simulated", 0)))


def _encode_attrs(attrs: Mapping) -> dict:
    import json

    out = {}
    for k, v in attrs.items():
        if isinstance(v, (bool, np.bool_)):
            out[k] = int(v)
        elif isinstance(v, (dict, list, tuple)):
            # JSON keeps lists exact (netCDF would turn [3] into 3 and [1, 2.5] into floats)
            out[f"{k}__json"] = json.dumps(v, default=_json_default)
        elif v is None:
            out[f"{k}__none"] = ""
        else:
            out[k] = v
    return out


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"attr value of type {type(obj).__name__} cannot be stored in netCDF")


def _decode_attrs(attrs: Mapping) -> dict:
    import json

    out = {}
    for k, v in attrs.items():
        if k.endswith("__json"):
            out[k[: -len("__json")]] = json.loads(v)
        elif k.endswith("__none"):
            out[k[: -len("__none")]] = None
        elif isinstance(v, np.ndarray):
            out[k] = v.tolist()
        elif isinstance(v, np.generic):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def save(assembly: xr.DataArray, path: str | os.PathLike) -> Path:
    """Write ``assembly`` to netCDF (h5netcdf engine) atomically.

    The data are written to a temporary file in the destination folder, flushed,
    then renamed over ``path`` (:func:`neurocommon.files.atomic_path`): a crash
    mid-write never leaves a truncated file under the final name. Dict/list attrs are
    stored as JSON and restored by :func:`load`.
    """
    validate(assembly, allow_nonfinite=True)
    path = Path(path)
    ds = assembly.copy()
    ds.attrs = _encode_attrs(assembly.attrs)
    ds.name = ds.name or "assembly"
    encoding = {str(c): {"dtype": str} for c in ds.coords if ds[c].dtype.kind in "OU"}
    with atomic_path(path) as tmp:
        ds.to_dataset(name=ds.name).to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    return path


def load(path: str | os.PathLike) -> xr.DataArray:
    """Read an assembly written by :func:`save`; values, coords and attrs round-trip.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    OSError
        The file is not readable netCDF (truncated, another format), naming ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no assembly file at {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            names = list(ds.data_vars)
            if len(names) != 1:
                raise ValueError(f"{path} holds {len(names)} variables {names}; expected one assembly")
            da = ds[names[0]].load()
    except (OSError, RuntimeError) as err:  # h5py: truncated or not HDF5/netCDF4
        raise OSError(
            f"{path} is not a readable assembly file ({err}); it may have been truncated by an "
            f"interrupted copy or download, or is not netCDF. Copy it again or write it again "
            f"with analysis.assemblies.save."
        ) from err
    for c in list(da.coords):
        if da[c].dtype.kind == "O":
            da = da.assign_coords({c: (da[c].dims, da[c].values.astype(str))})
    da.attrs = _decode_attrs(da.attrs)
    da.name = None if names[0] == "assembly" else names[0]
    return validate(da, allow_nonfinite=True)
