"""WADO-RS retrieval of chosen series into a project: everything, or nothing.

Every instance is first fetched into a private temporary folder (in the transfer syntax the server
stores it in, so compressed pixel data arrive compressed), then decoded through the project's
decoder boundary and de-identified (PS3.15 basic profile, as ``project add --embed`` does), and only
then added, all in one transaction, as embedded copies. A server that fails, a timeout or a cancel
before that point leaves the project unchanged; the temporary folder is always removed.

Instances already imported from the same server (SOP Instance UID, compared by SHA-256) are not
fetched again.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ImageReadError
from core.pacs.client import open_client, request
from core.pacs.search import InstanceRef, list_instances, search_series
from core.pacs.types import PacsCancelled, PacsError, PacsImportReport, PacsServer, SeriesHit
from core.store.pacs_instances import Retrieved, sha256_text

if TYPE_CHECKING:
    from core.store import Project

log = logging.getLogger(__name__)

#: Ask for each instance as stored: no transcoding on the server (which may not support it).
AS_STORED = (("application/dicom", "*"),)


def import_from_pacs(
    project: Project,
    server: PacsServer,
    study_uid: str,
    series_uids: Sequence[str] | None = None,
    *,
    class_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> PacsImportReport:
    """Retrieve the chosen series of a study (all of them when ``series_uids`` is None) into ``project``.

    ``progress(retrieved, total)`` is called after each instance is fetched (``total``: the instances
    not imported before); ``is_cancelled()`` is checked before each fetch (a fetch under way ends, or
    times out after ``server.timeout_s``, first), between decodes and before saving. With
    ``class_name`` the images are labelled as that class (images the project already has under
    another class keep their label).

    Raises PacsUnreachable, PacsAuthError, PacsTimeout, PacsError (the study or a series is not on
    the server), or PacsCancelled; in every case nothing was added.
    """
    report = PacsImportReport(server=server.display_url)
    client = open_client(server)
    refs = [ref for series in _chosen_series(server, study_uid, series_uids) for ref in list_instances(client, server, study_uid, series)]
    if not refs:
        raise PacsError(f"{server.display_url}: the chosen series have no instances on this server; search again and choose another")
    server_sha256 = sha256_text(server.display_url)
    hashes = {ref.sop_uid: sha256_text(ref.sop_uid) for ref in refs}
    known = project.pacs_known(server_sha256, hashes.values())
    todo = [ref for ref in refs if hashes[ref.sop_uid] not in known]
    report.duplicates = len(refs) - len(todo)
    earlier = [hashes[ref.sop_uid] for ref in refs if hashes[ref.sop_uid] in known]
    if not todo:
        if class_name is not None:  # imported before, unlabelled or in this class: labelled now
            project.add_retrieved([], server_sha256, class_name=class_name, known=earlier)
        return report
    with tempfile.TemporaryDirectory(prefix="raresight-pacs-") as tmp:
        fetched = _fetch_all(client, server, todo, Path(tmp), report, progress, is_cancelled)
        retrieved = []
        for ref, path in fetched:
            _check(server, is_cancelled)
            if (item := _decode(ref, path, hashes[ref.sop_uid], report)) is not None:
                retrieved.append(item)
        _check(server, is_cancelled)
        saving = retrieved or (earlier and class_name is not None)
        saved = project.add_retrieved(retrieved, server_sha256, class_name=class_name, known=earlier) if saving else None
    if saved is not None:
        report.imported = len(saved.added)
        report.duplicates += len(saved.existing)
    log.info("PACS import: %d image(s) added, %d already there, %d failed", report.imported, report.duplicates, len(report.failed))
    return report


def _chosen_series(server: PacsServer, study_uid: str, series_uids: Sequence[str] | None) -> list[SeriesHit]:
    """The study's series, in series-number order; only those in ``series_uids`` when given."""
    listed = search_series(server, study_uid)
    if not listed:
        raise PacsError(f"{server.display_url}: no such study on this server (or it has no series); search again with its filters")
    if series_uids is None:
        return listed
    wanted = list(dict.fromkeys(series_uids))
    by_uid = {hit.series_uid: hit for hit in listed}
    missing = [uid for uid in wanted if uid not in by_uid]
    if missing:
        raise PacsError(
            f"{server.display_url}: {len(missing)} of the chosen series are not in that study; list its series again and choose from them"
        )
    return [by_uid[uid] for uid in wanted]


