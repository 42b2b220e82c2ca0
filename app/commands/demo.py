"""``raresight demo``: the built-in demo on synthetic images, then (unless --headless) the window."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.terminal_progress import TerminalProgress


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the built-in demo",
        description="Draws synthetic cell images (plainly marked as synthetic), builds a demo project, labels five "
        "examples of four classes, adapts, scores the rest, writes predictions.csv and a report, then opens the window.",
        epilog="exit status: 0 done (with no display, the window is skipped); 2 the demo could not be built, or the window "
        "cannot open because system libraries are missing (the results are written; the message says what to install)",
    )
    parser.add_argument("--headless", action="store_true", help="do not open the window (default: open it where there is a display)")
    parser.add_argument(
        "--out", type=Path, default=Path("raresight-demo"), metavar="DIR", help="where to write it (default ./raresight-demo)"
    )
    parser.add_argument("--budget-s", type=float, default=20.0, metavar="N", help="adaptation time budget, seconds (default 20)")
    parser.set_defaults(run=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    from core.demo.project import UNLABELLED_CLASS, run_demo
    from core.privacy.paths import path_for_display as shown  # an --out folder named in any bytes still prints

    bar = TerminalProgress(unit="%")
    result = run_demo(args.out, budget_s=args.budget_s, progress=lambda f, m: bar(round(100 * f), 100, m))
    bar.finish()
    print("RareSight demo (synthetic images; research use only, not for clinical diagnosis)")
    print(f"  project:     {shown(result.project)} (model version {result.model_version})")
    print(f"  predictions: {shown(result.predictions)}")
    print(f"  report:      {shown(result.report_html)} and {shown(result.report_pdf)}")
    print(f"  labelled classes: {result.correct}/{result.known_queries} queries predicted correctly")
    print(f"  '{UNLABELLED_CLASS}' (never labelled): {result.unknown_flagged}/{result.unknown_queries} flagged 'none of these'")
    if args.headless:
        return 0
    from app.commands.gui import open_window
    from app.display import display_available

    if not display_available():
        print("  (no display here, so the window was not opened: run 'raresight gui' on a desktop, or use --headless)")
        return 0
    return open_window([str(result.project)])
