"""Images in a project: reading files into records, inserting them, thumbnails, embedded copies.

Images are referenced by path, not copied, unless the caller asks to embed them. An image is one
frame of one file and is identified by (content hash, frame), so importing the same file twice, or a
copy of it under another name, adds nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.errors import ImageReadError
from core.privacy.paths import from_stored, special_file_kind, to_stored
from core.store import audit
from core.store.records import ImageRecord

if TYPE_CHECKING:
    from core.imaging.medical_image import MedicalImage

THUMBNAIL_SIZE = 96
#: ``read_record(embed=IDENTIFIABLE)``: store the file as it is, patient identifiers included.
IDENTIFIABLE: Literal["identifiable"] = "identifiable"
_COLUMNS = "id, content_hash, path, size_bytes, imported_path, frame, n_frames, modality, format, rows, columns"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex of a file's bytes, read in chunks (the same hash load_image gives)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def thumbnail_png(image: MedicalImage, size: int = THUMBNAIL_SIZE) -> bytes:
    """The display rendering shrunk to fit ``size`` x ``size`` pixels, as PNG bytes."""
    import numpy as np
    from PIL import Image  # loaded on import, not by every command that opens a project

    picture = Image.fromarray(np.ascontiguousarray(image.display))
    picture.thumbnail((size, size))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def read_record(path: str | os.PathLike[str], embed: bool | Literal["identifiable"] = False) -> tuple[ImageRecord, bytes | None]:
    """Decode a file into an ImageRecord, and with ``embed`` the bytes of the copy to store.

    The copy of a DICOM file is de-identified (PS3.15 basic profile, pixel data unchanged) unless
    ``embed`` is :data:`IDENTIFIABLE`; other files are stored as they are. Raises ImageReadError,
    also for a FIFO, socket or device, which is refused before it is opened (reading could block).
    """
    from core.imaging import load_image, read_file_bytes  # decoders load on import, not when a project opens

    kind = special_file_kind(path)
    if kind is not None:
        raise ImageReadError(path, f"is {kind}, not an image file", "give regular files")
    image = load_image(path)
    absolute = str(Path(path).resolve())
    data = read_file_bytes(path) if embed else None
    size = len(data) if data is not None else Path(path).stat().st_size
    if data is not None and embed != IDENTIFIABLE and image.metadata.get("format") == "DICOM":
        from core.privacy.deidentify import deidentify_dicom

        data = deidentify_dicom(data, str(path))
    record = ImageRecord(
        content_hash=image.content_hash,
        path=absolute,
        size_bytes=size,
        imported_path=str(path),
        frame=image.frame,
        n_frames=image.n_frames,
        modality=str(image.metadata.get("modality") or ""),
        format=str(image.metadata.get("format") or ""),
        rows=image.height,
        columns=image.width,
        thumbnail_png=thumbnail_png(image),
    )
    return record, data


def find(conn: sqlite3.Connection, content_hash: str, frame: int) -> int | None:
    row = conn.execute("SELECT id FROM images WHERE content_hash = ? AND frame = ?", (content_hash, frame)).fetchone()
    return None if row is None else int(row[0])


def insert(
    conn: sqlite3.Connection, records: Sequence[ImageRecord], actor: str, embedded: dict[str, bytes] | None = None
) -> tuple[list[int], list[tuple[str, int]]]:
    """Insert records not yet in the project; the caller holds the write transaction.

    Returns (new ids in order, [(path, existing id)] for images already there).
    """
    added: list[int] = []
    listed: list[list[object]] = []
    duplicates: list[tuple[str, int]] = []
    at = audit.now()
    for record in records:
        existing = find(conn, record.content_hash, record.frame)
        if existing is not None:
            duplicates.append((record.path, existing))
            continue
        cursor = conn.execute(
            "INSERT INTO images (imported_path, path, content_hash, frame, n_frames, size_bytes, modality, format, rows, columns, "
            "added_at, added_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                to_stored(record.imported_path or record.path),
                to_stored(record.path),
                record.content_hash,
                record.frame,
                record.n_frames,
                record.size_bytes,
                record.modality,
                record.format,
                record.rows,
                record.columns,
                at,
                actor,
            ),
        )
        image_id = int(cursor.lastrowid or 0)
        added.append(image_id)
        listed.append([image_id, record.content_hash, record.frame])
        if record.thumbnail_png is not None:
            conn.execute("INSERT INTO thumbnails (image_id, png) VALUES (?, ?)", (image_id, record.thumbnail_png))
    copies = {}  # de-identified copies differ from their file: their own hash is what verify can check
    for content_hash, data in (embedded or {}).items():
        if conn.execute("INSERT OR IGNORE INTO embedded_files (content_hash, data) VALUES (?, ?)", (content_hash, data)).rowcount:
            copy_hash = hashlib.sha256(data).hexdigest()
            if copy_hash != content_hash:
                copies[content_hash] = copy_hash
    if added or copies:
        details: dict[str, object] = {"count": len(added), "images": listed, "embedded": bool(embedded)}
        if copies:
            details["deidentified_copies"] = copies
        audit.append(conn, actor, "images_added", details, at)
    return added, duplicates


def _record(row: Sequence[Any]) -> ImageRecord:
    return ImageRecord(
        id=int(row[0]),
        content_hash=row[1],
        path=from_stored(row[2]),
        size_bytes=int(row[3]),
        imported_path=from_stored(row[4]),
        frame=int(row[5]),
        n_frames=int(row[6]),
        modality=row[7],
        format=row[8],
        rows=row[9],
        columns=row[10],
    )


def all_images(conn: sqlite3.Connection) -> list[ImageRecord]:
    return [_record(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM images ORDER BY id")]


def get(conn: sqlite3.Connection, image_id: int) -> ImageRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM images WHERE id = ?", (image_id,)).fetchone()
    return None if row is None else _record(row)


def ids_for_paths(conn: sqlite3.Connection, paths: Iterable[str | os.PathLike[str]]) -> tuple[dict[str, list[int]], list[str]]:
    """Project images behind each path: by current path, else by the file's content hash.

    Returns ({path: [image ids]}, [paths that match no image]).
    """
    found: dict[str, list[int]] = {}
    unknown: list[str] = []
    for raw in paths:
        absolute = str(Path(raw).resolve())
        ids = [int(r[0]) for r in conn.execute("SELECT id FROM images WHERE path = ? ORDER BY id", (to_stored(absolute),))]
        if not ids and Path(raw).is_file():  # never a FIFO: hashing one would block
            try:
                digest = file_sha256(Path(raw))
            except OSError:
                digest = ""
            ids = [int(r[0]) for r in conn.execute("SELECT id FROM images WHERE content_hash = ? ORDER BY id", (digest,))]
        if ids:
            found[str(raw)] = ids
        else:
            unknown.append(str(raw))
    return found, unknown


def thumbnail(conn: sqlite3.Connection, image_id: int) -> bytes | None:
    row = conn.execute("SELECT png FROM thumbnails WHERE image_id = ?", (image_id,)).fetchone()
    return None if row is None else bytes(row[0])


def embedded_bytes(conn: sqlite3.Connection, content_hash: str) -> bytes | None:
    row = conn.execute("SELECT data FROM embedded_files WHERE content_hash = ?", (content_hash,)).fetchone()
    return None if row is None else bytes(row[0])
