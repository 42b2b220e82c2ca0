"""Undo and redo of labelling steps: new rows, never overwrites; the stacks survive reopening."""

from __future__ import annotations

from pathlib import Path

from core.store import Project


def test_undo_redo_walks_back_and_forth(project: Project, png_folder: Path) -> None:
    ids = project.add_images([png_folder]).added
    project.label(ids[:2], "a")
    project.label(ids[1:3], "b")
    assert project.labels() == {ids[0]: "a", ids[1]: "b", ids[2]: "b"}
    assert project.undo_state().undo is not None and project.undo_state().undo.description == "label 2 image(s) as 'b'"
    step = project.undo()
    assert step is not None and step.kind == "undo"
    assert project.labels() == {ids[0]: "a", ids[1]: "a"}
    project.undo()
    assert project.labels() == {}
    assert project.undo() is None
    assert not project.undo_state().can_undo and project.undo_state().can_redo
    project.redo()
    assert project.labels() == {ids[0]: "a", ids[1]: "a"}
    project.redo()
    assert project.labels() == {ids[0]: "a", ids[1]: "b", ids[2]: "b"}
    assert project.redo() is None


def test_a_new_step_clears_redo(project: Project, png_folder: Path) -> None:
    ids = project.add_images([png_folder]).added
    project.label(ids[:1], "a")
    project.label(ids[:1], "b")
    project.undo()
    project.label(ids[1:2], "c")
    assert not project.undo_state().can_redo
    project.undo()
    project.undo()
    assert project.labels() == {}


def test_nothing_is_overwritten(project: Project, png_folder: Path) -> None:
    ids = project.add_images([png_folder]).added
    project.label(ids[:1], "a")
    project.undo()
    project.redo()
    history = project.label_history(ids[0])
    assert [(e.class_name, e.previous_class_name) for e in history] == [("a", None), (None, "a"), ("a", None)]
    assert len(project.audit_log("label")) == 3
    assert project.verify() == []


def test_undo_history_survives_reopening(tmp_path: Path, png_folder: Path) -> None:
    path = tmp_path / "p.raresight"
    with Project.create(path) as project:
        ids = project.add_images([png_folder]).added
        project.label(ids[:2], "a")
    with Project.open(path) as project:
        project.undo()
        assert project.labels() == {}
    with Project.open(path) as project:
        project.redo()
        assert project.labels() == {ids[0]: "a", ids[1]: "a"}


def test_import_with_a_class_is_one_undoable_step_per_batch(project: Project, png_folder: Path) -> None:
    project.add_images([png_folder], class_name="a", batch_size=100)
    assert project.info().labelled_images == 6
    project.undo()
    assert project.info().labelled_images == 0 and project.info().images == 6
