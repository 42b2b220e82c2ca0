"""File > Export labelled cases… driven in the real window: a de-identified export, and the refusals."""

from __future__ import annotations

import csv
from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QWidget
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.gui.viewmodels.pacs import TaskOutcome
from app.gui.views.export_dialog import ERROR_STYLE, ExportDialog
from core.store import Project
from tests.app.conftest import ImageFolder
from tests.app.helpers import message_boxes

pytestmark = pytest.mark.gui

TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, image_folder: ImageFolder) -> MainWindow:
    """The window with a project holding pydicom's CT (labelled 'lesion'), its MR and a PNG (unlabelled)."""
    path = tmp_path / "cases.raresight"
    with Project.create(path) as project:
        project.add_class("lesion")
        project.add_images([image_folder.ct], class_name="lesion")
        project.add_images([image_folder.mr, image_folder.png])
    made = MainWindow()
    qtbot.addWidget(made)
    made.show()
    qtbot.waitExposed(made)
    made.project_model.open_project(path)
    qtbot.waitUntil(lambda: made.project_model.task == "" and len(made.project_model.labels) == 1, timeout=TIMEOUT_MS)
    return made


def open_dialog(window: MainWindow) -> ExportDialog:
    assert window.project_actions.export_cases.isEnabled()
    window.project_actions.export_cases.trigger()  # File > Export labelled cases…
    dialog = window.project_actions.export_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def click(widget: QWidget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def tick(box: QCheckBox) -> None:
    """Click a checkbox on its box (its widget may be wider than its text)."""
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(8, box.height() // 2))


def export(qtbot: QtBot, dialog: ExportDialog, folder: Path) -> TaskOutcome:
    dialog.folder.clear()
    QTest.keyClicks(dialog.folder, str(folder))
    with qtbot.waitSignal(dialog.task.finished, timeout=TIMEOUT_MS) as done:
        click(dialog.export_button)
    outcome = done.args[0]
    assert isinstance(outcome, TaskOutcome)
    return outcome


def test_exports_the_labelled_dicom_de_identified_and_shows_the_checks_counts(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, image_folder: ImageFolder
) -> None:
    dialog = open_dialog(window)
    assert dialog.deidentify.isChecked() and not dialog.keep.isChecked() and not dialog.burned_in.isChecked()
    out = tmp_path / "for-collaborator"

    outcome = export(qtbot, dialog, out)

    assert not outcome.error, outcome.error
    assert sorted(p.name for p in out.iterdir()) == ["case-0001.dcm", "labels.csv"]  # only the labelled CT
    original, exported = pydicom.dcmread(image_folder.ct), pydicom.dcmread(out / "case-0001.dcm")
    assert str(exported.get("PatientName", "")) != str(original.PatientName)
    assert exported.get("PatientID", "") != original.PatientID
    assert exported.SOPInstanceUID != original.SOPInstanceUID
    assert exported.PixelData == original.PixelData
    with (out / "labels.csv").open(encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["file", "class", "frame"], ["case-0001.dcm", "lesion", "0"]]
    check = outcome.value.check
    assert check.checked > 0 and check.removed + check.emptied + check.replaced > 0
    text = dialog.message.text()
    assert text.startswith("1 file(s) and 1 label row(s) written to") and "0 skipped" in text
    assert (
        f"attributes checked {check.checked}, removed {check.removed}, emptied {check.emptied}, replaced {check.replaced}, "
        f"left {sum(check.left.values())}"
    ) in text
    assert dialog.message.styleSheet() != ERROR_STYLE and dialog.progress.value() == 100
    assert not message_boxes()


def test_refuses_a_folder_that_is_not_empty_and_says_so(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    dialog = open_dialog(window)
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")

    outcome = export(qtbot, dialog, out)

    assert "already exists and is not an empty folder; choose a new folder for the export" in outcome.error
    assert dialog.message.text() == outcome.error and dialog.message.styleSheet() == ERROR_STYLE
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".busy")]  # no partial folder left beside it
    assert not message_boxes()


def test_keeping_identifiers_needs_de_identification_off_and_is_refused_without_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, image_folder: ImageFolder
) -> None:
    dialog = open_dialog(window)
    assert not dialog.keep.isEnabled() and not dialog.keep_warning.isVisible()

    tick(dialog.deidentify)  # off: DICOM files would leave with their identifiers
    assert dialog.keep.isEnabled() and dialog.keep_warning.isVisible() and not dialog.keep.isChecked()
    refused = export(qtbot, dialog, tmp_path / "refused")
    assert "DICOM headers hold patient identifiers" in refused.error and dialog.message.styleSheet() == ERROR_STYLE
    assert not (tmp_path / "refused").exists()

    tick(dialog.keep)  # on purpose: exported as they are
    kept = export(qtbot, dialog, tmp_path / "kept")
    assert not kept.error
    assert pydicom.dcmread(tmp_path / "kept" / "case-0001.dcm").PatientName == pydicom.dcmread(image_folder.ct).PatientName
    assert "exported as they are: they hold patient identifiers" in dialog.message.text()

    tick(dialog.deidentify)  # back on: "keep identifiers" contradicts it and is cleared
    assert not dialog.keep.isChecked() and not dialog.keep.isEnabled()
