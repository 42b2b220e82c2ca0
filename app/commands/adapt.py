"""``raresight adapt``: fit the project's model to its labels (the GUI's Adapt button, same core call)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.terminal_progress import TerminalProgress
from core.embedding import DEFAULT_BACKBONE
from core.scoring.pipeline import DEFAULT_COVERAGE, adapt_project
from core.store import Project

EPILOG = """exit status:
  0  a new model version was saved with predictions for the unlabelled images
  2  the project could not be adapted (no labels, missing files, ...; the message says what to do)
  130 interrupted: the project is left as it was"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "adapt",
        help="adapt the project's model to its current labels",
        description="Adapt the few-shot model to the project's labelled images and predict the unlabelled ones; "
        "records a new model version in the project.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", type=Path, metavar="PROJECT", help="the project file (.raresight)")
    parser.add_argument(
        "--budget-s", type=float, default=20.0, metavar="N", help="time budget for on-device adaptation, seconds (default 20)"
    )
    parser.add_argument("--coverage", type=float, default=DEFAULT_COVERAGE, help="prediction-set coverage for the stored predictions")
    parser.add_argument(
        "--backbone", default=None, help=f"backbone name or .rsbackbone file (default: the project's current one, else {DEFAULT_BACKBONE})"
    )
    parser.set_defaults(run=run_adapt)


def run_adapt(args: argparse.Namespace) -> int:
    bar = TerminalProgress(unit="%")
    with Project.open(args.project) as project:
        result = adapt_project(
            project,
            budget_s=args.budget_s,
            coverage=args.coverage,
            backbone=args.backbone,
            progress=lambda f, m: bar(round(100 * f), 100, m),
        )
    bar.finish()
    how = f"adapted in {result.seconds:.1f} s" if result.adapted else "prototypes only (too few examples to adapt safely)"
    print(f"{args.project}: model version {result.version} ({how}); {result.predictions} unlabelled image(s) predicted")
    return 0
