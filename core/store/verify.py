"""``verify``: everything that can be checked about a project without changing it.

SQLite integrity and foreign keys, the schema, the audit hash chain, that every label row matches
the audit row written with it and every step is whole, stored model states against their audit
hashes, and the image files (missing, or changed since import).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from core.privacy.paths import from_stored, path_for_display
from core.store import audit, model, schema
from core.store.images import file_sha256
from core.store.records import Finding

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


def check_database(conn: sqlite3.Connection) -> list[Finding]:
    """SQLite's own integrity check, foreign keys, application id, schema version and tables."""
    findings = [Finding("integrity", f"SQLite integrity check: {msg}") for (msg,) in conn.execute("PRAGMA integrity_check") if msg != "ok"]
    for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
        findings.append(Finding("integrity", f"{table} row {rowid} refers to a missing {parent} row", rowid))
    app_id, version = schema.read_versions(conn)
    if app_id != schema.APPLICATION_ID:
        findings.append(Finding("schema", f"application id is {app_id:#x}, not a RareSight project"))
    older = version in schema.READABLE_WITHOUT_UPGRADE  # fine: upgraded the next time it is opened for writing
    if version != schema.SCHEMA_VERSION and not older:
        findings.append(Finding("schema", f"schema version {version}, expected {schema.SCHEMA_VERSION}"))
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = sorted(schema.tables_of(version if older else schema.SCHEMA_VERSION) - names)
    if missing:
        findings.append(Finding("schema", f"missing tables: {', '.join(missing)}"))
    return findings


def check_triggers(conn: sqlite3.Connection) -> list[Finding]:
    """The append-only guards are still there (someone editing the file by hand drops them first)."""
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    return [
        Finding("schema", f"trigger {name} is missing: the file was edited outside RareSight (append-only guard removed)")
        for name in schema.trigger_names()
        if name not in present
    ]


def check_audit(conn: sqlite3.Connection) -> list[Finding]:
    problem = audit.verify_chain(conn)
    return [] if problem is None else [Finding("audit", problem.message, problem.row_id)]


def _class_names_over_time(conn: sqlite3.Connection) -> Callable[[int, int], str | None]:
    """name_at(class id, audit row id): the class's name when that audit row was written (renames followed)."""
    current = {int(i): str(n) for i, n in conn.execute("SELECT id, name FROM classes")}
    renames: dict[int, list[tuple[int, str]]] = {}
    for row_id, text in conn.execute("SELECT id, details FROM audit WHERE action = 'class_renamed' ORDER BY id DESC"):
        details = json.loads(text)
        renames.setdefault(int(details["class_id"]), []).append((int(row_id), str(details["old"])))

    def name_at(class_id: int, audit_row: int) -> str | None:
        name = current.get(int(class_id))
        for rename_row, old in renames.get(int(class_id), []):  # newest first: undo renames made later
            if rename_row > audit_row:
                name = old
        return name

    return name_at


def check_labels(conn: sqlite3.Connection) -> list[Finding]:
    """Every label row has its audit row (same image, class, step, actor, time), and the reverse."""
    findings: list[Finding] = []
    name_at = _class_names_over_time(conn)
    recorded: dict[int, tuple[int, dict[str, object]]] = {}
    for row_id, at, actor, text in conn.execute("SELECT id, at, actor, details FROM audit WHERE action = 'label'"):
        details = json.loads(text)
        details["_at"], details["_actor"] = at, actor
        recorded[int(details["label_id"])] = (int(row_id), details)
    for label_id, image_id, class_id, previous_id, step_id, actor, at in conn.execute(
        "SELECT id, image_id, class_id, previous_class_id, step_id, actor, created_at FROM labels ORDER BY id"
    ):
        entry = recorded.pop(int(label_id), None)
        if entry is None:
            findings.append(Finding("labels", f"label row {label_id} has no audit row (added behind RareSight's back)", label_id))
            continue
        d = entry[1]
        expected = (
            image_id,
            name_at(class_id, entry[0]) if class_id is not None else None,
            name_at(previous_id, entry[0]) if previous_id is not None else None,
        )
        if (d["image_id"], d["class"], d["previous"]) != expected or (d["step_id"], d["_actor"], d["_at"]) != (step_id, actor, at):
            findings.append(Finding("labels", f"label row {label_id} differs from audit row {entry[0]} (it was changed)", label_id))
    for label_id, (row_id, _) in sorted(recorded.items()):
        findings.append(Finding("labels", f"label row {label_id} recorded by audit row {row_id} is missing (it was deleted)", label_id))
    for step_id, n_labels, found in conn.execute(
        "SELECT s.id, s.n_labels, (SELECT COUNT(*) FROM labels l WHERE l.step_id = s.id) FROM steps s ORDER BY s.id"
    ):
        if n_labels != found:
            findings.append(Finding("labels", f"step {step_id} has {found} of its {n_labels} label rows (half-written)", step_id))
    return findings


