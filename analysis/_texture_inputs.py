"""Input checks and population splitting shared by the texture analyses.

Used by :mod:`analysis.texture` (modulation index), :mod:`analysis.texture_decoding`
(family vs sample decoding) and :mod:`analysis.few_shot` (data efficiency): a texture assembly must carry the presentation coords of
the FreemanZiemba2013 layout, and an analysis runs per population (one assembly split
by a neuroid coord such as ``region`` or ``layer``, or a mapping of assemblies).

Examples
--------
>>> import numpy as np
>>> from analysis.assemblies import make_assembly
>>> a = make_assembly(np.ones((2, 3)), stimulus_id=["a", "b"], neuroid_coords={"region": ["V1", "V2", "V2"]})
>>> {str(name): pop.sizes["neuroid"] for name, pop in populations(a, "region").items()}
{'V1': 1, 'V2': 2}
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from analysis._validation import check_assembly, group_coord, presentation_coord
from analysis.assemblies import NEUROID, validate

__all__ = ["TEXTURE_HINT", "check_texture_assembly", "populations"]

TEXTURE_HINT = (
    "Build it from a texture stimulus set (analysis.texture_stimuli.texture_stimulus_set), whose table "
    "columns texture_family, texture_type and sample become presentation coords, or assign the coord "
    "with assembly.assign_coords({c}=('presentation', ...))."
)


def check_texture_assembly(assembly, fn: str, coords: Sequence[str] = ()) -> xr.DataArray:
    """A 2-D assembly carrying the presentation ``coords`` that ``fn`` needs (the shared checks)."""
    check_assembly(assembly, fn)
    for c in coords:
        presentation_coord(assembly, c, fn, hint=TEXTURE_HINT.format(c=c))
    return assembly


def populations(data, by: str | None = "auto") -> dict[str, xr.DataArray]:
    """{name: assembly} from one assembly (split by a neuroid coord) or a mapping."""
    if isinstance(data, Mapping):
        if not data:
            raise ValueError("got an empty mapping of assemblies")
        return {str(k): v for k, v in data.items()}
    validate(data)
    coord = group_coord(data, by)
    if coord is None:
        return {str(data.attrs.get("source", "all")): data}
    values = data[coord].values.astype(str)
    names = list(dict.fromkeys(values))
    return {n: data.isel({NEUROID: np.flatnonzero(values == n)}) for n in names}
