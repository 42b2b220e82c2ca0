"""The window around the PACS import and the case export: the window's Cancel (toolbar, Model menu,
Esc) stops them; an imported image opens in the viewer from the project's copy; the PACS server is
remembered without a password. The PACS tests run against a real Orthanc (skipped when it is not installed).

Reuses the studies, server and window of ``test_pacs_dialog.py``. Set RARESIGHT_SHOTS to a folder
to save a screenshot of the window showing an imported image there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolBar
from pytestqt.qtbot import QtBot

from app.gui import settings
from app.gui.main_window import MainWindow
from core.imaging import load_image
from core.store import Project
from tests.app import test_pacs_dialog as dialog_tests
from tests.app.conftest import shown_window
from tests.app.helpers import message_boxes
from tests.app.test_embedded_only_images import click_image
from tests.app.test_pacs_dialog import LONG_SERIES, TIMEOUT_MS, Studies, open_dialog, run_import, search, select_study
from tests.core.embedding.tiny import COLOURS, make_image
from tests.core.pacs.helpers import IDENTIFIERS, source
from tests.orthanc import OrthancServer, orthanc  # noqa: F401  (a pytest fixture)

pytestmark = pytest.mark.gui

# The dialog tests' fixtures: the module's studies on a loopback Orthanc, and a window with a new project.
studies, server, window = dialog_tests.studies, dialog_tests.server, dialog_tests.window


EXPORT_CASES = 30  # labelled images in the case export the window's Cancel stops (after the first is written)


def test_the_windows_cancel_stops_a_case_export(qtbot: QtBot, tmp_path: Path) -> None:
    path, folder = tmp_path / "cases.raresight", tmp_path / "images"
    folder.mkdir()
    with Project.create(path) as project:
        project.add_class("lesion")
        project.add_images(
            [make_image(folder / f"case-{n:02d}.png", COLOURS["red"], seed=n) for n in range(EXPORT_CASES)], class_name="lesion"
        )
    made = shown_window(qtbot, MainWindow())
    made.project_model.open_project(path)
    qtbot.waitUntil(lambda: made.project_model.task == "" and len(made.project_model.labels) == EXPORT_CASES, timeout=TIMEOUT_MS)
    made.project_actions.export_cases.trigger()  # File > Export labelled cases…
    dialog = made.project_actions.export_dialog
    assert dialog is not None
    cancel, out = made.project_actions.cancel, tmp_path / "for-collaborator"
    dialog.folder.clear()
    QTest.keyClicks(dialog.folder, str(out))
    progress: list[float] = []

    def cancel_once(fraction: float, text: str) -> None:  # the window's Cancel once the first case is written
        progress.append(fraction)
        if len(progress) == 1:
            assert cancel.isEnabled(), "Cancel is greyed out during a case export"
            cancel.trigger()

    dialog.task.progress.connect(cancel_once)
    with qtbot.waitSignal(dialog.task.finished, timeout=TIMEOUT_MS) as done:
        QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)

    assert done.args[0].cancelled and progress[0] == 1 / EXPORT_CASES
    assert made.project_model.runner.wait(TIMEOUT_MS)
    assert dialog.message.text() == "Export cancelled; nothing was written."
    assert made.statusBar().currentMessage() == "Case export cancelled; the project is unchanged."
    assert not [p.name for p in tmp_path.iterdir() if out.name in p.name]  # neither the folder nor a partial one
    assert not message_boxes()


def test_the_windows_cancel_stops_a_running_pacs_import(qtbot: QtBot, window: MainWindow, server: OrthancServer, studies: Studies) -> None:
    dialog = open_dialog(qtbot, window)
    search(qtbot, dialog, server.url)
    select_study(qtbot, dialog, studies.long)
    cancel = window.project_actions.cancel
    toolbar = window.findChild(QToolBar, "mainToolbar")
    assert isinstance(toolbar, QToolBar)
    button = toolbar.widgetForAction(cancel)
    assert button is not None and not button.isEnabled()  # nothing running yet
    progress: list[float] = []

    def cancel_once(fraction: float, text: str) -> None:  # the toolbar's Cancel as soon as the first instance arrived
        progress.append(fraction)
        if len(progress) == 1:
            assert cancel.isEnabled() and button.isEnabled(), "Cancel is greyed out during a PACS import"
            cancel.trigger()

    dialog.model.importer.progress.connect(cancel_once)
    outcome = run_import(qtbot, dialog)

    assert outcome.cancelled and 0 < progress[0] < 1
    model = window.project_model
    assert model.runner.wait(TIMEOUT_MS)  # the import stopped (it does not run on in the background)
    qtbot.waitUntil(lambda: model.task == "", timeout=TIMEOUT_MS)
    assert dialog.message.text() == "Import cancelled; the project is unchanged."
    assert window.statusBar().currentMessage() == "PACS import cancelled; the project is unchanged."
    assert model.project is not None and model.project.images() == []
    assert window.library.grid.model().rowCount() == 0
    assert not cancel.isEnabled() and dialog.import_button.isEnabled()
    assert not message_boxes()

    dialog.model.importer.progress.disconnect(cancel_once)
    run_import(qtbot, dialog)  # the project's worker is free: the same import, not cancelled, completes
    assert dialog.message.text() == f"{LONG_SERIES} imported, 0 already in the project, 0 could not be read."
    qtbot.waitUntil(lambda: window.library.grid.model().rowCount() == LONG_SERIES, timeout=TIMEOUT_MS)


def test_esc_stops_a_running_pacs_import(qtbot: QtBot, window: MainWindow, server: OrthancServer, studies: Studies) -> None:
    dialog = open_dialog(qtbot, window)
    search(qtbot, dialog, server.url)
    select_study(qtbot, dialog, studies.long)
    model = window.project_model
    pressed: list[float] = []

    def esc_once(fraction: float, text: str) -> None:
        if not pressed:
            pressed.append(fraction)
            QTest.keyClick(dialog, Qt.Key.Key_Escape)  # the dialog has the focus (window-modal): Esc there

    dialog.model.importer.progress.connect(esc_once)
    with qtbot.waitSignal(model.taskChanged, timeout=TIMEOUT_MS, check_params_cb=lambda task: task == ""):
        QTest.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)

    assert pressed and window.project_actions.pacs_dialog is None  # Esc closed the dialog, and the import with it
    assert model.runner.wait(TIMEOUT_MS)
    assert model.project is not None and model.project.images() == []
    assert not window.project_actions.cancel.isEnabled() and not message_boxes()


def test_an_imported_image_opens_in_the_viewer_without_patient_identifiers(
    qtbot: QtBot, window: MainWindow, server: OrthancServer, studies: Studies
) -> None:
    dialog = open_dialog(qtbot, window)
    search(qtbot, dialog, server.url)
    select_study(qtbot, dialog, studies.ct)
    assert run_import(qtbot, dialog).value.imported == 1
    dialog.close()
    project = window.project_model.project
    assert project is not None
    record = project.images()[0]
    assert record.path.startswith("PACS/") and not Path(record.path).exists()  # a name in the project, no file

    click_image(qtbot, window, record)

    assert not message_boxes(), message_boxes()[0].text() if message_boxes() else ""
    image = window.viewer_model.image
    assert image is not None and np.array_equal(image.pixels, load_image(source("CT_small.dcm")).pixels)
    assert window.viewer.canvas.shown_pixels() is not None
    title = window.viewer.title.text()
    assert title.startswith(f"{Path(record.path).name} · CT 128 × 128"), title  # the project's name for it
    on_screen = " | ".join([*window.metadata.values().values(), title, window.statusBar().currentMessage()])
    for identifier in IDENTIFIERS:
        assert identifier not in on_screen, identifier
    for uid in (studies.ct.uid, *studies.ct.series, *studies.ct.sop_uids):
        assert uid not in on_screen
    shots = os.environ.get("RARESIGHT_SHOTS")
    if shots:
        window.tabs.setCurrentWidget(window.metadata)  # the metadata beside the image
        qtbot.wait(50)
        Path(shots).mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(Path(shots) / "viewer_embedded.png"))


def test_the_pacs_server_is_remembered_without_a_password() -> None:
    assert settings.pacs_server() == ("", "")
    settings.set_pacs_server("https://radiologist:s3cret-pw@pacs.example.org/dicom-web/?token=tok-7781", "radiologist")

    assert settings.pacs_server() == ("https://pacs.example.org/dicom-web", "radiologist")
    ini = settings.settings_path().read_text(encoding="utf-8")
    assert "s3cret-pw" not in ini and "tok-7781" not in ini
    with pytest.raises(TypeError):
        settings.set_pacs_server("https://pacs.example.org/dicom-web", "radiologist", "password")  # type: ignore[call-arg]


def test_the_settings_keep_the_server_the_dialog_found(qtbot: QtBot, window: MainWindow, server: OrthancServer) -> None:
    dialog = open_dialog(qtbot, window)
    search(qtbot, dialog, server.url)
    assert dialog.studies.rowCount() == 3
    dialog.close()

    assert settings.pacs_server() == (server.url, "")
    again = open_dialog(qtbot, window)  # filled in from the settings
    assert (again.url.text(), again.username.text()) == (server.url, "")