def check_images(conn: sqlite3.Connection, hash_files: bool = True, progress: Progress | None = None) -> list[Finding]:
    """Image files missing or changed since import (embedded copies stand in for missing files).

    Each file is read at most once however many rows point at it (frames, or a file imported again
    after it changed), and each row is compared with what the file is now.
    """
    findings: list[Finding] = []
    embedded = {h for (h,) in conn.execute("SELECT content_hash FROM embedded_files")}
    rows = conn.execute("SELECT id, path, content_hash, size_bytes FROM images ORDER BY id").fetchall()
    files: dict[str, FileNow] = {}
    for index, (image_id, path, content_hash, size) in enumerate(rows):
        if progress is not None and index % 100 == 0:
            progress(index / max(len(rows), 1), f"checking image files {index}/{len(rows)}")
        problem = _file_problem(files, path, content_hash, int(size), hash_files)
        if problem is not None and content_hash not in embedded:
            findings.append(Finding("image", f"image {image_id}: {path_for_display(from_stored(path))}: {problem}", int(image_id)))
    return findings


#: What a file is now: (size, SHA-256 once computed, else None), or why it cannot be checked.
FileNow = tuple[int, str | None] | str


def _file_problem(files: dict[str, FileNow], stored: str, content_hash: str, size: int, hash_files: bool) -> str | None:
    """How the file at ``stored`` differs from a row that recorded ``content_hash`` and ``size`` (None: it does not)."""
    now = files.get(stored)
    if now is None:
        now = files[stored] = _stat(Path(from_stored(stored)))
    if isinstance(now, str):
        return now
    actual, digest = now
    if actual != size:
        return f"changed since import (size {actual} bytes, was {size})"
    if not hash_files:
        return None
    if digest is None:  # hashed only when a row's size matches, and then once
        try:
            digest = file_sha256(Path(from_stored(stored)))
        except OSError as exc:
            reason = f"cannot be read ({exc.strerror or exc})"
            files[stored] = reason
            return reason
        files[stored] = (actual, digest)
    return None if digest == content_hash else "changed since import (content hash differs)"


def _stat(path: Path) -> FileNow:
    try:
        info = path.stat()
    except FileNotFoundError:
        return "file missing; if the images were moved, run 'raresight project relink' with their new folder"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):  # hashing a FIFO would block forever
        return "is not a regular file any more (a folder, a pipe or a device); relink the project to the image files"
    return info.st_size, None


def check_embedded(conn: sqlite3.Connection) -> list[Finding]:
    """Embedded copies whose bytes no longer match their hash.

    A de-identified copy differs from its file by design: the ``images_added`` audit row that stored
    it records its own hash (``deidentified_copies``), and that is what it is checked against.
    """
    expected: dict[str, str] = {}
    for (text,) in conn.execute("SELECT details FROM audit WHERE action = 'images_added' AND details LIKE '%deidentified_copies%'"):
        expected.update(json.loads(text).get("deidentified_copies", {}))
    findings = []
    for content_hash, data in conn.execute("SELECT content_hash, data FROM embedded_files"):
        if hashlib.sha256(bytes(data)).hexdigest() != expected.get(content_hash, content_hash):
            findings.append(Finding("image", f"embedded copy {content_hash[:12]}... was changed after it was stored"))
    return findings


def verify(conn: sqlite3.Connection, check_files: bool = True, hash_files: bool = True, progress: Progress | None = None) -> list[Finding]:
    """Every finding, database first; an empty list means the project is sound."""
    checks: list[Callable[[], list[Finding]]] = [
        lambda: check_database(conn),
        lambda: check_audit(conn),
        lambda: check_labels(conn),
        lambda: model.check(conn),
        lambda: check_embedded(conn),
        lambda: check_triggers(conn),
    ]
    if check_files:
        checks.append(lambda: check_images(conn, hash_files, progress))
    findings: list[Finding] = []
    for check in checks:
        findings += guarded(check)
    log.info("verify: %d finding(s)", len(findings))
    return findings


def guarded(check: Callable[[], list[Finding]]) -> list[Finding]:
    """A check's findings; a damaged file can fail a check outright: reported, and the others go on."""
    try:
        return check()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        return [Finding("integrity", f"could not be checked: {exc}")]
    except (ValueError, KeyError, TypeError) as exc:  # an audit row whose JSON is not what it should be
        return [Finding("integrity", f"could not be checked: {type(exc).__name__}: {exc}")]
