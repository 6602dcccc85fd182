"""``python -m benchmarks [NAME ...]``: run every ``bench_<topic>.py`` (or the named ones).

Each benchmark prints a table with the ratio against its baseline and writes it to
``benchmarks/results/<topic>.md``; this runner then collects those tables into
``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import importlib
import sys
import traceback
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def collect_results() -> Path:
    """Concatenate ``benchmarks/results/*.md`` into ``benchmarks/RESULTS.md``."""
    parts = ["# Benchmark results", "",
             "Each table compares the toolkit against a named baseline run side by side in the "
             "same process; ratios, not absolute times, are what carries over between machines. "
             "Regenerate with `make bench` (or `python -m benchmarks NAME`).", ""]
    for md in sorted((HERE / "results").glob("*.md")):
        parts += [md.read_text().strip(), ""]
    out = HERE / "RESULTS.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(parts))
    tmp.replace(out)
    return out


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"\n=== benchmark {name} ({date.today()}) ===", flush=True)
        try:
            importlib.import_module(f"benchmarks.bench_{name}").main()
        except Exception:  # report and go on with the others
            traceback.print_exc()
            failed.append(name)
    print(f"\nresults collected in {collect_results()}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
