"""``raresight export``: the project's labelled images and a labels CSV, for a collaborator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.terminal_progress import TerminalProgress


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export the labelled images, de-identified, with a labels CSV",
        description="Write the project's labelled images into OUT_DIR (a new or empty folder): DICOM images as DICOM,\n"
        "others as PNG re-encoded from their pixels (no metadata), and labels.csv (file, class, frame). Files are\n"
        "named case-0001.dcm, case-0002.png, ..., never after the original file. With --deidentify each DICOM file\n"
        "goes through the DICOM PS3.15 Basic Application Level Confidentiality Profile (dicognito): names, IDs,\n"
        "addresses and free text removed or replaced, UIDs replaced consistently, dates shifted, pixel data\n"
        "unchanged; then every attribute of the profile's table is checked and the counts printed.",
        epilog="exit status:\n  0  exported\n  1  exported, but some images were skipped (each named with the reason and what to do)\n"
        "  2  nothing written: OUT_DIR not empty, nothing labelled, or DICOM images without --deidentify or\n"
        "     --keep-identifiers (the message says which)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", type=Path, metavar="PROJECT", help="the project file (.raresight)")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder to create (or an empty one)")
    parser.add_argument("--deidentify", action="store_true", help="de-identify DICOM images (PS3.15 basic profile)")
    parser.add_argument(
        "--keep-identifiers",
        action="store_true",
        help="export DICOM images as they are, patient identifiers included (refused without this or --deidentify)",
    )
    parser.add_argument(
        "--allow-burned-in",
        action="store_true",
        help="also export DICOM images marked Burned In Annotation YES (text in the pixels is not removed)",
    )
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from core.privacy.export import export_project
    from core.privacy.paths import path_for_display
    from core.store import Project

    bar = TerminalProgress(unit="%")
    with Project.open(args.project) as project:
        report = export_project(
            project,
            args.out_dir,
            deidentify=args.deidentify,
            keep_identifiers=args.keep_identifiers,
            allow_burned_in=args.allow_burned_in,
            progress=lambda f, m: bar(round(100 * f), 100, m),
        )
    bar.finish()
    for _, message in report.skipped:
        print(f"skipped: {path_for_display(message)}", file=sys.stderr)
    print(f"{path_for_display(report.out_dir)}: {len(report.files)} file(s), {report.rows} label row(s); {len(report.skipped)} skipped")
    if args.deidentify:
        print(f"de-identification check (PS3.15 basic profile): {report.check.summary()}")
    elif args.keep_identifiers and any(name.endswith(".dcm") for name in report.files):
        print("DICOM files exported as they are: they hold patient identifiers")
    return 1 if report.skipped else 0
