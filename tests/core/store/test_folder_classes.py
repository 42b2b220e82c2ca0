"""Folder-per-class archives become (file, class) pairs; empty and hidden folders are not classes."""

from __future__ import annotations

from pathlib import Path

from core.store import Project
from core.store.folder_classes import find_class_folders
from tests.core.store.helpers import make_pngs


def make_archive(root: Path) -> None:
    make_pngs(root / "sickle cell", 3, seed=1)
    make_pngs(root / "target cell" / "smear 2", 2, seed=2)  # images one level deeper still belong to the class
    make_pngs(root / ".thumbnails", 2, seed=3)  # hidden: not a class
    (root / "empty").mkdir()
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not an image")
    make_pngs(root / "sickle cell" / ".cache", 1, seed=4)  # hidden inside a class: skipped
    make_pngs(root, 1, seed=5)  # directly in the root: no class


def test_classes_files_and_loose_files(tmp_path: Path) -> None:
    make_archive(tmp_path / "archive")
    found = find_class_folders(tmp_path / "archive")
    assert found.classes == ["sickle cell", "target cell"]
    assert found.counts() == {"sickle cell": 3, "target cell": 2}
    assert [(p.parent.name, c) for p, c in found.pairs] == [("sickle cell", "sickle cell")] * 3 + [("smear 2", "target cell")] * 2
    assert [p.name for p in found.loose] == ["case_000.png"]


def test_a_flat_folder_or_a_file_has_no_classes(tmp_path: Path) -> None:
    flat = make_pngs(tmp_path / "flat", 2)
    assert find_class_folders(tmp_path / "flat").files == {}
    assert find_class_folders(flat[0]).files == {}
    assert find_class_folders(tmp_path / "missing").files == {}


def test_pairs_import_labelled_with_existing_project_calls(tmp_path: Path) -> None:
    make_archive(tmp_path / "archive")
    found = find_class_folders(tmp_path / "archive")
    with Project.create(tmp_path / "p.raresight", actor="dr.a") as project:
        for name, files in found.files.items():
            project.add_images(files, class_name=name)
        assert project.info().classes == {"sickle cell": 3, "target cell": 2}
