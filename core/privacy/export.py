"""Export a project's labelled images to a folder a collaborator can be given, without patient data.

>>> report = export_project(project, "share/", deidentify=True, keep_identifiers=False, allow_burned_in=False)

DICOM inputs are written as DICOM, de-identified by :func:`core.privacy.deidentify.deidentify_dicom`
(PS3.15 basic profile through dicognito; one anonymizer per process, so the UIDs shared by files of
one study stay shared in the export), then checked against every row of the profile's table
(:mod:`core.privacy.ps315`); an attribute still holding its value gets the profile's action, and a
file whose check still fails is not exported. Other images are written as PNG re-encoded from the
decoded pixels, so no metadata travels. ``labels.csv`` lists file, class and frame; files are named
``case-0001.dcm``, never after the original, whose name can hold the patient's.

Everything is written into a hidden folder beside ``out_dir`` and renamed at the end: a failed or
cancelled export leaves nothing behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import Cancelled, ImageReadError, ProjectError, RareSightError
from core.privacy.paths import path_for_display
from core.privacy.ps315 import ProfileCheck

if TYPE_CHECKING:
    from core.store import ImageRecord, Project

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
LABELS_FILE = "labels.csv"
LABEL_COLUMNS = ("file", "class", "frame")


class ExportError(RareSightError):
    """An export that cannot start (bad folder, identifiable DICOM not allowed); nothing was written."""


@dataclass
class ExportReport:
    """What an export wrote and skipped.

    files: names written in ``out_dir`` (``labels.csv`` not included). rows: lines of ``labels.csv``.
    sources: file name -> the project's image ids it holds (kept here, never written to the export).
    skipped: (original path, message naming the file, the reason and what to do) for each image left out.
    check: the de-identification check, summed over the DICOM files written (empty without de-identification).
    """

    out_dir: Path
    files: list[str] = field(default_factory=list)
    sources: dict[str, list[int]] = field(default_factory=dict)
    rows: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    check: ProfileCheck = field(default_factory=ProfileCheck)
    enforced: int = 0  # attributes the export's own pass removed or emptied after dicognito


@dataclass
class _Case:
    """One file to write: a source file (all its labelled frames), or one frame of a raster file."""

    records: list[ImageRecord]
    classes: list[str]

    @property
    def is_dicom(self) -> bool:
        return self.records[0].format == "DICOM"


def export_project(
    project: Project,
    out_dir: str | os.PathLike[str],
    *,
    deidentify: bool,
    keep_identifiers: bool,
    allow_burned_in: bool,
    progress: Progress | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> ExportReport:
    """Write the project's labelled images and ``labels.csv`` into ``out_dir`` (created; must not hold files).

    Raises ExportError before writing anything when ``out_dir`` cannot be used, nothing is
    labelled, or DICOM images would leave with their identifiers (neither ``deidentify`` nor
    ``keep_identifiers``). Images that cannot be read or de-identified, and DICOM files with
    Burned In Annotation YES (unless ``allow_burned_in``), are listed in ``report.skipped``.
    """
    target = Path(out_dir)
    _check_target(target)
    cases = _cases(project)
    _check_identifiers(cases, deidentify, keep_identifiers)
    report = ExportReport(out_dir=target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    done = False
    try:
        from core.privacy.deidentify import new_anonymizer

        anonymizer = new_anonymizer() if deidentify else None  # this export's own UID map and date shift
        rows = _write_cases(project, cases, staging, report, anonymizer, allow_burned_in, progress, is_cancelled)
        _write_labels(staging / LABELS_FILE, rows)
        report.rows = len(rows)
        if target.exists():
            target.rmdir()  # checked empty above
        staging.rename(target)
        done = True
    finally:  # an error, a cancel or Ctrl-C: the partial folder goes
        if not done:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("exported %d file(s), %d skipped; %s", len(report.files), len(report.skipped), report.check.summary())
    _audit(project, report, deidentify, keep_identifiers, allow_burned_in)
    return report


def _audit(project: Project, report: ExportReport, deidentify: bool, keep_identifiers: bool, allow_burned_in: bool) -> None:
    """The export in the project's audit log: what left, how, and the check's counts (no path, no name)."""
    if project.readonly:
        return
    check = report.check
    details = {
        "n_files": len(report.files),
        "label_rows": report.rows,
        "skipped": len(report.skipped),
        "deidentified": deidentify,
        "identifiers_kept": keep_identifiers,
        "burned_in_allowed": allow_burned_in,
        "profile_check": {"checked": check.checked, "removed": check.removed, "emptied": check.emptied, "replaced": check.replaced},
    }
    project.record_event("export", details)


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"{path_for_display(target)}: already exists and is not an empty folder; choose a new folder for the export")
    if not target.parent.is_dir():
        raise ExportError(f"{path_for_display(target)}: the folder {path_for_display(target.parent)} does not exist; create it first")
    if not os.access(target.parent, os.W_OK):
        folder = path_for_display(target.parent)
        raise ExportError(f"{path_for_display(target)}: the folder {folder} is read-only; choose one you can write to")


def _cases(project: Project) -> list[_Case]:
    """Labelled images in project order: one case per DICOM file, one per frame of anything else."""
    labels = project.labels()
    cases: dict[tuple[str, int], _Case] = {}
    for record in project.images():
        if record.id is None or record.id not in labels:
            continue
        key = (record.content_hash, -1 if record.format == "DICOM" else record.frame)
        case = cases.setdefault(key, _Case([], []))
        case.records.append(record)
        case.classes.append(labels[record.id])
    if not cases:
        raise ExportError(f"{project.path}: no labelled images to export; label some first (raresight project label)")
    return list(cases.values())


def _check_identifiers(cases: list[_Case], deidentify: bool, keep_identifiers: bool) -> None:
    if deidentify and keep_identifiers:
        raise ExportError("--deidentify and --keep-identifiers contradict each other; give one of them")
    dicom = [case for case in cases if case.is_dicom]
    if dicom and not deidentify and not keep_identifiers:
        first = path_for_display(dicom[0].records[0].path)
        others = f" and {len(dicom) - 1} other DICOM file(s)" if len(dicom) > 1 else ""
        raise ExportError(
            f"{first}{others}: DICOM headers hold patient identifiers; "
            "export with --deidentify, or give --keep-identifiers to export them as they are"
        )


def _write_cases(
    project: Project,
    cases: list[_Case],
    staging: Path,
    report: ExportReport,
    anonymizer: Any,
    allow_burned_in: bool,
    progress: Progress | None,
    is_cancelled: Callable[[], bool] | None,
) -> list[tuple[str, str, int]]:
    rows: list[tuple[str, str, int]] = []
    for index, case in enumerate(cases):
        if is_cancelled is not None and is_cancelled():
            raise Cancelled("export cancelled; nothing was written")
        name = f"case-{len(report.files) + 1:04d}" + (".dcm" if case.is_dicom else ".png")
        source = path_for_display(case.records[0].path)
        try:
            data = _source_bytes(project, case.records[0])
            written = _dicom(data, source, anonymizer, allow_burned_in, report) if case.is_dicom else _png(data, case.records[0], staging)
        except (ImageReadError, ProjectError) as exc:
            report.skipped.append((case.records[0].path, str(exc)))
            continue
        (staging / name).write_bytes(written)
        report.files.append(name)
        report.sources[name] = [record.id for record in case.records if record.id is not None]
        rows += [(name, cls, record.frame if case.is_dicom else 0) for record, cls in zip(case.records, case.classes, strict=True)]
        if progress is not None:
            progress((index + 1) / len(cases), f"exported {index + 1} of {len(cases)} file(s)")
    return rows


def _source_bytes(project: Project, record: ImageRecord) -> bytes:
    """The file as imported: from its path when it still holds the same bytes, else the project's copy."""
    path = Path(record.path)
    try:
        data = path.read_bytes() if path.is_file() else None
    except OSError:
        data = None
    if data is not None and hashlib.sha256(data).hexdigest() == record.content_hash:
        return data
    if record.id is None:
        raise ProjectError(f"{path_for_display(path)}: not found; relink the project to the images' new folder")
    copy = project.image_bytes(record.id)  # the embedded copy, else the file again (raises when neither)
    if copy == data:  # no embedded copy, and the file changed since it was added
        raise ImageReadError(
            path_for_display(path), "has changed since it was added to the project", "relink the project to the original file"
        )
    return copy


