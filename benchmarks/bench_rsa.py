"""RSA against rsatoolbox 0.3.2: RDM computation and RDM comparison of two stacks.

Both run in this process on the same float64 data; the tables report the best of
``repeats`` wall-clock times, the speed-up and the largest absolute difference
between the two results.

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

RESULTS = Path(__file__).resolve().parent / "results" / "rsa.md"


def _best_time(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def machine_line() -> str:
    return (f"{platform.node()} · {platform.processor() or platform.machine()} · "
            f"{os.cpu_count()} CPUs visible · torch {torch.__version__} with {torch.get_num_threads()} "
            f"threads · load average {os.getloadavg()[0]:.1f}")


def write_table(path: Path, lines: list[str]) -> None:
    """Write a results table atomically (temp file + os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)


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
        t_ref, ref = _best_time(lambda: rsatoolbox.rdm.compare(ra, rb, method=ref_method), repeats)
        t_ours, ours = _best_time(lambda: compare_rdms(a, b, method), repeats)
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
    for method in ("correlation", "euclidean"):
        dataset = rsatoolbox.data.Dataset(x)
        t_ref, ref = _best_time(lambda: rsatoolbox.rdm.calc_rdm(dataset, method=method).get_matrices()[0],
                                repeats)
        t_ours, ours = _best_time(lambda: rdm(x, method).values, repeats)
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
        f"Best of {repeats} runs each, float64, CPU. Target: ≥ 5× for the correlation RDM, ≥ 2× for Euclidean.",
        "",
        "| comparison | RDM stacks | rsatoolbox 0.3.2 (s) | ours (s) | speed-up | max abs difference |",
        "| --- | --- | --- | --- | --- | --- |",
        *compare_rows(compare_conditions, stack, spearman_stack, repeats),
        "",
        "All pairs of two stacks; target ≥ 5×.",
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
