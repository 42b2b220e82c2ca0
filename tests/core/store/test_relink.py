"""Relink: move the image folder, point the project at the new one, every label is on the right image."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.store import Project


def test_relink_after_moving_the_folder(tmp_path: Path, png_folder: Path, ct_file: Path) -> None:
    shutil.copy(ct_file, png_folder / "ct.dcm")
    (png_folder / "sub").mkdir()
    shutil.move(png_folder / "case_005.png", png_folder / "sub" / "case_005.png")
    path = tmp_path / "p.raresight"
    with Project.create(path) as project:
        ids = project.add_images([png_folder], recursive=True).added
        for index, image_id in enumerate(ids):
            project.label([image_id], f"class{index % 3}")
        before = {r.content_hash: project.labels()[r.id] for r in project.images() if r.id is not None}
    moved = tmp_path / "archive" / "moved"
    moved.parent.mkdir()
    shutil.move(png_folder, moved)
    with Project.open(path) as project:
        findings = project.verify()
        assert len(findings) == 7 and all("file missing" in f.message for f in findings)
        report = project.relink(tmp_path / "archive")
        assert sorted(report.relinked) == sorted(ids) and report.still_missing == []
        assert project.verify() == []
        after = {r.content_hash: project.labels()[r.id] for r in project.images() if r.id is not None}
        assert after == before
        for record in project.images():
            assert Path(record.path).is_relative_to(moved)
            assert Path(record.imported_path).is_relative_to(png_folder)
        assert project.audit_log("relink")[-1].details["count"] == 7


def test_relink_finds_renamed_files_and_reports_the_rest(tmp_path: Path, png_folder: Path) -> None:
    path = tmp_path / "p.raresight"
    with Project.create(path) as project:
        ids = project.add_images([png_folder]).added
    new = tmp_path / "new"
    new.mkdir()
    for index, file in enumerate(sorted(png_folder.iterdir())[:4]):
        shutil.move(file, new / f"renamed_{index}.png")
    (new / "unrelated.png").write_bytes(b"\x89PNG\r\n\x1a\nnot ours")
    shutil.rmtree(png_folder)
    with Project.open(path) as project:
        report = project.relink(new)
        assert report.relinked == ids[:4] and report.still_missing == ids[4:]
        assert len(project.verify()) == 2


def test_relink_with_nothing_missing_changes_nothing(project: Project, png_folder: Path) -> None:
    project.add_images([png_folder])
    report = project.relink(png_folder)
    assert report.relinked == [] and report.still_missing == [] and project.audit_log("relink") == []


def test_changed_file_is_reported(project: Project, png_folder: Path) -> None:
    project.add_images([png_folder])
    data = bytearray((png_folder / "case_002.png").read_bytes())
    data[-20] ^= 0xFF
    (png_folder / "case_002.png").write_bytes(bytes(data))
    findings = project.verify()
    assert len(findings) == 1 and "changed since import (content hash differs)" in findings[0].message
    assert project.verify(hash_files=False) == []
