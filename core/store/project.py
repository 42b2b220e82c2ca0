"""The project: one SQLite file holding images, classes, labels, model states, predictions and the audit log.

>>> with Project.create("study.raresight") as project:
...     report = project.add_images(["scans/"], recursive=True, class_name="sarcoidosis")
...     project.label([report.added[0]], "normal")
...     project.undo()

Every change is one transaction: all of it is saved, or none of it. Opening refuses, without writing
anything, a file that is not a project, a damaged or truncated one, or one from a newer RareSight.
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from core.errors import Cancelled, ImageReadError, ProjectError
from core.imaging import iter_files
from core.store import anchor, audit, db, images, labels, lifecycle, model, pacs_instances, relink, schema, undo, verify, wal
from core.store.records import (
    AuditHead,
    ClassInfo,
    Finding,
    ImageRecord,
    ImportReport,
    LabelEvent,
    ModelState,
    PredictionRecord,
    ProjectInfo,
    RelinkReport,
    StepInfo,
    UndoState,
)

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

#: The actions ``record_event`` accepts (label changes and adaptations are audited by their own calls).
EVENT_ACTIONS = frozenset({"override", "export", "note"})


def default_actor() -> str:
    """Who is working: the operating-system login name."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


class Project:
    """An open project file. Use :meth:`create` or :meth:`open`, ideally as a context manager.

    Methods may be called from any thread; calls are serialised on one connection. Long calls take
    ``progress(fraction, message)`` and ``is_cancelled()`` callables.
    """

    def __init__(self, database: db.Database, actor: str) -> None:
        self._db = database
        self.actor = actor
        self._warnings: list[Finding] = []  # what opening found beside the file (verify reports it)
        self._anchor: anchor.Keeper | None = None  # the audit head kept outside the file (written sessions)

    # -- opening and closing ---------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], actor: str | None = None) -> Project:
        """Create a new, empty project file (refuses to replace an existing file)."""
        target = Path(path)
        if target.exists():
            raise ProjectError(f"{target}: already exists; open it, or choose another name for the new project")
        if not target.parent.is_dir():
            raise ProjectError(f"{target}: the folder {target.parent} does not exist; create it first")
        if db.is_read_only(target.parent):
            raise ProjectError(f"{target}: the folder {target.parent} is read-only; choose a folder you can write to")
        who = actor or default_actor()
        lifecycle.create_file(target, who)
        log.info("created a project (schema %d)", schema.SCHEMA_VERSION)
        return cls.open(target, actor=who)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False, actor: str | None = None) -> Project:
        """Open an existing project; ``readonly`` for commands that only look (info, verify).

        A failed open leaves no side file behind that was not there before. A ``-wal`` of another
        file beside it is ignored read-only (``verify`` reports it) and refused for writing.
        """
        target = Path(path)
        schema.check_header(target)
        if not readonly and db.is_read_only(target, target.parent):
            raise ProjectError(
                f"{target}: the project file or its folder is read-only, so it cannot be changed; "
                "copy it to a folder you can write to (info and verify still work)"
            )
        before = wal.existing_side_files(target)
        try:
            return cls._connect(target, readonly, actor or default_actor())
        except Exception:
            wal.remove_new_side_files(target, before)
            raise

    @classmethod
    def _connect(cls, target: Path, readonly: bool, actor: str) -> Project:
        conn, warnings = lifecycle.connect_checked(target, readonly)
        database = db.Database(conn, target, readonly)
        project = cls(database, actor)
        project._warnings = warnings
        try:
            project._upgrade()
            if not readonly:
                project._anchor = anchor.Keeper(target)
                database.after_commit = project._anchor.after_commit
                with project._db.read("reading the audit head") as read_conn:
                    project._anchor.flush(read_conn, force=True)
        except Exception:
            database.close()
            raise
        return project

    def _upgrade(self) -> None:
        with self._db.read("reading the schema version") as conn:
            current = schema.read_versions(conn)[1]
        if current == schema.SCHEMA_VERSION or (self._db.readonly and current in schema.READABLE_WITHOUT_UPGRADE):
            return
        if self._db.readonly:
            raise ProjectError(
                f"{self.path}: uses project schema {current}; open it once for writing to upgrade it to {schema.SCHEMA_VERSION}"
            )
        lifecycle.backup(self._db.conn, self.path, Path(f"{self.path}.schema{current}.bak"))
        with self._db.write("upgrading the project schema") as conn:
            current = schema.read_versions(conn)[1]
            schema.check_version(self.path, current)
            passed = schema.migrate(conn, current)
            audit.append(conn, self.actor, "schema_migrated", {"from": passed[0], "to": passed[-1], "app_version": lifecycle.app_version()})

    def close(self) -> None:
        try:
            if self._anchor is not None:
                with self._db.read("reading the audit head") as conn:
                    self._anchor.flush(conn)
        finally:
            self._db.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def readonly(self) -> bool:
        return self._db.readonly

    # -- classes and images ------------------------------------------------------------------------

    def add_class(self, name: str, description: str = "", colour: str = "") -> ClassInfo:
        """Add a class (or return the existing one of that name)."""
        with self._db.write(f"adding class {name!r}") as conn:
            new_id = labels.ensure_class(conn, name, self.actor, description, colour)
            return next(c for c in labels.classes(conn) if c.id == new_id)

    def classes(self) -> list[ClassInfo]:
        with self._db.read("reading classes") as conn:
            return labels.classes(conn)

    def add_images(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        recursive: bool = False,
        class_name: str | None = None,
        relabel: bool = False,
        embed: bool = False,
        progress: Progress | None = None,
        is_cancelled: Callable[[], bool] | None = None,
        batch_size: int = 32,
        on_committed: Callable[[ImportReport], None] | None = None,
    ) -> ImportReport:
        """Import image files (folders expanded); unreadable files are listed in the report, not raised.

        With ``class_name`` the files are labelled as that class, except images the project already
        has under another class: those keep their label (``report.label_conflicts``) unless
        ``relabel`` (then ``report.relabelled``; the audit records each change with its old class).
        Files are decoded outside any transaction and saved in batches of ``batch_size``, each in one
        transaction (``on_committed`` is called after each with the running report). Cancelling saves
        what was read so far and raises :class:`Cancelled`.
        """
        report = ImportReport()
        # FIFOs, sockets and devices inside folders: listed with the reason, never opened (a FIFO blocks)
        files = list(iter_files(paths, recursive, on_skip=lambda path, reason: report.failed.append((str(path), f"{path}: {reason}"))))
        save = functools.partial(self._save_batch, class_name=class_name, relabel=relabel, report=report, on_committed=on_committed)
        batch: list[ImageRecord] = []
        blobs: dict[str, bytes] = {}
        for index, file in enumerate(files):
            if is_cancelled is not None and is_cancelled():
                save(batch, blobs)
                raise Cancelled(f"import cancelled; the {len(report.added)} image(s) read so far are saved")
            try:
                record, data = images.read_record(file, embed)
            except ImageReadError as exc:
                report.failed.append((str(file), str(exc)))
                continue
            batch.append(record)
            if data is not None:
                blobs[record.content_hash] = data
            if len(batch) >= batch_size:
                save(batch, blobs)
                batch, blobs = [], {}
            if progress is not None:
                progress((index + 1) / len(files), f"imported {index + 1} of {len(files)} file(s)")
        save(batch, blobs)
        return report

    def add_records(
        self,
        records: Sequence[ImageRecord],
        *,
        class_name: str | None = None,
        relabel: bool = False,
        embedded: dict[str, bytes] | None = None,
    ) -> ImportReport:
        """Insert already-read image records in one transaction (imports, benchmarks, tests)."""
        report = ImportReport()
        self._save_batch(list(records), embedded or {}, class_name=class_name, relabel=relabel, report=report, on_committed=None)
        return report

    def pacs_known(self, server_sha256: str, instance_sha256s: Iterable[str]) -> set[str]:
        """Which instances (SHA-256 of their SOP Instance UID) the project already has from that server."""
        with self._db.read("looking up instances imported from a PACS") as conn:
            return pacs_instances.known(conn, server_sha256, instance_sha256s)

    def add_retrieved(
        self,
        retrieved: Sequence[pacs_instances.Retrieved],
        server_sha256: str,
        *,
        class_name: str | None = None,
        known: Iterable[str] = (),
    ) -> pacs_instances.RetrievalSaved:
        """Add instances retrieved from a PACS (decoded, de-identified copies) in one transaction: all, or none.

        With ``class_name`` the new images are labelled, and so are the images of the ``known``
        instances (imported before), except images already in another class (``label_conflicts``).
        """
        with self._db.write(f"saving {len(retrieved)} image(s) retrieved from a PACS") as conn:
            return pacs_instances.save(conn, retrieved, server_sha256, self.actor, class_name, known)

    def _save_batch(
        self,
        batch: list[ImageRecord],
        blobs: dict[str, bytes],
        *,
        class_name: str | None,
        relabel: bool,
        report: ImportReport,
        on_committed: Callable[[ImportReport], None] | None,
    ) -> None:
        if not batch:
            return
        with self._db.write(f"saving {len(batch)} imported image(s)") as conn:
            added, duplicates = images.insert(conn, batch, self.actor, blobs)
            step, conflicts = None, []
            if class_name is not None:
                conflicts = labels.conflicts(conn, duplicates, class_name)
                kept = set() if relabel else {c.image_id for c in conflicts}
                ids = added + [image_id for _, image_id in duplicates if image_id not in kept]
                what = f"import {len(ids)} image(s) as {class_name!r}"
                what += f", relabelling {len(conflicts)}" if relabel and conflicts else ""
                step = labels.label(conn, ids, class_name, self.actor, description=what)
        report.added += added
        report.duplicates += duplicates
        report.labelled += 0 if step is None else step.n_labels
        (report.relabelled if relabel else report.label_conflicts).extend(conflicts)
        if on_committed is not None:
            on_committed(report)

    def images(self) -> list[ImageRecord]:
        with self._db.read("reading images") as conn:
            return images.all_images(conn)

    def image(self, image_id: int) -> ImageRecord | None:
        with self._db.read("reading an image") as conn:
            return images.get(conn, image_id)

    def thumbnail(self, image_id: int) -> bytes | None:
        """The image's thumbnail as PNG bytes (at most 96 x 96 pixels)."""
        with self._db.read("reading a thumbnail") as conn:
            return images.thumbnail(conn, image_id)

    def image_bytes(self, image_id: int) -> bytes:
        """The image file's bytes: the embedded copy if there is one, else the file on disk."""
        record = self.image(image_id)
        if record is None:
            raise ProjectError(f"{self.path}: no image {image_id} in the project")
        with self._db.read("reading an embedded image") as conn:
            data = images.embedded_bytes(conn, record.content_hash)
        if data is not None:
            return data
        try:
            return Path(record.path).read_bytes()
        except OSError as exc:
            raise ProjectError(
                f"image {image_id}: {record.path} cannot be read ({exc.strerror or exc}); "
                "if the images were moved, relink the project to their new folder"
            ) from exc

    def find_images(self, paths: Iterable[str | os.PathLike[str]]) -> tuple[dict[str, list[int]], list[str]]:
        """Images behind each path (by path, else by content hash), and the paths matching none."""
        with self._db.read("looking up images") as conn:
            return images.ids_for_paths(conn, paths)

    # -- labels, undo, redo ------------------------------------------------------------------------

    def label(self, image_ids: Iterable[int], class_name: str | None, note: str = "") -> StepInfo | None:
        """Label images as ``class_name`` (None removes the label) in one undoable step.

        ``note`` is kept with each label and in the audit log (e.g. "overrides model 3").
        """
        with self._db.write("saving labels") as conn:
            return labels.label(conn, image_ids, class_name, self.actor, note)

    def labels(self) -> dict[int, str]:
        """image id -> class name for every labelled image."""
        with self._db.read("reading labels") as conn:
            return labels.current_labels(conn)

    def label_history(self, image_id: int) -> list[LabelEvent]:
        with self._db.read("reading label history") as conn:
            return labels.history(conn, image_id)

    def undo(self) -> StepInfo | None:
        """Undo the latest labelling step; None when there is nothing to undo."""
        with self._db.write("undoing a labelling step") as conn:
            return undo.undo(conn, self.actor)

    def redo(self) -> StepInfo | None:
        """Redo the step undone last; None when there is nothing to redo."""
        with self._db.write("redoing a labelling step") as conn:
            return undo.redo(conn, self.actor)

    def undo_state(self) -> UndoState:
        with self._db.read("reading the undo history") as conn:
            return undo.state(conn)

    # -- model states and predictions --------------------------------------------------------------

    def save_model_state(self, state: ModelState) -> int:
        """Store an adapted model as the next version (audited as an adaptation); returns the version."""
        with self._db.write("saving the model state") as conn:
            return model.save(conn, state, self.actor)

    def model_state(self, version: int | None = None) -> ModelState | None:
        with self._db.read("reading the model state") as conn:
            return model.load(conn, version)

    def model_settings(self, version: int | None = None) -> tuple[int, dict[str, Any]] | None:
        """The version and settings of a model state (the latest when None), without loading its arrays."""
        with self._db.read("reading the model settings") as conn:
            return model.load_settings(conn, version)

    def add_predictions(self, version: int, records: Sequence[PredictionRecord]) -> int:
        with self._db.write("saving predictions") as conn:
            return model.add_predictions(conn, version, records, self.actor)

    def predictions(self, version: int | None = None) -> list[PredictionRecord]:
        with self._db.read("reading predictions") as conn:
            return model.predictions(conn, version)

    # -- audit, info, verify, relink ---------------------------------------------------------------

    def record_event(self, action: str, details: dict[str, Any]) -> int:
        """Audit an override, an export or a note; returns the audit row id."""
        if action not in EVENT_ACTIONS:
            raise ProjectError(f"cannot record {action!r}: use one of {', '.join(sorted(EVENT_ACTIONS))}")
        with self._db.write(f"recording an {action}") as conn:
            return audit.append(conn, self.actor, action, audit.without_paths(details))

    def audit_log(self, action: str | None = None, limit: int | None = None) -> list[audit.AuditEntry]:
        with self._db.read("reading the audit log") as conn:
            return audit.entries(conn, action, limit)

    def info(self) -> ProjectInfo:
        with self._db.read("reading project counts") as conn:
            return ProjectInfo(
                path=str(self.path),
                schema_version=schema.read_versions(conn)[1],
                images=_count(conn, "SELECT COUNT(*) FROM images"),
                labelled_images=_count(
                    conn, "SELECT COUNT(*) FROM labels WHERE class_id IS NOT NULL AND id IN (SELECT MAX(id) FROM labels GROUP BY image_id)"
                ),
                classes=labels.class_counts(conn),
                model_version=model.latest_version(conn),
                embedded_images=_count(conn, "SELECT COUNT(*) FROM images WHERE content_hash IN (SELECT content_hash FROM embedded_files)"),
                predictions=_count(conn, "SELECT COUNT(*) FROM predictions"),
                audit_entries=audit.head(conn)[0],
                created_at=str((conn.execute("SELECT value FROM meta WHERE key = 'created_at'").fetchone() or [""])[0]),
                read_only=self.readonly,
            )

    def verify(self, *, check_files: bool = True, hash_files: bool = True, progress: Progress | None = None) -> list[Finding]:
        """Everything wrong with the project (empty when it is sound); changes nothing in the project."""
        with self._db.read("verifying the project") as conn:
            findings = verify.verify(conn, check_files, hash_files, progress)
            findings += verify.guarded(lambda: anchor.check(conn, self.path))
        return self._warnings + findings

    def audit_head(self) -> AuditHead:
        """The audit log's last row and its chain hash: print it in reports and exports, so a later
        rewrite of the log (even with a recomputed chain) can be told from the printed copy."""
        with self._db.read("reading the audit head") as conn:
            row_id, row_hash = audit.head(conn)
        return AuditHead(row_id, row_hash)

    def relink(
        self, folder: str | os.PathLike[str], progress: Progress | None = None, is_cancelled: Callable[[], bool] | None = None
    ) -> RelinkReport:
        """Find images whose files moved in ``folder`` (recursively) by content hash, and point at them."""
        root = Path(folder)
        with self._db.read("looking for missing images") as conn:
            missing = relink.wanted(conn)
        moves, scanned = relink.find_moves(missing, root, progress, is_cancelled) if missing else ({}, 0)
        with self._db.write("relinking images") as conn:
            relink.apply(conn, moves, self.actor)
        still = [m.image_id for m in missing if m.image_id not in moves]
        return RelinkReport(sorted(moves), still, scanned)


def _count(conn: sqlite3.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])
