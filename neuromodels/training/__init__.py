"""The training engine: one trainer for every staged model of the registry.

Schedules ``layerwise`` (LCL: one stage at a time on frozen earlier stages),
``end_to_end`` and ``progressive_freezing``; views made on the device by local
deformations (complexity-matched per stage); bf16 autocast and channels-last on
CUDA; DDP through ``torchrun`` with a differentiable all-gather before the loss;
atomic, checksummed checkpoints that resume to the same result; per-step metrics
(CSV, JSON lines), provenance and FLOPs per step. See ``docs/training.md``.

Examples
--------
Not run as a doctest: it trains for minutes and writes ``runs/demo``.

>>> from neuromodels.training import train, load_model
>>> result = train("neuromodels/configs/lcl_v2_quick.yaml", ["run.out_dir=runs/demo"])  # doctest: +SKIP
>>> model = load_model("runs/demo")                                                    # doctest: +SKIP

The names below are imported on first use (``from neuromodels.training import train``
works as usual), so that ``import neuromodels.training`` and the command line's
``--help`` do not import torch.
"""
from __future__ import annotations

from neurocommon.lazy import lazy_api

_API = {
    "checkpoints": ["CorruptCheckpointError", "latest_good_checkpoint", "list_checkpoints", "load_model",
                    "read_checkpoint", "save_checkpoint"],
    "config": ["ConfigError", "TrainConfig", "apply_overrides", "config_from_dict", "config_to_dict", "load_config",
               "validate"],
    "distributed": ["all_gather_with_grad", "init_distributed"],
    "loop": ["RunResult", "Trainer", "TrainingDiverged", "TrainingInterrupted", "seed_of", "stage_deformation",
             "train"],
    "metrics": ["read_metrics"],
    "schedules": ["Phase", "build_phases"],
}
_WHERE = {name: module for module, names in _API.items() for name in names}
_SUBMODULES = ("checkpoints", "config", "distributed", "loop", "metrics", "provenance", "schedules", "supervised")

__all__ = [
    "train", "Trainer", "RunResult", "TrainingDiverged", "TrainingInterrupted", "load_model", "seed_of",
    "TrainConfig", "ConfigError", "load_config", "config_from_dict", "config_to_dict", "apply_overrides", "validate",
    "Phase", "build_phases", "stage_deformation",
    "save_checkpoint", "read_checkpoint", "list_checkpoints", "latest_good_checkpoint", "CorruptCheckpointError",
    "all_gather_with_grad", "init_distributed", "read_metrics",
]
__getattr__, __dir__ = lazy_api(__name__, _API, _SUBMODULES)
