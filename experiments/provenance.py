"""Provenance of a run: versions, git revision, seeds, device, wall time, compute."""
from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["provenance", "git_revision", "format_flops"]


def git_revision() -> str | None:
    """The source tree's git commit (``-dirty`` when modified), or None outside a checkout."""
    from neuromodels.training.provenance import git_revision as _git

    info = _git(Path(__file__).resolve().parent)
    return info["revision"] + ("-dirty" if info["dirty"] else "") if info else None


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
        "cpu_count": os.cpu_count(),
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
