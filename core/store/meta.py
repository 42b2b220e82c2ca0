"""Facts about a whole project kept in its ``meta`` table: that its images are synthetic (the demo's).

Reports read it from the project, so every way of exporting one (the window, ``raresight report``,
``score --report-dir``) says so, not only the demo command that drew the images.
"""

from __future__ import annotations

from core.store import audit
from core.store.project import Project

SYNTHETIC_IMAGES = "synthetic_images"


def mark_synthetic(project: Project, note: str) -> None:
    """Record that the project's images are synthetic (no patient); audited with ``note``."""
    with project._db.write("marking the project's images as synthetic") as conn:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (SYNTHETIC_IMAGES, "1"))
        audit.append(conn, project.actor, "note", {SYNTHETIC_IMAGES: True, "note": note})


def is_synthetic(project: Project) -> bool:
    """Whether the project was marked as holding synthetic images only (by ``raresight demo``)."""
    with project._db.read("reading the project's metadata") as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (SYNTHETIC_IMAGES,)).fetchone()
    return row is not None and row[0] == "1"
