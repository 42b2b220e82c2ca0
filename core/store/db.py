"""The SQLite connection of a project: pragmas, explicit transactions, errors a user can act on.

Writes run in ``BEGIN IMMEDIATE`` transactions: the write lock is taken up front, so two writers
(two windows, or the window and the command line) are serialised by SQLite's busy timeout instead of
failing half-way, and a reader never sees half a change (WAL gives every reader a snapshot).

After every commit the WAL is checkpointed into the project file, so the ``.raresight`` file is
complete on its own whenever no write is in flight: a user who copies or mails the file alone
(it is "one file") takes every committed change with it. WAL, not a rollback journal, because a
reader (a long ``verify``, the window) never blocks a writer in another process.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from core.errors import ProjectError

log = logging.getLogger(__name__)

#: How long a writer waits for another writer before giving up (milliseconds).
BUSY_TIMEOUT_MS = 15_000
#: How long the checkpoint after a commit waits for readers in other processes (milliseconds); past
#: it, it merges what it can without waiting and the next commit (or the last close) merges the rest.
CHECKPOINT_WAIT_MS = 50

#: Errors reading or writing a project that a user gets as a ProjectError: SQLite's own, and stored
#: text that is not valid UTF-8 (a damaged or hand-edited file).
StoreError = (sqlite3.Error, UnicodeDecodeError)


def translate(exc: sqlite3.Error | UnicodeDecodeError, path: Path, doing: str) -> ProjectError:
    """An SQLite or text-decoding error as a ProjectError that names the file, what happened and what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or "decode to UTF-8" in text:
        msg = (
            f"{path}: the project file is damaged while {doing}: it holds text that is not valid UTF-8 "
            f"(edited outside RareSight, or a damaged disk); restore it from a backup; 'raresight project verify' lists what is wrong"
        )
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        msg = f"{path}: busy while {doing}: another RareSight window or command is writing to it; try again when it has finished"
    elif name.startswith("SQLITE_FULL") or "full" in text:
        msg = (
            f"{path}: the disk is full (or the file reached its size limit) while {doing}; "
            "nothing from this step was saved; free some space and try again"
        )
    elif name.startswith("SQLITE_READONLY") or "readonly" in text:
        msg = f"{path}: is read-only, so {doing} is not possible; copy the project to a folder you can write to"
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
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


def connect(path: Path, readonly: bool, *, ignore_wal: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), foreign keys on, WAL.

    A read-only connection to a WAL project in a read-only folder falls back to SQLite's immutable
    mode, which is safe only when no ``-wal`` file holds unsaved changes (checked here).
    ``ignore_wal`` opens the file alone (immutable, read-only): for a ``-wal`` of another file.
    """
    try:
        return _open(path, readonly, immutable=ignore_wal)
    except sqlite3.Error as exc:
        cannot_open = isinstance(exc, sqlite3.OperationalError) and not ignore_wal
        if not (readonly and cannot_open) or os.access(path.parent, os.W_OK):
            raise translate(exc, path, "opening it") from exc
        wal = Path(str(path) + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ProjectError(
                f"{path}: has changes not yet merged into the file ({wal.name}) and its folder is read-only; "
                "copy the folder somewhere writable and open it there"
            ) from exc
    try:
        return _open(path, True, immutable=True)
    except sqlite3.Error as exc:
        raise translate(exc, path, "opening it") from exc


def _open(path: Path, readonly: bool, immutable: bool) -> sqlite3.Connection:
    timeout = BUSY_TIMEOUT_MS / 1000
    conn = sqlite3.connect(_uri(path, readonly, immutable), uri=True, isolation_level=None, check_same_thread=False, timeout=timeout)
    try:
        _configure(conn, readonly)
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, readonly: bool) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA schema_version").fetchone()  # opens the file now, so failures surface here
    if not readonly:
        # NORMAL, and still a committed label survives a power cut: the checkpoint after each commit
        # syncs the WAL, then the file (see Database._settle). FULL would sync the WAL once more at
        # COMMIT: three syncs a label instead of two, each 0.05 to 4 ms on the disks measured.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")


def checkpoint(conn: sqlite3.Connection) -> bool:
    """Copy every committed page from the WAL into the project file; False when a reader elsewhere kept some back.

    FULL, not TRUNCATE: TRUNCATE also waits until no reader uses the WAL at all, which cost an import
    batch 8-12 ms against 0.4 ms (measured); the WAL is reused from its start by the next commit, so
    it stays the size of one transaction. Readers in other processes are waited for only
    :data:`CHECKPOINT_WAIT_MS`: past that SQLite copies what no reader still needs, and the rest stays
    safe in the WAL until the next commit or the last close.
    """
    conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
    try:
        busy, wal_frames, merged = conn.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return not busy and wal_frames == merged


def sync_wal(path: Path) -> None:
    """fsync the project's WAL: the commit a checkpoint could not copy into the file survives a power cut.

    Safe beside SQLite's own handles: SQLite holds no POSIX lock on the ``-wal`` that closing this
    descriptor could release.
    """
    try:
        fd = os.open(f"{path.resolve()}-wal", os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows syncs only a writable handle
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        log.warning("could not sync the WAL after a commit", exc_info=True)
    finally:
        os.close(fd)


class Database:
    """One project connection, shared by threads under a lock, with explicit transactions.

    ``after_commit(conn)`` runs after every commit (the audit anchor); it must not raise.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self.lock = threading.RLock()
        self.after_commit: Callable[[sqlite3.Connection], None] | None = None

    @contextmanager
    def write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: all of it is saved, or none of it; then merged into the file."""
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
            except StoreError as exc:
                self._rollback()
                raise translate(exc, self.path, doing) from exc
            except Exception:
                self._rollback()
                raise
            self._settle()

    def _settle(self) -> None:
        """After a commit: make the file whole on its own, then anchor the audit head (never raises: the commit stands)."""
        try:
            merged = checkpoint(self.conn)
        except sqlite3.Error:
            log.warning("checkpoint after commit failed; the commit is in the WAL", exc_info=True)
            merged = False
        if not merged:
            log.info("another process is using the project; part of the last commit stays in the WAL until the next one")
            sync_wal(self.path)
        if self.after_commit is not None:
            self.after_commit(self.conn)

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
            except StoreError as exc:
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
