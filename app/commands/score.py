"""``raresight score``: score folders and archives with a project's adapted model, resumably."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.terminal_progress import TerminalProgress
from core.defaults import DEFAULT_COVERAGE
from core.errors import RareSightError
from core.privacy.paths import path_for_display as display  # any file name prints, with U+FFFD for bytes that are not UTF-8
from core.privacy.paths import special_file_kind, special_file_message
from core.scoring.output import open_sink, read_rows, update_errors
from core.scoring.records import ScoreError, ScoreRow

EPILOG = """output: one row per image file (CSV, JSON Lines or Parquet, by the extension of --out): path,
content hash, frame scored (0-based: the middle frame of a multi-frame DICOM, the first page of a
TIFF), predicted class (empty for "none of these"), calibrated probability per class, prediction
set, "none of these" flag, nearest support example and its similarity per class, model version.

Unreadable files are listed with their reasons in FILE.errors.csv, named after the whole output
name (scores.csv -> scores.csv.errors.csv, scores.parquet -> scores.parquet.errors.csv); it is made
only when a file could not be read, keeps the errors of earlier runs into the same output, and is
removed once every file in it has been scored.

Running the same command again after Ctrl-C or a crash resumes: finished images are not scored
again (a Parquet output keeps its finished rows in FILE.partial.jsonl until the run completes).

--engine ray scores on a Ray cluster (pip install 'raresight[cluster]'; docs/cluster.md): --out is then
a folder of Parquet shards (part-*.parquet, one per --batch-size files, the local engine's columns and
rows), unreadable files are listed in DIR/_scores.errors.csv, and a rerun skips the images already in
its shards. Without --address it starts a local Ray instance on this machine. The project file, the
images and DIR must be at the same paths on every Ray worker (a shared file system).

