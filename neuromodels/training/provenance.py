"""Provenance of a run (versions, git revision, seed, machine) and FLOP counting.

The experiments package reports compute as FLOPs/step × steps; the FLOPs of one
training step (forward and backward, as counted by
``torch.utils.flop_counter.FlopCounterMode``: matrix products and convolutions,
2 FLOPs per multiply-add) are measured on the first step of each phase and
stored in ``provenance.json`` and ``summary.json``.
"""
from __future__ import annotations

import hashlib
import json
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

__all__ = ["git_revision", "collect_provenance", "config_hash"]


def git_revision(path: str | Path | None = None) -> dict:
    """``{"revision": sha, "dirty": bool}`` of the git checkout containing ``path`` (empty if none)."""
    path = Path(path or Path(__file__).resolve().parent)
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"revision": rev, "dirty": bool(dirty)}


def config_hash(config: dict) -> str:
    """SHA-256 (first 16 hex digits) of the resolved config, key order independent."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def collect_provenance(config: dict, seed: int, device: torch.device, world_size: int) -> dict:
    """Everything needed to say how a run was produced."""
    from .. import __version__

    prov = {
        "package": "neuromodels",
        "version": __version__,
        "git": git_revision(),
        "seed": seed,
        "config_hash": config_hash(config),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "device": str(device),
        "world_size": world_size,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if device.type == "cuda":
        prov["cuda_device"] = torch.cuda.get_device_name(device)
    return prov
