"""Prepared GPU check: steps/s and peak memory of LCL-V2 stage-1 and stage-2 training, bf16 vs fp32.

For a machine with one CUDA GPU. LCL-V2 (channels 32, 64), batch 256 patches of
64×64 pixels (two deformed views each, 512 images per step), layerwise phases:
stage 1, and stage 2 on the frozen stage 1. For each (stage, precision): median
time per step over ``--steps`` timed steps after ``--warmup`` steps (the real
pipeline: patch sampling, transfer, deformations on the GPU, prefetched one step
ahead), steps/s, images/s, and peak GPU memory (``torch.cuda.max_memory_allocated``
over the timed steps, total and above what was allocated before them).

    python -m benchmarks.gpu_training               # on the GPU machine, ~2 minutes
    python -m benchmarks.gpu_training --device cpu --batch 8 --steps 1 --warmup 1   # dry run

On CUDA it writes ``benchmarks/results/gpu_training.md`` (collected into
``benchmarks/RESULTS.md`` by ``python -m benchmarks``), and ``$OUT/gpu_training.md``
when ``OUT`` is set.
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from neurocommon.files import atomic_write_text
from benchmarks.bench_training import machine_summary, make_trainer, markdown_table, sync_device, train_step

RESULTS = Path(__file__).parent / "results" / "gpu_training.md"


def measure(stage: int, precision: str, batch: int, patch: int, steps: int, warmup: int, device: str) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        tr = make_trainer("layerwise", batch, patch, device, tmp, precision=precision)
        ph = tr.phases[stage]
        tr.set_phase(ph)
        tr.total = ph.start + warmup + steps
        dev = tr.ctx.device
        stream = tr.view_stream(ph.start)
        for _ in range(warmup):
            loss = train_step(tr, next(stream))
        sync_device(dev)
        base = 0
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
        times = []
        for _ in range(steps):
            sync_device(dev)
            tic = time.perf_counter()
            loss = train_step(tr, next(stream))
            sync_device(dev)
            times.append(time.perf_counter() - tic)
        stream.close()
        peak = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else float("nan")
        t = statistics.median(times)
        return (f"stage {stage + 1}", "bf16" if tr.bf16 else "fp32", 1 / t, 2 * batch / t,
                peak / 2**20, (peak - base) / 2**20, float(loss))


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--patch", type=int, default=64)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    a = p.parse_args([] if argv is None else argv)
    torch.backends.cudnn.benchmark = True
    rows = [measure(stage, prec, a.batch, a.patch, a.steps, a.warmup, a.device)
            for stage in (0, 1) for prec in ("fp32", "bf16")]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = markdown_table(
        f"LCL-V2 layerwise training, batch {a.batch} x 2 views, {a.patch}x{a.patch} px",
        ["phase", "precision", "steps/s", "images/s", "peak MiB", "peak above start MiB", "last loss"], rows)
    ratio = [f"{s}: bf16/fp32 steps/s = {rows[2 * i + 1][2] / rows[2 * i][2]:.2f}, memory = "
             f"{rows[2 * i + 1][4] / rows[2 * i][4]:.2f}" for i, s in enumerate(("stage 1", "stage 2"))]
    text = "\n".join(["## gpu_training: LCL-V2 stage-1/stage-2 steps/s and memory, bf16 vs fp32", "",
                      f"{stamp} · {machine_summary(a.device)} · device {a.device}", "", table, "",
                      *[f"- {r}" for r in ratio], ""])
    print(text)
    # a CPU dry run checks the script; only GPU numbers go into the results
    targets = ([RESULTS] if a.device == "cuda" else []) + (
        [Path(os.environ["OUT"]) / "gpu_training.md"] if os.environ.get("OUT") else [])
    for path in targets:
        atomic_write_text(path, text)
    return text


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
