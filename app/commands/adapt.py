"""``raresight adapt``: fit the project's model to its labels (the GUI's Adapt button, same core call)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.terminal_progress import TerminalProgress
from core.defaults import DEFAULT_BACKBONE, DEFAULT_COVERAGE

EPILOG = """Images whose files are gone are read from the copies stored in the project ('project add --embed').

exit status:
  0    a new model version was saved with predictions for the unlabelled images
  2    the project could not be adapted: no labels yet, labelled files missing with no copy in the
       project (relink it), a backbone file that cannot be found (the message says what to do)
  130  interrupted (Ctrl-C): the project is left as it was"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "adapt",
        help="adapt the project's model to its current labels",
        description="Adapt the few-shot model to the project's labelled images and predict the unlabelled ones;\n"
        "records a new model version in the project (the window's Adapt button, same core call).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", type=Path, metavar="PROJECT", help="the project file (.raresight)")
    parser.add_argument(
        "--budget-s", type=float, default=20.0, metavar="N", help="time budget for on-device adaptation, seconds (default %(default)s)"
    )
    parser.add_argument(
        "--coverage",
        type=float,
        default=DEFAULT_COVERAGE,
        help="target coverage of the prediction sets stored for the unlabelled images (default %(default)s)",
    )
    parser.add_argument(
        "--backbone", default=None, help=f"backbone name or .rsbackbone file (default: the project's current one, else {DEFAULT_BACKBONE})"
    )
    parser.add_argument(
        "--no-unlabelled",
        dest="use_unlabelled",
        action="store_false",
        help="learn from the labelled images alone; by default the model also learns from up to 500 of the "
        "project's unlabelled images (their images, never a label)",
    )
    parser.set_defaults(run=run_adapt)


def run_adapt(args: argparse.Namespace) -> int:
    import core.metatrain.backbone_file  # noqa: F401  (registers .rsbackbone files with load_backbone)
    from core.scoring.pipeline import adapt_project  # torch: loaded only when adapting
    from core.scoring.pool_record import POOL_SETTING, describe_pool
    from core.store import Project

    bar = TerminalProgress(unit="%")
    with Project.open(args.project) as project:
        result = adapt_project(
            project,
            budget_s=args.budget_s,
            coverage=args.coverage,
            backbone=args.backbone,
            use_unlabelled=args.use_unlabelled,
            progress=lambda f, m: bar(round(100 * f), 100, m),
        )
    bar.finish()
    how = f"adapted in {result.seconds:.1f} s" if result.adapted else "prototypes only (too few examples to adapt safely)"
    print(f"{args.project}: model version {result.version} ({how}); {result.predictions} unlabelled image(s) predicted")
    print(f"learned from unlabelled images: {describe_pool({POOL_SETTING: result.pool_used})}")
    return 0
