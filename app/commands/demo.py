"""``raresight demo``: the built-in demo. Until the demo project exists it opens the window."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the built-in demo")
    parser.add_argument("--headless", action="store_true", help="do not open the window")
    parser.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    if args.headless:
        print("raresight demo: nothing to run headless yet; the demo project arrives with batch scoring")
        return 0
    from app.gui.main import run

    return run([])