def _dicom(data: bytes, source: str, anonymizer: Any, allow_burned_in: bool, report: ExportReport) -> bytes:
    """The exported DICOM; ``anonymizer`` None: --keep-identifiers, as it is."""
    if anonymizer is None:
        return data
    before = _parse(data, source)
    if str(before.get("BurnedInAnnotation", "")).strip().upper() == "YES" and not allow_burned_in:
        raise ImageReadError(
            source,
            "Burned In Annotation is YES: text in the pixels (a name, a date) would leave with the image",
            "check the image, and export with --allow-burned-in if its pixels hold no identifier",
        )
    from core.privacy.deidentify import deidentify_dicom

    try:
        after = _parse(deidentify_dicom(data, source, anonymizer), source)
    except ImageReadError as exc:
        raise ImageReadError(source, exc.reason, "export it without it, or add it again from another copy") from exc
    from core.privacy import ps315

    report.enforced += ps315.enforce(before, after)
    result = ps315.check(before, after)
    if result.left_identifying:
        left = ", ".join(result.left_identifying)
        raise ImageReadError(source, f"de-identification left {left}", "it was not exported; remove those attributes with a DICOM editor")
    report.check.add(result)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as in _parse: the warnings quote values
        after.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def _parse(data: bytes, source: str) -> Any:
    from pydicom import dcmread

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's warnings quote element values, which can be patient data
            return dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # whatever the parser raises on odd data: this file is skipped, not the export
        reason = f"its DICOM header could not be read ({type(exc).__name__})"
        raise ImageReadError(source, reason, "export it again from the archive") from exc


def _png(data: bytes, record: ImageRecord, staging: Path) -> bytes:
    """The frame's decoded pixels as a PNG: 8-bit grey or RGB as they are, 16-bit grey as 16-bit, else the display."""
    import numpy as np
    from PIL import Image

    from core.imaging import load_image

    work = staging / ".source"
    work.mkdir(exist_ok=True)
    copy = work / f"image{Path(record.path).suffix.lower()}"  # the original name stays out of the export folder
    copy.write_bytes(data)
    try:
        image = load_image(copy, frame=record.frame)
    except ImageReadError as exc:
        raise ImageReadError(path_for_display(record.path), exc.reason, exc.advice) from exc
    finally:
        shutil.rmtree(work)
    pixels = image.pixels
    whole = bool(np.all(np.rint(pixels) == pixels))
    if whole and pixels.min() >= 0 and pixels.max() <= 255:
        picture = Image.fromarray(pixels.astype(np.uint8))
    elif whole and pixels.ndim == 2 and pixels.min() >= 0 and pixels.max() <= 65535:
        picture = Image.fromarray(pixels.astype(np.uint16))
    else:
        picture = Image.fromarray(np.ascontiguousarray(image.display))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _write_labels(path: Path, rows: list[tuple[str, str, int]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LABEL_COLUMNS)
        writer.writerows(rows)
