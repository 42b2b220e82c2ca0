"""Importing a file with a class never moves an image the project already has under another class
silently: without ``relabel`` it keeps its label and is reported; with it, the change is audited."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.store import LabelConflict, Project
from tests.core.store.helpers import make_pngs


def _labelled_square(project: Project, tmp_path: Path) -> tuple[list[Path], Path]:
    """Two images labelled square, and a byte copy of the first under another name."""
    squares = make_pngs(tmp_path / "squares", 2, seed=1)
    project.add_images(squares, class_name="square")
    copy = tmp_path / "copy_of_a_square.png"
    shutil.copyfile(squares[0], copy)  # a byte copy under another name: the same image
    return squares, copy


def test_without_relabel_the_old_label_stays_and_is_reported(project: Project, tmp_path: Path) -> None:
    _, copy = _labelled_square(project, tmp_path)
    circle = make_pngs(tmp_path / "circles", 1, seed=2)[0]
    report = project.add_images([copy, circle], class_name="circle")
    image_id = report.duplicates[0][1]
    assert report.label_conflicts == [LabelConflict(str(copy.resolve()), image_id, "square", "circle")]
    assert report.relabelled == [] and report.labelled == 1  # only the new circle
    assert project.info().classes == {"square": 2, "circle": 1}
    assert [(e.details["image_id"], e.details["class"]) for e in project.audit_log("label") if e.details["image_id"] == image_id] == [
        (image_id, "square")
    ]


def test_relabel_moves_it_and_the_audit_names_both_classes(project: Project, tmp_path: Path) -> None:
    _, copy = _labelled_square(project, tmp_path)
    report = project.add_images([copy], class_name="circle", relabel=True)
    image_id = report.duplicates[0][1]
    assert report.relabelled == [LabelConflict(str(copy.resolve()), image_id, "square", "circle")]
    assert report.label_conflicts == [] and report.labelled == 1
    assert project.info().classes == {"square": 1, "circle": 1}
    entry = project.audit_log("label")[-1]
    assert (entry.details["image_id"], entry.details["previous"], entry.details["class"]) == (image_id, "square", "circle")
    assert project.undo_state().undo is not None and "relabelling 1" in project.undo_state().undo.description
    project.undo()
    assert project.info().classes == {"square": 2, "circle": 0}


def test_same_class_or_unlabelled_is_no_conflict(project: Project, tmp_path: Path) -> None:
    _, copy = _labelled_square(project, tmp_path)
    unlabelled = make_pngs(tmp_path / "plain", 1, seed=3)
    project.add_images(unlabelled)
    report = project.add_images([copy, *unlabelled], class_name="square")
    assert report.label_conflicts == [] and report.relabelled == []
    assert project.info().classes == {"square": 3}
