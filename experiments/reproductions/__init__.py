"""The reproductions: each module has ``TITLE``, a docstring and ``run(run, cfg, device)``."""
from __future__ import annotations

import time
from pathlib import Path

import random

import numpy as np
import torch

from neuromodels.training.distributed import resolve_device

from ..result_files import save_json
from ..config import apply_overrides, load_config
from ..provenance import provenance
from ..report import write_report
from ..runner import Run
from . import flows, lcl_v2, manifolds, quickstart, texture_model

__all__ = ["REPRODUCTIONS", "run_reproduction"]

REPRODUCTIONS = {
    "texture_model": texture_model,
    "lcl_v2": lcl_v2,
    "manifolds": manifolds,
    "flows": flows,
    "quickstart": quickstart,
}


def run_reproduction(name: str, quick: bool = False, device: str | None = None, out: str | Path = None,
                     overrides: list[str] | None = None, config: dict | None = None) -> Path:
    """Run reproduction ``name`` end to end into ``out``; return the path of its ``report.md``.

    Finished stages in ``out`` are reused, so re-running continues an interrupted run.
    """
    if name not in REPRODUCTIONS:
        raise ValueError(f"unknown reproduction {name!r}; available: {', '.join(REPRODUCTIONS)}")
    cfg = config if config is not None else load_config(name, quick)
    cfg = apply_overrides(cfg, list(overrides or []))
    dev = resolve_device(device or "auto")
    seed = int(cfg.get("seed", 0))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    out = Path(out or f"results/{name}{'_quick' if quick else ''}")
    run = Run(out, {**cfg, "quick": quick, "device": str(dev)}, name)
    t0 = time.perf_counter()
    module = REPRODUCTIONS[name]
    module.run(run, cfg, dev)
    prov = provenance(seed=seed, device=str(dev), reproduction=name, quick=quick,
                      run_wall_s=round(time.perf_counter() - t0, 2))
    save_json(out / "provenance_run.json", prov)
    intro = (module.__doc__ or "").strip()
    if quick:
        intro += ("\n\nThis is the **quick** variant (bundled data, tiny models and budgets, CPU minutes): "
                  "the numbers show that the pipeline computes what it should, not the papers' values. "
                  "Run without `--quick` on a GPU for the full configuration.")
    return write_report(run, module.TITLE, intro, prov)
