"""``raresight gui``: open the main window (also what ``raresight`` alone does)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EPILOG = """Opens the window (also what 'raresight' alone does). On Linux the window needs a display and the
X11 client libraries Qt links against; when any is missing, the packages to install are printed.

exit status: 0 the window was closed; 2 the window cannot open here (the message says why and what to install)"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gui",
        help="open the RareSight window",
        description="Open the RareSight window, with the given images, folders or project file loaded.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="images, folders or a project file (.raresight) to open at start")
    parser.set_defaults(run=run_gui)


def run_gui(args: argparse.Namespace) -> int:
    return open_window(list(getattr(args, "paths", []) or []))


def open_window(paths: list[str]) -> int:
    """Open the window if it can open here; else say why (and what to install) and return 2.

    Checked before Qt loads its platform plugin: Qt would abort the process with a misleading hint.
    """
    from app.display import NO_DISPLAY, display_available
    from app.gui_requirements import gui_requirements_problem

    if not display_available():
        print(f"raresight: {NO_DISPLAY}", file=sys.stderr)
        return 2
    problem = gui_requirements_problem()
    if problem is not None:
        print(f"raresight: {problem}", file=sys.stderr)
        return 2
    import core.metatrain.backbone_file  # noqa: F401  (registers .rsbackbone files with load_backbone)
    from app.gui.main import run  # Qt is imported only here

    return run(paths)
