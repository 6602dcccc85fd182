"""Command line: ``python -m analysis.datasets list | info NAME | fetch NAME | verify NAME``."""
from __future__ import annotations

import argparse
import sys

from .fetch import DEFAULT_TIMEOUT, fetch, verify
from .manifest import DatasetError, Manifest, get_manifest, list_manifests, manifest_problems

__all__ = ["main"]


def _info(manifest: Manifest) -> str:
    lines = [
        f"{manifest.name}", "=" * len(manifest.name), manifest.description, "",
        f"citation : {manifest.citation}", f"license  : {manifest.license}",
        f"homepage : {manifest.homepage}", f"source   : {manifest.source.get('kind')}"
        + (f" ({manifest.source.get('identifier')})" if manifest.source.get("identifier") else ""),
        f"format   : {manifest.format}", f"loader   : {manifest.loader}",
        f"folder   : {manifest.folder()}", f"manifest : {manifest.path}", "", "files:",
    ]
    for f in manifest.files:
        lines.append(
            f"  {f.name}  [{f.type}{'' if f.required else ', optional'}]"
            + (f"  size={f.size if f.size is not None else '?'}  hash={f.hash or 'unknown'}"
               if f.type == "file" else "")
            + (f"  url={manifest.file_url(f) or '(place by hand)'}" if f.type == "file"
               else "  (a folder: extracted or placed by hand)")
            + ("  unpacked into the dataset folder" if f.unpack else "")
        )
    if manifest.how_to_obtain():
        lines += ["", "how to obtain:", "  " + manifest.how_to_obtain()]
    if manifest.notes:
        lines += ["", "notes:", "  " + manifest.notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.datasets [--debug] list | info NAME | fetch NAME | verify NAME``.

    Returns 0 on success and 2 on an expected error (a missing, corrupted or
    unreadable dataset, an unwritable data folder), printed as one line; ``--debug``
    shows the traceback instead.
    """
    parser = argparse.ArgumentParser(prog="python -m analysis.datasets",
                                     description="List, describe, fetch and verify external datasets.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="datasets with a manifest (and manifests that cannot be read)")
    for cmd in ("info", "fetch", "verify"):
        p = sub.add_parser(cmd)
        p.add_argument("name")
        if cmd in ("fetch", "verify"):
            p.add_argument("--optional", action="store_true", help="include optional files")
        if cmd == "fetch":
            p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds (default %(default)s)")
            p.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        _run(args)
    except DatasetError as err:
        if args.debug:
            raise
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0


def _run(args) -> None:
    if args.command == "list":
        for n in list_manifests():
            m = get_manifest(n)
            print(f"{n:20s} {m.source.get('kind'):10s} {m.description.splitlines()[0] if m.description else ''}")
        for path, why in manifest_problems().items():
            print(f"skipped {path}: {' '.join(why.split())}", file=sys.stderr)
    elif args.command == "info":
        print(_info(get_manifest(args.name)))
    elif args.command == "fetch":
        folder = fetch(args.name, timeout=args.timeout, progress=not args.no_progress,
                       include_optional=args.optional)
        print(f"{get_manifest(args.name).name}: all files present and checked in {folder}")
    elif args.command == "verify":
        for r in verify(args.name, include_optional=args.optional):
            print(f"{r['status']:35s} {r['path']}")
