"""Making a project file and recognising one: the steps before a :class:`Project` exists.

A new project is built under a temporary name and linked into place only when complete, so a crash
never leaves a half-made project under the real name. An existing file is checked through a
read-only connection before anything opens it for writing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from core.errors import ProjectError
from core.store import audit, db, schema, wal
from core.store.records import Finding


def app_version() -> str:
    """The installed RareSight version (recorded in the audit log)."""
    from importlib.metadata import PackageNotFoundError, version  # 20 ms: only when a project is made or upgraded

    try:
        return version("raresight")
    except PackageNotFoundError:
        return "0+unknown"


def create_file(target: Path, actor: str) -> None:
    """Write a new, empty project at ``target``; refuses to replace an existing file."""
    temp = target.with_name(f".{target.name}.creating-{os.getpid()}")
    try:
        _build(temp, actor)
        _publish(temp, target)
    finally:
        for leftover in _side_files(temp, with_main=True):
            leftover.unlink(missing_ok=True)


def backup(conn: sqlite3.Connection, path: Path, target: Path) -> None:
    """Copy the project, consistently, to ``target`` (kept before a schema upgrade); an existing copy is kept."""
    if target.exists():
        return
    temp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        copy = sqlite3.connect(temp)
        try:
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
        finally:
            copy.close()
        _publish(temp, target)
    except sqlite3.Error as exc:
        raise db.translate(exc, target, "keeping a copy before the upgrade") from exc
    except OSError as exc:
        reason = exc.strerror or exc
        raise ProjectError(f"{target}: could not keep a copy before the upgrade ({reason}); free some space and try again") from exc
    finally:
        temp.unlink(missing_ok=True)


def _side_files(path: Path, with_main: bool = False) -> list[Path]:
    side = [Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")]
    return [path, *side] if with_main else side


def _build(temp: Path, actor: str) -> None:
    for leftover in _side_files(temp, with_main=True):
        leftover.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN IMMEDIATE")
            schema.create_schema(conn)
            at = audit.now()
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [("created_at", at), ("created_by_version", app_version())])
            audit.append(conn, actor, "project_created", {"schema_version": schema.SCHEMA_VERSION, "app_version": app_version()}, at)
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        with temp.open("rb+") as fh:
            os.fsync(fh.fileno())
    except sqlite3.Error as exc:
        raise db.translate(exc, temp, "creating the project") from exc
    except OSError as exc:
        raise ProjectError(
            f"{temp.parent}: the project could not be written ({exc.strerror or exc}); check the disk has space and can be written"
        ) from exc


def _publish(temp: Path, target: Path) -> None:
    """Give the finished file its real name without ever replacing another file."""
    try:
        os.link(temp, target)
    except FileExistsError as exc:
        raise ProjectError(f"{target}: already exists; open it, or choose another name for the new project") from exc
    except OSError:
        # File systems without hard links (FAT, some network shares): rename after a last check.
        if target.exists():
            raise ProjectError(f"{target}: already exists; open it, or choose another name for the new project") from None
        os.replace(temp, target)
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def connect_checked(path: Path, readonly: bool) -> tuple[sqlite3.Connection, list[Finding]]:
    """A connection to a checked project, and what was found beside it (for ``verify``).

    A ``-wal`` of another file is ignored read-only and refused for writing: a writer would
    checkpoint the other file's pages into this one for good.
    """
    foreign = wal.foreign_wal(path)
    if foreign is not None and not readonly:
        raise ProjectError(
            f"{path}: {foreign}; it was left untouched; move it out of the folder and open the project again "
            "('raresight project verify' reads the project without it)"
        )
    conn = probe(path, ignore_wal=foreign is not None)
    if not readonly:
        conn.close()
        conn = db.connect(path, readonly=False)
    warnings = [] if foreign is None else [Finding("integrity", f"{foreign}; it was ignored and left untouched; move it away")]
    return conn, warnings


def probe(path: Path, ignore_wal: bool = False) -> sqlite3.Connection:
    """A read-only connection that has checked the file is a project of a schema we can read.

    ``ignore_wal`` reads the file alone (a ``-wal`` of another file lies beside it). The caller
    removes the side files SQLite made when this fails (see ``wal.remove_new_side_files``).
    """
    conn = db.connect(path, readonly=True, ignore_wal=ignore_wal)
    try:
        app_id, version_number = schema.read_versions(conn)
        if app_id != schema.APPLICATION_ID:
            raise ProjectError(
                f"{path}: an SQLite database but not a RareSight project; it was left untouched; open a .raresight project file"
            )
        schema.check_version(path, version_number)
        schema.check_tables(conn, path, version_number)
    except ProjectError:
        conn.close()
        raise
    except db.StoreError as exc:
        conn.close()
        raise db.translate(exc, path, "opening it") from exc
    return conn
