"""``raresight scan``: which files can be read, and why not, before a long run."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.imaging import ScanResult

EPILOG = """Hidden files and folders (names starting with '.') are skipped.

exit status:
  0  every file is readable
  1  some are not (each named on a FAIL line with the reason and what to do)
  2  no file was found (the message says where it looked), or the JSON file could not be written"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="check which image files can be read",
        description="Decode every file and say whether it can be read, and if not, why.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    parser.add_argument(
        "--recursive", "-r", action="store_true", help="descend into subfolders (default: only the files directly in each folder)"
    )
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as a JSON list, one object per file, to FILE")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only unreadable files and the summary")
    parser.set_defaults(run=run_scan)


def _print_result(result: ScanResult, quiet: bool) -> None:
    from core.privacy.paths import path_for_display  # names that are not UTF-8 would break the terminal

    if result.ok:
        if not quiet:
            size = f"{result.width}x{result.height}, {result.frames} frame(s)"
            print(f"ok    {path_for_display(result.path)}  ({result.format} {result.modality or '-'} {size})")
    else:
        print(f"FAIL  {path_for_display(result.error or '')}")


def no_files_message(paths: Iterable[str | os.PathLike[str]], recursive: bool) -> str:
    """Where no file was found, and the hint when subfolders were not looked into."""
    from core.privacy.paths import path_for_display

    folders = [Path(path) for path in paths]
    message = f"no files found in {', '.join(path_for_display(folder) for folder in folders)}"
    if recursive:
        return message + " or their subfolders (hidden files are skipped)"
    nested = [folder for folder in folders if any(_visible_subfolders(folder))]
    if nested:
        return message + f"; {path_for_display(nested[0])} has subfolders: add --recursive (-r) to look inside them"
    return message + " (hidden files are skipped)"


def _visible_subfolders(folder: Path) -> Iterable[Path]:
    return (child for child in folder.iterdir() if child.is_dir() and not child.name.startswith("."))


def run_scan(args: argparse.Namespace) -> int:
    from core.imaging import scan_paths

    results = scan_paths(args.paths, recursive=args.recursive, on_result=lambda r: _print_result(r, args.quiet))
    if not results:
        print(f"raresight scan: {no_files_message(args.paths, args.recursive)}", file=sys.stderr)
        return 2
    readable = sum(result.ok for result in results)
    print(f"{len(results)} file(s): {readable} readable, {len(results) - readable} not readable")
    if args.json is not None:
        try:
            args.json.write_text(json.dumps([r.to_dict() for r in results], indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"raresight scan: could not write {args.json}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0 if readable == len(results) else 1
