"""Batched local deformations vs a per-image torchvision ElasticTransform loop.

``python -m benchmarks deformation`` (or ``python benchmarks/bench_deformation.py
[--n 256] [--size 64] [--repeats 3]``). Ours: :class:`neuromodels.augment.LocalDeformation`
(coarse random grid, bicubic upsampling, one ``grid_sample`` for the whole batch).
Baseline: ``torchvision.transforms.v2.ElasticTransform`` applied image by image, which
blurs full-resolution noise with a Gaussian for every image (DESIGN.md §5).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torchvision.transforms import v2

from neuromodels.augment import LocalDeformation

RESULTS = Path(__file__).resolve().parent / "results" / "deformation.md"


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _write(text: str) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, RESULTS)


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
    ])
    print(table)
    _write(table)
    return table


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
