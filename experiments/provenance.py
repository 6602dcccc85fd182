"""Provenance of a run: versions, git revision, seeds, device, wall time, compute."""
from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["provenance", "git_revision", "format_flops"]


def git_revision(path: str | Path | None = None) -> str | None:
    """The git commit of the source tree (with ``-dirty`` when modified), or None."""
    root = Path(path or Path(__file__).resolve().parents[1])
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(seed: int | None = None, device: str | None = None, **extra) -> dict:
    """A dict describing how and where a result was computed."""
    import numpy
    import torch

    import neuromodels

    return {
        "package_version": neuromodels.__version__,
        "git_revision": git_revision(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu_count": __import__("os").cpu_count(),
        "device": device,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "seed": seed,
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def format_flops(flops: float) -> str:
    """Human-readable FLOP count (``1.2 GFLOP``)."""
    if not flops:
        return "0 FLOP"
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if flops >= scale:
            return f"{flops / scale:.3g} {unit}"
    return f"{flops:.0f} FLOP"
