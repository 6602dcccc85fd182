"""Readers of the file formats datasets come in: IDX (MNIST), BrainIO assemblies and stimulus sets."""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .manifest import DatasetError

__all__ = ["read_idx", "load_brainscore_assembly", "load_brainscore_stimulus_set"]


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (LeCun et al.'s MNIST format; ``.gz`` accepted).

    Format: 2 zero bytes, a type code (0x08 = uint8, 0x09 int8, 0x0B int16, 0x0C
    int32, 0x0D float32, 0x0E float64), the number of dimensions, then each
    dimension as a big-endian uint32, then the data (big-endian).
    """
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise DatasetError(f"{path}: unknown IDX type code {data[2]:#x}")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[data[2]])
    body = data[4 + 4 * ndim:]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(body) != expected:
        raise DatasetError(f"{path}: header promises {expected} bytes of data, file holds {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))



def load_brainscore_assembly(path: str | os.PathLike, time_window: tuple[float, float] | None = (50, 200),
                             source: str | None = None, attrs: Mapping | None = None):
    """A Brain-Score (BrainIO) assembly netCDF file → an assembly of this toolkit's data model.

    BrainIO stores ``(presentation, neuroid[, time_bin])`` with every MultiIndex level as
    a plain coordinate. ``stimulus_id`` is taken from ``stimulus_id`` or the legacy
    ``image_id``; with a ``time_bin`` dim, the bins inside ``time_window`` (ms, by
    ``time_bin_start``/``time_bin_end``) are averaged, as Brain-Score's benchmarks do
    (FreemanZiemba2013: 1-ms bins, 50–200 ms). Values keep the units stored in the file.
    """
    import xarray as xr

    from analysis.assemblies import NEUROID, PRESENTATION, TIME_BIN, validate

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no Brain-Score assembly file at {path}")
    try:
        with xr.open_dataset(path) as ds:
            names = list(ds.data_vars)
            if len(names) != 1:
                raise DatasetError(f"{path} holds {len(names)} data variables {names}; expected one")
            da = ds[names[0]].load()
    except DatasetError:
        raise
    except (OSError, ValueError, RuntimeError) as err:  # truncated, not netCDF
        raise DatasetError(f"{path} is not a readable netCDF assembly ({err}); it may be truncated: "
                           f"delete it and fetch or copy it again") from err
    for dim in (PRESENTATION, NEUROID):
        if dim not in da.dims:
            raise DatasetError(f"{path}: expected dims presentation × neuroid; got {da.dims}")
    if "stimulus_id" not in da.coords:
        if "image_id" not in da.coords:
            raise DatasetError(f"{path}: no 'stimulus_id' or 'image_id' coord along presentation")
        da = da.assign_coords(stimulus_id=(PRESENTATION, da["image_id"].values))
    if TIME_BIN in da.dims:
        if time_window is not None and "time_bin_start" in da.coords:
            start, end = da["time_bin_start"].values, da["time_bin_end"].values
            keep = (start >= time_window[0]) & (end <= time_window[1])
            if not keep.any():
                raise DatasetError(f"{path}: no time bins inside {time_window} ms "
                                   f"(bins span {start.min()}–{end.max()} ms)")
            da = da.isel({TIME_BIN: np.flatnonzero(keep)})
        da = da.mean(TIME_BIN, keep_attrs=True)
        da = da.drop_vars([c for c in list(da.coords) if TIME_BIN in da[c].dims or
                           c in ("time_bin_start", "time_bin_end")], errors="ignore")
        da.attrs["time_window_ms"] = list(time_window) if time_window is not None else "all"
    da = da.transpose(PRESENTATION, NEUROID)
    for c in list(da.coords):
        if da[c].dtype.kind == "O":
            da = da.assign_coords({c: (da[c].dims, da[c].values.astype(str))})
    da.attrs.update({"source": source or path.stem, "simulated": 0, **dict(attrs or {})})
    da.name = None
    return validate(da)


def load_brainscore_stimulus_set(csv_path: str | os.PathLike, zip_path: str | os.PathLike,
                                 visual_degrees: float, name: str | None = None,
                                 extract_to: str | os.PathLike | None = None):
    """A Brain-Score stimulus set (CSV + zip of images) → StimulusSet with a ``path`` column.

    The CSV's ``stimulus_id`` (or legacy ``image_id``) column names each stimulus and
    ``filename`` (or ``image_file_name``) its file inside the zip. The zip is
    extracted once next to it (or into ``extract_to``).
    """
    import zipfile

    import pandas as pd

    from analysis.stimuli import StimulusSet

    csv_path, zip_path = Path(csv_path), Path(zip_path)
    for p in (csv_path, zip_path):
        if not p.is_file():
            raise DatasetError(f"no Brain-Score stimulus file at {p}")
    table = pd.read_csv(csv_path)
    if "stimulus_id" not in table.columns:
        if "image_id" not in table.columns:
            raise DatasetError(f"{csv_path}: no 'stimulus_id' or 'image_id' column; got {list(table.columns)}")
        table = table.rename(columns={"image_id": "stimulus_id"})
    fcol = next((c for c in ("filename", "image_file_name", "stimulus_path_within_store")
                 if c in table.columns), None)
    if fcol is None:
        raise DatasetError(f"{csv_path}: no 'filename' column naming the image files")
    out = Path(extract_to) if extract_to else zip_path.with_suffix("")
    done = out / ".extracted"
    if not done.exists():
        if not zipfile.is_zipfile(zip_path):
            raise DatasetError(f"{zip_path} is not a readable zip file; it may be truncated: delete it "
                               f"and fetch or copy it again")
        with zipfile.ZipFile(zip_path) as zf:
            members = {Path(m).name: m for m in zf.namelist() if not m.endswith("/")}
            out.mkdir(parents=True, exist_ok=True)
            for m in members.values():
                target = out / Path(m).name
                with zf.open(m) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        done.touch()
    paths = [out / Path(str(f)).name for f in table[fcol]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} images named in {csv_path} are not in {zip_path}, e.g. {missing[:3]}")
    table["path"] = [str(p) for p in paths]
    return StimulusSet(table, None, visual_degrees=visual_degrees, name=name or csv_path.stem)

