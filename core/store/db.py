"""The SQLite connection of a project: pragmas, explicit transactions, errors a user can act on.

Writes run in ``BEGIN IMMEDIATE`` transactions: the write lock is taken up front, so two writers
(two windows, or the window and the command line) are serialised by SQLite's busy timeout instead of
failing half-way, and a reader never sees half a change (WAL gives every reader a snapshot).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from core.errors import ProjectError

log = logging.getLogger(__name__)

#: How long a writer waits for another writer before giving up (milliseconds).
BUSY_TIMEOUT_MS = 15_000


def translate(exc: sqlite3.Error, path: Path, doing: str) -> ProjectError:
    """An SQLite error as a ProjectError that names the file, what happened and what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        msg = f"{path}: busy while {doing}: another RareSight window or command is writing to it; try again when it has finished"
    elif name.startswith("SQLITE_FULL") or "full" in text:
        msg = (
            f"{path}: the disk is full (or the file reached its size limit) while {doing}; "
            "nothing from this step was saved; free some space and try again"
        )
    elif name.startswith("SQLITE_READONLY") or "readonly" in text:
        msg = f"{path}: is read-only, so {doing} is not possible; copy the project to a folder you can write to"
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        msg = (
            f"{path}: the project file is damaged ({text}) while {doing}; "
            "restore it from a backup; 'raresight project verify' lists what is wrong"
        )
    elif name.startswith("SQLITE_CANTOPEN"):
        msg = (
            f"{path}: could not be opened ({text}); "
            "check that the file and its folder exist and can be written, or that the disk is not full"
        )
    elif name.startswith("SQLITE_IOERR"):
        msg = f"{path}: disk error while {doing} ({text}); check the disk or network share and try again"
    else:
        msg = f"{path}: database error while {doing} ({text})"
    return ProjectError(msg)


def is_read_only(*paths: Path) -> bool:
    """True when any of ``paths`` (files or folders) cannot, or should not, be written.

    Write permission bits are honoured even for an administrator: a project someone marked
    read-only is treated as read-only.
    """
    for target in paths:
        try:
            mode = target.stat().st_mode
        except OSError:
            return True
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
            return True
    return False


def _uri(path: Path, readonly: bool, immutable: bool = False) -> str:
    uri = "file:" + quote(str(path.resolve()))
    if readonly:
        uri += "?mode=ro" + ("&immutable=1" if immutable else "")
    else:
        uri += "?mode=rw"
    return uri


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), foreign keys on, WAL.

    A read-only connection to a WAL project in a read-only folder falls back to SQLite's immutable
    mode, which is safe only when no ``-wal`` file holds unsaved changes (checked here).
    """
    try:
        conn = sqlite3.connect(
            _uri(path, readonly), uri=True, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        try:
            _configure(conn, readonly)
        except sqlite3.Error:
            conn.close()
            raise
        return conn
    except sqlite3.OperationalError as exc:
        if not readonly or os.access(path.parent, os.W_OK):
            raise translate(exc, path, "opening it") from exc
        wal = Path(str(path) + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ProjectError(
                f"{path}: has changes not yet merged into the file ({wal.name}) and its folder is read-only; "
                "copy the folder somewhere writable and open it there"
            ) from exc
    try:
        conn = sqlite3.connect(_uri(path, True, immutable=True), uri=True, isolation_level=None, check_same_thread=False)
        _configure(conn, True)
    except sqlite3.Error as exc:
        raise translate(exc, path, "opening it") from exc
    return conn


def _configure(conn: sqlite3.Connection, readonly: bool) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA schema_version").fetchone()  # opens the file now, so failures surface here
    if not readonly:
        # FULL: a committed label survives a power cut, not only a crash of the program.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")


class Database:
    """One project connection, shared by threads under a lock, with explicit transactions."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self.lock = threading.RLock()

    @contextmanager
    def write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: all of it is saved, or none of it."""
        if self.readonly:
            raise ProjectError(f"{self.path}: opened read-only, so {doing} is not possible")
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(exc, self.path, doing) from exc
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise translate(exc, self.path, doing) from exc
            except Exception:
                self._rollback()
                raise

    @contextmanager
    def read(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same snapshot."""
        with self.lock:
            try:
                self.conn.execute("BEGIN")
            except sqlite3.Error as exc:
                raise translate(exc, self.path, doing) from exc
            try:
                yield self.conn
            except sqlite3.Error as exc:
                raise translate(exc, self.path, doing) from exc
            finally:
                self._rollback()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("rollback failed", exc_info=True)

    def close(self) -> None:
        with self.lock:
            try:
                self.conn.close()
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "closing it") from exc
