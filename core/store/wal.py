"""SQLite's side files beside a project: a ``-wal`` of another file, and side files a failed open made.

SQLite cannot tell whose ``-wal`` lies beside a file: it replays any valid one into what it reads (and
a writer would checkpoint it into the file for good). So before opening, a non-empty ``-wal`` is
tested: the project read alone (immutable, the WAL ignored) and read with the WAL must be the same
project (same first audit row) and the WAL may only add to its audit log (the head the file alone
records is still in the log read with the WAL). Every write is checkpointed, so a WAL of this
project holds only the commit being written when a process died: it always passes. When the file
alone cannot be read (a checkpoint cut half-way needs its WAL), the WAL is trusted.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from core.errors import ProjectError
from core.store import db

WAL_HEADER_BYTES = 32
_SUFFIXES = ("-wal", "-shm")


def side_files(path: Path) -> list[Path]:
    """The ``-wal`` and ``-shm`` files SQLite keeps beside ``path`` (whether they exist or not)."""
    real = path.resolve()
    return [Path(f"{real}{suffix}") for suffix in _SUFFIXES]


def existing_side_files(path: Path) -> set[Path]:
    return {side for side in side_files(path) if side.exists()}


def remove_new_side_files(path: Path, before: set[Path]) -> None:
    """After a failed open: remove the side files that open made (never a ``-wal`` holding pages)."""
    for side in side_files(path):
        if side in before or not side.exists():
            continue
        with contextlib.suppress(OSError):
            if not side.name.endswith("-wal") or side.stat().st_size == 0:
                side.unlink()


def _identity(conn: sqlite3.Connection) -> tuple[str, int, str]:
    """(hash of audit row 1, head id, head hash): who the project is and how far its log goes."""
    first = conn.execute("SELECT hash FROM audit WHERE id = 1").fetchone()
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('audit_head_id', 'audit_head_hash')").fetchall())
    return str(first[0] if first else ""), int(rows.get("audit_head_id", 0)), str(rows.get("audit_head_hash", ""))


def foreign_wal(path: Path) -> str | None:
    """Why the ``-wal`` beside ``path`` is not this project's, or None (absent, empty, or this project's)."""
    wal = side_files(path)[0]
    try:
        if wal.stat().st_size <= WAL_HEADER_BYTES:
            return None
    except OSError:
        return None
    try:
        alone = _read(path, ignore_wal=True)
    except (ProjectError, *db.StoreError):
        return None  # the file alone is not readable: it may need this WAL (a checkpoint cut short)
    before = existing_side_files(path)
    reason = _mismatch(path, wal, alone)
    if reason is not None:
        remove_new_side_files(path, before)  # the -shm SQLite made to read the foreign WAL
    return reason


def _mismatch(path: Path, wal: Path, alone: tuple[str, int, str, str]) -> str | None:
    try:
        first, _, _, row_hash = _read(path, ignore_wal=False, head_id=alone[1])
    except (ProjectError, *db.StoreError) as exc:
        return f"{wal.name} holds pages that do not fit the project file ({exc})"
    if first != alone[0]:
        return f"{wal.name} belongs to another project (its audit log starts with another row)"
    if row_hash != alone[2]:
        return f"{wal.name} belongs to another copy of this project (its audit log does not go on from the file's row {alone[1]})"
    return None


def _read(path: Path, ignore_wal: bool, head_id: int = 0) -> tuple[str, int, str, str]:
    conn = db.connect(path, readonly=True, ignore_wal=ignore_wal)
    try:
        conn.execute("BEGIN")
        first, last_id, last_hash = _identity(conn)
        row = conn.execute("SELECT hash FROM audit WHERE id = ?", (head_id,)).fetchone()
        return first, last_id, last_hash, str(row[0]) if row else ""
    finally:
        conn.close()
