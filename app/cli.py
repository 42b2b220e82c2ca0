"""The ``raresight`` command. No Qt is imported here: the GUI loads only when asked for.

Each subcommand lives in ``app/commands/<name>.py`` with ``register(subparsers)``; the function it
sets as ``run`` returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from core.errors import RareSightError

COMMAND_MODULES = (
    "app.commands.gui",
    "app.commands.demo",
    "app.commands.scan",
    "app.commands.project",
    "app.commands.eval",
    "app.commands.adapt",
    "app.commands.score",
    "app.commands.report",
    "app.commands.metatrain",
)

log = logging.getLogger(__name__)


def package_version() -> str:
    try:
        return version("raresight")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raresight",
        description="RareSight: learn rare diseases from a handful of medical images. Research use only, not for clinical diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"raresight {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from app.logging_setup import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging()
    if args.command is None:
        from app.commands.gui import run_gui

        return run_gui(args)
    try:
        return int(args.run(args))
    except RareSightError as exc:
        print(f"raresight: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("raresight: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
