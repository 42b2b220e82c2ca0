"""Damaged project files, odd paths and side files: a ProjectError naming the file, never a traceback or a hang.

Also: the ``.raresight`` file holds every commit on its own (its ``-wal`` is merged after each), a
``-wal`` of another file is detected before SQLite replays it, and verify's file check is per row.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import ProjectError
from core.store import Finding, Project, anchor, db
from tests.core.store.helpers import make_pngs, sha256

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev are POSIX")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(anchor.DATA_DIR_ENV, str(tmp_path / "user-data"))


def _side_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name) and p != path)


def _saved(folder: Path, name: str = "saved.raresight", images: int = 4) -> Path:
    path = folder / name
    with Project.create(path) as project:
        project.add_images(make_pngs(folder / f"images-{name}", images, seed=len(name)), class_name="a")
    return path


def _within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread; fail (not hang) when it blocks. Returns what it raised."""
    raised: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            raised.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    return raised[0] if raised else None


@pytest.mark.parametrize("readonly", [True, False])
def test_a_changed_header_byte_is_a_project_error_and_leaves_no_side_files(tmp_path: Path, readonly: bool) -> None:
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[21] = 10  # max embedded payload fraction: SQLite says "file is not a database"
    path.write_bytes(bytes(data))
    before = sha256(path)
    with pytest.raises(ProjectError, match="damaged") as info:
        Project.open(path, readonly=readonly)
    assert str(path) in str(info.value) and "backup" in str(info.value)
    assert sha256(path) == before and _side_files(path) == []


def test_bad_utf8_in_a_table_name_is_a_project_error(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET name = CAST(x'7468756dff' AS TEXT) WHERE name = 'thumbnails'")
    conn.commit()
    conn.close()
    for readonly in (True, False):
        with pytest.raises(ProjectError, match="damaged"):
            Project.open(path, readonly=readonly)
    assert _side_files(path) == []


def test_bad_utf8_in_stored_text_is_a_project_error_and_verify_reports_it(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE classes SET name = CAST(x'61ff' AS TEXT)")
    conn.commit()
    conn.close()
    with Project.open(path, readonly=True) as project:
        with pytest.raises(ProjectError, match="not valid UTF-8") as info:
            project.info()
        assert str(path) in str(info.value)
        findings = [str(f) for f in project.verify(check_files=False)]
    assert any("could not be checked" in f for f in findings), findings


@POSIX_ONLY
def test_a_fifo_as_project_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.raresight"
    os.mkfifo(fifo)
    raised = _within(5, lambda: Project.open(fifo, readonly=True))
    assert isinstance(raised, ProjectError) and "named pipe (FIFO)" in str(raised) and str(fifo) in str(raised)


@POSIX_ONLY
def test_a_device_and_a_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="character device"):
        Project.open(Path("/dev/null"), readonly=True)
    with pytest.raises(ProjectError, match="is a folder"):
        Project.open(tmp_path, readonly=True)


@POSIX_ONLY
@pytest.mark.parametrize("side", ["-wal", "-shm"])
def test_a_fifo_beside_the_project_is_refused_without_blocking(tmp_path: Path, side: str) -> None:
    path = _saved(tmp_path)
    os.mkfifo(f"{path}{side}")
    raised = _within(5, lambda: Project.open(path))
    assert isinstance(raised, ProjectError) and f"{path.name}{side} beside it is a named pipe" in str(raised)


def test_another_projects_wal_is_ignored_read_only_reported_and_refused_for_writing(tmp_path: Path) -> None:
    mine = _saved(tmp_path, "mine.raresight", images=4)
    before = sha256(mine)
    other = tmp_path / "other.raresight"
    with Project.create(other) as writer, _checkpoints_off():
        writer.add_images(make_pngs(tmp_path / "other-images", 3, seed=9), class_name="b")
        shutil.copyfile(f"{other}-wal", f"{mine}-wal")  # a -wal of another file lands beside mine
    foreign = sha256(Path(f"{mine}-wal"))
    with Project.open(mine, readonly=True) as project:
        assert project.info().images == 4 and [c.name for c in project.classes()] == ["a"]
        findings = [str(f) for f in project.verify(check_files=False)]
    assert len(findings) == 1 and "mine.raresight-wal belongs to another project" in findings[0], findings
    with pytest.raises(ProjectError, match=r"belongs to another project \(.*\); it was left untouched; move it out") as info:
        Project.open(mine)
    assert str(mine) in str(info.value)
    assert sha256(mine) == before and sha256(Path(f"{mine}-wal")) == foreign
    assert _side_files(mine) == ["mine.raresight-wal"]  # nothing else left beside it


def test_this_projects_own_wal_left_by_a_crash_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "p.raresight"
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    with Project.create(path) as project, _checkpoints_off():
        added = project.add_images(make_pngs(tmp_path / "imgs", 5), class_name="a").added
        for name in [*_side_files(path), path.name]:  # the folder as a SIGKILL would leave it
            shutil.copyfile(tmp_path / name, crashed / name)
    assert Path(f"{crashed / path.name}-wal").stat().st_size > 0
    with Project.open(crashed / path.name) as reopened:
        assert [r.id for r in reopened.images()] == added
        assert reopened.verify(check_files=False) == []


def test_the_file_alone_holds_every_commit(tmp_path: Path) -> None:
    path = tmp_path / "p.raresight"
    images = make_pngs(tmp_path / "imgs", 9)
    with Project.create(path) as project:
        for start in range(0, 9, 3):
            project.add_images(images[start : start + 3], class_name="a")
            copy = tmp_path / f"copy{start}" / path.name
            copy.parent.mkdir()
            shutil.copyfile(path, copy)  # while the project is still open
            assert _images_alone(copy) == start + 3


def test_two_rows_with_one_path_are_each_compared_with_the_file(tmp_path: Path) -> None:
    first = make_pngs(tmp_path / "imgs", 1, seed=1)[0]
    with Project.create(tmp_path / "p.raresight") as project:
        old_id = project.add_images([first]).added[0]
        make_pngs(tmp_path / "imgs", 1, seed=2)  # the same name, new content, imported again
        new_id = project.add_images([first]).added[0]
        findings = project.verify()
    assert [f.row_id for f in findings] == [old_id], findings
    assert "content hash differs" in findings[0].message and new_id != old_id


@POSIX_ONLY
def test_verify_does_not_block_on_an_image_replaced_by_a_fifo(tmp_path: Path) -> None:
    image = make_pngs(tmp_path / "imgs", 1)[0]
    with Project.create(tmp_path / "p.raresight") as project:
        image_id = project.add_images([image]).added[0]
        image.unlink()
        os.mkfifo(image)
        found: list[list[Finding]] = []
        assert _within(5, lambda: found.append(project.verify())) is None
    assert [(f.row_id, "not a regular file" in f.message) for f in found[0]] == [(image_id, True)]


def _images_alone(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM images").fetchone()[0])
    finally:
        conn.close()


class _checkpoints_off:
    """Commits stay in the WAL (as before issue 17, or when killed between commit and checkpoint)."""

    def __enter__(self) -> None:
        self.saved = db.checkpoint
        db.checkpoint = lambda conn: True

    def __exit__(self, *exc: object) -> None:
        db.checkpoint = self.saved
