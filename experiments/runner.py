"""A reproduction run: a result folder made of resumable stages.

Each stage is a function that writes its artefacts (assemblies, checkpoints,
figures) under the run folder and returns a JSON-serialisable record (metrics,
figure paths, report text). The record is written atomically to
``stages/<name>.json`` when the stage finishes; re-running with the same ``out``
folder loads finished stages instead of recomputing them, so an interrupted run
loses at most the stage it was in.

Every stage record carries the SHA-256 of the configuration it was computed with
(``_config_sha256``, :func:`config_hash`); a record made with another configuration
(or with none recorded) is never reused: the stage is recomputed and says so. This
holds even when ``config.json`` was deleted or edited by hand.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from neurocommon.files import atomic_write_text

__all__ = ["Run", "Section", "Headline", "config_hash", "to_jsonable"]


def config_hash(config: dict) -> str:
    """SHA-256 of a configuration's canonical JSON (sorted keys): what a stage record was made with.

    Examples
    --------
    >>> config_hash({"seed": 0, "a": 1}) == config_hash({"a": 1, "seed": 0}) != config_hash({"a": 1, "seed": 1})
    True
    """
    text = json.dumps(to_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Headline:
    """One row of the report's headline table."""

    name: str
    value: float
    error: float | None = None
    source: str = "simulated"  # 'real' or 'simulated' (or a dataset name)
    compute: str = ""  # e.g. '3.1 GFLOP training' or '2.4 s CPU'
    unit: str = ""


@dataclass
class Section:
    """One section of the report: a title, figures and a short reading."""

    title: str
    reading: str
    figures: list[str] = field(default_factory=list)
    table: str | None = None  # markdown table, optional


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy values, paths, sections and headlines turned into JSON types (stage records, configs)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (Headline, Section)):
        return {"__kind__": type(obj).__name__, **to_jsonable(obj.__dict__)}
    return obj


def _from_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        kind = obj.get("__kind__")
        body = {k: _from_jsonable(v) for k, v in obj.items() if k != "__kind__"}
        if kind == "Headline":
            return Headline(**body)
        if kind == "Section":
            return Section(**body)
        return body
    if isinstance(obj, list):
        return [_from_jsonable(v) for v in obj]
    return obj


class Run:
    """A result folder for one reproduction.

    Parameters
    ----------
    out : path
        The result folder (created). Finished stages found there are reused.
    config : dict
        The resolved configuration (written to ``config.json``).
    name : str
        The reproduction's name.
    """

    def __init__(self, out: str | os.PathLike, config: dict, name: str, log: Callable[[str], None] = print):
        self.out = Path(out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "stages").mkdir(exist_ok=True)
        (self.out / "figures").mkdir(exist_ok=True)
        self.config = config
        self.name = name
        self.log = log
        self.records: dict[str, dict] = {}
        self.timings: dict[str, float] = {}
        self.flops: dict[str, float] = {}
        self.config_sha256 = config_hash(config)
        self._check_same_config(config)
        atomic_write_text(self.out / "config.json", json.dumps(to_jsonable(config), indent=2))

    def _check_same_config(self, config: dict) -> None:
        """Refuse to resume a folder whose finished stages were computed with another config."""
        old_path = self.out / "config.json"
        if not old_path.exists() or not any((self.out / "stages").glob("*.json")):
            return
        old, new = json.loads(old_path.read_text()), json.loads(json.dumps(to_jsonable(config)))
        if old != new:
            keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ValueError(
                f"{self.out} holds a run made with a different config (differs in {keys}); its finished "
                f"stages cannot be reused. Use another --out folder, or delete {self.out} to start over."
            )

    def path(self, *parts: str) -> Path:
        p = self.out.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def figure_path(self, name: str) -> Path:
        return self.path("figures", f"{name}.png")

    def stage(self, name: str, fn: Callable[["Run"], dict]) -> dict:
        """Run stage ``name`` unless a finished record exists; return its record."""
        rec_path = self.out / "stages" / f"{name}.json"
        if rec_path.exists():
            try:
                record = _from_jsonable(json.loads(rec_path.read_text()))
                made_with = record.get("_config_sha256") if isinstance(record, dict) else None
                if made_with != self.config_sha256:
                    raise ValueError(
                        "it was made with another configuration" if made_with else "it records no configuration hash"
                    )
                self.log(f"[{self.name}] stage {name}: finished earlier, reusing {rec_path}")
                self.records[name] = record
                self.timings[name] = float(record.get("_wall_s", 0.0))
                self.flops[name] = float(record.get("_flops", 0.0))
                return record
            except (json.JSONDecodeError, TypeError, AttributeError) as err:
                self.log(f"[{self.name}] stage {name}: record unreadable ({err}); recomputing")
            except ValueError as err:
                self.log(f"[{self.name}] stage {name}: not reusing {rec_path}: {err}; recomputing")
        self.log(f"[{self.name}] stage {name}: running")
        t0 = time.perf_counter()
        record = dict(fn(self) or {})
        wall = time.perf_counter() - t0
        record["_wall_s"] = wall
        record["_config_sha256"] = self.config_sha256
        record.setdefault("_flops", 0.0)
        atomic_write_text(rec_path, json.dumps(to_jsonable(record), indent=2))
        self.records[name] = record
        self.timings[name] = wall
        self.flops[name] = float(record["_flops"])
        self.log(f"[{self.name}] stage {name}: done in {wall:.1f} s")
        return record

    @classmethod
    def open_finished(cls, out: str | os.PathLike, name: str) -> "Run":
        """A read-only view of a finished run folder: every stage record, nothing recomputed."""
        run = cls.__new__(cls)
        run.out, run.name, run.log = Path(out).resolve(), name, (lambda *_: None)
        run.config = json.loads((run.out / "config.json").read_text())
        run.records, run.timings, run.flops = {}, {}, {}
        for rec_path in sorted((run.out / "stages").glob("*.json"), key=lambda p: p.stat().st_mtime):
            record = _from_jsonable(json.loads(rec_path.read_text()))
            run.records[rec_path.stem] = record
            run.timings[rec_path.stem] = float(record.get("_wall_s", 0.0))
            run.flops[rec_path.stem] = float(record.get("_flops", 0.0))
        return run

    # ---- collected outputs -------------------------------------------------
    def headlines(self) -> list[Headline]:
        return [h for r in self.records.values() for h in r.get("headlines", [])]

    def sections(self) -> list[Section]:
        return [s for r in self.records.values() for s in r.get("sections", [])]

    def metrics_rows(self) -> list[dict]:
        """Every stage's metric rows, each with the run stage it came from (column ``stage``)."""
        rows = []
        for stage, r in self.records.items():
            for row in r.get("metrics", []):
                if "stage" in row:
                    raise ValueError(f"metric rows must not use the key 'stage' (the run stage); "
                                     f"stage {stage!r} produced {row}")
                rows.append({"stage": stage, **row})
        return rows
