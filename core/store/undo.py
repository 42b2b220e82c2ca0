"""Undo and redo of labelling steps, recorded as new label rows so nothing is overwritten.

The stacks are persistent linked lists kept in the ``steps`` table:

- a label step S pushes S on the undo stack and clears the redo stack;
- undo pops node N (step T) off the undo stack, writes step U = "undo T" (every image of T back to
  its previous class) and pushes U on the redo stack;
- redo pops U off the redo stack, writes step R = "redo T" (every image of T to T's class again) and
  pushes R on the undo stack.

Two windows (or the window and the command line) share the stacks: each step is written in one
write transaction, so they interleave like the steps of one user.
All functions expect the caller to hold the right transaction.
"""

from __future__ import annotations

import sqlite3

from core.errors import ProjectError
from core.store import labels
from core.store.records import StepInfo, UndoState


def _step(conn: sqlite3.Connection, step_id: int) -> tuple[str, int | None, int | None, str, int]:
    row = conn.execute("SELECT kind, target_id, below_id, description, n_labels FROM steps WHERE id = ?", (step_id,)).fetchone()
    if row is None:
        raise ProjectError(f"undo history is damaged: step {step_id} is missing; run 'raresight project verify'")
    return row[0], row[1], row[2], row[3], int(row[4])


def _original(conn: sqlite3.Connection, node_id: int) -> tuple[int, str, int]:
    """(label step id, its description, its size) behind an undo-stack or redo-stack node."""
    kind, target, _, description, n_labels = _step(conn, node_id)
    if kind == "label":
        return node_id, description, n_labels
    if target is None:
        raise ProjectError(f"undo history is damaged: step {node_id} has no target; run 'raresight project verify'")
    _, _, _, description, n_labels = _step(conn, target)
    return target, description, n_labels


def state(conn: sqlite3.Connection) -> UndoState:
    """What undo and redo would do now."""
    undo_head, redo_head = labels.heads(conn)
    undo = redo = None
    if undo_head is not None:
        target, description, n_labels = _original(conn, undo_head)
        undo = StepInfo(target, "label", description, n_labels)
    if redo_head is not None:
        target, description, n_labels = _original(conn, redo_head)
        redo = StepInfo(target, "label", description, n_labels)
    return UndoState(undo, redo)


def _target_rows(conn: sqlite3.Connection, target: int) -> list[tuple[int, int | None, int | None]]:
    rows = conn.execute("SELECT image_id, class_id, previous_class_id FROM labels WHERE step_id = ? ORDER BY id", (target,)).fetchall()
    return [(int(r[0]), r[1], r[2]) for r in rows]


def undo(conn: sqlite3.Connection, actor: str) -> StepInfo | None:
    """Undo the latest labelling step not yet undone; None when there is nothing to undo."""
    undo_head, redo_head = labels.heads(conn)
    if undo_head is None:
        return None
    target, description, _ = _original(conn, undo_head)
    _, _, below, _, _ = _step(conn, undo_head)
    changes = [labels.Change(image, previous, new) for image, new, previous in _target_rows(conn, target)]
    links = labels.StepLinks("undo", target, redo_head, below, -1)
    return labels.write_step(conn, links, changes, actor, f"undo: {description}")


def redo(conn: sqlite3.Connection, actor: str) -> StepInfo | None:
    """Redo the step undone last; None when there is nothing to redo."""
    undo_head, redo_head = labels.heads(conn)
    if redo_head is None:
        return None
    target, description, _ = _original(conn, redo_head)
    _, _, below, _, _ = _step(conn, redo_head)
    changes = [labels.Change(image, new, previous) for image, new, previous in _target_rows(conn, target)]
    links = labels.StepLinks("redo", target, undo_head, -1, below)
    return labels.write_step(conn, links, changes, actor, f"redo: {description}")
