"""Shared input checks of the analysis package, each with a message that says how to fix it.

One place for the checks that analyses make where their input enters: an assembly
with the right dims and coords (:func:`check_assembly`, :func:`presentation_coord`,
:func:`neuroid_coord`, :func:`group_coord`), an array of the right shape
(:func:`check_2d`), finite values (:func:`check_finite`) and enough of something
(:func:`check_min_size`). Every error names the function that was called (``fn``),
what it expected, what it received and what to do.

Examples
--------
>>> import numpy as np
>>> from analysis._validation import check_2d, check_finite
>>> check_2d(np.zeros((3, 2)), "features", fn="rdm").shape
(3, 2)
>>> check_finite(np.array([1.0, np.nan]), "responses", fn="rdm")
Traceback (most recent call last):
...
ValueError: rdm: responses holds 1 non-finite value(s) (1 NaN, 0 inf); remove or impute them first
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from analysis.assemblies import NEUROID, PRESENTATION, validate

__all__ = [
    "check_assembly",
    "presentation_coord",
    "neuroid_coord",
    "group_coord",
    "check_2d",
    "check_finite",
    "check_min_size",
]


def _coords_along(assembly: xr.DataArray, dim: str) -> list[str]:
    return sorted(str(k) for k in assembly.coords if assembly[k].dims == (dim,))


def check_assembly(assembly, fn: str, coords: Sequence[str] = (), ndim: int | None = 2,
                   hint: str = "") -> xr.DataArray:
    """Validate an assembly (:func:`analysis.assemblies.validate`) for the analysis ``fn``.

    Parameters
    ----------
    assembly : xarray.DataArray
    fn : str
        Name of the calling function, used in messages.
    coords : sequence of str
        Presentation coords ``fn`` needs (e.g. ``texture_family``).
    ndim : int or None
        Required number of dims (2: ``(presentation, neuroid)``); None accepts time bins.
    hint : str
        Appended to the missing-coord message (where such coords usually come from).

    Returns
    -------
    xarray.DataArray
        The assembly, unchanged.

    Examples
    --------
    >>> from analysis.assemblies import make_assembly
    >>> a = make_assembly(np.ones((2, 3)), stimulus_id=["a", "b"])
    >>> check_assembly(a, "my_analysis", coords=["texture_family"])
    Traceback (most recent call last):
    ...
    ValueError: my_analysis needs the presentation coord 'texture_family'; the assembly has ['stimulus_id']. Assign it with assembly.assign_coords(texture_family=('presentation', values)).
    """
    validate(assembly)
    if ndim is not None and assembly.ndim != ndim:
        raise ValueError(
            f"{fn} takes a {ndim}-D (presentation, neuroid) assembly; got dims {assembly.dims}. "
            f"Select or average the time bins first, e.g. assembly.mean('time_bin')."
        )
    for c in coords:
        presentation_coord(assembly, c, fn, hint=hint)
    return assembly


def presentation_coord(assembly: xr.DataArray, name: str, fn: str, hint: str = "") -> np.ndarray:
    """The values of the presentation coord ``name``; a clear error when it is absent.

    Examples
    --------
    >>> from analysis.assemblies import make_assembly
    >>> a = make_assembly(np.ones((2, 1)), stimulus_id=["a", "b"])
    >>> presentation_coord(a, "stimulus_id", "f").tolist()
    ['a', 'b']
    """
    if name not in assembly.coords or assembly[name].dims != (PRESENTATION,):
        raise ValueError(
            f"{fn} needs the presentation coord {name!r}; the assembly has "
            f"{_coords_along(assembly, PRESENTATION)}. "
            + (hint or f"Assign it with assembly.assign_coords({name}=('presentation', values)).")
        )
    return assembly[name].values


def neuroid_coord(assembly: xr.DataArray, name: str, fn: str) -> np.ndarray:
    """The values of the neuroid coord ``name``; a clear error when it is absent.

    Examples
    --------
    >>> from analysis.assemblies import make_assembly
    >>> a = make_assembly(np.ones((1, 2)), stimulus_id=["a"], neuroid_coords={"region": ["V1", "V2"]})
    >>> neuroid_coord(a, "region", "f").tolist()
    ['V1', 'V2']
    """
    if name not in assembly.coords or assembly[name].dims != (NEUROID,):
        raise ValueError(
            f"{fn} needs the neuroid coord {name!r}; the assembly has "
            f"{_coords_along(assembly, NEUROID)}. Assign it with "
            f"assembly.assign_coords({name}=('neuroid', values))."
        )
    return assembly[name].values


def group_coord(assembly: xr.DataArray, by: str | None, fn: str = "by") -> str | None:
    """Resolve ``by`` to the neuroid coord that names populations.

    ``'auto'`` picks ``region`` (recordings) or ``layer`` (models) when present, else
    None; None stays None; any other name must be a neuroid coord.

    Examples
    --------
    >>> from analysis.assemblies import make_assembly
    >>> a = make_assembly(np.ones((1, 2)), stimulus_id=["a"], neuroid_coords={"layer": ["v1", "v2"]})
    >>> group_coord(a, "auto")
    'layer'
    """
    if by is None:
        return None
    if by == "auto":
        for c in ("region", "layer"):
            if c in assembly.coords and assembly[c].dims == (NEUROID,):
                return c
        return None
    if by not in assembly.coords or assembly[by].dims != (NEUROID,):
        raise ValueError(
            f"{fn}: by={by!r} must name a neuroid coord; the assembly has "
            f"{_coords_along(assembly, NEUROID)}"
        )
    return by


def check_2d(array, name: str, fn: str, what: str = "(samples, features)"):
    """Require a 2-D array-like (numpy array or tensor); return it unchanged.

    Examples
    --------
    >>> check_2d(np.zeros(3), "x", fn="f")
    Traceback (most recent call last):
    ...
    ValueError: f: x must be 2-D (samples, features); got shape (3,). Reshape a single sample to (1, N).
    """
    shape = tuple(getattr(array, "shape", np.shape(array)))
    if len(shape) != 2:
        raise ValueError(
            f"{fn}: {name} must be 2-D {what}; got shape {shape}. Reshape a single sample to (1, N)."
        )
    return array


def check_finite(array, name: str, fn: str):
    """Require finite values (no NaN or inf) in a numpy array or tensor; return it unchanged."""
    values = array.detach().cpu().numpy() if hasattr(array, "detach") else np.asarray(array)
    if values.dtype.kind in "fc":
        bad = ~np.isfinite(values)
        n_bad = int(bad.sum())
        if n_bad:
            n_nan = int(np.isnan(values).sum())
            raise ValueError(
                f"{fn}: {name} holds {n_bad} non-finite value(s) ({n_nan} NaN, {n_bad - n_nan} inf); "
                f"remove or impute them first"
            )
    return array


def check_min_size(n: int, minimum: int, what: str, fn: str) -> int:
    """Require at least ``minimum`` of ``what`` (e.g. manifolds, stimuli); return ``n``.

    Examples
    --------
    >>> check_min_size(1, 2, "manifolds", fn="manifold_capacity")
    Traceback (most recent call last):
    ...
    ValueError: manifold_capacity needs at least 2 manifolds; got 1
    """
    if n < minimum:
        raise ValueError(f"{fn} needs at least {minimum} {what}; got {n}")
    return n
