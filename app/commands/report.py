"""``raresight report``: a case report (PDF or HTML) for one or more images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.defaults import DEFAULT_COVERAGE
from core.errors import RareSightError
from core.scoring.records import ScoreError, ScoreRow


class ReportError(RareSightError):
    """A report could not be made."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a case report for images",
        description="Score the images with the project's model and write a report, PDF or self-contained HTML by the\n"
        "extension of --out: each image with its calibrated probabilities, prediction set and nearest support\n"
        "examples, then the support set's quality, the reliability diagram and the model card.\n"
        "Research use only, not for clinical diagnosis.",
        epilog="exit status:\n  0  written\n  2  not written: an image could not be read, no adapted model, labels changed since\n"
        "     (run 'raresight adapt'), or a bad --out name (the message says which)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", type=Path, metavar="PROJECT", help="the project file (.raresight)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (DICOM or PNG, JPEG, TIFF, BMP)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="report file: .pdf, or .html (one self-contained file)")
    parser.add_argument(
        "--coverage", type=float, default=DEFAULT_COVERAGE, help="target coverage of the prediction sets (default %(default)s)"
    )
    parser.add_argument(
        "--identifiers",
        action="store_true",
        help="name cases by file name (default: 'Case 1', 'Case 2', ... in the order given, since file names can identify patients)",
    )
    parser.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    # torch and matplotlib: loaded only when a report is made
    import core.metatrain.backbone_file  # noqa: F401  (registers .rsbackbone files with load_backbone)
    from core.privacy.paths import path_for_display, special_file_kind, special_file_message
    from core.reports import write_html, write_pdf
    from core.reports.build import build_report
    from core.scoring.pipeline import load_project_model, score_images
    from core.store import Project

    suffix = args.out.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        raise ReportError(f"{path_for_display(args.out)}: end the file name in .pdf or .html")
    with Project.open(args.project, readonly=True) as project:
        model = load_project_model(project)
    for image in args.images:
        kind = special_file_kind(image)  # a FIFO or device would block the reader
        if kind is not None:
            raise ReportError(special_file_message(image, kind))
    rows: list[ScoreRow] = []
    for item in score_images(model, [str(p) for p in args.images], coverage=args.coverage):
        if isinstance(item, ScoreError):
            raise ReportError(path_for_display(item.error))
        rows.append(item)
    content = build_report(model, rows, coverage=args.coverage, identifiers=args.identifiers)
    (write_pdf if suffix == ".pdf" else write_html)(content, args.out)
    print(f"report: {path_for_display(args.out)}")
    return 0
