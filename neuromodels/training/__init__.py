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
"""
from .checkpoints import (
    CorruptCheckpointError,
    latest_good_checkpoint,
    list_checkpoints,
    load_model,
    read_checkpoint,
    save_checkpoint,
)
from .config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    validate,
)
from .distributed import all_gather_with_grad, init_distributed
from .loop import RunResult, TrainingDiverged, TrainingInterrupted, stage_deformation, train
from .metrics import read_metrics
from .schedules import Phase, build_phases

__all__ = [
    "train", "RunResult", "TrainingDiverged", "TrainingInterrupted", "load_model",
    "TrainConfig", "ConfigError", "load_config", "config_from_dict", "config_to_dict", "apply_overrides", "validate",
    "Phase", "build_phases", "stage_deformation",
    "save_checkpoint", "read_checkpoint", "list_checkpoints", "latest_good_checkpoint", "CorruptCheckpointError",
    "all_gather_with_grad", "init_distributed", "read_metrics",
]
