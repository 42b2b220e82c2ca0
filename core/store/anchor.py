"""The audit chain head kept outside the project file, so a rewritten log with a recomputed chain shows.

The hash chain inside the file proves rows were not changed one by one, but whoever can write the file
can rewrite the whole table and recompute every hash. So the head (last row id and hash) is also
recorded after commits (at most once a second, and on close: see :class:`Keeper`) in the user's
data folder (``$RARESIGHT_DATA_DIR`` or the platform's user data folder): one line appended to a
small file per project file, named by the SHA-256 of the file's resolved path (an append costs
microseconds; rewriting a file would cost each label 1 ms).
``verify`` then checks that the recorded row is still in the file with the same hash, and that hash
commits to every row before it. A file that goes further (written on another computer) is fine; a
recorded row that is gone or differs is not. The anchor never moves to a head that does not go on
from it, so the evidence stays.

Keyed by location, not by project: a copy of a project saved elsewhere and changed on its own is
another file with its own anchor, not a forgery of the first. Each line also names the project (the
hash of its first audit row), so a log rewritten from its very first row shows too.
Only hashes and ids are stored, never a path as text.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from core.store import audit
from core.store.records import Finding

log = logging.getLogger(__name__)

DATA_DIR_ENV = "RARESIGHT_DATA_DIR"
TAIL_BYTES = 1024  # several lines: the last whole one is the anchor
COMPACT_BYTES = 256 * 1024
INTERVAL_S = 1.0


@dataclass(frozen=True)
class Anchor:
    """What this computer last saw of the audit log of the project file at one location."""

    project_id: str
    head_id: int
    head_hash: str
    recorded_at: str


def anchor_dir() -> Path:
    """$RARESIGHT_DATA_DIR/audit-anchors, else the platform's user data folder for RareSight."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override) / "audit-anchors"
    import platformdirs  # only when a project is written or verified

    return Path(platformdirs.user_data_dir("raresight", appauthor=False)) / "audit-anchors"


def project_id(conn: sqlite3.Connection) -> str | None:
    """The project's id: the hash of its first audit row (written when the project was made)."""
    row = conn.execute("SELECT hash FROM audit WHERE id = 1").fetchone()
    return None if row is None else str(row[0])


def _anchor_file(path: Path) -> Path:
    return anchor_dir() / f"{hashlib.sha256(os.fsencode(path.resolve())).hexdigest()}.heads"


def load(path: Path) -> Anchor | None:
    """The last head recorded for the project file at ``path`` (its anchor file's last whole line), or None."""
    try:
        with _anchor_file(path).open("rb") as fh:
            start = max(fh.seek(0, os.SEEK_END) - TAIL_BYTES, 0)
            fh.seek(start)
            lines = fh.read().decode("ascii", "replace").split("\n")
    except OSError:
        return None
    for line in reversed(lines[1:] if start else lines):  # a line cut by the tail or by a kill does not parse
        fields = line.split(" ")
        if len(fields) == 4 and len(fields[0]) == 64 and fields[1].isdigit() and len(fields[2]) == 64:
            return Anchor(fields[0], int(fields[1]), fields[2], fields[3])
    return None


def _hash_of_row(conn: sqlite3.Connection, row_id: int) -> str | None:
    row = conn.execute("SELECT hash FROM audit WHERE id = ?", (row_id,)).fetchone()
    return None if row is None else str(row[0])


def record(conn: sqlite3.Connection, path: Path) -> None:
    """Move the anchor of the file at ``path`` to its current head (after a commit, or on opening for writing).

    Best effort: a data folder that cannot be written costs the evidence, never the commit.
    """
    try:
        project = project_id(conn)
        head_id, head_hash = audit.head(conn)
        if project is None:
            return
        previous = load(path)
        if previous is not None and previous.project_id == project:
            if (previous.head_id, previous.head_hash) == (head_id, head_hash):
                return
            if _hash_of_row(conn, previous.head_id) != previous.head_hash:
                log.warning("the audit log does not go on from the head recorded on this computer; the anchor was kept")
                return
        _append(path, Anchor(project, head_id, head_hash, audit.now()))
    except (OSError, sqlite3.Error, ValueError) as exc:  # ValueError: a damaged head in meta
        log.warning("could not record the audit head outside the project: %s", exc)


def _append(path: Path, anchor: Anchor) -> None:
    target = _anchor_file(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = f"{anchor.project_id} {anchor.head_id} {anchor.head_hash} {anchor.recorded_at}\n".encode("ascii")
    # One small O_APPEND write: whole even with two processes writing; a line a kill cut does not parse.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > COMPACT_BYTES:
        temp = target.with_name(f".{target.stem}.{os.getpid()}.tmp")
        temp.write_bytes(line)
        os.replace(temp, target)  # keep only the last head: it commits to every row before it


class Keeper:
    """Records the head after commits at most every :data:`INTERVAL_S`, and the last one on close.

    Appending costs microseconds, but on a disk busy with syncs a metadata update can wait for the
    file system's journal (2 ms a label, measured); a head a second old after a crash is still a
    head of the log, so the evidence holds.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._recorded_at = -INTERVAL_S
        self._pending = False

    def after_commit(self, conn: sqlite3.Connection) -> None:
        if time.monotonic() - self._recorded_at < INTERVAL_S:
            self._pending = True
            return
        self.flush(conn, force=True)

    def flush(self, conn: sqlite3.Connection, force: bool = False) -> None:
        if self._pending or force:
            record(conn, self.path)
            self._recorded_at, self._pending = time.monotonic(), False


def check(conn: sqlite3.Connection, path: Path) -> list[Finding]:
    """Findings when the audit log is not the one this computer recorded for this file (none when no record)."""
    project = project_id(conn)
    anchor = load(path)
    if project is None or anchor is None:
        return []
    when = f"on {anchor.recorded_at[:19].replace('T', ' ')} UTC"
    if anchor.project_id != project:
        message = (
            f"this computer recorded another audit log for this file {when} (its first row differs): "
            "the log was rewritten from its first row, or the file was replaced by another project"
        )
        return [Finding("audit", message)]
    stored = _hash_of_row(conn, anchor.head_id)
    if stored is None:
        message = (
            f"the audit log ends at row {audit.head(conn)[0]}, but this computer recorded row {anchor.head_id} {when}: "
            "rows were removed, or this is an older copy of the project"
        )
        return [Finding("audit", message, anchor.head_id)]
    if stored != anchor.head_hash:
        message = (
            f"audit row {anchor.head_id} is not the row this computer recorded {when} "
            f"(hash {stored[:12]}..., recorded {anchor.head_hash[:12]}...): the audit log was rewritten and its hash chain recomputed"
        )
        return [Finding("audit", message, anchor.head_id)]
    return []
