"""Classes and labels. A label change adds a row; nothing is overwritten.

Every change belongs to a *step* (one user action: "label these 3 images as X"), and every label row
gets its own audit row, written in the same transaction. Each step row also records the undo and redo
stacks as they stand after it (``undo_head``, ``redo_head``, with ``below_id`` linking a stack entry
to the one beneath it), so undo and redo survive closing the project and are O(1) to find.
All functions here expect the caller to hold the right transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.errors import ProjectError
from core.store import audit
from core.store.records import ClassInfo, LabelConflict, LabelEvent, StepInfo

_MAX_PARAMS = 900  # below SQLite's default limit on bound parameters


@dataclass(frozen=True)
class Change:
    """One image moving from ``previous`` to ``new`` (class ids; None = no label)."""

    image_id: int
    new: int | None
    previous: int | None


@dataclass(frozen=True)
class StepLinks:
    """Where a new step sits in the undo/redo stacks; a head of -1 stands for the new step itself."""

    kind: str
    target_id: int | None
    below_id: int | None
    undo_head: int | None
    redo_head: int | None


def classes(conn: sqlite3.Connection) -> list[ClassInfo]:
    rows = conn.execute("SELECT id, name, description, colour FROM classes ORDER BY id").fetchall()
    return [ClassInfo(int(r[0]), r[1], r[2], r[3]) for r in rows]


def class_id(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def ensure_class(conn: sqlite3.Connection, name: str, actor: str, description: str = "", colour: str = "") -> int:
    """The id of class ``name``, added (and audited) when new."""
    name = name.strip()
    if not name:
        raise ProjectError("a class needs a name")
    existing = class_id(conn, name)
    if existing is not None:
        return existing
    at = audit.now()
    cursor = conn.execute(
        "INSERT INTO classes (name, description, colour, created_at) VALUES (?, ?, ?, ?)", (name, description, colour, at)
    )
    new_id = int(cursor.lastrowid or 0)
    audit.append(conn, actor, "class_added", {"class_id": new_id, "name": name, "description": description, "colour": colour}, at)
    return new_id


def current_classes(conn: sqlite3.Connection, image_ids: Sequence[int]) -> dict[int, int | None]:
    """image id -> its current class id (None when unlabelled or the label was removed)."""
    out: dict[int, int | None] = {}
    for start in range(0, len(image_ids), _MAX_PARAMS):
        chunk = list(image_ids[start : start + _MAX_PARAMS])
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT image_id, class_id FROM labels WHERE id IN (SELECT MAX(id) FROM labels WHERE image_id IN ({marks}) GROUP BY image_id)",
            chunk,
        ).fetchall()
        out.update({int(r[0]): (None if r[1] is None else int(r[1])) for r in rows})
    return {image_id: out.get(image_id) for image_id in image_ids}


def conflicts(conn: sqlite3.Connection, found: Sequence[tuple[str, int]], class_name: str) -> list[LabelConflict]:
    """The (path, image id) pairs whose image is labelled now with a class other than ``class_name``."""
    current = current_classes(conn, [image_id for _, image_id in found])
    names = {c.id: c.name for c in classes(conn)}
    return [
        LabelConflict(path, image_id, names[class_now], class_name)
        for path, image_id in found
        if (class_now := current[image_id]) is not None and names[class_now] != class_name.strip()
    ]


def current_labels(conn: sqlite3.Connection) -> dict[int, str]:
    """image id -> class name, for every labelled image."""
    rows = conn.execute(
        "SELECT l.image_id, c.name FROM labels l JOIN classes c ON c.id = l.class_id "
        "WHERE l.id IN (SELECT MAX(id) FROM labels GROUP BY image_id)"
    ).fetchall()
    return {int(r[0]): r[1] for r in rows}


def class_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """class name -> number of images labelled with it now (every class, zero included)."""
    counts = {c.name: 0 for c in classes(conn)}
    rows = conn.execute(
        "SELECT c.name, COUNT(*) FROM labels l JOIN classes c ON c.id = l.class_id "
        "WHERE l.id IN (SELECT MAX(id) FROM labels GROUP BY image_id) GROUP BY c.name"
    ).fetchall()
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts


def heads(conn: sqlite3.Connection) -> tuple[int | None, int | None]:
    """(top of the undo stack, top of the redo stack) after the latest step."""
    row = conn.execute("SELECT undo_head, redo_head FROM steps ORDER BY id DESC LIMIT 1").fetchone()
    return (None, None) if row is None else (row[0], row[1])


def write_step(
    conn: sqlite3.Connection, links: StepLinks, changes: Sequence[Change], actor: str, description: str, note: str = ""
) -> StepInfo:
    """Insert one step, its label rows and their audit rows; returns the step."""
    step_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM steps").fetchone()[0])
    undo_head = step_id if links.undo_head == -1 else links.undo_head
    redo_head = step_id if links.redo_head == -1 else links.redo_head
    at = audit.now()
    conn.execute(
        "INSERT INTO steps (id, kind, target_id, below_id, undo_head, redo_head, n_labels, description, actor, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (step_id, links.kind, links.target_id, links.below_id, undo_head, redo_head, len(changes), description, actor, at),
    )
    first = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM labels").fetchone()[0])
    conn.executemany(
        "INSERT INTO labels (id, image_id, class_id, previous_class_id, step_id, actor, created_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(first + i, c.image_id, c.new, c.previous, step_id, actor, at, note) for i, c in enumerate(changes)],
    )
    names = {c.id: c.name for c in classes(conn)}
    hashes = _image_hashes(conn, [c.image_id for c in changes])
    audit.append_many(
        conn,
        actor,
        (("label", _label_details(first + i, c, step_id, links.kind, names, hashes, note), at) for i, c in enumerate(changes)),
    )
    return StepInfo(step_id, links.kind, description, len(changes), links.target_id)


def _label_details(
    label_id: int, change: Change, step_id: int, kind: str, names: dict[int, str], hashes: dict[int, tuple[str, int]], note: str
) -> dict[str, object]:
    content_hash, frame = hashes[change.image_id]
    return {
        "label_id": label_id,
        "image_id": change.image_id,
        "content_hash": content_hash,
        "frame": frame,
        "class": None if change.new is None else names[change.new],
        "previous": None if change.previous is None else names[change.previous],
        "step_id": step_id,
        "kind": kind,
        "note": note,
    }


def _image_hashes(conn: sqlite3.Connection, image_ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    out: dict[int, tuple[str, int]] = {}
    unique = sorted(set(image_ids))
    for start in range(0, len(unique), _MAX_PARAMS):
        chunk = unique[start : start + _MAX_PARAMS]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(f"SELECT id, content_hash, frame FROM images WHERE id IN ({marks})", chunk):
            out[int(r[0])] = (r[1], int(r[2]))
    missing = [i for i in unique if i not in out]
    if missing:
        raise ProjectError(f"no image with id {missing[0]} in the project")
    return out


def label(
    conn: sqlite3.Connection, image_ids: Iterable[int], class_name: str | None, actor: str, note: str = "", description: str = ""
) -> StepInfo | None:
    """Label images with ``class_name`` (None removes their label) as one undoable step.

    Images already in that class are left as they are; None is returned when nothing changes.
    """
    target = None if class_name is None else ensure_class(conn, class_name, actor)
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    _image_hashes(conn, ids)
    current = current_classes(conn, ids)
    changes = [Change(i, target, current[i]) for i in ids if current[i] != target]
    if not changes:
        return None
    undo_head, _ = heads(conn)
    links = StepLinks("label", None, undo_head, -1, None)
    what = f"label {len(changes)} image(s) as {class_name!r}" if class_name is not None else f"remove the label of {len(changes)} image(s)"
    return write_step(conn, links, changes, actor, description or what, note)


def history(conn: sqlite3.Connection, image_id: int) -> list[LabelEvent]:
    """Every label change of one image, oldest first."""
    rows = conn.execute(
        "SELECT l.id, l.image_id, c.name, p.name, l.step_id, l.actor, l.created_at, l.note FROM labels l "
        "LEFT JOIN classes c ON c.id = l.class_id LEFT JOIN classes p ON p.id = l.previous_class_id "
        "WHERE l.image_id = ? ORDER BY l.id",
        (image_id,),
    ).fetchall()
    return [LabelEvent(int(r[0]), int(r[1]), r[2], r[3], int(r[4]), r[5], r[6], r[7]) for r in rows]
