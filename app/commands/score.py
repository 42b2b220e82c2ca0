"""``raresight score``: score folders and archives with a project's adapted model, resumably."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.terminal_progress import TerminalProgress
from core.imaging import iter_files
from core.scoring.output import errors_path, open_sink, read_rows, write_errors
from core.scoring.pipeline import DEFAULT_COVERAGE, load_project_model, score_images
from core.scoring.records import ScoreError, ScoreRow
from core.store import Project

EPILOG = """output: one row per image (CSV, JSON Lines or Parquet, by the extension of --out): path, content
hash, predicted class (empty for "none of these"), calibrated probability per class, prediction set,
"none of these" flag, nearest support example and its similarity per class, model version.
Unreadable files go to OUT.errors.csv with their reasons. Running the same command again after an
interruption resumes: finished images are not scored again.

exit status:
  0  every image was scored
  1  some files could not be read (see the errors file)
  2  nothing was scored: no adapted model, labels changed since (run 'raresight adapt'), bad output file
  130 interrupted (Ctrl-C): the output holds every finished row; run the same command to resume"""

FLUSH_ROWS = 32


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score images with the project's adapted model",
        description="Score image files and folders with the project's current adapted model.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", type=Path, metavar="PROJECT", help="the project file (.raresight)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="results file: .csv, .jsonl or .parquet")
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into subfolders")
    parser.add_argument("--coverage", type=float, default=DEFAULT_COVERAGE, help="target coverage of the prediction sets (default 0.9)")
    parser.add_argument("--report-dir", type=Path, metavar="DIR", help="also write a batch report (HTML and PDF) there")
    parser.set_defaults(run=run_score)


def run_score(args: argparse.Namespace) -> int:
    with Project.open(args.project, readonly=True) as project:
        model = load_project_model(project)
    files = [str(path) for path in iter_files(args.paths, args.recursive)]
    sink = open_sink(args.out, model.classes)
    done = sink.done_keys()
    todo = [path for path in files if f"{path}\x00{0}" not in done]
    resumed = len(files) - len(todo)
    if resumed:
        print(f"resuming: {resumed} image(s) already in {args.out}", file=sys.stderr)
    bar = TerminalProgress()
    errors: list[ScoreError] = []
    pending: list[ScoreRow] = []
    scored = 0
    try:
        for item in score_images(model, todo, coverage=args.coverage, progress=lambda f, m: bar(round(f * len(todo)), len(todo), m)):
            if isinstance(item, ScoreError):
                errors.append(item)
                continue
            pending.append(item)
            if len(pending) >= FLUSH_ROWS:
                sink.append(pending)
                scored, pending = scored + len(pending), []
    except KeyboardInterrupt:
        sink.append(pending)
        sink.close()
        bar.finish()
        print(
            f"interrupted: {scored + len(pending) + resumed} row(s) are in {args.out}; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    sink.append(pending)
    scored += len(pending)
    sink.close()
    bar.finish()
    write_errors(args.out, errors)
    for error in errors:
        print(f"FAIL  {error.error}")
    if args.report_dir is not None:
        _batch_report(args, model)
    print(
        f"{len(files)} file(s): {scored} scored now, {resumed} already done, {len(errors)} unreadable"
        + (f" (see {errors_path(args.out)})" if errors else "")
    )
    return 1 if errors else 0


def _batch_report(args: argparse.Namespace, model: Any) -> None:
    from core.reports import write_html, write_pdf
    from core.reports.build import build_report

    rows = read_rows(args.out, model.classes)
    # The cases to look at first: the least confident, and every "none of these".
    rows.sort(key=lambda row: (not row.none_of_these, max(row.probabilities.values())))
    content = build_report(
        model, rows[:50], coverage=args.coverage, title=f"RareSight batch report ({len(rows)} images; 50 least certain shown)"
    )
    args.report_dir.mkdir(parents=True, exist_ok=True)
    write_html(content, args.report_dir / "batch_report.html")
    write_pdf(content, args.report_dir / "batch_report.pdf")
    print(f"report: {args.report_dir / 'batch_report.html'} and .pdf")