def _fetch_all(
    client: Any,
    server: PacsServer,
    todo: Sequence[InstanceRef],
    folder: Path,
    report: PacsImportReport,
    progress: Callable[[int, int], None] | None,
    is_cancelled: Callable[[], bool] | None,
) -> list[tuple[InstanceRef, Path]]:
    """Fetch every instance into ``folder`` (checking for a cancel before each, reporting progress after)."""
    fetched = []
    for index, ref in enumerate(todo):
        _check(server, is_cancelled)
        path = _fetch(client, server, ref, folder / f"instance-{index:05d}.dcm", report)
        if path is not None:
            fetched.append((ref, path))
        if progress is not None:
            progress(index + 1, len(todo))
    return fetched


def _check(server: PacsServer, is_cancelled: Callable[[], bool] | None) -> None:
    if is_cancelled is not None and is_cancelled():
        raise PacsCancelled(f"{server.display_url}: import cancelled; nothing was added to the project")


def _fetch(client: Any, server: PacsServer, ref: InstanceRef, path: Path, report: PacsImportReport) -> Path | None:
    """Fetch one instance into ``path``; None (and a reason in ``report.failed``) when what came is not DICOM."""
    from pydicom.errors import InvalidDicomError

    try:
        dataset = request(
            server,
            f"retrieving {_name(ref)}",
            lambda: client.retrieve_instance(ref.study_uid, ref.series_uid, ref.sop_uid, media_types=AS_STORED),
        )
    except InvalidDicomError:
        report.failed.append(f"{_name(ref)}: the server sent something that is not a DICOM file")
        return None
    try:
        dataset.save_as(path, enforce_file_format=True)
    except (ValueError, AttributeError, TypeError) as exc:  # a header pydicom cannot write back (missing file meta)
        report.failed.append(f"{_name(ref)}: could not be written as a DICOM file ({type(exc).__name__})")
        return None
    except OSError as exc:
        raise PacsError(
            f"{server.display_url}: could not write a retrieved instance to the temporary folder ({exc.strerror or exc}); "
            "free some disk space and try again"
        ) from exc
    return path


def _decode(ref: InstanceRef, path: Path, instance_sha256: str, report: PacsImportReport) -> Retrieved | None:
    """Decode and de-identify one fetched file; None (and the reason in ``report.failed``) when it does not decode."""
    from core.store.images import read_record

    try:
        record, data = read_record(path, embed=True)
    except ImageReadError as exc:
        reason = exc.reason + (f"; {exc.advice}" if exc.advice else "")
        report.failed.append(f"{_name(ref)}: {reason}")
        return None
    copy = path.with_suffix(".copy")
    copy.write_bytes(data or b"")
    # no UID and no server address: the study by a short hash of its UID, an instance without a number by one of its own
    study = sha256_text(ref.study_uid)[:8]
    number = instance_sha256[:8] if ref.number is None else str(ref.number)
    name = f"PACS/study-{study}/series-{_number(ref.series_number)}-instance-{number}.dcm"
    return Retrieved(dataclasses.replace(record, path=name, imported_path=name), copy, instance_sha256)


def _name(ref: InstanceRef) -> str:
    """How a message names an instance: by numbers, never by UID."""
    return f"instance {_number(ref.number)} of series {_number(ref.series_number)}"


def _number(value: int | None) -> str:
    return "?" if value is None else str(value)
