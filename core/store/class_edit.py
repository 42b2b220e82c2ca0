"""Changing a class after it was added: its name, colour and description, or removing an unused one.

Label audit rows name their class as it was called then; a rename is audited as ``class_renamed``
and ``verify`` follows those records to know each class's name at the time of each label.
"""

from __future__ import annotations

from core.errors import ProjectError
from core.store import audit
from core.store.project import Project
from core.store.records import ClassInfo


def edit_class(project: Project, name: str, *, colour: str | None = None, description: str | None = None) -> ClassInfo:
    """Change the colour and/or description of class ``name`` (audited as ``class_changed``)."""
    with project._db.write(f"changing class {name!r}") as conn:
        row = conn.execute("SELECT id, description, colour FROM classes WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ProjectError(f"{project.path}: there is no class {name!r}")
        class_id, old_description, old_colour = int(row[0]), str(row[1]), str(row[2])
        new_description = old_description if description is None else description.strip()
        new_colour = old_colour if colour is None else colour.strip()
        conn.execute("UPDATE classes SET description = ?, colour = ? WHERE id = ?", (new_description, new_colour, class_id))
        details = {
            "class_id": class_id,
            "name": name,
            "description": [old_description, new_description],
            "colour": [old_colour, new_colour],
        }
        audit.append(conn, project.actor, "class_changed", details)
        return ClassInfo(class_id, name, new_description, new_colour)


def delete_class(project: Project, name: str) -> None:
    """Remove class ``name`` if no image was ever labelled with it (audited as ``class_deleted``).

    Label history is kept forever, so a class that was used stays: relabel its images instead.
    """
    with project._db.write(f"deleting class {name!r}") as conn:
        row = conn.execute("SELECT id FROM classes WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ProjectError(f"{project.path}: there is no class {name!r}")
        class_id = int(row[0])
        used = conn.execute("SELECT COUNT(*) FROM labels WHERE class_id = ? OR previous_class_id = ?", (class_id, class_id)).fetchone()[0]
        if used:
            raise ProjectError(
                f"class {name!r} cannot be deleted: images were labelled with it, and label history is kept; "
                "label those images with another class (or remove their labels) instead"
            )
        conn.execute("DELETE FROM classes WHERE id = ?", (class_id,))
        audit.append(conn, project.actor, "class_deleted", {"class_id": class_id, "name": name})


def rename_class(project: Project, name: str, new_name: str) -> ClassInfo:
    """Rename class ``name``; labels keep pointing at it (audited as ``class_renamed``)."""
    new_name = new_name.strip()
    if not new_name:
        raise ProjectError("a class needs a name")
    with project._db.write(f"renaming class {name!r}") as conn:
        row = conn.execute("SELECT id, description, colour FROM classes WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ProjectError(f"{project.path}: there is no class {name!r}")
        if new_name != name and conn.execute("SELECT 1 FROM classes WHERE name = ?", (new_name,)).fetchone():
            raise ProjectError(f"there is already a class {new_name!r}; choose another name")
        class_id = int(row[0])
        conn.execute("UPDATE classes SET name = ? WHERE id = ?", (new_name, class_id))
        audit.append(conn, project.actor, "class_renamed", {"class_id": class_id, "old": name, "new": new_name})
        return ClassInfo(class_id, new_name, str(row[1]), str(row[2]))
