"""Helpers for the clinician's flow: a folder of coloured images, the tiny backbone, window actions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.gui.viewmodels.project_models import IMAGE_ID_ROLE
from tests.core.embedding.tiny import COLOURS, make_image

TIMEOUT_MS = 60_000
CLASSES = ("red", "green", "blue")


def make_folder(root: Path, per_class: int = 7) -> dict[str, list[Path]]:
    """``per_class`` images of each colour in ``root`` (file names start with the colour)."""
    written: dict[str, list[Path]] = {}
    for ci, name in enumerate(CLASSES):
        written[name] = [make_image(root / f"{name}_{i:02d}.png", COLOURS[name], seed=100 * ci + i) for i in range(per_class)]
    return written


def wait_idle(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.project_model.task == "" and not window.project_model.runner.busy, timeout=TIMEOUT_MS)


def image_id(window: MainWindow, path: Path) -> int:
    snapshot = window.project_model.snapshot
    assert snapshot is not None
    record = next(r for r in snapshot.images if Path(r.path).name == path.name)
    return int(record.id or 0)


def select(qtbot: QtBot, window: MainWindow, paths: Sequence[Path]) -> None:
    """Click the first thumbnail, Ctrl+click the others."""
    grid = window.library.grid
    for n, path in enumerate(paths):
        index = window.library.index_of_id(image_id(window, path))
        assert index.isValid(), f"{path.name} is not shown in the grid"
        grid.scrollTo(index)
        modifier = Qt.KeyboardModifier.ControlModifier if n else Qt.KeyboardModifier.NoModifier
        QTest.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, modifier, grid.visualRect(index).center())
    assert sorted(window.library.selected_ids()) == sorted(image_id(window, p) for p in paths)


def drag_selection_to_class(window: MainWindow, class_name: str) -> None:
    """Drag the selected thumbnails onto ``class_name`` in the classes panel (enter, move, drop)."""
    grid = window.library.grid
    mime = grid.model().mimeData(grid.selectionModel().selectedIndexes())
    assert mime.hasFormat("application/x-raresight-image-ids")
    target = window.classes.list.viewport()
    x, y = window.classes.row_rect_center(class_name)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(x, y), *args)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted(), "the class list refused the drag"
    move = QDragMoveEvent(QPoint(x, y), *args)
    QApplication.sendEvent(target, move)
    assert move.isAccepted(), "the class refused the drop"
    QApplication.sendEvent(target, QDropEvent(QPointF(x, y), *args))


def add_class(window: MainWindow, name: str, description: str = "") -> None:
    """Type a class name (and description) and press Enter, as a user would."""
    panel = window.classes
    if description:
        QTest.keyClicks(panel.description, description)
    panel.name.setFocus()
    QTest.keyClicks(panel.name, name)
    QTest.keyClick(panel.name, Qt.Key.Key_Return)


def grid_ids(window: MainWindow) -> list[int]:
    model = window.library.grid.model()
    return [int(model.index(row, 0).data(IMAGE_ID_ROLE)) for row in range(model.rowCount())]


def labelled_project(qtbot: QtBot, window: MainWindow, folder: Path, project_path: Path, shots: dict[str, int]) -> dict[str, list[Path]]:
    """Create a project in ``window``, import ``folder`` and label ``shots[class]`` images per class."""
    images = {name: sorted(folder.glob(f"{name}_*.png")) for name in CLASSES}
    model = window.project_model
    assert model.new_project(project_path)
    wait_idle(qtbot, window)
    with qtbot.waitSignal(model.importFinished, timeout=TIMEOUT_MS):
        window.open_paths([folder])
    wait_idle(qtbot, window)
    for name in CLASSES:
        model.add_class(name)
    for name, n in shots.items():
        model.label([image_id(window, p) for p in images[name][:n]], name)
    return images


def adapt(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.project_model.adaptFinished, timeout=TIMEOUT_MS):
        window.project_actions.adapt.trigger()
    wait_idle(qtbot, window)
