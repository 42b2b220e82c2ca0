"""Two writers at once (two windows, or the window and the command line): safely serialised."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.errors import ProjectError
from core.store import Project, db

REPO = Path(__file__).resolve().parents[3]

WRITER = """
import sys
from core.store import Project
with Project.open(sys.argv[1], actor="cli") as project:
    ids = [r.id for r in project.images()]
    for i in range(int(sys.argv[2])):
        project.label([ids[i % len(ids)], ids[(i + 1) % len(ids)]], f"cli{i}")
"""


def test_two_processes_and_a_reader_interleave_safely(tmp_path: Path, png_folder: Path) -> None:
    path = tmp_path / "p.raresight"
    with Project.create(path, actor="gui") as project:
        project.add_images([png_folder])
    steps = 60
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(steps)], cwd=REPO)
    errors: list[str] = []

    def read_while_writing() -> None:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            while child.poll() is None:
                # A reader sees whole steps only: each step's label rows are all there or none are.
                bad = conn.execute(
                    "SELECT s.id FROM steps s WHERE s.n_labels != (SELECT COUNT(*) FROM labels l WHERE l.step_id = s.id)"
                ).fetchall()
                if bad:
                    errors.append(f"half-written steps seen: {bad}")
        finally:
            conn.close()

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    with Project.open(path, actor="gui") as project:
        ids = [r.id for r in project.images() if r.id is not None]
        for i in range(steps):
            project.label([ids[(i + 3) % len(ids)]], f"gui{i}")
    assert child.wait(timeout=60) == 0
    reader.join()
    assert errors == []
    with Project.open(path, readonly=True) as project:
        actors = [e.actor for e in project.audit_log("label")]
        assert actors.count("gui") == steps and actors.count("cli") == 2 * steps
        assert project.verify() == []


def test_a_writer_that_waits_too_long_gets_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.raresight"
    Project.create(path).close()
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with Project.open(path) as project, pytest.raises(ProjectError, match="another RareSight window or command is writing"):
            project.add_class("late")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with Project.open(path) as project:
        project.add_class("late")
        assert [c.name for c in project.classes()] == ["late"]


def test_threads_share_one_project(project: Project, png_folder: Path) -> None:
    ids = project.add_images([png_folder]).added

    def work(name: str) -> None:
        for image_id in ids:
            project.label([image_id], name)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(project.labels()) == len(ids)
    assert project.verify() == []
