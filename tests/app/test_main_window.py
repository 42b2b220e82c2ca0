"""The main window driven like a clinician would: open a folder, pick a CT, drag window/level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.gui.services import CT_PRESETS, DRAG_PIXELS_PER_RANGE
from app.gui.viewmodels.file_models import PATH_ROLE
from app.gui.views.image_canvas import WHEEL_STEP
from core.imaging import Window, load_image
from tests.app.conftest import ImageFolder
from tests.app.helpers import TIMEOUT_MS, click_thumbnail, drag, load, message_boxes

pytestmark = pytest.mark.gui


def _canvas_center_pixel(window: MainWindow) -> tuple[int, int, int]:
    """(x, y) of the image pixel at the canvas centre, and the grey level the screen shows there."""
    canvas = window.viewer.canvas
    center = canvas.rect().center()
    x, y = canvas.image_point(center.toPointF())
    grey = canvas.grab().toImage().pixelColor(center).red()
    return x, y, grey


def test_loads_folder_into_grid_and_lists_unreadable_files(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    readable, unreadable = load(qtbot, window, image_folder.root)

    assert (readable, unreadable) == (4, 2)
    grid = window.library.grid.model()
    shown = {Path(grid.index(row, 0).data(PATH_ROLE)).name for row in range(grid.rowCount())}
    assert shown == {p.name for p in image_folder.readable}  # rtdose.dcm comes from sub/: recursive
    failures = window.library.failures.model()
    reasons = {failures.index(row, 0).data(): failures.index(row, 1).data() for row in range(failures.rowCount())}
    assert set(reasons) == {"broken.dcm", "empty.dcm"}
    assert reasons["broken.dcm"].startswith("Pixel data could not be decoded; export the image again")
    assert "empty" in reasons["empty.dcm"]
    assert str(image_folder.broken) in failures.index(0, 1).data(Qt.ItemDataRole.ToolTipRole) + failures.index(1, 1).data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert "(4)" in window.library.grid_title.text() and "(2)" in window.library.failures_title.text()


def test_window_level_drag_changes_what_the_viewer_shows(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    load(qtbot, window, image_folder.root)
    click_thumbnail(qtbot, window, image_folder.ct)
    model, canvas = window.viewer_model, window.viewer.canvas
    image, before = model.image, model.window
    assert image is not None and before is not None
    np.testing.assert_array_equal(canvas.shown_pixels(), image.render(before))
    low, high = image.value_range
    step = (high - low) / DRAG_PIXELS_PER_RANGE
    center = canvas.rect().center()

    drag(canvas, Qt.MouseButton.RightButton, center, QPoint(120, 0))  # rightward: wider window

    after = model.window
    assert after is not None
    assert after.width == pytest.approx(before.width + 120 * step)
    assert after.center == pytest.approx(before.center)
    np.testing.assert_array_equal(canvas.shown_pixels(), image.render(after))
    x, y, grey = _canvas_center_pixel(window)
    assert grey == image.render(after)[y, x]  # the screen shows the new window's rendering
    assert window.viewer.window_label.text() == f"W {after.width:.0f} / L {after.center:.0f}"

    drag(canvas, Qt.MouseButton.RightButton, center, QPoint(0, 80))  # downward: higher level
    assert model.window is not None and model.window.center == pytest.approx(before.center + 80 * step)
    np.testing.assert_array_equal(canvas.shown_pixels(), image.render(model.window))
    assert window.viewer.presets.currentIndex() == -1  # a custom window, no preset matches

    width = model.window.width  # Shift + left drag does the same on a one-button trackpad
    drag(canvas, Qt.MouseButton.LeftButton, center, QPoint(-50, 0), modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert model.window.width == pytest.approx(width - 50 * step)


def test_ct_presets_and_metadata_without_patient_identifiers(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    load(qtbot, window, image_folder.root)
    click_thumbnail(qtbot, window, image_folder.ct)
    combo, model = window.viewer.presets, window.viewer_model
    names = [combo.itemText(i) for i in range(combo.count())]
    assert [n.split(" (")[0] for n in names] == [w.name for w in CT_PRESETS] + ["Full range"]

    combo.setCurrentIndex(names.index(next(n for n in names if n.startswith("Lung"))))

    assert model.window == Window(-600.0, 1500.0, "Lung")
    assert model.image is not None
    np.testing.assert_array_equal(window.viewer.canvas.shown_pixels(), model.image.render(Window(-600.0, 1500.0)))
    assert window.viewer.window_label.text() == "W 1500 / L -600"
    shown = window.metadata.values()
    assert shown["Modality"] == "CT" and shown["Rows"] == "128"
    ds = pydicom.dcmread(image_folder.ct)
    for identifier in (str(ds.PatientName), str(ds.PatientID)):
        assert identifier and all(identifier not in value for value in shown.values())


def test_file_windows_are_offered_for_mr(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    load(qtbot, window, image_folder.root)
    click_thumbnail(qtbot, window, image_folder.mr)
    names = [window.viewer.presets.itemText(i) for i in range(window.viewer.presets.count())]
    assert names[0].startswith("File: ") and names[-1].startswith("Full range")
    assert not any(n.startswith("Lung") for n in names)  # CT presets are for CT only
    assert window.viewer.presets.currentIndex() == 0  # the file's first window is the default


def test_frame_slider_loads_other_frames(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    load(qtbot, window, image_folder.root)
    click_thumbnail(qtbot, window, image_folder.multi)
    slider, model = window.viewer.frame_slider, window.viewer_model
    assert model.image is not None and model.image.n_frames == 15
    assert slider.isVisible() and (slider.minimum(), slider.maximum(), slider.value()) == (0, 14, 7)

    slider.setValue(3)

    qtbot.waitUntil(lambda: model.image is not None and model.image.frame == 3 and not model.loading, timeout=TIMEOUT_MS)
    expected = load_image(image_folder.multi, frame=3).display
    np.testing.assert_array_equal(window.viewer.canvas.shown_pixels(), expected)
    assert "frame 4 of 15" in window.viewer.title.text()

    drag(window.viewer.canvas, Qt.MouseButton.RightButton, QPoint(100, 100), QPoint(50, 0))
    chosen = model.window
    slider.setValue(10)
    qtbot.waitUntil(lambda: model.image is not None and model.image.frame == 10, timeout=TIMEOUT_MS)
    assert model.window == chosen  # the user's window survives a frame change
    np.testing.assert_array_equal(window.viewer.canvas.shown_pixels(), model.image.render(chosen))

    for frame in range(15):  # scrubbing: each new frame request replaces the one still queued
        slider.setValue(frame)
    qtbot.waitUntil(lambda: model.image is not None and model.image.frame == 14 and not model.loading, timeout=TIMEOUT_MS)
    assert window.viewer.frame_label.text() == "Frame 15 / 15"


def test_single_frame_hides_slider_and_png_has_full_range_only(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    load(qtbot, window, image_folder.root)
    click_thumbnail(qtbot, window, image_folder.png)
    assert not window.viewer.frame_slider.isVisible()
    names = [window.viewer.presets.itemText(i) for i in range(window.viewer.presets.count())]
    assert [n.split(" (")[0] for n in names] == ["Full range"]


def wheel(widget: QWidget, pos: QPoint, notches: int) -> None:
    """Turn the mouse wheel over ``pos`` (QTest has no wheel helper)."""
    event = QWheelEvent(
        pos.toPointF(),
        widget.mapToGlobal(pos).toPointF(),
        QPoint(),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_zoom_and_pan(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    load(qtbot, window, image_folder.root)
    click_thumbnail(qtbot, window, image_folder.ct)
    canvas = window.viewer.canvas
    center = canvas.rect().center()
    fitted = canvas.zoom
    point = canvas.image_point(center.toPointF())

    wheel(canvas, center, notches=2)
    assert canvas.zoom == pytest.approx(fitted * WHEEL_STEP**2)
    assert canvas.image_point(center.toPointF()) == point  # zoom keeps the point under the cursor

    drag(canvas, Qt.MouseButton.LeftButton, center, QPoint(-40, 0))
    x, _ = canvas.image_point(center.toPointF())
    assert x > point[0]  # dragging left brings pixels from the right under the cursor
    canvas.fit()
    assert canvas.zoom == pytest.approx(fitted)


def test_unreadable_selection_shows_core_message(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    image_folder.ct.unlink()
    window.viewer_model.open(str(image_folder.ct))
    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=TIMEOUT_MS)
    box = message_boxes()[0]
    assert str(image_folder.ct) in box.text() and "file not found" in box.text()
    box.reject()


def test_about_box_carries_research_notice(qtbot: QtBot, window: MainWindow) -> None:
    window.about_action.trigger()
    boxes = message_boxes()
    assert boxes and "Research use only, not for clinical diagnosis" in boxes[0].text()
    boxes[0].reject()
    assert "Research use only" in window.status.notice.text() and window.status.notice.isVisible()


def test_dropping_a_folder_opens_it(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_folder.root))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(50, 50), *args)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(window.library_model.loadFinished, timeout=TIMEOUT_MS) as blocker:
        QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), *args))
    assert blocker.args == [4, 2]


def test_status_bar_shows_the_value_under_the_cursor(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    load(qtbot, window, image_folder.root)
    click_thumbnail(qtbot, window, image_folder.ct)
    canvas, image = window.viewer.canvas, window.viewer_model.image
    assert image is not None
    center = canvas.rect().center()
    QTest.mouseMove(canvas, center)
    x, y = canvas.image_point(center.toPointF())
    assert window.status.pixel.text() == f"x {x}, y {y}: {image.pixels[y, x]:.0f} HU"


def test_a_project_path_opens_the_project(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    from core.store import Project

    path = tmp_path / "given.raresight"
    with Project.create(path) as project:
        project.add_class("target cell")
    window.open_paths([str(path)])
    qtbot.waitUntil(lambda: window.project_model.project is not None, timeout=TIMEOUT_MS)
    assert "given.raresight" in window.windowTitle()
