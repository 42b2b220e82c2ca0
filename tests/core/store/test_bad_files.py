"""Files that are not (good) projects, and disks that refuse writes: a clear error, the file untouched."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ProjectError
from core.store import Project, schema
from tests.core.store.helpers import make_pngs, sha256


def _side_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name) and p != path)


def _refused(path: Path, match: str, readonly: bool = False) -> None:
    before = sha256(path)
    with pytest.raises(ProjectError, match=match) as info:
        Project.open(path, readonly=readonly)
    assert str(path) in str(info.value)
    assert sha256(path) == before
    assert _side_files(path) == []


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A closed project with enough content to span many pages."""
    path = tmp_path / "saved.raresight"
    with Project.create(path) as project:
        project.add_images(make_pngs(tmp_path / "images", 12, size=48), class_name="a", embed=True)
    return path


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.raresight"
    path.write_bytes(os.urandom(8192))
    _refused(path, "not a RareSight project \\(not an SQLite file\\)")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.raresight"
    path.write_bytes(b"")
    _refused(path, "an empty file")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="no such project file; create it with 'raresight project create"):
        Project.open(tmp_path / "absent.raresight")
    with pytest.raises(ProjectError, match="is a folder"):
        Project.open(tmp_path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 50])
def test_truncated_project(saved: Path, keep: float) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)] if keep < 1 else data[: int(keep)])
    _refused(saved, "truncated" if keep < 1 else "not an SQLite file")
    _refused(saved, "truncated" if keep < 1 else "not an SQLite file", readonly=True)


def test_damaged_page_is_reported_and_left_alone(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    page = 4096
    data[5 * page : 6 * page] = os.urandom(page)
    saved.write_bytes(bytes(data))
    before = sha256(saved)
    try:
        with Project.open(saved, readonly=True) as project:
            findings = project.verify(check_files=False)
            assert any(f.kind == "integrity" for f in findings)
    except ProjectError as exc:
        assert "damaged" in str(exc)
    assert sha256(saved) == before


def test_sqlite_file_of_another_application(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO patients (name) VALUES ('x')")
    conn.commit()
    conn.close()
    _refused(path, "an SQLite database but not a RareSight project")


def test_sqlite_file_with_our_id_but_other_tables(tmp_path: Path) -> None:
    path = tmp_path / "odd.raresight"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1381197684")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("CREATE TABLE something (x)")
    conn.commit()
    conn.close()
    _refused(path, "damaged \\(missing tables")


def test_newer_schema_version(saved: Path) -> None:
    conn = sqlite3.connect(saved)
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    _refused(saved, f"newer RareSight \\(project schema 7, this version reads up to {schema.SCHEMA_VERSION}\\).*update RareSight")
    _refused(saved, "newer RareSight", readonly=True)


def test_read_only_file(saved: Path) -> None:
    saved.chmod(0o444)
    try:
        _refused(saved, "read-only")
        with Project.open(saved, readonly=True) as project:
            assert project.info().images == 12
    finally:
        saved.chmod(0o644)


def test_read_only_folder(saved: Path, tmp_path: Path) -> None:
    before = sha256(saved)
    saved.parent.chmod(0o555)
    try:
        with pytest.raises(ProjectError, match="read-only"):
            Project.open(saved)
        with pytest.raises(ProjectError, match="read-only"):
            Project.create(saved.parent / "new.raresight")
    finally:
        saved.parent.chmod(0o755)
    assert sha256(saved) == before


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    """A folder mounts can be made on (root on Linux only), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a read-only or a small file system")
    point = tmp_path / "mnt"
    point.mkdir()
    yield point
    subprocess.run(["umount", str(point)], check=False, capture_output=True)


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"mount not permitted here: {result.stderr.strip()}")


def test_read_only_file_system(saved: Path, mount_point: Path) -> None:
    _mount("--bind", str(saved.parent), str(mount_point))
    _mount("-o", "remount,bind,ro", str(mount_point))
    path = mount_point / saved.name
    before = sha256(path)
    with pytest.raises(ProjectError, match="read-only"):
        Project.open(path)
    with Project.open(path, readonly=True) as project:
        assert project.info().images == 12
        assert project.verify(check_files=False) == []
    assert sha256(path) == before


def test_full_disk_at_the_size_limit(saved: Path, tmp_path: Path) -> None:
    before = sha256(saved)
    with Project.open(saved) as project:
        pages = project._db.conn.execute("PRAGMA page_count").fetchone()[0]
        project._db.conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(ProjectError, match=r"disk is full.*nothing from this step was saved"):
            project.add_images(make_pngs(tmp_path / "more", 8, seed=9, size=64), embed=True)
        assert project.info().images == 12
    assert sha256(saved) == before
    with Project.open(saved, readonly=True) as project:
        assert project.verify(check_files=False) == []


def test_full_disk_on_a_small_file_system(mount_point: Path, tmp_path: Path) -> None:
    _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point))
    path = mount_point / "small.raresight"
    with Project.create(path) as project:
        project.add_images(make_pngs(tmp_path / "few", 2), class_name="a")
    before = sha256(path)
    # Leave room to open the project (its 32 kB -shm file) but not to save four 90 kB images.
    stats = os.statvfs(mount_point)
    filler = mount_point / "filler"
    filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - 64 * 1024))
    with Project.open(path) as project, pytest.raises(ProjectError, match=r"disk is full.*free some space"):
        project.add_images(make_pngs(tmp_path / "big", 4, seed=3, size=300), embed=True, batch_size=4)
    assert sha256(path) == before
    filler.unlink()
    with Project.open(path, readonly=True) as project:
        assert project.info().labelled_images == 2
        assert project.verify(check_files=False) == []


def test_full_disk_when_creating(mount_point: Path) -> None:
    _mount("-t", "tmpfs", "-o", "size=8k", "tmpfs", str(mount_point))
    with pytest.raises(ProjectError, match=r"disk is full|could not be written|disk error|could not be opened"):
        Project.create(mount_point / "new.raresight")
    assert list(mount_point.iterdir()) == []
