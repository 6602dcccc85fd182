"""RSA against rsatoolbox 0.3.2: RDM computation and RDM comparison of two stacks.

Both run in this process on the same float64 data, interleaved (reference, ours,
reference, …); the tables report the median of ``repeats`` wall-clock times, the
speed-up and the largest absolute difference between the two results. The
whole-process time of ours (a fresh interpreter: imports, data, the call) is
printed under the tables.

- RDMs: ``analysis.rsa.rdm`` vs ``rsatoolbox.rdm.calc_rdm`` (correlation, Euclidean)
  on conditions × channels.
- Comparison: ``analysis.rsa.compare_rdms(stack_a, stack_b)`` (all pairs in one
  product; Spearman ranks each RDM once) vs ``rsatoolbox.rdm.compare`` on two stacks
  of RDMs over ``--compare-conditions`` conditions (``--stack`` RDMs each; Spearman on
  ``--spearman-stack`` RDMs each, since rsatoolbox's ranking costs ~0.3 s per RDM).

``python -m benchmarks.bench_rsa [--conditions 1000] [--channels 5000]``
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from neurocommon.files import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "rsa.md"


def _interleaved(ref_fn, ours_fn, repeats: int):
    """Median wall times of the reference and ours, run alternately ``repeats`` times; last results."""
    t_ref, t_ours, ref, ours = [], [], None, None
    for _ in range(repeats):
        t = time.perf_counter()
        ref = ref_fn()
        t_ref.append(time.perf_counter() - t)
        t = time.perf_counter()
        ours = ours_fn()
        t_ours.append(time.perf_counter() - t)
    return float(np.median(t_ref)), float(np.median(t_ours)), ref, ours


_WHOLE = """
import time
t0 = time.perf_counter()
import numpy as np, torch
torch.set_num_threads(1)
from analysis.rsa import compare_rdms
rng = np.random.default_rng(1)
a, b = rng.random(({k}, {m})), rng.random(({k}, {m}))
t1 = time.perf_counter()
compare_rdms(a, b, "cosine")
print(time.perf_counter() - t0, time.perf_counter() - t1)
"""


def whole_process(k: int, n_conditions: int) -> tuple[float, float, float]:
    """(wall time of a fresh interpreter, its time inside, the call) for our cosine stack comparison."""
    import subprocess
    import sys

    m = n_conditions * (n_conditions - 1) // 2
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _WHOLE.format(k=k, m=m)], capture_output=True, text=True,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    inside, call = map(float, out.stdout.split())
    return wall, inside, call


def machine_line() -> str:
    return (f"{platform.node()} · {platform.processor() or platform.machine()} · "
            f"{os.cpu_count()} CPUs visible · torch {torch.__version__} with {torch.get_num_threads()} "
            f"threads · load average {os.getloadavg()[0]:.1f}")


def write_table(path: Path, lines: list[str]) -> None:
    """Write a results table atomically (:func:`neurocommon.files.atomic_write_text`)."""
    atomic_write_text(path, "\n".join(lines) + "\n")


def compare_rows(n_conditions: int, stack: int, spearman_stack: int, repeats: int) -> list[str]:
    import rsatoolbox

    from analysis.rsa import compare_rdms

    rng = np.random.default_rng(1)
    m = n_conditions * (n_conditions - 1) // 2
    rows = []
    for method, ref_method, k in (("cosine", "cosine", stack), ("pearson", "corr", stack),
                                  ("spearman", "spearman", spearman_stack)):
        a, b = rng.random((k, m)), rng.random((k, m))
        ra, rb = rsatoolbox.rdm.RDMs(a), rsatoolbox.rdm.RDMs(b)
        t_ref, t_ours, ref, ours = _interleaved(lambda: rsatoolbox.rdm.compare(ra, rb, method=ref_method),
                                                lambda: compare_rdms(a, b, method), repeats)
        rows.append(f"| {method} | {k} × {k} RDMs of {n_conditions} conditions | {t_ref:.3f} | {t_ours:.3f} | "
                    f"{t_ref / t_ours:.1f}× | {float(np.abs(ours - ref).max()):.1e} |")
    return rows


def main(conditions: int = 1000, channels: int = 5000, repeats: int = 3, compare_conditions: int = 1000,
         stack: int = 100, spearman_stack: int = 20, write: bool = True) -> list[str]:
    import rsatoolbox

    from analysis.rsa import rdm

    rng = np.random.default_rng(0)
    x = rng.normal(size=(conditions, channels)) + rng.normal(size=(conditions, 1))
    rows = []
    wp = whole_process(stack, compare_conditions)
    for method in ("correlation", "euclidean"):
        dataset = rsatoolbox.data.Dataset(x)
        t_ref, t_ours, ref, ours = _interleaved(
            lambda: rsatoolbox.rdm.calc_rdm(dataset, method=method).get_matrices()[0],
            lambda: rdm(x, method).values, repeats)
        diff = float(np.abs(ours - ref).max())
        rows.append(f"| {method} | {conditions} × {channels} | {t_ref:.3f} | {t_ours:.3f} | "
                    f"{t_ref / t_ours:.1f}× | {diff:.1e} |")
    lines = [
        "## RSA: RDM computation (`analysis.rsa.rdm` vs `rsatoolbox.rdm.calc_rdm`)",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {machine_line()}",
        "",
        "| RDM | conditions × channels | rsatoolbox 0.3.2 (s) | ours (s) | speed-up | max abs difference |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Medians of {repeats} interleaved runs (reference, ours, reference, …), float64, CPU, one thread. "
        "Target: ≥ 5× for the correlation RDM, ≥ 2× for Euclidean.",
        "",
        "| comparison | RDM stacks | rsatoolbox 0.3.2 (s) | ours (s) | speed-up | max abs difference |",
        "| --- | --- | --- | --- | --- | --- |",
        *compare_rows(compare_conditions, stack, spearman_stack, repeats),
        "",
        "All pairs of two stacks; target ≥ 5×.",
        "",
        "Whole process (fresh interpreter: imports, data, our cosine comparison of two stacks of {k} RDMs): "
        "{wall:.2f} s wall, of which imports + data {pre:.2f} s and the call {call:.2f} s.".format(
            k=stack, wall=wp[0], pre=wp[1] - wp[2], call=wp[2]),
    ]
    print("\n".join(lines))
    if write:
        write_table(RESULTS, lines)
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", type=int, default=1000)
    ap.add_argument("--channels", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compare-conditions", type=int, default=1000)
    ap.add_argument("--stack", type=int, default=100)
    ap.add_argument("--spearman-stack", type=int, default=20)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    main(a.conditions, a.channels, a.repeats, a.compare_conditions, a.stack, a.spearman_stack, not a.no_write)
