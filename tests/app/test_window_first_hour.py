"""What a new user meets in the window (issue 15): a placeholder that fits, six classes in view,
file names that tell classes apart, a readable window box, a clean slate for a new project,
folder-per-class imports, report dialogs in the project's folder, results that stay, short reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.gui.views import dialogs
from app.gui.views.thumbnail_delegate import name_lines
from core.demo import write_demo_images
from core.store import Project
from tests.app.clinic import TIMEOUT_MS, adapt, labelled_project, make_folder, select, wait_idle
from tests.app.conftest import ImageFolder, shown_window
from tests.app.helpers import click_thumbnail, load, message_boxes
from tests.core.embedding.tiny import register_tiny

pytestmark = pytest.mark.gui


@pytest.fixture
def tiny_window(qtbot: QtBot) -> MainWindow:
    return shown_window(qtbot, MainWindow(backbone=register_tiny(), budget_s=0.5))


def import_into_new_project(qtbot: QtBot, window: MainWindow, project: Path, folder: Path) -> None:
    assert window.project_model.new_project(project)
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.project_model.importFinished, timeout=TIMEOUT_MS):
        window.open_paths([folder])
    wait_idle(qtbot, window)


def fully_visible_rows(window: MainWindow) -> int:
    view = window.classes.list
    area = view.viewport().rect()
    model = view.model()
    return sum(area.contains(view.visualRect(model.index(row, 0))) for row in range(model.rowCount()))


def test_the_viewer_placeholder_fits_the_state(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder, tmp_path: Path) -> None:
    canvas = window.viewer.canvas
    assert "New project" in canvas.placeholder
    assert window.project_model.new_project(tmp_path / "study.raresight")
    wait_idle(qtbot, window)
    assert "New project" not in canvas.placeholder and "no images yet" in canvas.placeholder
    with qtbot.waitSignal(window.project_model.importFinished, timeout=TIMEOUT_MS):
        window.open_paths([image_folder.root])  # one subfolder only: not a class archive, no question
    wait_idle(qtbot, window)
    assert canvas.placeholder == "Select a thumbnail on the left to view it"
    assert canvas.shown_pixels() is None  # nothing selected yet: the placeholder is what shows


def test_the_class_list_shows_six_classes_and_grows_with_the_window(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    assert window.project_model.new_project(tmp_path / "study.raresight")
    wait_idle(qtbot, window)
    for n in range(12):
        window.project_model.add_class(f"class {n + 1}")
    qtbot.waitUntil(lambda: fully_visible_rows(window) > 0)
    assert window.size().height() == 800  # the default size (settings are fresh in tests)
    default = fully_visible_rows(window)
    assert default >= 6
    window.resize(window.width(), 1100)
    qtbot.waitUntil(lambda: fully_visible_rows(window) > default)


def test_similar_long_names_stay_apart_and_show_their_class(qtbot: QtBot, tiny_window: MainWindow, tmp_path: Path) -> None:
    grid = tiny_window.library.grid
    width = grid.gridSize().width() - 4
    sickle, disco = "synthetic_sickle_cell_003.png", "synthetic_discocyte_003.png"
    shown = {name: name_lines(name, grid.fontMetrics(), width) for name in (sickle, disco)}
    assert shown[sickle] != shown[disco]
    assert "sickle" in "".join(shown[sickle]) and "disco" in "".join(shown[disco])
    assert all(lines[-1].endswith("003.png") for lines in shown.values())
    assert all(grid.fontMetrics().horizontalAdvance(line) <= width for lines in shown.values() for line in lines)

    cells = write_demo_images(tmp_path / "cells", per_class=2, seed=1)
    assert tiny_window.project_model.new_project(tmp_path / "study.raresight")
    wait_idle(qtbot, tiny_window)
    tiny_window.project_model.import_paths([tmp_path / "cells"])
    wait_idle(qtbot, tiny_window)
    path = cells["sickle cell"][0]
    tiny_window.project_model.add_class("sickle cell")
    tiny_window.project_model.label([_id(tiny_window, path)], "sickle cell")
    index = tiny_window.library.index_of_id(_id(tiny_window, path))
    tip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert str(path) in tip and "Labelled: sickle cell" in tip


def _id(window: MainWindow, path: Path) -> int:
    snapshot = window.project_model.snapshot
    assert snapshot is not None
    return next(int(r.id or 0) for r in snapshot.images if r.path == str(path))


def test_the_window_box_is_wide_enough_for_its_text(qtbot: QtBot, window: MainWindow, image_folder: ImageFolder) -> None:
    colour = image_folder.root / "colour.png"
    Image.fromarray(np.full((20, 30, 3), (200, 40, 40), dtype=np.uint8)).save(colour)
    box = window.viewer.presets
    window.open_paths([colour, image_folder.ct])
    qtbot.waitUntil(lambda: window.library_model.thumbnails.rowCount() == 2 and not window.library_model.loading, timeout=TIMEOUT_MS)
    click_thumbnail(qtbot, window, colour)
    assert not box.isEnabled() and box.placeholderText() and box.currentIndex() == -1
    assert box.width() >= box.fontMetrics().horizontalAdvance(box.placeholderText()) + 20
    click_thumbnail(qtbot, window, image_folder.ct)
    longest = max((box.itemText(i) for i in range(box.count())), key=box.fontMetrics().horizontalAdvance)
    assert "Mediastinum" in longest and box.width() >= box.fontMetrics().horizontalAdvance(longest) + 20
    assert box.currentText() in box.toolTip()


def test_a_new_project_clears_the_viewer_metadata_and_prediction(qtbot: QtBot, tiny_window: MainWindow, tmp_path: Path) -> None:
    window = tiny_window
    folder = tmp_path / "cases"
    make_folder(folder)
    labelled_project(qtbot, window, folder, tmp_path / "a.raresight", {"red": 3, "green": 3, "blue": 3})
    adapt(qtbot, window)
    select(qtbot, window, [folder / "red_05.png"])
    qtbot.waitUntil(lambda: window.viewer_model.image is not None and not window.viewer_model.loading, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.prediction_model.explanation is not None, timeout=TIMEOUT_MS)
    assert window.metadata.rowCount() > 0 and window.viewer.canvas.shown_pixels() is not None

    assert window.project_model.new_project(tmp_path / "b.raresight")
    wait_idle(qtbot, window)
    assert window.viewer_model.image is None and window.viewer.canvas.shown_pixels() is None
    assert window.viewer.title.text() == "No image" and window.metadata.rowCount() == 0
    assert window.prediction_model.image_id is None
    qtbot.waitUntil(lambda: window.prediction_model.explanation is None, timeout=TIMEOUT_MS)
    assert "no images yet" in window.viewer.canvas.placeholder


def _answer(qtbot: QtBot, button_text: str) -> None:
    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=TIMEOUT_MS)
    box = message_boxes()[0]
    assert "5 subfolders of images" in box.text() and "sickle_cell (3)" in box.text()  # folder names, as written
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    chosen = cancel if button_text == "Cancel" else next(b for b in box.buttons() if b.text() == button_text)
    chosen.click()


def test_a_folder_per_class_archive_imports_labelled(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    cells = write_demo_images(tmp_path / "cells", per_class=3, seed=1)
    (tmp_path / "cells" / ".DS_Store").mkdir()  # hidden: no class
    (tmp_path / "cells" / "empty").mkdir()  # no images: no class
    path = tmp_path / "study.raresight"
    model = window.project_model
    assert model.new_project(path)
    wait_idle(qtbot, window)
    with qtbot.waitSignal(model.importFinished, timeout=TIMEOUT_MS):
        window.open_paths([tmp_path / "cells"])
        _answer(qtbot, dialogs.LABELLED_IMPORT)
    wait_idle(qtbot, window)
    folders = sorted({p.parent.name for paths in cells.values() for p in paths})
    assert sorted(model.classes.names()) == folders
    with Project.open(path, readonly=True) as project:
        assert project.info().classes == {name: 3 for name in folders}
    assert "labelled by subfolder" in window.status.result.text()


def test_a_folder_per_class_archive_can_come_in_unlabelled_or_not_at_all(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    write_demo_images(tmp_path / "cells", per_class=3, seed=1)
    model = window.project_model
    assert model.new_project(tmp_path / "study.raresight")
    wait_idle(qtbot, window)
    window.open_paths([tmp_path / "cells"])
    _answer(qtbot, "Cancel")
    wait_idle(qtbot, window)
    assert model.snapshot is not None and model.snapshot.images == []
    with qtbot.waitSignal(model.importFinished, timeout=TIMEOUT_MS):
        window.open_paths([tmp_path / "cells"])
        _answer(qtbot, dialogs.PLAIN_IMPORT)
    wait_idle(qtbot, window)
    assert len(model.snapshot.images) == 15 and model.labels == {} and model.classes.names() == []


def test_report_dialog_starts_in_the_project_folder_and_the_result_stays(
    qtbot: QtBot, tiny_window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = tiny_window
    folder, project_dir, reports = tmp_path / "cases", tmp_path / "projects", tmp_path / "reports"
    make_folder(folder)
    project_dir.mkdir()
    reports.mkdir()
    labelled_project(qtbot, window, folder, project_dir / "study.raresight", {"red": 3, "green": 3, "blue": 3})
    adapt(qtbot, window)
    select(qtbot, window, [folder / "red_05.png"])
    starts: list[Path] = []

    def save_as(parent: object, title: str, start: str, file_filter: str) -> tuple[str, str]:
        starts.append(Path(start))  # the native dialog can't be driven offscreen; where it opens can
        return str(reports / f"case{len(starts)}.html"), "HTML (*.html)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    for _ in range(2):
        with qtbot.waitSignal(window.project_model.exportFinished, timeout=TIMEOUT_MS):
            window.project_actions.report.trigger()
        wait_idle(qtbot, window)
    assert [s.parent for s in starts] == [project_dir, reports]  # then where the last report went
    assert starts[0].name == "study-report.pdf"

    result = window.status.result
    assert result.isVisible() and result.text() == f"Report of 1 case(s) written to {reports / 'case2.html'}"
    window.status.showMessage("Labelled 1 image(s) as red.", 10_000)  # a transient message covers it...
    window.status.clearMessage()  # ... and times out
    assert result.isVisible() and "case2.html" in result.text()


def test_unreadable_files_show_a_short_reason_with_the_full_text_on_hover(
    qtbot: QtBot, window: MainWindow, image_folder: ImageFolder
) -> None:
    load(qtbot, window, image_folder.root)
    failures = window.library.failures.model()
    row = next(r for r in range(failures.rowCount()) if failures.index(r, 0).data() == "broken.dcm")
    reason = failures.index(row, 1).data()
    assert reason == "Pixel data could not be decoded; export the image again from the scanner or PACS"
    tip = failures.index(row, 1).data(Qt.ItemDataRole.ToolTipRole)
    assert "white-space: pre-wrap" in tip and "number of bytes of pixel data is less than expected" in tip
    assert window.status.result.text() == "Read 4 image(s); 2 file(s) could not be read."


def test_a_report_exported_from_the_window_for_the_demo_project_says_its_images_are_synthetic(
    qtbot: QtBot, tiny_window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.demo.project import run_demo
    from core.reports.content import SYNTHETIC_NOTICE

    demo = run_demo(tmp_path / "demo", per_class=6, budget_s=0.5, backbone=register_tiny())
    window = tiny_window
    window.open_paths([demo.project])
    wait_idle(qtbot, window)
    snapshot = window.project_model.snapshot
    assert snapshot is not None and window.project_model.model_version is not None
    window.library.select_ids([int(r.id or 0) for r in snapshot.images[:2]])
    out = tmp_path / "from-window.html"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(out), "HTML (*.html)"))
    with qtbot.waitSignal(window.project_model.exportFinished, timeout=TIMEOUT_MS):
        window.project_actions.report.trigger()
    wait_idle(qtbot, window)
    assert SYNTHETIC_NOTICE in out.read_text(encoding="utf-8")
