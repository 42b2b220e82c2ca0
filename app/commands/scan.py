"""``raresight scan``: which files can be read, and why not, before a long run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.imaging import ScanResult, scan_paths

EPILOG = "exit status: 0 every file is readable, 1 some are not (or none were found), 2 the JSON file could not be written"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="check which image files can be read",
        description="Decode every file and say whether it can be read, and if not, why.",
        epilog=EPILOG,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into subfolders")
    parser.add_argument("--json", metavar="FILE", type=Path, help="write one object per file to FILE")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only unreadable files and the summary")
    parser.set_defaults(run=run_scan)


def _print_result(result: ScanResult, quiet: bool) -> None:
    if result.ok:
        if not quiet:
            print(
                f"ok    {result.path}  ({result.format} {result.modality or '-'} {result.width}x{result.height}, {result.frames} frame(s))"
            )
    else:
        print(f"FAIL  {result.error}")


def run_scan(args: argparse.Namespace) -> int:
    results = scan_paths(args.paths, recursive=args.recursive, on_result=lambda r: _print_result(r, args.quiet))
    readable = sum(result.ok for result in results)
    print(f"{len(results)} file(s): {readable} readable, {len(results) - readable} not readable")
    if args.json is not None:
        try:
            args.json.write_text(json.dumps([r.to_dict() for r in results], indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"raresight scan: could not write {args.json}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0 if results and readable == len(results) else 1
