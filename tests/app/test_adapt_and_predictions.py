"""Adapting in the worker (cancel leaves the project as it was), the panels it fills, label next, export."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.gui import model_services, settings
from app.gui.main_window import MainWindow
from app.gui.project_services import usefulness
from app.gui.views import dialogs
from core.fewshot.quality import NO_ESTIMATE_ADVICE, AccuracyEstimate
from core.store import Project
from tests.app.clinic import TIMEOUT_MS, adapt, grid_ids, image_id, labelled_project, make_folder, select, wait_idle
from tests.app.conftest import shown_window
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot: QtBot) -> MainWindow:
    return shown_window(qtbot, MainWindow(backbone=register_tiny(), budget_s=0.5))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    make_folder(tmp_path / "cases")
    return tmp_path / "cases"


def project_state(path: Path) -> dict[str, Any]:
    """Everything a cancelled adaptation must leave alone."""
    with Project.open(path, readonly=True) as project:
        return {
            "info": project.info().to_dict(),
            "audit": [(e.id, e.action, e.details) for e in project.audit_log()],
            "labels": project.labels(),
            "model": project.model_state(),
            "predictions": project.predictions(),
            "bytes_of_undo": project.undo_state(),
        }


def test_cancel_during_adaptation_leaves_the_project_as_it_was(
    qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "study.raresight"
    labelled_project(qtbot, window, folder, path, {"red": 3, "green": 3, "blue": 3})
    before = project_state(path)
    reached, release = threading.Event(), threading.Event()
    real = model_services.adapt_project

    def held(project: Project, **kwargs: Any) -> Any:  # the real adaptation, paused once while predicting
        progress = kwargs["progress"]

        def hold(fraction: float, message: str) -> None:
            progress(fraction, message)
            if fraction >= 0.6 and not reached.is_set():
                reached.set()
                release.wait(10)

        return real(project, **{**kwargs, "progress": hold})

    monkeypatch.setattr(model_services, "adapt_project", held)
    window.project_actions.adapt.trigger()
    qtbot.waitUntil(reached.is_set, timeout=TIMEOUT_MS)
    assert window.project_actions.cancel.isEnabled() and not window.project_actions.adapt.isEnabled()
    window.project_actions.cancel.trigger()
    release.set()
    assert window.project_model.runner.wait(TIMEOUT_MS)
    wait_idle(qtbot, window)

    assert project_state(path) == before
    assert window.project_model.model_version is None and window.project_model.predictions == {}
    assert "cancelled" in window.status.currentMessage()
    assert window.project_actions.adapt.isEnabled()
    adapt(qtbot, window)  # and it still works afterwards
    assert window.project_model.model_version == 1


def test_cancelled_import_keeps_and_shows_what_was_read(
    qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.gui import project_services

    assert window.project_model.new_project(tmp_path / "study.raresight")
    wait_idle(qtbot, window)
    reached, release = threading.Event(), threading.Event()
    real = project_services.import_paths

    def held(project: Project, paths: Any, progress: Any, is_cancelled: Any) -> Any:
        def hold(fraction: float, message: str) -> None:  # pause after the third file
            progress(fraction, message)
            if fraction >= 3 / 21 and not reached.is_set():
                reached.set()
                release.wait(10)

        return real(project, paths, hold, is_cancelled)

    monkeypatch.setattr(project_services, "import_paths", held)
    window.open_paths([folder])
    qtbot.waitUntil(reached.is_set, timeout=TIMEOUT_MS)
    window.project_actions.cancel.trigger()
    release.set()
    wait_idle(qtbot, window)
    assert len(grid_ids(window)) == 3  # saved, and shown
    assert "images read so far" in window.status.currentMessage()
    assert not window.project_actions.cancel.isEnabled()


def test_cancel_arriving_after_the_model_was_saved_is_reported(qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    labelled_project(qtbot, window, folder, tmp_path / "study.raresight", {"red": 3, "green": 3, "blue": 3})
    window.project_actions.adapt.trigger()
    assert window.project_model.runner.wait(TIMEOUT_MS)  # the worker is done; its result not yet delivered
    window.project_actions.cancel.trigger()  # too late: the model was saved
    wait_idle(qtbot, window)
    assert window.project_model.model_version == 1 and len(window.project_model.predictions) == 12
    assert "before it was cancelled" in window.status.currentMessage()


def test_quality_panel_shows_accuracy_interval_and_advice(qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "study.raresight"
    labelled_project(qtbot, window, folder, path, {"red": 4, "green": 3, "blue": 2})
    adapt(qtbot, window)
    qtbot.waitUntil(lambda: window.quality.table.rowCount() == 3, timeout=TIMEOUT_MS)
    advice = window.quality.advice()
    assert advice["blue"] != "OK" and advice["blue"] in window.quality.advice_label.text()  # core's words, shown as they are
    with Project.open(path, readonly=True) as project:
        state = project.model_state()
    assert state is not None
    stored = AccuracyEstimate.from_dict(state.settings["accuracy_estimate"])  # from the 21 - 9 unlabelled images
    assert window.prediction_model.accuracy_estimate == stored and stored.images == 12
    # The main number: expected accuracy on new images with its interval and where it comes from.
    headline = window.quality.headline.text().replace("\u00a0", " ")  # the figure and its interval do not wrap apart
    percent = f"{stored.accuracy * 100:.0f} % (95 % CI {stored.ci_low * 100:.0f}–{stored.ci_high * 100:.0f} %)"
    assert f"Expected accuracy on new images: {percent}" in headline and "estimated from 12 unlabelled images" in headline
    # Leave-one-out second, marked optimistic.
    loo = window.quality.leave_one_out.text().replace("\u00a0", " ")
    assert "On the labelled examples themselves (leave-one-out)" in loo and "optimistic" in loo and "of 9" in loo
    table = window.quality.table
    headers = [table.horizontalHeaderItem(c).text().replace("\n", " ") for c in range(4)]
    assert headers == ["Class", "Expected on new images", "95 % CI", "Leave-one-out (optimistic)"]
    assert not table.isColumnHidden(1) and not table.isColumnHidden(2)
    row = {table.item(r, 0).text(): r for r in range(3)}["red"]
    value, low, high = stored.per_class["red"]
    assert table.item(row, 1).text() == f"{value * 100:.0f} %" and table.item(row, 2).text() == f"{low * 100:.0f}–{high * 100:.0f} %"
    assert table.item(row, 3).text().endswith("(4 of 4)") and "95 % CI" in table.item(row, 3).toolTip()


def test_quality_panel_without_unlabelled_images_says_how_to_estimate(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    make_folder(tmp_path / "cases", per_class=3)
    labelled_project(qtbot, window, tmp_path / "cases", tmp_path / "study.raresight", {"red": 3, "green": 3, "blue": 3})
    adapt(qtbot, window)
    qtbot.waitUntil(lambda: window.quality.table.rowCount() == 3, timeout=TIMEOUT_MS)
    assert window.prediction_model.accuracy_estimate is None
    headline = window.quality.headline.text().replace("\u00a0", " ")
    assert "No estimate yet of the accuracy on new images" in headline and NO_ESTIMATE_ADVICE in headline
    assert "Expected accuracy" not in headline
    table = window.quality.table
    assert table.isColumnHidden(1) and table.isColumnHidden(2)  # no expected-accuracy columns to fill
    assert table.item(0, 3).text().endswith("(3 of 3)")
    loo = window.quality.leave_one_out.text().replace("\u00a0", " ")
    assert "leave-one-out" in loo and "optimistic" in loo and "of 9" in loo


def test_label_next_confirm_and_none_of_these(qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    make_image(folder / "odd_00.png", COLOURS["grey"], seed=7)  # unlike every class
    path = tmp_path / "study.raresight"
    labelled_project(qtbot, window, folder, path, {"red": 4, "green": 4, "blue": 4})
    adapt(qtbot, window)
    odd = image_id(window, folder / "odd_00.png")

    window.project_actions.label_next.trigger()
    shown = grid_ids(window)
    assert len(shown) == 22 - 12 and not set(shown) & set(window.project_model.labels)
    predictions = window.project_model.predictions
    unlike = [i for i in shown if predictions[i].top_class is None]
    assert predictions[odd].top_class is None and shown[: len(unlike)] == unlike  # unlike every class: first
    scores = [usefulness(predictions[i]) for i in shown]
    assert scores == sorted(scores, reverse=True)  # most useful to label first
    select(qtbot, window, [folder / "odd_00.png"])
    qtbot.waitUntil(lambda: window.prediction_model.explanation is not None and window.prediction_model.image_id == odd, timeout=TIMEOUT_MS)
    assert window.prediction.none_banner.isVisible() and "None of these" in window.prediction.prediction_set.text()
    assert "model version 1, backbone tiny-test" in window.prediction.title.text()  # which backbone decided, in view
    assert not window.prediction.confirm_button.isEnabled()

    first = window.library.selected_ids()[0]
    window.library.filter_bar.show_kind("Not labelled")
    QTest.keyClick(window.library.grid, Qt.Key.Key_1)  # label the suggestion: the next one gets selected
    assert window.project_model.labels[first] == "red"
    assert window.library.selected_ids() and window.library.selected_ids()[0] not in window.project_model.labels
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    window.library.filter_bar.show_kind("All images")
    red = image_id(window, folder / "red_05.png")
    select(qtbot, window, [folder / "red_05.png"])
    qtbot.waitUntil(lambda: window.prediction.confirm_button.isEnabled(), timeout=TIMEOUT_MS)
    QTest.mouseClick(window.prediction.confirm_button, Qt.MouseButton.LeftButton)
    assert window.project_model.labels[red] == "red"
    with Project.open(path, readonly=True) as project:
        notes = [e.details for e in project.audit_log("note")]
        labels = [e.details for e in project.audit_log("label") if e.details["image_id"] == red]
    assert notes[-1] == {"kind": "confirm", "image_id": red, "class": "red", "model_version": 1}
    assert labels[-1]["note"] == "confirms model 1 prediction"
    qtbot.waitUntil(lambda: window.prediction_model.stale and "press Adapt" in window.prediction.status.text(), timeout=TIMEOUT_MS)
    assert "You labelled this image red" in window.prediction.status.text()  # labels changed since the model: said so


def test_dropping_files_on_the_window_imports_them_into_the_project(qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPoint, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    labelled_project(qtbot, window, folder, tmp_path / "study.raresight", {"red": 1})
    extra = make_image(tmp_path / "more" / "late_00.png", COLOURS["blue"], seed=99)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(extra.parent))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(50, 50), *args))
    with qtbot.waitSignal(window.project_model.importFinished, timeout=TIMEOUT_MS) as done:
        QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), *args))
    assert done.args == [22, 0] and len(grid_ids(window)) == 22
    assert window.project_model.labels  # what was there stays


def test_coverage_is_remembered_and_changes_the_set(qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    labelled_project(qtbot, window, folder, tmp_path / "study.raresight", {"red": 4, "green": 4, "blue": 4})
    adapt(qtbot, window)
    select(qtbot, window, [folder / "green_06.png"])
    qtbot.waitUntil(lambda: window.prediction_model.explanation is not None, timeout=TIMEOUT_MS)
    combo = window.prediction.coverage
    combo.setCurrentIndex(combo.findData(0.95))
    qtbot.waitUntil(lambda: window.prediction_model.explanation is not None and window.prediction_model.explanation.coverage == 0.95)
    assert "95 %" in window.prediction.prediction_set.text()
    assert settings.coverage() == 0.95
    other = MainWindow(backbone=register_tiny())
    qtbot.addWidget(other)
    assert other.prediction.coverage.currentData() == 0.95


def test_export_predictions_csv_is_audited(
    qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "study.raresight"
    labelled_project(qtbot, window, folder, path, {"red": 3, "green": 3, "blue": 3})
    assert not window.project_actions.export.isEnabled()  # nothing to export before the first adaptation
    adapt(qtbot, window)
    out = tmp_path / "predictions.csv"
    monkeypatch.setattr(dialogs, "choose_export", lambda parent, suggested, folder: str(out))
    with qtbot.waitSignal(window.project_model.exportFinished, timeout=TIMEOUT_MS) as done:
        window.project_actions.export.trigger()
    assert done.args == [str(out), 21]
    wait_idle(qtbot, window)
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 21 and {"p_red", "p_green", "p_blue", "predicted_class", "prediction_set"} <= set(rows[0])
    with Project.open(path, readonly=True) as project:
        assert project.audit_log("export")[-1].details["rows"] == 21


def test_adapt_errors_are_shown_with_cores_message(qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    labelled_project(qtbot, window, folder, tmp_path / "study.raresight", {"red": 3})
    (folder / "red_00.png").unlink()  # a labelled file went missing
    window.project_actions.adapt.trigger()
    from tests.app.helpers import message_boxes

    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=TIMEOUT_MS)
    box = message_boxes()[0]
    assert "missing" in box.text() and "relink" in box.text()
    box.reject()
    wait_idle(qtbot, window)
    assert window.project_model.model_version is None


def test_recolour_describe_and_delete_classes(qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication, QColorDialog, QInputDialog, QMessageBox

    path = tmp_path / "study.raresight"
    labelled_project(qtbot, window, folder, path, {"red": 3})
    panel = window.classes

    def dialog(kind: type) -> Any:
        qtbot.waitUntil(
            lambda: any(isinstance(w, kind) and w.isVisible() for w in QApplication.topLevelWidgets() + panel.findChildren(kind))
        )
        return next(w for w in panel.findChildren(kind) if w.isVisible())

    panel.list.setCurrentIndex(window.project_model.classes.index(0, 0))  # red
    QTest.mouseClick(panel.colour_button, Qt.MouseButton.LeftButton)
    colours = dialog(QColorDialog)
    colours.setCurrentColor(QColor("#123456"))
    colours.accept()
    QTest.mouseClick(panel.describe_button, Qt.MouseButton.LeftButton)
    text = dialog(QInputDialog)
    text.setTextValue("Sickle-shaped red cells")
    text.accept()
    assert window.project_model.class_infos()[0].colour == "#123456"
    assert window.project_model.class_infos()[0].description == "Sickle-shaped red cells"

    QTest.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)  # red has labels: core refuses
    dialog(QMessageBox).button(QMessageBox.StandardButton.Yes).click()
    from tests.app.helpers import message_boxes

    qtbot.waitUntil(lambda: any("cannot be deleted" in b.text() for b in message_boxes()))
    for box in message_boxes():
        box.reject()
    panel.list.setCurrentIndex(window.project_model.classes.index(2, 0))  # blue: never used
    QTest.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    dialog(QMessageBox).button(QMessageBox.StandardButton.Yes).click()
    assert window.project_model.classes.names() == ["red", "green"]
    with Project.open(path, readonly=True) as project:
        assert [e.action for e in project.audit_log()][-3:] == ["class_changed", "class_changed", "class_deleted"]
        assert project.verify(check_files=False) == []

    panel.list.setCurrentIndex(window.project_model.classes.index(0, 0))  # red, labelled: renaming keeps its labels
    QTest.mouseClick(panel.rename_button, Qt.MouseButton.LeftButton)
    renamer = dialog(QInputDialog)
    renamer.setTextValue("sickle cell")
    renamer.accept()
    assert window.project_model.classes.names()[0] == "sickle cell"
    with Project.open(path, readonly=True) as project:
        assert set(project.labels().values()) == {"sickle cell"} and len(project.labels()) == 3
        assert project.audit_log()[-1].action == "class_renamed"
        assert project.verify(check_files=False) == []


@pytest.mark.parametrize("suffix", [".html", ".pdf"])
def test_report_for_selected_images(
    qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / "study.raresight"
    labelled_project(qtbot, window, folder, path, {"red": 3, "green": 3, "blue": 3})
    adapt(qtbot, window)
    select(qtbot, window, [folder / "red_05.png", folder / "blue_06.png"])
    out = tmp_path / f"report{suffix}"
    monkeypatch.setattr(dialogs, "choose_report", lambda parent, suggested, folder: str(out))
    with qtbot.waitSignal(window.project_model.exportFinished, timeout=TIMEOUT_MS) as done:
        window.project_actions.report.trigger()
    assert done.args == [str(out), 2] and out.stat().st_size > 1000
    if suffix == ".html":
        text = out.read_text(encoding="utf-8")
        assert "Research use only" in text and "red_05.png" not in text  # cases by content hash, no file names
    wait_idle(qtbot, window)
    with Project.open(path, readonly=True) as project:
        assert project.audit_log("export")[-1].details["kind"] == "report"


def test_grid_filters_sorting_and_redo(qtbot: QtBot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    labelled_project(qtbot, window, folder, tmp_path / "study.raresight", {"red": 3, "green": 3, "blue": 3})
    adapt(qtbot, window)
    bar, model = window.library.filter_bar, window.project_model
    predictions = model.predictions

    bar.show_kind("Labelled as…")
    bar.classes.setCurrentText("green")
    assert sorted(grid_ids(window)) == sorted(i for i, c in model.labels.items() if c == "green")
    bar.show_kind("Predicted as…")
    bar.classes.setCurrentText("blue")
    assert grid_ids(window) and all(predictions[i].top_class == "blue" for i in grid_ids(window))
    bar.show_kind("None of these")
    assert all(predictions[i].top_class is None for i in grid_ids(window))
    bar.show_kind("All images")
    bar.by_confidence.setChecked(True)  # least confident first; labelled images after the predictions
    shown = grid_ids(window)
    confidences = [predictions[i].confidence for i in shown if i in predictions]
    assert confidences == sorted(confidences) and set(shown[: len(confidences)]) == set(predictions)

    target = next(i for i in shown if i not in model.labels)
    window.library.select_ids([target])
    QTest.keyClick(window.library.grid, Qt.Key.Key_3)
    assert model.labels[target] == "blue"
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert target not in model.labels
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert model.labels[target] == "blue"  # redone
    assert window.project_actions.undo.text().startswith("Undo label 1 image")


def test_backbone_label_names_a_meta_trained_file_by_its_file_name() -> None:
    assert model_services.backbone_label("/data/team/rbc.rsbackbone@214faa143e5e163a") == "rbc.rsbackbone"
    assert model_services.backbone_label("efficientnet-lite0") == "efficientnet-lite0"
