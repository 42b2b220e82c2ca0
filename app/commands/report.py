"""``raresight report``: a case report (PDF or HTML) for one or more images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import RareSightError
from core.reports import write_html, write_pdf
from core.reports.build import build_report
from core.scoring.pipeline import DEFAULT_COVERAGE, load_project_model, score_images
from core.scoring.records import ScoreError, ScoreRow
from core.store import Project


class ReportError(RareSightError):
    """A report could not be made."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a case report for images",
        description="Score the images with the project's model and write a report: PDF or self-contained HTML by the extension of --out.",
        epilog="exit status: 0 written; 2 not written (the message says why)",
    )
    parser.add_argument("project", type=Path, metavar="PROJECT", help="the project file (.raresight)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="report file: .pdf or .html")
    parser.add_argument("--coverage", type=float, default=DEFAULT_COVERAGE, help="target coverage of the prediction sets (default 0.9)")
    parser.add_argument("--identifiers", action="store_true", help="name cases by file path (default: by content hash, no identifiers)")
    parser.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    suffix = args.out.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        raise ReportError(f"{args.out}: end the file name in .pdf or .html")
    with Project.open(args.project, readonly=True) as project:
        model = load_project_model(project)
    rows: list[ScoreRow] = []
    for item in score_images(model, [str(p) for p in args.images], coverage=args.coverage):
        if isinstance(item, ScoreError):
            raise ReportError(item.error)
        rows.append(item)
    content = build_report(model, rows, coverage=args.coverage, identifiers=args.identifiers)
    (write_pdf if suffix == ".pdf" else write_html)(content, args.out)
    print(f"report: {args.out}")
    return 0
