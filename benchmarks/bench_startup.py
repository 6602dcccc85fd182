"""Start-up cost of the packages and command lines: wall time and peak memory of a fresh interpreter.

``python -m benchmarks startup`` (or ``python benchmarks/bench_startup.py [--repeats 3]
[--against REV]``). Each command runs in a fresh ``python`` process; the table gives the
median wall time over ``--repeats`` runs and the peak resident memory of that process
(``ru_maxrss`` from ``os.wait4``, the number ``/usr/bin/time -v`` prints as "Maximum
resident set size"). There is no reference implementation of our start-up, so the
floor is named instead: ``python -c "import torch"`` (every command that builds a model
pays at least that), and each row's ratio is to it. ``--against REV`` also runs every
command on the tree of git revision ``REV`` (exported with ``git archive`` into a
temporary folder, nothing in the working tree touched) and prints our time and memory
as a ratio of that revision's: the before/after of a change.

Which modules a command imports is listed by ``python -X importtime``; the tests
(``tests/test_startup.py``) check that the light commands import neither torch nor
matplotlib.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from neurocommon.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "startup.md"

#: (label, python arguments); the first two are the floors
COMMANDS = [
    ("`python -c pass` (interpreter)", ["-c", "pass"]),
    ("`import torch` (floor of anything that builds a model)", ["-c", "import torch"]),
    ("`import neuromodels`", ["-c", "import neuromodels"]),
    ("`import analysis`", ["-c", "import analysis"]),
    ("`python -m experiments list`", ["-m", "experiments", "list"]),
    ("`python -m neuromodels.brainscore --help`", ["-m", "neuromodels.brainscore", "--help"]),
    ("`python -m neuromodels.training --help`", ["-m", "neuromodels.training", "--help"]),
    ("`python -m analysis.datasets list`", ["-m", "analysis.datasets", "list"]),
    ("`neuromodels.build_model('lcl_v2')` (needs torch)", ["-c", "import neuromodels; neuromodels.build_model('lcl_v2')"]),
]


def measure(args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak resident memory in MB) of one fresh ``python ARGS`` run in ``cwd``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(cwd)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"`python {' '.join(args)}` in {cwd} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # Linux: kilobytes


def measure_all(trees: list[Path], repeats: int) -> list[dict[str, tuple[float, float]]]:
    """Per tree, per command: the median wall time and the peak memory of that run.

    Commands and trees are interleaved within each repeat, so that the compared runs
    share the machine's load (the benchmark runs on shared machines).
    """
    runs = [{label: [] for label, _ in COMMANDS} for _ in trees]
    for _ in range(repeats):
        for label, args in COMMANDS:
            for tree, out in zip(trees, runs):
                out[label].append(measure(args, tree))
    return [{label: sorted(r)[len(r) // 2] for label, r in out.items()} for out in runs]


def export_revision(rev: str, folder: Path) -> Path:
    """The tree of git revision ``rev`` written into ``folder`` (``git archive``; the working tree is untouched)."""
    archive = folder / "tree.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "archive", rev], cwd=ROOT, stdout=f, check=True)
    tree = folder / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _write(text: str) -> None:
    atomic_write_text(RESULTS, text)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per command (median)")
    parser.add_argument("--against", default=None, help="a git revision to compare with (e.g. HEAD~3)")
    args = parser.parse_args(argv or [])
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip() or "?"
    before, rev = None, None
    if args.against:
        rev = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        with tempfile.TemporaryDirectory() as tmp:
            ours, before = measure_all([ROOT, export_revision(args.against, Path(tmp))], args.repeats)
    else:
        ours, = measure_all([ROOT], args.repeats)
    floor_wall, floor_mb = ours[COMMANDS[1][0]]
    header = "| command | wall (s) | peak memory (MB) | wall / `import torch` |"
    rule = "|---|---:|---:|---:|"
    if before:
        header += f" before ({rev}): wall (s), memory (MB) | wall ratio (before / now) | memory ratio |"
        rule += "---:|---:|---:|"
    rows = []
    for label, _ in COMMANDS:
        wall, mb = ours[label]
        row = f"| {label} | {wall:.2f} | {mb:.0f} | {wall / floor_wall:.2f} |"
        if before:
            b_wall, b_mb = before[label]
            row += f" {b_wall:.2f}, {b_mb:.0f} | {b_wall / wall:.1f}× | {b_mb / mb:.1f}× |"
        rows.append(row)
    machine = (f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {platform.node()} · {os.cpu_count()} CPUs "
               f"(load average {os.getloadavg()[0]:.1f}) · Python {platform.python_version()} · "
               f"OMP_NUM_THREADS=1 · code {head}")
    table = "\n".join([
        "## startup: command lines and package imports (fresh interpreter)",
        "",
        machine,
        "",
        f"Median wall time of {args.repeats} runs per command (commands and trees interleaved), peak resident memory of "
        "that run (`ru_maxrss`, as `/usr/bin/time -v`). No reference implementation exists: the floor is "
        f"`import torch` ({floor_wall:.2f} s, {floor_mb:.0f} MB), which every command that builds a model pays."
        + (f" `before`: the same commands on the tree of {rev} (`--against`)." if before else ""),
        "",
        header,
        rule,
        *rows,
        "",
    ])
    print(table)
    _write(table)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
