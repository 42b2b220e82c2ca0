"""Images retrieved from a PACS: which instances a project already has, and adding a retrieval in one go.

Each row pairs the SHA-256 of the server's display URL and of an instance's SOP Instance UID (hex,
as every hash in the project) with the image it became. Neither the URL nor the UID is stored, so
the project can tell "imported before" without revealing which instance it was.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.store import audit, images, labels
from core.store.records import ImageRecord, LabelConflict

#: Records inserted per ``images.insert`` call inside the one transaction (bounds the bytes read into memory).
CHUNK = 32


def sha256_text(text: str) -> str:
    """SHA-256 hex of ``text`` as UTF-8: how a server URL or a UID is recorded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Retrieved:
    """One decoded instance ready to add: its record, the file holding its de-identified copy, its UID hash."""

    record: ImageRecord
    copy: Path
    instance_sha256: str


@dataclass
class RetrievalSaved:
    """What adding a retrieval did: new image ids, ids of images the project had already (same content),
    how many were labelled, and labels kept because the image already had another class."""

    added: list[int]
    existing: list[int]
    labelled: int
    label_conflicts: list[LabelConflict]


def known(conn: sqlite3.Connection, server_sha256: str, instance_sha256s: Iterable[str]) -> set[str]:
    """Which of ``instance_sha256s`` the project already has from that server."""
    wanted = list(dict.fromkeys(instance_sha256s))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
        part = wanted[start : start + 500]
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            f"SELECT instance_sha256 FROM pacs_instances WHERE server_sha256 = ? AND instance_sha256 IN ({marks})", [server_sha256, *part]
        )
        found.update(str(row[0]) for row in rows)
    return found


def image_ids(conn: sqlite3.Connection, server_sha256: str, instance_sha256s: Iterable[str]) -> list[int]:
    """The images the project made of these instances from that server (in no particular order)."""
    wanted = set(instance_sha256s)
    rows = conn.execute("SELECT instance_sha256, image_id FROM pacs_instances WHERE server_sha256 = ?", (server_sha256,))
    return sorted({int(image_id) for digest, image_id in rows if digest in wanted})


def save(
    conn: sqlite3.Connection,
    retrieved: Sequence[Retrieved],
    server_sha256: str,
    actor: str,
    class_name: str | None,
    known: Iterable[str] = (),
) -> RetrievalSaved:
    """Insert the images, their copies and their PACS rows, and label them; the caller holds one write transaction.

    An instance whose image (same content) the project already has is linked to that image, not added
    again. With ``class_name`` those images are labelled too, and so are the images of ``known``
    instances (imported before from that server), except images that already have another class
    (listed as conflicts, as ``project add --class`` does).
    """
    added: list[int] = []
    existing: list[int] = []
    at = audit.now()
    if not retrieved:
        return _label(conn, added, existing, image_ids(conn, server_sha256, known), actor, class_name)
    rows: list[tuple[str, str, int, str]] = []
    for start in range(0, len(retrieved), CHUNK):
        chunk = retrieved[start : start + CHUNK]
        blobs = {item.record.content_hash: item.copy.read_bytes() for item in chunk}
        new, duplicates = images.insert(conn, [item.record for item in chunk], actor, blobs)
        added += new
        existing += [image_id for _, image_id in duplicates]
        for item in chunk:
            image_id = images.find(conn, item.record.content_hash, item.record.frame)
            if image_id is not None:
                rows.append((server_sha256, item.instance_sha256, image_id, at))
    conn.executemany("INSERT OR IGNORE INTO pacs_instances (server_sha256, instance_sha256, image_id, added_at) VALUES (?, ?, ?, ?)", rows)
    audit.append(conn, actor, "pacs_imported", {"server_sha256": server_sha256, "instances": len(rows), "images_added": len(added)}, at)
    return _label(conn, added, existing, image_ids(conn, server_sha256, known), actor, class_name)


def _label(
    conn: sqlite3.Connection, added: list[int], existing: list[int], earlier: list[int], actor: str, class_name: str | None
) -> RetrievalSaved:
    """Label the new images, and those the project had, with ``class_name`` unless they have another class."""
    if class_name is None:
        return RetrievalSaved(added, existing, 0, [])
    had = list(dict.fromkeys(existing + earlier))
    conflicts = labels.conflicts(conn, [("", image_id) for image_id in had], class_name)
    kept = {c.image_id for c in conflicts}
    ids = added + [image_id for image_id in had if image_id not in kept]
    step = labels.label(conn, ids, class_name, actor, description=f"import {len(ids)} image(s) from a PACS as {class_name!r}")
    return RetrievalSaved(added, existing, 0 if step is None else step.n_labels, conflicts)
