"""Renaming, recolouring, describing and deleting classes: audited, and verify stays clean."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ProjectError
from core.store import Project
from core.store.class_edit import delete_class, edit_class, rename_class


@pytest.fixture
def project(tmp_path: Path) -> Project:
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / f"img{i}.png")
    proj = Project.create(tmp_path / "p.raresight")
    proj.add_images([tmp_path / f"img{i}.png" for i in range(3)])
    return proj


def test_rename_keeps_labels_and_history_verifiable(project: Project) -> None:
    ids = [r.id for r in project.images()]
    project.label(ids[:2], "sickle")
    rename_class(project, "sickle", "sickle cell")
    project.label(ids[2:], "sickle cell")
    project.label(ids[:1], "other")
    rename_class(project, "sickle cell", "drepanocyte")
    assert set(project.labels().values()) == {"drepanocyte", "other"}
    assert project.verify(check_files=False) == []
    assert [e.action for e in project.audit_log("class_renamed")] == ["class_renamed", "class_renamed"]


def test_rename_errors(project: Project) -> None:
    project.add_class("a")
    project.add_class("b")
    with pytest.raises(ProjectError, match="already a class"):
        rename_class(project, "a", "b")
    with pytest.raises(ProjectError, match="no class"):
        rename_class(project, "zzz", "c")
    with pytest.raises(ProjectError, match="needs a name"):
        rename_class(project, "a", "  ")


def test_tampered_label_still_caught_after_a_rename(project: Project) -> None:
    ids = [r.id for r in project.images()]
    project.label(ids[:1], "x")
    rename_class(project, "x", "y")
    other = project.add_class("z").id
    project.close()
    with sqlite3.connect(project.path) as conn:
        triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'labels'")]
        for name in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("UPDATE labels SET class_id = ?", (other,))
    with Project.open(project.path, readonly=True) as reopened:
        findings = reopened.verify(check_files=False)
    assert any("label row" in f.message and "changed" in f.message for f in findings), findings


def test_colour_description_delete(project: Project) -> None:
    project.add_class("unused")
    info = edit_class(project, "unused", colour="#ff0000", description="never used")
    assert (info.colour, info.description) == ("#ff0000", "never used")
    delete_class(project, "unused")
    assert "unused" not in [c.name for c in project.classes()]
    project.label([project.images()[0].id], "used")
    with pytest.raises(ProjectError, match="cannot be deleted"):
        delete_class(project, "used")
    assert project.verify(check_files=False) == []
    assert json.loads(json.dumps([e.action for e in project.audit_log()])).count("class_deleted") == 1
