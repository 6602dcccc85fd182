"""``python -m benchmarks [NAME ...]``: run every ``bench_<topic>.py`` (or the named ones).

Each benchmark prints a table with the ratio against its baseline and writes it to
``benchmarks/results/<topic>.md``; this runner then puts those tables into
``benchmarks/RESULTS.md`` in place of the same benchmarks' earlier sections (other
sections are kept).
"""
from __future__ import annotations

import importlib
import sys
import traceback
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _sections(text: str) -> tuple[list[str], list[list[str]]]:
    """Split markdown into its preamble and its ``## `` sections (each a list of lines)."""
    head, sections = [], []
    for line in text.splitlines():
        if line.startswith("## "):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        else:
            head.append(line)
    return head, sections


def collect_results(topics: list[str]) -> Path:
    """Put the tables of the benchmarks that just ran (``benchmarks/results/<topic>.md``) into RESULTS.md.

    Sections of other benchmarks are kept as they are (results/ is not versioned, so a
    fresh clone holds only what ran here); a topic's old sections — those whose heading
    names the topic — are replaced in place, a new topic is appended.
    """
    out = HERE / "RESULTS.md"
    head, sections = _sections(out.read_text()) if out.exists() else (
        ["# Benchmark results", "",
         "Each table compares the toolkit against a named baseline run side by side; ratios, not absolute "
         "times, are what carries over between machines. Regenerate with `make bench` (or "
         "`python -m benchmarks NAME`).", ""], [])
    for topic in topics:
        md = HERE / "results" / f"{topic}.md"
        if not md.exists():
            continue
        new = md.read_text().strip().splitlines() + [""]
        hits = [i for i, sec in enumerate(sections) if topic.lower() in sec[0].lower()]
        if hits:
            sections[hits[0]] = new
            sections = [sec for i, sec in enumerate(sections) if i not in hits[1:]]
        else:
            sections.append(new)
    text = "\n".join(head + [line for sec in sections for line in sec]).rstrip() + "\n"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
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
    print(f"\nresults collected in {collect_results([n for n in names if n not in failed])}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
