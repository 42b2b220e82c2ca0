"""The ``raresight`` command. No Qt is imported here: the GUI loads only when asked for.

Each subcommand lives in ``app/commands/<name>.py`` with ``register(subparsers)``; the function it
sets as ``run`` returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from app.version import package_version
from core.errors import RareSightError

COMMAND_MODULES = {  # command name -> the module that registers it
    "gui": "app.commands.gui",
    "demo": "app.commands.demo",
    "scan": "app.commands.scan",
    "project": "app.commands.project",
    "eval": "app.commands.eval",
    "adapt": "app.commands.adapt",
    "score": "app.commands.score",
    "report": "app.commands.report",
    "export": "app.commands.export",
    "pacs": "app.commands.pacs",
    "meta-train": "app.commands.metatrain",
}

log = logging.getLogger(__name__)


EPILOG = """Run 'raresight COMMAND --help' for a command's options. 'raresight' alone opens the window.

exit status (every command; each command's help gives its own details):
  0    done
  1    done, but some inputs could not be used (each is named on its own line)
  2    nothing done: bad input, or a project or file that cannot be used (the message says what to do)
  130  interrupted (Ctrl-C)
  141  the output was closed early (as with '| head'); what was printed until then is complete"""

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command whose reader went away


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the arguments of a known command, only that command's part (no other
    command module is imported: every command starts faster)."""
    parser = argparse.ArgumentParser(
        prog="raresight",
        description="RareSight: learn rare diseases from a handful of medical images. Research use only, not for clinical diagnosis.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_PrintVersion)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = next(iter(argv or ()), None)
    for module_name in [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values():
        importlib.import_module(module_name).register(subparsers)
    return parser


class _PrintVersion(argparse.Action):
    """``--version``: looks the version up only when asked (argparse's own action needs it at start)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **_: object) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object, option: str | None = None) -> None:
        print(f"raresight {package_version()}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # a reader that went away shows here, not as a traceback at interpreter exit
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _run(argv: Sequence[str] | None) -> int:
    from app.logging_setup import configure_logging

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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


def _discard_stdout() -> None:
    """Point stdout at the null device, so that Python's final flush does not fail a second time.

    The standard way (Python docs, "Note on SIGPIPE"): the unflushed rest has nowhere to go.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stdout (tests) has no descriptor
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
