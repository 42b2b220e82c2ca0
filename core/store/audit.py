"""The append-only, hash-chained audit log.

Every row stores ``hash = sha256(prev_hash + canonical_json(row))`` where the row is its id, time,
actor, action and details (canonical JSON: sorted keys, no spaces, UTF-8). ``prev_hash`` is the hash
of the row before (64 zeros for the first row), and the ``meta`` table keeps the id and hash of the
last row. A changed row no longer matches its hash; a deleted row leaves a gap in the ids, or a
``prev_hash`` that matches nothing, or a head that points past the end: :func:`verify_chain` names
the first bad row either way.

Rows name images by content hash and id, never by file path: paths are often named after the
patient, and this log can never be edited. :func:`without_paths` enforces it for recorded events.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
HEAD_ID_KEY = "audit_head_id"
HEAD_HASH_KEY = "audit_head_hash"


def now() -> str:
    """The current time, UTC, ISO 8601 with microseconds (what every row records)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    """One spelling for one value: sorted keys, no whitespace, non-ASCII kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(prev_hash: str, row_id: int, at: str, actor: str, action: str, details: str) -> str:
    """sha256 hex of the previous hash followed by the row's canonical JSON."""
    body = canonical_json({"id": row_id, "at": at, "actor": actor, "action": action, "details": details})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


_PATH_KEYS = ("path", "paths", "folder", "file", "files")


def without_paths(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` with every path (keys such as ``path``, ``out_file``) replaced by ``<key>_sha256``:
    the SHA-256 of the file's content, or None when it is not a readable file."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key in _PATH_KEYS or key.endswith(tuple(f"_{name}" for name in _PATH_KEYS)):
            many = isinstance(value, list | tuple)
            out[f"{key}_sha256"] = [_content_sha256(v) for v in value] if many else _content_sha256(value)
        else:
            out[key] = value
    return out


def _content_sha256(value: object) -> str | None:
    if not isinstance(value, str | os.PathLike):
        return None
    digest = hashlib.sha256()
    try:
        with Path(value).open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One audit row as read back. ``details`` is the decoded JSON object."""

    id: int
    at: str
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ChainProblem:
    """The first row where the chain breaks, and what is wrong with it."""

    row_id: int
    message: str


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    """(id, hash) of the last row written, as the meta table records it."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", (HEAD_ID_KEY, HEAD_HASH_KEY)).fetchall())
    return int(rows.get(HEAD_ID_KEY, 0)), str(rows.get(HEAD_HASH_KEY, GENESIS_HASH))


def append_many(conn: sqlite3.Connection, actor: str, entries: Iterable[tuple[str, Mapping[str, Any], str | None]]) -> list[int]:
    """Append (action, details, at or None for now) rows; the caller holds the write transaction.

    Returns the new row ids.
    """
    last_id, last_hash = head(conn)
    ids: list[int] = []
    rows = []
    for action, details, at in entries:
        stamp = at or now()
        text = canonical_json(dict(details))
        last_id += 1
        prev_hash = last_hash
        last_hash = row_hash(prev_hash, last_id, stamp, actor, action, text)
        rows.append((last_id, stamp, actor, action, text, prev_hash, last_hash))
        ids.append(last_id)
    if not rows:
        return ids
    conn.executemany("INSERT INTO audit (id, at, actor, action, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ((HEAD_ID_KEY, str(last_id)), (HEAD_HASH_KEY, last_hash)),
    )
    return ids


def append(conn: sqlite3.Connection, actor: str, action: str, details: Mapping[str, Any], at: str | None = None) -> int:
    """Append one row; the caller holds the write transaction. Returns its id."""
    return append_many(conn, actor, [(action, details, at)])[0]


def entries(conn: sqlite3.Connection, action: str | None = None, limit: int | None = None) -> list[AuditEntry]:
    """Rows in order (the newest ``limit`` when given), optionally of one action."""
    sql = "SELECT id, at, actor, action, details FROM audit"
    params: list[Any] = []
    if action is not None:
        sql += " WHERE action = ?"
        params.append(action)
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = conn.execute(sql, params).fetchall()
    return [AuditEntry(int(r[0]), r[1], r[2], r[3], json.loads(r[4])) for r in reversed(rows)]


def verify_chain(conn: sqlite3.Connection) -> ChainProblem | None:
    """The first row where the chain breaks, or None when every row and the head check out."""
    expected_id, expected_prev = 1, GENESIS_HASH
    cursor = conn.execute("SELECT id, at, actor, action, details, prev_hash, hash FROM audit ORDER BY id")
    for row_id, at, actor, action, details, prev_hash, stored in cursor:
        if row_id != expected_id:
            gap = f"{expected_id}" if row_id == expected_id + 1 else f"{expected_id} to {row_id - 1}"
            return ChainProblem(int(row_id), f"audit row {row_id}: row(s) {gap} before it were deleted")
        if prev_hash != expected_prev:
            return ChainProblem(
                int(row_id), f"audit row {row_id}: does not follow row {row_id - 1} (a row before it was changed or deleted)"
            )
        if row_hash(prev_hash, row_id, at, actor, action, details) != stored:
            return ChainProblem(int(row_id), f"audit row {row_id}: changed after it was written (its hash no longer matches)")
        expected_id, expected_prev = row_id + 1, stored
    head_id, head_hash = head(conn)
    if head_id != expected_id - 1 or head_hash != expected_prev:
        first_missing = expected_id
        return ChainProblem(
            first_missing,
            f"audit row {first_missing}: the last row(s) {first_missing} to {head_id} were deleted or the log head was changed",
        )
    return None
