"""``raresight gui``: open the main window (also what ``raresight`` alone does)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gui", help="open the RareSight window")
    parser.add_argument("paths", nargs="*", help="images or folders to open at start")
    parser.set_defaults(run=run_gui)


def run_gui(args: argparse.Namespace) -> int:
    from app.display import NO_DISPLAY, display_available

    if not display_available():
        print(f"raresight: {NO_DISPLAY}", file=sys.stderr)
        return 2
    from app.gui.main import run  # Qt is imported only here

    return run(list(getattr(args, "paths", []) or []))
