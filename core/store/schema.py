"""The project file's schema: DDL, version, migrations, and the checks that recognise a project.

A project is an SQLite file whose header carries ``application_id`` = :data:`APPLICATION_ID` and
``user_version`` = the schema version. :func:`check_header` reads those 100 header bytes with plain
file I/O, so a file that is not a project (or comes from a newer RareSight) is refused before SQLite
ever opens it, and is left byte-for-byte untouched.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ProjectError

#: "RSgt": identifies a RareSight project in the SQLite header (offset 68).
APPLICATION_ID = 0x52536774
#: The schema this version of RareSight writes. Older files are migrated on open.
SCHEMA_VERSION = 2

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100

# Append-only tables refuse UPDATE and DELETE: a change adds a row. (Plain SQLite can drop the
# triggers; the audit hash chain is what makes such tampering detectable.)
_APPEND_ONLY = ("audit", "labels", "steps")

# Schema 2: images retrieved from a PACS, by SHA-256 of the server's display URL and of the SOP
# Instance UID (never the UID itself), so the same instance is not imported twice.
PACS_DDL = """
CREATE TABLE pacs_instances (
    server_sha256 TEXT NOT NULL CHECK (length(server_sha256) = 64),
    instance_sha256 TEXT NOT NULL CHECK (length(instance_sha256) = 64),
    image_id INTEGER NOT NULL REFERENCES images (id),
    added_at TEXT NOT NULL,
    PRIMARY KEY (server_sha256, instance_sha256)
);
"""

DDL = (
    """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    colour TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    imported_path TEXT NOT NULL,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL CHECK (length(content_hash) = 64),
    frame INTEGER NOT NULL DEFAULT 0,
    n_frames INTEGER NOT NULL DEFAULT 1,
    size_bytes INTEGER NOT NULL,
    modality TEXT NOT NULL DEFAULT '',
    format TEXT NOT NULL DEFAULT '',
    rows INTEGER,
    columns INTEGER,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL,
    UNIQUE (content_hash, frame)
);
CREATE INDEX images_path ON images (path);
CREATE TABLE thumbnails (
    image_id INTEGER PRIMARY KEY REFERENCES images (id),
    png BLOB NOT NULL
);
CREATE TABLE embedded_files (
    content_hash TEXT PRIMARY KEY CHECK (length(content_hash) = 64),
    data BLOB NOT NULL
);
CREATE TABLE steps (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('label', 'undo', 'redo')),
    target_id INTEGER REFERENCES steps (id),
    below_id INTEGER REFERENCES steps (id),
    undo_head INTEGER REFERENCES steps (id),
    redo_head INTEGER REFERENCES steps (id),
    n_labels INTEGER NOT NULL,
    description TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images (id),
    class_id INTEGER REFERENCES classes (id),
    previous_class_id INTEGER REFERENCES classes (id),
    step_id INTEGER NOT NULL REFERENCES steps (id),
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX labels_image ON labels (image_id, id);
CREATE INDEX labels_step ON labels (step_id);
CREATE TABLE model_versions (
    version INTEGER PRIMARY KEY,
    backbone_id TEXT NOT NULL,
    backbone_weights_hash TEXT NOT NULL,
    adapted_weights BLOB,
    prototypes BLOB NOT NULL,
    class_names TEXT NOT NULL,
    temperature REAL NOT NULL,
    thresholds TEXT NOT NULL,
    settings TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE predictions (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images (id),
    model_version INTEGER NOT NULL REFERENCES model_versions (version),
    probabilities TEXT NOT NULL,
    prediction_set TEXT NOT NULL,
    top_class TEXT,
    confidence REAL NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX predictions_image ON predictions (image_id, model_version);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""
    + PACS_DDL
)

#: Every table a project of :data:`SCHEMA_VERSION` has.
TABLES = frozenset(
    {
        "meta",
        "classes",
        "images",
        "thumbnails",
        "embedded_files",
        "steps",
        "labels",
        "model_versions",
        "predictions",
        "audit",
        "pacs_instances",
    }
)


def trigger_names() -> list[str]:
    """The triggers that keep the append-only tables append-only."""
    return [f"{table}_no_{op}" for table in _APPEND_ONLY for op in ("update", "delete")]


def _append_only_triggers() -> str:
    parts = []
    for table in _APPEND_ONLY:
        for op in ("UPDATE", "DELETE"):
            parts.append(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
            )
    return "\n".join(parts) + "\n"


def _add_pacs_instances(conn: sqlite3.Connection) -> None:
    """1 -> 2: the table of instances retrieved from a PACS."""
    for statement in split_statements(PACS_DDL):
        conn.execute(statement)


#: Migrations: MIGRATIONS[n] upgrades a schema-n file to n + 1, inside one transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _add_pacs_instances}
#: Tables added after schema 1, with the version that added them.
ADDED_IN = {"pacs_instances": 2}


def tables_of(version: int) -> frozenset[str]:
    """Every table a project of schema ``version`` (1 up to :data:`SCHEMA_VERSION`) has."""
    return frozenset(name for name in TABLES if ADDED_IN.get(name, 1) <= version)


#: Older schemas this version reads read-only as they are (``project info``, ``verify``, scoring): their
#: upgrades only add tables that readers do without (no PACS import happened in a schema-1 file).
READABLE_WITHOUT_UPGRADE = frozenset({1})


@dataclass(frozen=True)
class Header:
    """What the first 100 bytes of an SQLite file say."""

    page_size: int
    page_count: int
    user_version: int
    application_id: int
    wal: bool


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table of :data:`SCHEMA_VERSION` (the caller holds a write transaction)."""
    for statement in split_statements(DDL + _append_only_triggers()):
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def split_statements(script: str) -> list[str]:
    """SQL statements one by one (``executescript`` would commit the caller's transaction)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements


def parse_header(data: bytes) -> Header | None:
    """The header fields, or None when ``data`` is not the start of an SQLite file."""
    if len(data) < HEADER_SIZE or not data.startswith(SQLITE_MAGIC):
        return None
    (page_size,) = struct.unpack(">H", data[16:18])
    page_size = 65536 if page_size == 1 else page_size
    (page_count,) = struct.unpack(">I", data[28:32])
    (user_version,) = struct.unpack(">i", data[60:64])
    (application_id,) = struct.unpack(">i", data[68:72])
    return Header(page_size, page_count, user_version, application_id & 0xFFFFFFFF, data[18] == 2)


def check_header(path: Path) -> Header:
    """Refuse, without writing anything, a file that is not a project this version can open.

    Raises
    ------
    ProjectError
        Missing, unreadable, not SQLite, SQLite but not a project, truncated, or newer schema.
    """
    data, size = read_start(path)
    header = parse_header(data)
    if header is None:
        what = "an empty file" if not data else "not an SQLite file"
        raise ProjectError(f"{path}: not a RareSight project ({what}); open the .raresight file the project was saved as")
    if header.application_id != APPLICATION_ID:
        raise ProjectError(
            f"{path}: an SQLite database but not a RareSight project (application id {header.application_id:#x}); "
            "it was left untouched; open a .raresight project file"
        )
    check_version(path, header.user_version)
    # While a -wal file holds pages, a checkpoint may have grown the header before the file: only a
    # file with no WAL beside it must be as long as its header says.
    wal = Path(f"{path}-wal")
    if size < header.page_size * header.page_count and not (wal.exists() and wal.stat().st_size > 0):
        raise ProjectError(
            f"{path}: the project file is truncated ({size} bytes, the header says "
            f"{header.page_size * header.page_count}); it was left untouched; restore it from a backup"
        )
    return header


def read_start(path: Path) -> tuple[bytes, int]:
    """(the first 100 bytes, the size) of a regular file, refusing folders, FIFOs, devices and sockets.

    Opened non-blocking and checked with fstat before any read: a FIFO given as a project would
    otherwise block forever, a device could be endless. Side files SQLite would open are checked too.
    """
    if path.is_dir():  # Windows refuses to open a folder with a permission error, not IsADirectoryError
        raise ProjectError(f"{path}: is a folder, not a project file; name the .raresight file inside it")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError as exc:
        raise ProjectError(f"{path}: no such project file; create it with 'raresight project create {path}'") from exc
    except OSError as exc:
        raise ProjectError(f"{path}: could not be read ({exc.strerror or exc}); check its permissions and the disk") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ProjectError(f"{path}: is {file_kind(info.st_mode)}, not a project file; open the .raresight file itself")
        data = os.read(fd, HEADER_SIZE)
    except OSError as exc:
        raise ProjectError(f"{path}: could not be read ({exc.strerror or exc}); check its permissions and the disk") from exc
    finally:
        os.close(fd)
    real = path.resolve()  # SQLite opens the side files beside the file a link points to
    for suffix in ("-wal", "-shm", "-journal"):
        side = Path(f"{real}{suffix}")
        with contextlib.suppress(FileNotFoundError):
            mode = side.lstat().st_mode
            if not stat.S_ISREG(mode):
                raise ProjectError(
                    f"{path}: {side.name} beside it is {file_kind(mode)}, not SQLite's side file; it was left untouched; "
                    "move it out of the folder and open the project again"
                )
    return data, info.st_size


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def check_version(path: Path, version: int) -> None:
    """Refuse a schema this version cannot read."""
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"{path}: made by a newer RareSight (project schema {version}, this version reads up to "
            f"{SCHEMA_VERSION}); it was left untouched; update RareSight to open it"
        )
    if version < 1:
        raise ProjectError(
            f"{path}: has no project schema (version {version}); it is damaged or was never finished; restore it from a backup"
        )


#: Tables every schema version has (what an older file is checked for before it is migrated).
BASE_TABLES = frozenset({"meta", "audit", "images", "labels", "classes"})


def check_tables(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Refuse a file whose tables are not those of a project of ``version``.

    Names are read as bytes: a damaged name must be reported as missing, not raise UnicodeDecodeError.
    """
    rows = conn.execute("SELECT CAST(name AS BLOB) FROM sqlite_master WHERE type = 'table'")
    names = {bytes(row[0]).decode("utf-8", "replace") for row in rows}
    missing = sorted((TABLES if version == SCHEMA_VERSION else BASE_TABLES) - names)
    if missing:
        raise ProjectError(f"{path}: the project is damaged (missing tables: {', '.join(missing)}); restore it from a backup")


def read_versions(conn: sqlite3.Connection) -> tuple[int, int]:
    """(application_id, user_version) as SQLite sees them (WAL included)."""
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0]) & 0xFFFFFFFF
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return app_id, version


def migrate(conn: sqlite3.Connection, from_version: int) -> list[int]:
    """Upgrade from ``from_version`` to :data:`SCHEMA_VERSION` (caller holds the write transaction).

    Returns the versions passed through, e.g. [1, 2] for one step.
    """
    steps = [from_version]
    version = from_version
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(f"no migration from project schema {version}; this RareSight cannot upgrade the file")
        step(conn)
        version += 1
        conn.execute(f"PRAGMA user_version = {version}")
        steps.append(version)
    return steps
