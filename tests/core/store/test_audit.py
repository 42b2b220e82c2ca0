"""The audit log: hash-chained, so a past row edited or deleted with plain SQLite is found and named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from core.store import ModelState, Project
from core.store.audit import canonical_json, row_hash
from tests.core.store.helpers import tamper


@pytest.fixture
def filled(tmp_path: Path, png_folder: Path) -> Path:
    path = tmp_path / "p.raresight"
    with Project.create(path, actor="dr.a") as project:
        ids = project.add_images([png_folder]).added
        for index, image_id in enumerate(ids):
            project.label([image_id], "a" if index % 2 else "b")
        project.undo()
        project.save_model_state(ModelState("b", "h", np.ones((2, 3), np.float32), ("a", "b")))
        project.record_event("export", {"rows": 5})
        assert project.verify() == []
    return path


def _verify(path: Path) -> list[str]:
    with Project.open(path, readonly=True) as project:
        return [str(f) for f in project.verify()]


def test_every_change_is_audited(filled: Path) -> None:
    with Project.open(filled, readonly=True) as project:
        actions = [e.action for e in project.audit_log()]
        assert actions[0] == "project_created"
        assert {"images_added", "class_added", "label", "adaptation", "export"} <= set(actions)
        assert all(e.actor == "dr.a" for e in project.audit_log())


def test_editing_a_past_row_is_found_and_named(filled: Path) -> None:
    tamper(filled, 'UPDATE audit SET details = replace(details, \'"class":"a"\', \'"class":"b"\') WHERE id = 8')
    findings = _verify(filled)
    assert findings[0] == "audit: audit row 8: changed after it was written (its hash no longer matches)"
    assert any("trigger audit_no_update is missing" in f for f in findings)


def test_editing_a_row_and_its_hash_names_the_next_row(filled: Path) -> None:
    conn = sqlite3.connect(filled)
    row_id, at, actor, action, details, prev = conn.execute(
        "SELECT id, at, actor, action, details, prev_hash FROM audit WHERE id = 8"
    ).fetchone()
    conn.close()
    forged = details.replace('"actor"', '"actor"').replace('"note":""', '"note":"forged"')
    assert forged != details
    new_hash = row_hash(prev, row_id, at, actor, action, forged)
    tamper(filled, f"UPDATE audit SET details = '{forged}', hash = '{new_hash}' WHERE id = 8")
    assert _verify(filled)[0].startswith("audit: audit row 9: does not follow row 8")


def test_deleting_a_past_row_is_found_and_named(filled: Path) -> None:
    tamper(filled, "DELETE FROM audit WHERE id = 5")
    assert _verify(filled)[0] == "audit: audit row 6: row(s) 5 before it were deleted"


def test_deleting_the_last_rows_is_found(filled: Path) -> None:
    conn = sqlite3.connect(filled)
    last = conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
    conn.close()
    tamper(filled, f"DELETE FROM audit WHERE id >= {last - 1}")
    assert _verify(filled)[0].startswith(f"audit: audit row {last - 1}: the last row(s)")


def test_changing_a_label_behind_the_logs_back_is_found(filled: Path) -> None:
    tamper(filled, "UPDATE labels SET class_id = NULL WHERE id = 2")
    findings = _verify(filled)
    assert any(f.startswith("labels: label row 2 differs from audit row") for f in findings)


def test_deleting_a_label_is_found(filled: Path) -> None:
    tamper(filled, "DELETE FROM labels WHERE id = 3")
    findings = _verify(filled)
    assert "labels: label row 3 recorded by audit row" in findings[0] or any("label row 3 recorded" in f for f in findings)


def test_changing_a_stored_model_is_found(filled: Path) -> None:
    tamper(filled, "UPDATE model_versions SET prototypes = zeroblob(length(prototypes)) WHERE version = 1")
    assert any(f.startswith("model: model version 1 was changed") for f in _verify(filled))


def test_changing_a_temperature_is_found(filled: Path) -> None:
    tamper(filled, "UPDATE model_versions SET temperature = 0.1 WHERE version = 1")
    assert any(f.startswith("model: model version 1 was changed") for f in _verify(filled))


def test_append_only_tables_refuse_updates_through_sqlite(filled: Path) -> None:
    conn = sqlite3.connect(filled)
    try:
        for sql in ("UPDATE audit SET actor = 'x'", "DELETE FROM labels", "DELETE FROM steps"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()


def test_canonical_json_is_stable() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'
