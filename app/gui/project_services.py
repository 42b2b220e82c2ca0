"""What the clinician's window asks of a project, as plain functions and values (no Qt).

They run in the worker (imports, snapshots, exports) or, when they are a single small transaction
(labels, undo), on the GUI thread. Numbers come from :mod:`core.scoring.pipeline`, the path the
CLI uses too, so the window and ``raresight score`` agree.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.embedding import CancelToken, ProgressFn, check_cancel
from core.errors import ImageReadError, RareSightError
from core.imaging import MedicalImage, decoder_boundary, load_image
from core.imaging.frame_headers import png_size
from core.privacy.paths import path_for_display
from core.reports import write_html, write_pdf
from core.reports.build import build_report
from core.scoring.embedded import readable_path
from core.scoring.output import open_sink
from core.scoring.pipeline import DEFAULT_COVERAGE, load_project_model, score_images, stamp_audit_head
from core.scoring.records import ScoreError, ScoreRow
from core.store import ClassInfo, ImageRecord, ImportReport, PredictionRecord, Project, UndoState
from core.store.folder_classes import ClassFolders

#: Colours offered to new classes in turn (distinct, readable on white and on a dark grid).
CLASS_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f")

#: Below this confidence a prediction counts as uncertain (the grid's "Uncertain" filter).
UNCERTAIN_BELOW = 0.6


@dataclass(frozen=True)
class ProjectSnapshot:
    """Everything the window shows of a project, read in one go (in the worker)."""

    path: str
    images: list[ImageRecord]
    thumbnails: dict[int, npt.NDArray[np.uint8]]  # image id -> (h, w) or (h, w, 3) uint8
    classes: list[ClassInfo]
    labels: dict[int, str]
    predictions: dict[int, PredictionRecord]
    model_version: int | None
    undo: UndoState
    failed: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""  # what the import that led here did beyond adding images ("labelled by subfolder: ...")


def read_snapshot(project: Project, failed: Sequence[tuple[str, str]] = (), note: str = "") -> ProjectSnapshot:
    """Images (with thumbnails), classes, labels, the latest predictions and the undo state."""
    images = project.images()
    thumbnails = {}
    for record in images:
        png = project.thumbnail(int(record.id or 0))
        picture = None if png is None else decode_png(png)
        if picture is not None:
            thumbnails[int(record.id or 0)] = picture
    version, predictions = read_predictions(project)
    return ProjectSnapshot(
        str(project.path),
        images,
        thumbnails,
        project.classes(),
        project.labels(),
        predictions,
        version,
        project.undo_state(),
        list(failed),
        note,
    )


def read_predictions(project: Project) -> tuple[int | None, dict[int, PredictionRecord]]:
    """The latest model version and its predictions by image id (None, {} without a model)."""
    state = project.model_state()
    if state is None or state.version is None:
        return None, {}
    return state.version, {p.image_id: p for p in project.predictions(state.version)}


THUMBNAIL_MAX_SIDE = 1024  # written at a few hundred pixels at most: a bigger one is a damaged or crafted project


def decode_png(png: bytes) -> npt.NDArray[np.uint8] | None:
    """PNG bytes -> uint8 (h, w) greyscale or (h, w, 3) RGB (decoded here, in the worker); None (no
    thumbnail shown) for one whose header declares an oversized image or that does not decode: the
    project file is untrusted input too."""
    size = png_size(png)
    if size is None or not (0 < size[0] <= THUMBNAIL_MAX_SIDE and 0 < size[1] <= THUMBNAIL_MAX_SIDE):
        return None
    try:
        with decoder_boundary("a stored thumbnail"), Image.open(io.BytesIO(png)) as picture:
            mode = "L" if picture.mode in ("L", "I", "I;16", "F") else "RGB"
            return np.asarray(picture.convert(mode), dtype=np.uint8)
    except ImageReadError:
        return None


def read_image(project: Project | None, path: str, frame: int | None = None) -> MedicalImage:
    """One frame of the image at ``path`` (None: the reader's default frame), for the viewer.

    A project image whose file is absent (imported from a PACS: its path is only the project's name
    for it, or added with ``--embed`` and moved since) is read from the copy stored in the project,
    by the same reader (``load_image``, behind the decoder boundary), and keeps ``path`` as its path.
    Raises ImageReadError naming ``path``, as for a file.
    """
    if project is None or Path(path).is_file():
        return load_image(path, frame=frame)
    with readable_images(project, [path]) as names:
        readable = next(iter(names), path)  # neither file nor copy: the reader's own message (file not found)
        try:
            image = load_image(readable, frame=frame)
        except ImageReadError as exc:
            if readable == path:
                raise
            raise ImageReadError(path_for_display(path), exc.reason, exc.advice) from exc  # named as the clinician knows it
    return dataclasses.replace(image, path=path)


@contextmanager
def readable_images(project: Project, paths: Sequence[str]) -> Iterator[dict[str, str]]:
    """{a path to read: the project's name for the image} for the project images at ``paths``, in order.

    The file where it is; else the copy stored in the project (PACS imports, ``--embed``), written to
    a temporary folder removed on exit (as ``raresight adapt`` reads them). Images with neither are
    left out; a path that is not a project image is kept as it is (reading it says what is wrong).
    """
    records: dict[str, ImageRecord] = {}
    for record in project.images():
        records.setdefault(record.path, record)
    with tempfile.TemporaryDirectory(prefix="raresight-copies-") as folder:
        names: dict[str, str] = {}
        for path in paths:
            known = records.get(path)
            readable = path if known is None else readable_path(project, known, Path(folder))
            if readable is not None:
                names.setdefault(readable, path)
        yield names


def import_paths(
    project: Project,
    paths: Sequence[str | os.PathLike[str]],
    progress: ProgressFn,
    is_cancelled: Callable[[], bool],
) -> ImportReport:
    """Add the files under ``paths`` (folders with subfolders); unreadable files are in the report."""
    return project.add_images(paths, recursive=True, progress=progress, is_cancelled=is_cancelled)


def import_class_folders(
    project: Project, folders: ClassFolders, progress: ProgressFn, is_cancelled: Callable[[], bool]
) -> tuple[ImportReport, str]:
    """Import each class folder labelled with its name (new classes get the next free colour),
    then the files directly in the folder unlabelled. Returns the report and a one-line summary."""
    total = ImportReport()
    groups: list[tuple[str | None, list[Path]]] = [*folders.files.items(), (None, folders.loose)]
    count, done = sum(len(files) for _, files in groups) or 1, 0
    for name, files in groups:
        if not files:
            continue
        if name is not None and name not in {c.name for c in project.classes()}:
            project.add_class(name, "", next_colour(project.classes()))

        def part(fraction: float, text: str, start: int = done, size: int = len(files), what: str = name or "unlabelled") -> None:
            progress((start + fraction * size) / count, f"{what}: {text}")

        report = project.add_images(files, class_name=name, progress=part, is_cancelled=is_cancelled)
        total.added += report.added
        total.duplicates += report.duplicates
        total.failed += report.failed
        total.labelled += report.labelled
        total.label_conflicts += report.label_conflicts
        done += len(files)
    counts = ", ".join(f"{name} ({n})" for name, n in folders.counts().items())
    summary = f"{total.labelled} labelled by subfolder: {counts}"
    if total.label_conflicts:
        # An import never relabels silently (as `project add --class` without --relabel).
        summary += f"; {len(total.label_conflicts)} already labelled as another class kept their label"
    return total, summary


def next_colour(classes: Sequence[ClassInfo]) -> str:
    """The first palette colour no class uses yet (cycling when all are taken)."""
    used = {c.colour.lower() for c in classes}
    for colour in CLASS_COLOURS:
        if colour not in used:
            return colour
    return CLASS_COLOURS[len(classes) % len(CLASS_COLOURS)]


def usefulness(prediction: PredictionRecord | None) -> float:
    """How much labelling this image would teach the model, 0..2 (higher first).

    "None of these" images (unlike every class) come first, then the least confident ones;
    images without a prediction sit in the middle so a fresh project still gets suggestions.
    """
    if prediction is None:
        return 0.5
    if prediction.top_class is None:
        return 2.0
    spread = 0.25 * max(0, len(prediction.prediction_set) - 1)
    return 1.0 - prediction.confidence + spread


def label_next(images: Sequence[ImageRecord], labels: dict[int, str], predictions: dict[int, PredictionRecord], n: int = 12) -> list[int]:
    """The ``n`` unlabelled image ids whose label would help most, most useful first."""
    candidates = [int(r.id or 0) for r in images if int(r.id or 0) not in labels]
    candidates.sort(key=lambda image_id: (-usefulness(predictions.get(image_id)), image_id))
    return candidates[:n]


def export_predictions(
    project: Project,
    output: Path,
    coverage: float = DEFAULT_COVERAGE,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> int:
    """Score every image of the project with its adapted model into ``output`` (CSV, JSONL, Parquet).

    The same rows ``raresight score`` writes; a Parquet file also holds the project's audit head in its
    metadata, as there. Images held only as copies in the project (PACS imports, ``--embed`` of files
    moved since) are scored from the copy; their path column is the project's name for the image.
    The export is recorded in the audit log. Returns the number of rows written.
    """
    model = load_project_model(project)
    if output.exists():
        output.unlink()  # a fresh export, not a resumed one
    sink = open_sink(output, model.classes)
    written = 0
    try:
        with readable_images(project, [r.path for r in project.images()]) as names:
            batch: list[ScoreRow] = []
            for item in score_images(model, list(names), coverage=coverage, progress=progress, cancel=cancel):
                if isinstance(item, ScoreRow):  # stored copies keep the project's name for the image
                    batch.append(dataclasses.replace(item, path=names[item.path]))
                if len(batch) >= 64:
                    sink.append(batch)
                    written, batch = written + len(batch), []
        check_cancel(cancel, "export")
        sink.append(batch)
        written += len(batch)
    finally:
        sink.close()
    stamp_audit_head(output, model.audit_head)
    project.record_event("export", {"path": str(output), "rows": written, "model_version": model.version, "coverage": coverage})
    return written


class ExportError(RareSightError):
    """An export could not be written; the message says why and what to do."""


def export_report(
    project: Project,
    paths: Sequence[str],
    output: Path,
    coverage: float = DEFAULT_COVERAGE,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> int:
    """A case report (PDF, or HTML for .html) for ``paths``, as ``raresight report`` writes it; audited.

    Returns the number of cases. Cases are numbered Case 1, Case 2, ... in the order given; no file names.
    """
    if output.suffix.lower() not in (".pdf", ".html", ".htm"):
        raise ExportError(f"{output}: end the report's file name in .pdf or .html")
    if not paths:
        raise ExportError("select the images to report on first")
    model = load_project_model(project)
    rows = []
    with readable_images(project, list(paths)) as names:  # the report's pictures are read while the copies exist
        for item in score_images(model, list(names), coverage=coverage, progress=progress, cancel=cancel):
            if isinstance(item, ScoreError):
                raise ExportError(item.error.replace(item.path, path_for_display(names[item.path])))
            rows.append(item)
        check_cancel(cancel, "report")
        content = build_report(model, rows, coverage=coverage)
    (write_pdf if output.suffix.lower() == ".pdf" else write_html)(content, output)
    project.record_event("export", {"kind": "report", "path": str(output), "cases": len(rows), "model_version": model.version})
    return len(rows)
