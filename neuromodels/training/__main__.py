"""Command line: ``python -m neuromodels.training CONFIG.yaml [key=value ...] [--resume] [--device cpu|cuda]``.

Runs :func:`neuromodels.training.train`. Under ``torchrun --nproc_per_node N``
every process runs this same command and they train one model together (DDP).
Exit status: 0 on success, 2 for an invalid config (nothing was done), 3 when the
loss diverged (the last good checkpoint is kept).

Examples
--------
``python -m neuromodels.training neuromodels/configs/lcl_v2_quick.yaml run.out_dir=runs/quick``

``python -m neuromodels.training neuromodels/configs/lcl_v2_quick.yaml run.out_dir=runs/quick --resume``

``torchrun --nproc_per_node 4 -m neuromodels.training neuromodels/configs/lcl_v2.yaml --device cuda``
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and train; returns the exit status."""
    from . import ConfigError, TrainingDiverged, train

    parser = argparse.ArgumentParser(
        prog="python -m neuromodels.training",
        description="Train a staged model of neuromodels (layerwise, end_to_end or progressive_freezing).",
    )
    parser.add_argument("config", help="YAML training config (see neuromodels/configs/)")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. optim.lr=0.01")
    parser.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="overrides run.device")
    parser.add_argument("--out", default=None, help="run folder (overrides run.out_dir)")
    args = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"[rank {rank}] %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        result = train(args.config, args.overrides, resume=args.resume, device=args.device, out_dir=args.out)
    except ConfigError as err:
        print(f"error: invalid training config: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"error: training diverged: {err}", file=sys.stderr)
        return 3
    if rank == 0:
        last = result.history[-1]["loss"] if result.history else float("nan")
        print(f"trained {result.steps} steps; final loss {last:.6g}; run folder {result.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
