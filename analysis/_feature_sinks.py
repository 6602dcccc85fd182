"""Where activations go, batch by batch: into memory or into one netCDF file per layer.

:class:`MemorySink` keeps a layer's reduced features in memory and returns an
assembly; :class:`FileSink` writes them into a netCDF file (h5netcdf) as batches
arrive, under a temporary name renamed to ``<layer>.nc`` when complete
(:mod:`neurocommon.files`; nothing half-written is left on disk), readable with :func:`analysis.assemblies.load`.
Used by :func:`analysis.activations.extract`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from analysis.assemblies import make_assembly
from neurocommon.files import move_into_place, temp_path_beside

__all__ = ["MemorySink", "FileSink"]


class MemorySink:
    """Holds a layer's reduced features in memory, batch by batch."""

    def __init__(self):
        self.chunks: list[np.ndarray] = []

    def write(self, start: int, values: np.ndarray, n: int, plan: dict) -> None:
        self.chunks.append(values)

    def finish(self, coords: dict, attrs: dict):
        return make_assembly(np.concatenate(self.chunks, axis=0), stimulus_id=coords["stimulus_id"],
                             neuroid_id=coords["neuroid_id"], presentation_coords=coords["presentation"],
                             neuroid_coords=coords["neuroid"], attrs=attrs)

    def discard(self) -> None:
        self.chunks = []


class FileSink:
    """Writes a layer's reduced features into a netCDF file as batches arrive.

    The file (h5netcdf) is created on the first batch, when the number of kept units
    is known, under a temporary name in ``folder``; :meth:`finish` adds the coords and
    attrs and renames it to ``<layer>.nc``; :meth:`discard` removes an unfinished one.
    """

    def __init__(self, folder: Path, layer: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{layer}.nc"
        self.tmp: Path | None = None
        self.file = None

    def write(self, start: int, values: np.ndarray, n: int, plan: dict) -> None:
        if self.file is None:
            import h5netcdf

            self.tmp = temp_path_beside(self.path)
            self.file = h5netcdf.File(self.tmp, "w")
            self.file.dimensions = {"presentation": n, "neuroid": values.shape[1]}
            self.var = self.file.create_variable("assembly", ("presentation", "neuroid"),
                                                 dtype="float32")
        self.var[start : start + len(values)] = values

    def finish(self, coords: dict, attrs: dict) -> Path:
        import h5py

        def add(name, dim, values):
            values = np.asarray(values)
            if values.dtype.kind in "OU":
                self.file.create_variable(name, (dim,), data=values.astype(str).astype(object),
                                          dtype=h5py.string_dtype())
            else:
                self.file.create_variable(name, (dim,), data=values)

        add("stimulus_id", "presentation", coords["stimulus_id"])
        add("neuroid_id", "neuroid", coords["neuroid_id"])
        for name, values in coords["presentation"].items():
            add(name, "presentation", values)
        for name, values in coords["neuroid"].items():
            add(name, "neuroid", values)
        names = ["stimulus_id", "neuroid_id", *coords["presentation"], *coords["neuroid"]]
        self.var.attrs["coordinates"] = " ".join(names)
        for key, value in attrs.items():
            self.var.attrs[key] = value
        self.file.close()
        self.file = None
        move_into_place(self.tmp, self.path)
        self.tmp = None
        return self.path

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.tmp is not None and os.path.exists(self.tmp):
            os.unlink(self.tmp)
        self.tmp = None
