"""Files of a result folder: JSON records and stimulus sets (images + table + meta)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stimuli import StimulusSet

__all__ = [
    "save_stimulus_set",
    "load_stimulus_set",
    "save_json",
]


def save_json(path: Path, obj) -> Path:
    from neurocommon.files import atomic_write_text

    from .runner import to_jsonable

    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2))


def save_stimulus_set(stimuli: StimulusSet, folder: Path) -> Path:
    """Write a stimulus set as ``table.csv`` + ``meta.json`` (atomically), with ``images.npy``
    for in-memory images; a set whose images are files (a real dataset's) keeps its
    ``path`` column and is not copied."""
    import io

    from neurocommon.files import atomic_write_bytes, atomic_write_text

    folder = Path(folder)
    if stimuli.images is not None:
        buf = io.BytesIO()
        np.save(buf, stimuli.images)
        atomic_write_bytes(folder / "images.npy", buf.getvalue())
        table = stimuli.table.drop(columns=[c for c in ("path",) if c in stimuli.table.columns])
    else:
        table = stimuli.table
    atomic_write_text(folder / "table.csv", table.to_csv(index=False))
    save_json(folder / "meta.json", {"name": stimuli.name, "visual_degrees": stimuli.visual_degrees,
                                     "attrs": stimuli.attrs})
    return folder


def load_stimulus_set(folder: Path) -> StimulusSet:
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    table = pd.read_csv(folder / "table.csv", dtype={"stimulus_id": str})
    images = np.load(folder / "images.npy") if (folder / "images.npy").exists() else None
    return StimulusSet(table, images, meta["visual_degrees"], meta["name"], meta.get("attrs", {}))
