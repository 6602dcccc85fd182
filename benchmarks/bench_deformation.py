"""Batched local deformations vs a per-image torchvision ElasticTransform loop.

``python -m benchmarks deformation`` (or ``python benchmarks/bench_deformation.py
[--n 256] [--size 64] [--repeats 3]``). Ours: :class:`neuromodels.augment.LocalDeformation`
(coarse random grid, bicubic upsampling, one ``grid_sample`` for the whole batch).
Baseline: ``torchvision.transforms.v2.ElasticTransform`` applied image by image, which
blurs full-resolution noise with a Gaussian for every image (DESIGN.md §5).

Beside the in-process call times, the whole-process time of ours: a fresh interpreter
that imports the toolkit, makes the same batch and deforms it once (cold), timed from
outside (:func:`whole_process`).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torchvision.transforms import v2

from neurocommon.files import atomic_write_text
from neuromodels.augment import LocalDeformation

RESULTS = Path(__file__).resolve().parent / "results" / "deformation.md"

_WHOLE = """
import sys, time
t0 = time.perf_counter()
import torch
from neuromodels.augment import LocalDeformation
n, size = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
images = torch.rand(n, 1, size, size)
ours = LocalDeformation(amplitude=2.0, cell_size=8.0, translation=1.0)
gen = torch.Generator().manual_seed(0)
t1 = time.perf_counter()
ours(images, generator=gen)
print(t1 - t0, time.perf_counter() - t1)
"""


def whole_process(n: int, size: int) -> tuple[float, float, float]:
    """(wall time of a fresh interpreter, its imports and data, the call once) for our batched deformation."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _WHOLE, str(n), str(size)], capture_output=True, text=True,
                         check=True)
    wall = time.perf_counter() - t0
    setup, call = map(float, out.stdout.split())
    return wall, setup, call


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _write(text: str) -> None:
    atomic_write_text(RESULTS, text)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=256, help="patches per batch")
    parser.add_argument("--size", type=int, default=64, help="patch side (pixels)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv or [])
    torch.manual_seed(0)
    images = torch.rand(args.n, 1, args.size, args.size)
    ours = LocalDeformation(amplitude=2.0, cell_size=8.0, translation=1.0)
    gen = torch.Generator().manual_seed(0)
    # comparable smoothness: Gaussian blur sigma of half the grid's cell size
    elastic = v2.ElasticTransform(alpha=50.0, sigma=4.0)

    def run_ours():
        ours(images, generator=gen)

    def run_baseline():
        for img in images:
            elastic(img)

    t_ours = _time(run_ours, args.repeats)
    t_base = _time(run_baseline, args.repeats)
    ratio = t_base / t_ours
    wall, setup, cold = whole_process(args.n, args.size)
    machine = (f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {platform.node()} · {platform.machine()} · "
               f"{os.cpu_count()} CPUs ({torch.get_num_threads()} torch threads, load average "
               f"{os.getloadavg()[0]:.1f}) · device cpu · torch {torch.__version__}")
    table = "\n".join([
        "## deformation: batched local deformation vs per-image ElasticTransform",
        "",
        machine,
        "",
        f"{args.n} patches of {args.size}×{args.size}, float32, median of {args.repeats} runs.",
        "",
        "| method | time (s) | per image (ms) |",
        "|---|---:|---:|",
        f"| `LocalDeformation` batched (coarse grid 8 px + bicubic + grid_sample; ours) | {t_ours:.4f} | "
        f"{1e3 * t_ours / args.n:.3f} |",
        f"| `torchvision.transforms.v2.ElasticTransform(alpha=50, sigma=4)` per-image loop (baseline) | "
        f"{t_base:.4f} | {1e3 * t_base / args.n:.3f} |",
        "",
        f"**speed-up (baseline / ours): {ratio:.1f}x** (target >= 5x).",
        "",
        f"Whole process of ours (a fresh interpreter, same threads: imports and data {setup:.2f} s, the call "
        f"once, cold, {cold:.3f} s): **{wall:.2f} s** wall, against the call's {t_ours:.4f} s in process; "
        f"the baseline's call alone takes {t_base:.2f} s.",
        "",
    ])
    print(table)
    _write(table)
    return table


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
