"""Relink: find moved image files again by content hash.

Only images whose file is missing (or whose size changed) are looked for, and only files of a size
some missing image had are hashed, so relinking a large folder reads little.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import Cancelled, ProjectError
from core.imaging import iter_files
from core.privacy.paths import from_stored, to_stored
from core.store import audit
from core.store.images import file_sha256

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Wanted:
    """An image whose file is not where the project says: id, hash, size, old path."""

    image_id: int
    content_hash: str
    size_bytes: int
    path: str


def _file_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def wanted(conn: sqlite3.Connection) -> list[Wanted]:
    """Images whose file is missing or has another size than when imported."""
    out = []
    for image_id, content_hash, size, stored in conn.execute("SELECT id, content_hash, size_bytes, path FROM images ORDER BY id"):
        path = from_stored(stored)
        if _file_size(path) != size:
            out.append(Wanted(int(image_id), content_hash, int(size), path))
    return out


def find_moves(
    missing: list[Wanted], folder: Path, progress: Progress | None = None, is_cancelled: Callable[[], bool] | None = None
) -> tuple[dict[int, str], int]:
    """Look through ``folder`` (recursively) for the missing files.

    Returns ({image id: new absolute path}, number of files looked at).
    """
    if not folder.is_dir():
        raise ProjectError(f"{folder}: not a folder; give the folder the image files were moved to")
    by_hash: dict[str, list[int]] = {}
    for item in missing:
        by_hash.setdefault(item.content_hash, []).append(item.image_id)
    sizes = {item.size_bytes for item in missing}
    moves: dict[int, str] = {}
    scanned = 0
    for path in iter_files([folder], recursive=True):
        if is_cancelled is not None and is_cancelled():
            raise Cancelled("relink cancelled; nothing was changed")
        scanned += 1
        if len(moves) == len(missing):
            break
        if _file_size(str(path)) not in sizes:
            continue
        try:
            digest = file_sha256(path)
        except OSError:
            log.warning("relink: a file could not be read and was skipped")
            continue
        for image_id in by_hash.get(digest, []):
            moves.setdefault(image_id, str(path.resolve()))
        if progress is not None:
            progress(len(moves) / max(len(missing), 1), f"found {len(moves)} of {len(missing)}")
    return moves, scanned


def apply(conn: sqlite3.Connection, moves: dict[int, str], actor: str) -> None:
    """Point images at their new paths and audit it; the caller holds the write transaction."""
    if not moves:
        return
    changed = []
    for image_id, new_path in sorted(moves.items()):
        row = conn.execute("SELECT content_hash FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            continue
        conn.execute("UPDATE images SET path = ? WHERE id = ?", (to_stored(new_path), image_id))
        changed.append([image_id, row[0]])
    # Ids and content hashes only: paths (often named after the patient) never enter the append-only log.
    audit.append(conn, actor, "relink", {"count": len(changed), "images": changed})
