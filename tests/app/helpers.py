"""Helpers for driving the main window the way a user would."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow

TIMEOUT_MS = 10_000


def load(qtbot: QtBot, window: MainWindow, *paths: Path) -> tuple[int, int]:
    """Open ``paths`` and wait until the library has read them; returns (readable, unreadable)."""
    with qtbot.waitSignal(window.library_model.loadFinished, timeout=TIMEOUT_MS) as blocker:
        window.open_paths(list(paths))
    qtbot.waitUntil(lambda: not window.library_model.loading, timeout=TIMEOUT_MS)
    readable, unreadable = blocker.args
    return int(readable), int(unreadable)


def click_thumbnail(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    """Click the thumbnail of ``path`` and wait until the viewer shows that file."""
    grid = window.library.grid
    row = window.library_model.thumbnails.row_of(str(path))
    assert row >= 0, f"{path.name} is not in the grid"
    index = window.library_model.thumbnails.index(row, 0)
    grid.scrollTo(index)
    QTest.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grid.visualRect(index).center())
    viewer = window.viewer_model

    def shown() -> bool:
        return viewer.image is not None and Path(viewer.image.path).name == path.name and not viewer.loading

    qtbot.waitUntil(shown, timeout=TIMEOUT_MS)


def drag(
    widget: object,
    button: Qt.MouseButton,
    start: QPoint,
    offset: QPoint,
    steps: int = 4,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    """Press, move in ``steps`` and release: a real mouse drag."""
    QTest.mousePress(widget, button, modifiers, start)  # type: ignore[arg-type]
    for step in range(1, steps + 1):
        QTest.mouseMove(widget, start + offset * (step / steps))  # type: ignore[arg-type]
    QTest.mouseRelease(widget, button, modifiers, start + offset)  # type: ignore[arg-type]


def message_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
