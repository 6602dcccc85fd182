"""Per-step metrics written to ``metrics.csv`` and ``metrics.jsonl`` in the run folder.

Each optimizer step appends one row (``step``, ``phase``, ``stage``, ``loss``, ``lr``,
``step_time_s``, ``samples_per_s``, ``wall_time_s``) to both files, flushed at once,
so a run killed at any point keeps every completed step. On resume the rows after
the checkpoint's step (steps that will be recomputed) are dropped, rewriting both
files atomically, so the files always describe one consistent history.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .checkpoints import atomic_write_bytes

__all__ = ["MetricsLogger", "read_metrics", "COLUMNS"]

COLUMNS = ("step", "phase", "stage", "loss", "lr", "step_time_s", "samples_per_s", "wall_time_s")


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Rows of ``metrics.jsonl`` (incomplete trailing lines of a killed run are skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


class MetricsLogger:
    """Append-only per-step metrics (CSV and JSON lines) of one run.

    Parameters
    ----------
    run_dir
        The run folder.
    keep_until
        Drop existing rows with ``step > keep_until`` (resume); ``None``: start afresh.
    enabled
        False on non-zero ranks (nothing is written).
    """

    def __init__(self, run_dir: str | Path, keep_until: int | None = None, enabled: bool = True):
        self.enabled = enabled
        self.csv_path = Path(run_dir) / "metrics.csv"
        self.json_path = Path(run_dir) / "metrics.jsonl"
        if not enabled:
            return
        rows = [r for r in read_metrics(run_dir) if keep_until is not None and r.get("step", 0) <= keep_until]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows({k: r.get(k) for k in COLUMNS} for r in rows)
        atomic_write_bytes(self.csv_path, buf.getvalue().encode())
        atomic_write_bytes(self.json_path, "".join(json.dumps(r) + "\n" for r in rows).encode())
        self._csv = open(self.csv_path, "a", newline="")
        self._writer = csv.DictWriter(self._csv, fieldnames=COLUMNS, lineterminator="\n")
        self._json = open(self.json_path, "a")

    def log(self, row: dict) -> None:
        """Append one step's metrics to both files."""
        if not self.enabled:
            return
        self._writer.writerow({k: row.get(k) for k in COLUMNS})
        self._json.write(json.dumps({k: row.get(k) for k in COLUMNS}) + "\n")
        self._csv.flush()
        self._json.flush()

    def close(self) -> None:
        if self.enabled:
            self._csv.close()
            self._json.close()
