"""Per-step metrics written to ``metrics.csv`` and ``metrics.jsonl`` in the run folder.

Each optimizer step appends one row (``step``, ``phase``, ``stage``, ``loss``, ``lr``,
``step_time_s``, ``samples_per_s``, ``wall_time_s``) to both files, flushed at once,
so a run killed at any point keeps every completed step. On resume the rows after
the checkpoint's step (steps that will be recomputed) are dropped, rewriting both
files atomically, so the files always describe one consistent history.

With ``run.tensorboard: true`` the same scalars (``loss``, ``lr``, ``step_time_s``,
``samples_per_s``; tagged ``<metric>/<stage>``) also go to TensorBoard event files in
``<run>/tensorboard`` (``tensorboard --logdir runs``). That needs the optional
``tensorboard`` package (``pip install -e .[tensorboard]``); without it the run stops
before its first step with one clear error. On resume, events after the checkpoint's
step are purged like the rows of the files.

Examples
--------
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> log = MetricsLogger(folder)
>>> log.log({"step": 1, "phase": 0, "stage": "stage1", "loss": 0.5, "lr": 0.1})
>>> log.close()
>>> read_metrics(folder)[0]["loss"]
0.5
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from neurocommon.files import atomic_write_bytes

from .config import ConfigError

__all__ = ["MetricsLogger", "read_metrics", "COLUMNS", "TENSORBOARD_SCALARS", "tensorboard_writer"]

COLUMNS = ("step", "phase", "stage", "loss", "lr", "step_time_s", "samples_per_s", "wall_time_s")
#: the columns also written to TensorBoard (as ``<column>/<stage>``, x axis: ``step``)
TENSORBOARD_SCALARS = ("loss", "lr", "step_time_s", "samples_per_s")


def tensorboard_writer(log_dir: str | Path, purge_step: int | None = None):
    """A ``torch.utils.tensorboard.SummaryWriter`` on ``log_dir`` (needs the ``tensorboard`` package).

    ``purge_step``: events at or after this step, left by an interrupted run, are discarded.

    Raises
    ------
    ConfigError
        When ``tensorboard`` is not installed, saying how to install it or switch it off.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ConfigError(
            f"run.tensorboard=true needs the tensorboard package, which is not installed ({err}). "
            "Install it with `pip install -e .[tensorboard]` (or `pip install tensorboard`), "
            "or set run.tensorboard=false (metrics.csv and metrics.jsonl are written either way)."
        ) from None
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


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
    tensorboard
        Also write :data:`TENSORBOARD_SCALARS` to TensorBoard event files in
        ``<run_dir>/tensorboard`` (needs the ``tensorboard`` package; see
        :func:`tensorboard_writer`).
    """

    def __init__(self, run_dir: str | Path, keep_until: int | None = None, enabled: bool = True,
                 tensorboard: bool = False):
        self.enabled = enabled
        self.csv_path = Path(run_dir) / "metrics.csv"
        self.json_path = Path(run_dir) / "metrics.jsonl"
        self.tensorboard_dir = Path(run_dir) / "tensorboard"
        self._tb = None
        if not enabled:
            return
        if tensorboard:  # first, so that a missing package stops the run before any file changes
            self._tb = tensorboard_writer(self.tensorboard_dir,
                                          purge_step=None if keep_until is None else keep_until + 1)
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
        if self._tb is not None:
            stage = row.get("stage")
            for key in TENSORBOARD_SCALARS:
                value = row.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(f"{key}/{stage}" if stage else key, float(value), global_step=row.get("step"))
            self._tb.flush()

    def close(self) -> None:
        if self.enabled:
            self._csv.close()
            self._json.close()
            if self._tb is not None:
                self._tb.close()
