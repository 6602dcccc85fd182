"""``python -m experiments {list,run}``: scripted reproductions of the papers' experiments.

Also installed as ``neuromodels-experiments``. Bad input (an unknown reproduction or
config key, a malformed override, a result folder made with another config) is one
line on stderr and exit status 2; ``--debug`` shows the traceback.

Examples
--------
    python -m experiments list
    python -m experiments run quickstart --quick --out results/quickstart
    python -m experiments run lcl_v2 --device cuda --out results/lcl_v2 train.steps=20000
"""
from __future__ import annotations

import argparse
import sys

from neuromodels.command_line import add_debug_flag, run_command

from .config import available, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    list_p = sub.add_parser("list", help="list the reproductions")
    run_p = sub.add_parser("run", help="run one reproduction end to end")
    run_p.add_argument("name", help="reproduction name (see `list`)")
    run_p.add_argument("--quick", action="store_true", help="the quick variant (minutes on a laptop CPU)")
    run_p.add_argument("--preset", default=None,
                       help="a preset config, configs/NAME_PRESET.yaml (e.g. cpu); `list` shows each one's presets")
    run_p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda if available)")
    run_p.add_argument("--out", default=None, help="result folder (default results/NAME[_quick])")
    run_p.add_argument("overrides", nargs="*", help="key=value config overrides (dotted keys)")
    for p in (list_p, run_p):
        add_debug_flag(p)
    # overrides may stand before or after the options: anything key=value left over is one
    args, extra = parser.parse_known_args(argv)
    bad = [e for e in extra if "=" not in e or e.startswith("-")]
    if bad or (extra and args.command != "run"):
        parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
    if extra:
        args.overrides = list(args.overrides) + extra

    if args.command == "list":
        from .reproductions import get_reproduction

        for name in available():
            rep = get_reproduction(name)
            presets = f"  [presets: {', '.join(rep.presets)}]" if rep.presets else ""
            print(f"{name:15s} {rep.description}{presets}")
        return 0

    from .reproductions import run_reproduction

    preset = "quick" if args.quick and args.preset is None else args.preset
    out = args.out or f"results/{args.name}{'_' + preset if preset else ''}"

    def body() -> int:
        load_config(args.name, args.quick, preset=args.preset)
        report = run_reproduction(args.name, device=args.device, out=out, overrides=args.overrides, preset=preset)
        print(f"report: {report}")
        return 0

    return run_command(body, debug=args.debug, expected=(ValueError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
