"""The clinician's window end to end, with the tiny backbone: create, import, label, adapt, read, override, undo, reopen."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.gui import settings
from app.gui.main_window import MainWindow
from app.gui.views import dialogs
from core.store import Project
from tests.app.clinic import (
    TIMEOUT_MS,
    add_class,
    drag_selection_to_class,
    grid_ids,
    image_id,
    make_folder,
    select,
    wait_idle,
)
from tests.app.helpers import message_boxes
from tests.core.embedding.tiny import register_tiny

pytestmark = pytest.mark.gui


@pytest.fixture
def tiny() -> str:
    return register_tiny()


def make_window(qtbot: QtBot, backbone: str) -> MainWindow:
    window = MainWindow(backbone=backbone, budget_s=0.5)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    return window


def test_clinician_flow_end_to_end(qtbot: QtBot, tiny: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cases"
    images = make_folder(folder)
    project_path = tmp_path / "study.raresight"
    monkeypatch.setattr(dialogs, "choose_new_project", lambda parent: str(project_path))
    monkeypatch.setattr(dialogs, "choose_folder", lambda parent: str(folder))
    window = make_window(qtbot, tiny)

    window.project_actions.new_project.trigger()  # File > New project…
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.project_model.importFinished, timeout=TIMEOUT_MS) as imported:
        window.open_folder_action.trigger()  # File > Import folder…
    assert imported.args == [21, 0] and len(grid_ids(window)) == 21
    wait_idle(qtbot, window)

    for name in ("red", "green", "blue"):
        add_class(window, name, f"{name} cells")
    assert window.project_model.classes.names() == ["red", "green", "blue"]

    select(qtbot, window, images["red"][:4])
    QTest.keyClick(window.library.grid, Qt.Key.Key_1)  # key 1: the first class
    select(qtbot, window, images["green"][:3])
    QTest.keyClick(window.library.grid, Qt.Key.Key_2)
    select(qtbot, window, images["blue"][:4])
    drag_selection_to_class(window, "blue")  # by drag, onto the class
    labels = window.project_model.labels
    assert sorted(labels.values()) == ["blue"] * 4 + ["green"] * 3 + ["red"] * 4
    assert "red (4)" in window.project_model.classes.index(0, 0).data()

    assert window.project_actions.adapt.isEnabled()
    with qtbot.waitSignal(window.project_model.adaptFinished, timeout=TIMEOUT_MS) as adapted:
        window.project_actions.adapt.trigger()
        assert window.project_model.task == "adapt", window.status.currentMessage()
        assert not message_boxes()
    assert adapted.args[0].predictions == 10

    query = images["red"][5]
    select(qtbot, window, [query])
    panel = window.prediction
    qtbot.waitUntil(lambda: window.prediction_model.explanation is not None and panel.bars.isVisible(), timeout=TIMEOUT_MS)
    rows = panel.bars.rows()
    assert {name for name, _ in rows} == {"red", "green", "blue"} and rows[0][0] == "red"
    assert sum(p for _, p in rows) == pytest.approx(1.0)
    assert "red" in panel.prediction_set.text()
    assert len(panel.support_labels) == 3 * 3  # three nearest support examples per class, with similarity
    assert all(-1.0 <= float(caption.text()) <= 1.0 and caption.isVisible() for caption in panel.support_labels)
    assert all(cell.isVisible() and not cell.pixmap().isNull() for cell in panel.support_cells)  # the thumbnails show
    assert not panel.none_banner.isVisible()
    assert "version 1" in panel.title.text()

    panel.override_box.setCurrentText("green")
    QTest.mouseClick(panel.override_button, Qt.MouseButton.LeftButton)
    query_id = image_id(window, query)
    assert window.project_model.labels[query_id] == "green"
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Edit > Undo
    assert query_id not in window.project_model.labels
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Save: it already is
    assert "saved" in window.status.currentMessage()
    window.close()

    again = make_window(qtbot, tiny)
    assert settings.recent_projects()[0] == str(project_path.resolve())
    again.project_actions._fill_recent()
    again.project_actions.recent_menu.actions()[0].trigger()  # File > Open recent > study.raresight
    wait_idle(qtbot, again)
    model = again.project_model
    assert model.classes.names() == ["red", "green", "blue"]
    assert sorted(model.labels.values()) == ["blue"] * 4 + ["green"] * 3 + ["red"] * 4
    assert model.model_version == 1 and len(model.predictions) == 10
    assert len(grid_ids(again)) == 21
    with Project.open(project_path, readonly=True) as project:
        overrides = project.audit_log("override")
        assert overrides and overrides[-1].details["chosen"] == "green" and overrides[-1].details["predicted"] == "red"
        assert [c.description for c in project.classes()] == ["red cells", "green cells", "blue cells"]


def test_opening_a_file_that_is_not_a_project_shows_cores_message(qtbot: QtBot, tiny: str, tmp_path: Path) -> None:
    window = make_window(qtbot, tiny)
    bogus = tmp_path / "notes.raresight"
    bogus.write_text("not a project")
    window.project_model.open_project(bogus)
    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=TIMEOUT_MS)
    box = message_boxes()[0]
    assert str(bogus) in box.text()
    box.reject()
    assert window.project_model.project is None
