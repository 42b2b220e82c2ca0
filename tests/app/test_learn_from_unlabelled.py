"""Model menu > "Learn from unlabelled images": remembered, passed to the adaptation, and said in the window."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

import core.scoring.pipeline
from app.gui import settings
from app.gui.main_window import MainWindow
from core.store import Project
from tests.app.clinic import TIMEOUT_MS, adapt, labelled_project, make_folder
from tests.app.conftest import shown_window
from tests.core.embedding.tiny import register_tiny

pytestmark = pytest.mark.gui
METHOD = "soft-kmeans"


@pytest.fixture
def window(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    # independent of which method core/fewshot's measurements make the default (it may be "none")
    monkeypatch.setattr(core.scoring.pipeline, "DEFAULT_POOL_METHOD", METHOD)
    return shown_window(qtbot, MainWindow(backbone=register_tiny(), budget_s=0.3))


def _menu_action(window: MainWindow, menu_title: str, text: str) -> object:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == menu_title)
    return next(a for a in menu.actions() if a.text() == text)


def _pool_used(path: Path) -> dict[str, object]:
    with Project.open(path, readonly=True) as project:
        state = project.model_state()
    assert state is not None
    return dict(state.settings["pool_used"])


def test_the_option_is_on_at_first_and_remembered(qtbot: QtBot, window: MainWindow) -> None:
    action = window.project_actions.use_unlabelled
    assert _menu_action(window, "Model", "Learn from unlabelled images") is action
    assert action.isCheckable() and action.isChecked() and settings.use_unlabelled()
    action.trigger()  # the clinician unticks it
    assert not settings.use_unlabelled()
    again = shown_window(qtbot, MainWindow(backbone=register_tiny(), budget_s=0.3))
    assert not again.project_actions.use_unlabelled.isChecked()  # a new session starts as it was left


def test_adapt_follows_the_option_and_the_window_says_what_was_used(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    make_folder(tmp_path / "cases")
    path = tmp_path / "study.raresight"
    labelled_project(qtbot, window, tmp_path / "cases", path, {"red": 2, "green": 2, "blue": 2})
    adapt(qtbot, window)
    used = _pool_used(path)
    assert used["method"] == METHOD and 0 < int(used["images"]) <= 15  # the 15 unlabelled images, their images only
    said = f"{used['images']} unlabelled images ({METHOD})"
    assert said in window.status.result.text()
    qtbot.waitUntil(lambda: said in window.quality.pool.text(), timeout=TIMEOUT_MS)  # Support quality tab

    window.project_actions.use_unlabelled.trigger()  # off
    adapt(qtbot, window)
    assert _pool_used(path) == {"images": 0, "method": "none"}
    assert "learned from the labelled examples only" in window.status.result.text()
    qtbot.waitUntil(lambda: "no unlabelled images were used" in window.quality.pool.text(), timeout=TIMEOUT_MS)