exit status:
  0    every file was scored (now or by an earlier run)
  1    some or all files could not be read (listed in FILE.errors.csv); the others were scored
  2    nothing was scored: no file in the paths given, no adapted model, labels changed since
       (run 'raresight adapt'), an output file that cannot be written or belongs to another project
  130  interrupted (Ctrl-C): the output holds every finished row; run the same command to resume"""

FLUSH_ROWS = 32
REPORT_CASES = 50


class NothingToScore(RareSightError):
    """The paths given hold no file; the message says where and what to do."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score images with the project's adapted model",
        description="Score image files and folders with the project's current adapted model, into a results file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", type=Path, metavar="PROJECT", help="the project file (.raresight)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (every file in a folder is tried)")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="results file: .csv, .jsonl or .parquet (an existing one is resumed)"
    )
    parser.add_argument(
        "--recursive", "-r", action="store_true", help="also score the files in subfolders (default: only those directly in each folder)"
    )
    parser.add_argument(
        "--coverage", type=float, default=DEFAULT_COVERAGE, help="target coverage of the prediction sets (default %(default)s)"
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help=f"also write batch_report.html and batch_report.pdf there: counts over every image of FILE, and the "
        f"{REPORT_CASES} least certain as cases, numbered by their row in FILE (default: no report)",
    )
    parser.add_argument(
        "--identifiers",
        action="store_true",
        help="name the report's cases by file name (default: by row number; file names can identify patients)",
    )
    cluster = parser.add_argument_group("cluster (--engine ray)")
    cluster.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: a Ray Data pipeline, --out a folder of Parquet shards",
    )
    cluster.add_argument(
        "--address", metavar="ADDR", help="join this Ray cluster (ray://HOST:10001, HOST:6379 or auto); default: start one here"
    )
    cluster.add_argument(
        "--workers", type=_positive, metavar="N", help="scoring actors, each with the model loaded once (default: one per CPU)"
    )
    cluster.add_argument("--batch-size", type=_positive, metavar="B", help="files per shard, each scored by one actor (default 256)")
    parser.set_defaults(run=run_score)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def run_score(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        return _run_ray(args)
    given = [flag for flag, value in (("--address", args.address), ("--workers", args.workers), ("--batch-size", args.batch_size)) if value]
    if given:
        raise RareSightError(f"{', '.join(given)}: only with --engine ray; add --engine ray, or leave them out")
    import core.metatrain.backbone_file  # noqa: F401  (registers .rsbackbone files with load_backbone)
    from core.imaging import iter_files
    from core.scoring.pipeline import load_project_model, score_images, stamp_audit_head  # torch: loaded only when scoring
    from core.store import Project

    skipped: list[tuple[str, str]] = []  # FIFOs, sockets, devices inside folders: never opened, listed with the reason
    files = [str(path) for path in iter_files(args.paths, args.recursive, on_skip=lambda p, reason: skipped.append((str(p), reason)))]
    if not files and not skipped:
        raise NothingToScore(no_files_reason(args.paths, args.recursive))
    with Project.open(args.project, readonly=True) as project:
        model = load_project_model(project)
    sink = open_sink(args.out, model.classes)
    done = sink.done_keys()
    run = _Run()
    todo = []
    for path, reason in skipped:
        run.errors.append(ScoreError(path, f"{display(path)}: {reason}"))
        run.attempted.append(path)
    for path in files:
        kind = special_file_kind(path)  # a FIFO or device would block the reader: skipped with the reason
        if kind is not None:
            run.errors.append(ScoreError(path, special_file_message(path, kind)))
            run.attempted.append(path)
        elif path not in done:
            todo.append(path)
    resumed = len(files) - len(todo) - (len(run.errors) - len(skipped))
    if resumed:
        print(f"resuming: {resumed} image(s) already in {display(args.out)}", file=sys.stderr)
    bar = TerminalProgress()
    try:
        run.write(sink, score_images(model, todo, coverage=args.coverage, progress=lambda f, m: bar(round(f * len(todo)), len(todo), m)))
    except KeyboardInterrupt:
        bar.finish()
        return _interrupted(args.out, run.scored + resumed, update_errors(args.out, run.attempted, run.errors))
    bar.finish()
    scored, errors = run.scored, run.errors
    listed = update_errors(args.out, run.attempted, errors)
    for error in errors:
        print(f"FAIL  {display(error.error)}")
    if args.report_dir is not None:
        _batch_report(args, model)
    # the audit head is kept with the results: a later rewrite of the project's audit log shows
    stamped = model.audit_head is not None and stamp_audit_head(args.out, model.audit_head)
    where = f" (also in {display(args.out)}'s metadata)" if stamped else ""
    return _summary(len(files), scored, resumed, errors, listed, model.audit_head, where)


def _interrupted(out: Path, rows: int, listed: Path | None) -> int:
    """What Ctrl-C left (both engines); the exit status 130."""
    print(
        f"interrupted: {rows} row(s) are in {display(out)}"
        + (f", unreadable files in {display(listed)}" if listed else "")
        + "; run the same command again to resume",
        file=sys.stderr,
    )
    return 130


def _summary(files: int, scored: int, resumed: int, errors: Sequence[ScoreError], listed: Path | None, head: Any, head_where: str) -> int:
    """The closing lines of a run (both engines) and its exit status; ``head`` is the project's AuditHead or None."""
    print(
        f"{files} file(s): {scored} scored now, {resumed} already done, {len(errors)} unreadable"
        + (f" (see {display(listed)})" if errors and listed else "")
    )
    if listed and not errors:
        print(f"earlier runs' unreadable files are still listed in {display(listed)}")
    if head is not None:
        print(f"project audit head: row {head.row_id}, chain hash {head.hash}{head_where}")
    if errors and not scored and not resumed:
        print("no file could be read as an image: score DICOM, PNG, JPEG, TIFF or BMP files (the reasons are above)")
    return 1 if errors else 0


def _run_ray(args: argparse.Namespace) -> int:
    """``--engine ray``: the same files, checks, rows and errors file, as Parquet shards in the folder --out."""
    from core.scoring import ray_engine as engine

    engine.import_ray()  # first: without Ray, say how to install it before any work
    import core.metatrain.backbone_file  # noqa: F401  (registers .rsbackbone files with load_backbone)
    from core.imaging import iter_files
    from core.scoring.pipeline import load_project_model
    from core.store import Project

    if args.report_dir is not None:
        raise RareSightError("--report-dir is not available with --engine ray; score with --engine local for a report")
    skipped: list[tuple[str, str]] = []
    files = [str(path) for path in iter_files(args.paths, args.recursive, on_skip=lambda p, reason: skipped.append((str(p), reason)))]
    if not files and not skipped:
        raise NothingToScore(no_files_reason(args.paths, args.recursive))
    with Project.open(args.project, readonly=True) as project:
        model = load_project_model(project)  # refuses, as locally, when labels changed since adapt
    done = engine.prepare_output(args.out, model.classes)  # images in the shards already written
    run = _Run()
    todo: list[str] = []
    seen: set[str] = set()
    for path, reason in skipped:
        run.errors.append(ScoreError(path, f"{display(path)}: {reason}"))
        run.attempted.append(path)
    for path in files:
        kind = special_file_kind(path)
        if kind is not None:
            run.errors.append(ScoreError(path, special_file_message(path, kind)))
            run.attempted.append(path)
        elif path not in done and path not in seen:  # a file named twice is scored once: one row per image
            todo.append(path)  # unreadable files of earlier runs too: tried again, as locally
            seen.add(path)
    resumed = sum(path in done for path in set(files))
    if resumed:
        print(f"resuming: {resumed} image(s) already in {display(args.out)}", file=sys.stderr)
    chunks = {chunk.shard: chunk for chunk in engine.plan_chunks(todo, args.batch_size or engine.DEFAULT_CHUNK)}
    stem = args.out / engine.ERRORS_STEM  # the errors file is DIR/_scores.errors.csv
    try:
        _score_chunks(args, model, chunks, run)
    except KeyboardInterrupt:
        written = update_errors(stem, run.attempted, run.errors)
        in_shards = len(engine.prepare_output(args.out, model.classes))  # shards finished as the run stopped count too
        return _interrupted(args.out, in_shards, written)
    order = {path: index for index, path in enumerate(files)}
    errors = sorted(run.errors, key=lambda e: order.get(e.path, -1))
    written = update_errors(stem, run.attempted, errors)
    for error in errors:
        print(f"FAIL  {display(error.error)}")
    return _summary(len(files), run.scored, resumed, errors, written, model.audit_head, " (also in each shard's metadata)")


def _score_chunks(args: argparse.Namespace, model: Any, todo: dict[str, Any], run: _Run) -> None:
    """Score the chunks not done yet on Ray, with progress, driver overhead and worker memory on stderr."""
    import time

    from core.scoring import ray_engine as engine

    if not todo:
        return
    total = sum(len(chunk.paths) for chunk in todo.values())
    started = time.perf_counter()
    with engine.RaySession(args.address, args.workers) as session:
        where = f"joined {args.address}" if args.address else "started a local Ray instance"
        print(
            f"ray: {where} in {session.start_seconds:.1f} s; {min(session.pool_size, len(todo))} worker(s), "
            f"{session.cpus_per_worker:g} CPU(s) each",
            file=sys.stderr,
        )
        bar = TerminalProgress(log_every=30.0)
        peaks: dict[int, float] = {}
        first: float | None = None
        tried = 0
        try:
            results = engine.score_on_ray(
                session,
                args.project,
                model.version,
                list(todo.values()),
                args.out,
                coverage=args.coverage,
                metadata=engine.audit_metadata(model.audit_head),
            )
            for result in results:
                first = first if first is not None else time.perf_counter() - started
                run.scored += result.rows
                run.errors += result.errors
                run.attempted += todo[result.shard].paths
                tried += len(todo[result.shard].paths)
                peaks[result.worker] = max(peaks.get(result.worker, 0.0), result.peak_rss_mb)
                bar(tried, total, f"{len(peaks)} worker(s)")
        finally:
            bar.finish()
            if first is not None:
                print(
                    f"ray: first shard after {first:.1f} s; peak memory per worker {max(peaks.values()):.0f} MB "
                    f"({', '.join(f'{v:.0f}' for v in sorted(peaks.values()))})",
                    file=sys.stderr,
                )


@dataclass
class _Run:
    """What one run did: rows written, files that could not be read, every file tried."""

    scored: int = 0
    errors: list[ScoreError] = field(default_factory=list)
    attempted: list[str] = field(default_factory=list)

    def write(self, sink: Any, items: Iterable[ScoreRow | ScoreError]) -> None:
        """Rows to ``sink`` in batches, then closed; on Ctrl-C the finished rows are written first."""
        pending: list[ScoreRow] = []
        try:
            for item in items:
                self.attempted.append(item.path)
                if isinstance(item, ScoreError):
                    self.errors.append(item)
                    continue
                pending.append(item)
                if len(pending) >= FLUSH_ROWS:
                    sink.append(pending)
                    self.scored, pending = self.scored + len(pending), []
        except KeyboardInterrupt:
            self._finish(sink, pending)
            raise
        self._finish(sink, pending)

    def _finish(self, sink: Any, pending: list[ScoreRow]) -> None:
        sink.append(pending)
        self.scored += len(pending)
        sink.close()


def no_files_reason(paths: list[str], recursive: bool) -> str:
    """Why the paths hold nothing to score, and what to do (``--recursive`` when only subfolders have files)."""
    folders = [Path(p) for p in paths if Path(p).is_dir()]
    named = ", ".join(display(p) for p in folders[:3]) + (f" and {len(folders) - 3} more" if len(folders) > 3 else "")
    with_subfolders = [f for f in folders if any(c.is_dir() and not c.name.startswith(".") for c in f.iterdir())]
    if with_subfolders and not recursive:
        return f"no files directly in {named}, only in subfolders; add --recursive to score the files in subfolders"
    return f"no files to score in {named}; check the folder, or name image files"


def _batch_report(args: argparse.Namespace, model: Any) -> None:
    from core.reports import write_html, write_pdf
    from core.reports.build import build_batch_report

    rows = read_rows(args.out, model.classes)  # every row of the output, earlier runs' too
    if not rows:
        print(f"report: not written, {display(args.out)} holds no scored image")
        return
    content = build_batch_report(
        model, rows, coverage=args.coverage, source=display(args.out.name), shown=REPORT_CASES, identifiers=args.identifiers
    )
    args.report_dir.mkdir(parents=True, exist_ok=True)
    write_html(content, args.report_dir / "batch_report.html")
    write_pdf(content, args.report_dir / "batch_report.pdf")
    print(f"report: {display(args.report_dir / 'batch_report.html')} and .pdf")
