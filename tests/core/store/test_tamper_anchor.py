"""Tamper evidence a rewrite cannot fake: the audit head anchored outside the file.

Rewriting the audit table with a recomputed hash chain passes the in-file checks; the head this
computer recorded (in ``$RARESIGHT_DATA_DIR``) no longer matches, and ``verify`` says so.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from core.store import Project, anchor
from core.store.audit import GENESIS_HASH, row_hash
from tests.core.store.helpers import make_pngs, tamper


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-data"
    monkeypatch.setenv(anchor.DATA_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    path = tmp_path / "study.raresight"
    with Project.create(path, actor="dr.a") as project:
        ids = project.add_images(make_pngs(tmp_path / "Doe_Jane", 4)).added
        project.label(ids[:2], "sarcoidosis")
        project.label(ids[2:], "normal")
        assert project.verify() == []
    return path


def _rewrite_chain(path: Path, from_row: int, change: str) -> None:
    """Edit audit row ``from_row``'s details with SQL ``change`` and recompute every hash after it, as a forger would."""
    conn = sqlite3.connect(path)
    before = conn.execute("SELECT details FROM audit WHERE id = ?", (from_row,)).fetchone()[0]
    conn.close()
    tamper(path, f"UPDATE audit SET details = {change} WHERE id = {from_row}")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT details FROM audit WHERE id = ?", (from_row,)).fetchone()[0] != before
        rows = conn.execute("SELECT id, at, actor, action, details FROM audit ORDER BY id").fetchall()
        prev = GENESIS_HASH
        for row_id, at, actor, action, details in rows:
            new = row_hash(prev, row_id, at, actor, action, details)
            conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (prev, new, row_id))
            prev = new
        conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head_hash'", (prev,))
        conn.commit()
    finally:
        conn.close()


def _row_of(path: Path, action: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT MIN(id) FROM audit WHERE action = ?", (action,)).fetchone()[0])
    finally:
        conn.close()


def _findings(path: Path) -> list[str]:
    with Project.open(path, readonly=True) as project:
        return [str(f) for f in project.verify()]


def test_a_rewritten_chain_passes_the_file_but_not_the_anchor(labelled: Path) -> None:
    conn = sqlite3.connect(labelled)
    label_row = conn.execute("SELECT id FROM audit WHERE action = 'label' ORDER BY id DESC LIMIT 1").fetchone()[0]
    conn.close()
    # Relabel the last image in the log, the label row and the steps untouched otherwise: a recomputed chain.
    _rewrite_chain(labelled, label_row, 'replace(details, \'"note":""\', \'"note":"forged"\')')
    findings = _findings(labelled)
    # Only the anchor tells: the chain in the file is whole again (the append-only triggers were dropped).
    assert any("the audit log was rewritten and its hash chain recomputed" in f for f in findings), findings
    assert all("trigger" in f or "hash chain recomputed" in f for f in findings), findings


def test_a_chain_rewritten_from_its_first_row_is_found_by_file(labelled: Path) -> None:
    _rewrite_chain(labelled, 1, "replace(details, '\"schema_version\"', '\"schema_version\" ')")
    findings = _findings(labelled)
    assert any("this computer recorded another audit log for this file" in f for f in findings), findings


def test_removed_last_rows_with_a_moved_head_are_found(labelled: Path) -> None:
    conn = sqlite3.connect(labelled)
    last = conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
    before = conn.execute("SELECT hash FROM audit WHERE id = ?", (last - 1,)).fetchone()[0]
    conn.close()
    tamper(
        labelled,
        f"DELETE FROM audit WHERE id = {last}",
        f"UPDATE meta SET value = '{last - 1}' WHERE key = 'audit_head_id'",
        f"UPDATE meta SET value = '{before}' WHERE key = 'audit_head_hash'",
    )
    findings = _findings(labelled)
    assert any(f"this computer recorded row {last}" in f for f in findings), findings


def test_the_anchor_is_kept_when_a_tampered_file_is_written_to(labelled: Path) -> None:
    _rewrite_chain(labelled, _row_of(labelled, "images_added"), "replace(details, '\"count\"', '\"count\" ')")
    with Project.open(labelled) as project:
        project.label([1], "normal")  # a later write must not move the anchor onto the forged chain
    assert any("hash chain recomputed" in f for f in _findings(labelled))


def test_a_project_from_another_computer_has_no_finding(labelled: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(anchor.DATA_DIR_ENV, str(data_dir.parent / "other-computer"))
    assert _findings(labelled) == []


def test_the_anchor_follows_every_commit_and_holds_no_path(labelled: Path, data_dir: Path) -> None:
    with Project.open(labelled, actor="dr.b") as project:
        project.label([1], "normal")
        head = project.audit_head()
        assert head.row_id == project.audit_log()[-1].id and len(head.hash) == 64
        assert str(head) == f"audit row {head.row_id}, chain hash {head.hash}"
    files = list((data_dir / "audit-anchors").iterdir())
    assert len(files) == 1
    text = files[0].read_text(encoding="ascii")
    assert text.splitlines()[-1].split(" ")[1:3] == [str(head.row_id), head.hash]
    assert "Doe_Jane" not in text and str(labelled.parent) not in text and "study" not in text


def test_a_copy_changed_on_its_own_is_not_a_forgery(labelled: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "study-copy.raresight"
    copy.parent.mkdir()
    shutil.copyfile(labelled, copy)
    with Project.open(copy) as project:
        project.label([1, 2], "other")  # the copy's log goes its own way from here
    with Project.open(labelled) as project:
        project.label([3], "other")
    assert _findings(copy) == [] and _findings(labelled) == []


def test_a_new_project_made_where_an_old_one_was_is_not_a_forgery(labelled: Path) -> None:
    labelled.unlink()
    Project.create(labelled).close()
    assert _findings(labelled) == []


def test_an_unwritable_data_folder_never_fails_a_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv(anchor.DATA_DIR_ENV, str(blocker))
    with Project.create(tmp_path / "p.raresight") as project:
        project.add_class("a")
        assert project.verify() == []


def test_audit_rows_hold_content_hashes_not_paths(labelled: Path, tmp_path: Path) -> None:
    moved = tmp_path / "archive" / "Doe_Jane"
    moved.parent.mkdir()
    (tmp_path / "Doe_Jane").rename(moved)
    export = tmp_path / "Doe_Jane_export.csv"
    export.write_text("row\n")
    with Project.open(labelled) as project:
        assert len(project.relink(tmp_path / "archive").relinked) == 4
        project.record_event("export", {"path": str(export), "rows": 1})
        entries = project.audit_log()
        assert project.verify() == []
    text = json.dumps([e.details for e in entries])
    assert "Doe_Jane" not in text and str(tmp_path) not in text
    relink = next(e for e in entries if e.action == "relink")
    assert relink.details["count"] == 4 and all(len(h) == 64 for _, h in relink.details["images"])
    assert entries[-1].details == {"path_sha256": _sha(export), "rows": 1}


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
