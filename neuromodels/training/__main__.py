"""Command line: ``python -m neuromodels.training CONFIG.yaml [key=value ...] [--resume] [--device cpu|cuda]``.

Also installed as ``neuromodels-train``. Runs :func:`neuromodels.training.train`.
Under ``torchrun --nproc_per_node N`` every process runs this same command and they
train one model together (DDP).

Exit status: 0 on success; 2 for bad input (an invalid config or override, a
missing or unreadable data folder, ``run.device=cuda`` without a GPU, a resume whose
config differs from the run's; one line on stderr, nothing was trained; ``--debug``
shows the traceback); 3 when the loss diverged (the last good checkpoint is kept);
128 + the signal number (143 for SIGTERM, 130 for SIGINT) when a signal stopped the
run: a checkpoint was written at the step boundary and the message says how to
resume (what SLURM preemption needs: ``#SBATCH --signal=TERM@120`` and a requeue).

Examples
--------
``python -m neuromodels.training neuromodels/configs/lcl_v2_quick.yaml run.out_dir=runs/quick``

``python -m neuromodels.training neuromodels/configs/lcl_v2_quick.yaml run.out_dir=runs/quick --resume``

``python -m neuromodels.training CONFIG run.out_dir=runs/quick --resume --allow-change optim.lr optim.lr=1e-4``

``torchrun --nproc_per_node 4 -m neuromodels.training neuromodels/configs/lcl_v2.yaml --device cuda``
"""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and train; returns the exit status."""
    from ..command_line import add_debug_flag, run_command

    parser = argparse.ArgumentParser(
        prog="python -m neuromodels.training",
        description="Train a staged model of neuromodels (layerwise, end_to_end or progressive_freezing).",
    )
    parser.add_argument("config", help="YAML training config (see neuromodels/configs/)")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. optim.lr=0.01")
    parser.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint")
    parser.add_argument("--allow-change", action="append", default=[], metavar="KEY",
                        help="with --resume: accept a changed config KEY (or section), recorded in provenance.json")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="overrides run.device")
    parser.add_argument("--out", default=None, help="run folder (overrides run.out_dir)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    # after parsing: `--help` and usage errors answer without importing torch
    from . import ConfigError, CorruptCheckpointError, TrainingDiverged, TrainingInterrupted, train

    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"[rank {rank}] %(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    def body() -> int:
        try:
            result = train(args.config, args.overrides, resume=args.resume, device=args.device, out_dir=args.out,
                           allow_change=args.allow_change)
        except TrainingDiverged as err:
            print(f"error: training diverged: {err}", file=sys.stderr)
            return 3
        except TrainingInterrupted as err:
            again = ["python -m neuromodels.training", args.config, *args.overrides, "--resume"]
            if args.out:
                again += ["--out", args.out]
            if args.device:
                again += ["--device", args.device]
            print(f"stopped: {err}\nresume with: {' '.join(shlex.quote(a) if i else a for i, a in enumerate(again))}",
                  file=sys.stderr)
            return 128 + int(err.signum)
        if rank == 0:
            last = result.history[-1]["loss"] if result.history else float("nan")
            print(f"trained {result.steps} steps; final loss {last:.6g}; run folder {result.run_dir}")
        return 0

    return run_command(body, debug=args.debug, expected=(ConfigError, CorruptCheckpointError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
