"""File > Import from PACS… driven in the real window against a real Orthanc (skipped when it is not installed).

Studies are made from pydicom's own test files with new UIDs and a known fake patient
(``tests/core/pacs/helpers.py``), uploaded once per module to a loopback Orthanc (``tests/orthanc.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QWidget
from pytestqt.qtbot import QtBot

from app.gui import settings
from app.gui.main_window import MainWindow
from app.gui.viewmodels.pacs import TaskOutcome
from app.gui.views.pacs_dialog import ERROR_STYLE, PacsDialog
from core.pacs import credentials
from core.store import Project
from tests.app.helpers import message_boxes
from tests.core.pacs.helpers import IDENTIFIERS, PATIENT_NAME, MemoryKeyring, Study, installed_keyring, make_study, project_bytes
from tests.orthanc import OrthancServer, free_port, orthanc, orthanc_with_auth  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.gui

TIMEOUT_MS = 60_000
LONG_SERIES = 24  # instances in the study the cancel test stops (cancelled after the first arrives)


class Studies:
    """What the module's Orthanc holds: a CT study, an MR study, and a long single-series CT study."""

    def __init__(self, ct: Study, mr: Study, long: Study) -> None:
        self.ct, self.mr, self.long = ct, mr, long


def _studies(folder: Path) -> Studies:
    ct = make_study(folder / "ct", [["CT_small.dcm"]], date="20240115", description="Chest CT", accession="ACC-CT-1")
    mr = make_study(folder / "mr", [["MR_small.dcm", "MR_small.dcm"]], date="20240302", description="Knee MR", accession="ACC-MR-2")
    long = make_study(folder / "long", [["CT_small.dcm"] * LONG_SERIES], date="20240410", description="Long series", accession="ACC-L")
    return Studies(ct, mr, long)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Studies:
    return _studies(tmp_path_factory.mktemp("pacs-studies"))


@pytest.fixture(scope="module")
def server(orthanc: OrthancServer, studies: Studies) -> OrthancServer:  # noqa: F811
    orthanc.upload([*studies.ct.files, *studies.mr.files, *studies.long.files])
    return orthanc


@pytest.fixture(scope="module")
def auth_server(orthanc_with_auth: OrthancServer, studies: Studies) -> OrthancServer:  # noqa: F811
    orthanc_with_auth.upload(studies.ct.files)
    return orthanc_with_auth


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    with installed_keyring(backend):
        yield backend


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    """The main window with a new, empty project open and a class 'fracture'."""
    made = MainWindow()
    qtbot.addWidget(made)
    made.show()
    qtbot.waitExposed(made)
    made.project_model.new_project(tmp_path / "archive.raresight")
    qtbot.waitUntil(lambda: made.project_model.task == "", timeout=TIMEOUT_MS)
    made.project_model.add_class("fracture")
    return made


def open_dialog(qtbot: QtBot, window: MainWindow) -> PacsDialog:
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "File")
    assert window.project_actions.import_pacs in file_menu.actions()
    assert window.project_actions.import_pacs.isEnabled()
    window.project_actions.import_pacs.trigger()  # File > Import from PACS…
    dialog = window.project_actions.pacs_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def click(widget: QWidget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def search(qtbot: QtBot, dialog: PacsDialog, url: str, username: str = "", secret: str = "", modality: str = "") -> None:
    """Fill in the server and filters as a user types them, press Search, wait for the answer."""
    for field, text in ((dialog.url, url), (dialog.username, username), (dialog.secret, secret)):
        field.clear()
        QTest.keyClicks(field, text)
    dialog.modality.setCurrentText(modality)
    click(dialog.search_button)
    qtbot.waitUntil(lambda: not dialog.model.searching, timeout=TIMEOUT_MS)


def select_study(qtbot: QtBot, dialog: PacsDialog, study: Study) -> None:
    """Click the study's row and wait until its series are listed."""
    row = next(i for i, hit in enumerate(dialog.study_hits) if hit.study_uid == study.uid)
    rect = dialog.studies.visualItemRect(cell(dialog.studies, row, 2))
    QTest.mouseClick(dialog.studies.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    qtbot.waitUntil(lambda: dialog.series.rowCount() == len(study.series) and not dialog.model.searching, timeout=TIMEOUT_MS)


def run_import(qtbot: QtBot, dialog: PacsDialog) -> TaskOutcome:
    with qtbot.waitSignal(dialog.model.importer.finished, timeout=TIMEOUT_MS) as done:
        click(dialog.import_button)
    outcome = done.args[0]
    assert isinstance(outcome, TaskOutcome)
    return outcome


def cell(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    item = table.item(row, column)
    assert item is not None, f"no cell at row {row}, column {column}"
    return item


def table_column(dialog: PacsDialog, column: int) -> list[str]:
    return [cell(dialog.studies, row, column).text() for row in range(dialog.studies.rowCount())]


def test_search_lists_the_servers_studies_and_a_studys_series(
    qtbot: QtBot, window: MainWindow, server: OrthancServer, studies: Studies
) -> None:
    dialog = open_dialog(qtbot, window)

    search(qtbot, dialog, server.url)

    assert dialog.message.styleSheet() != ERROR_STYLE, dialog.message.text()
    assert dialog.message.text().startswith("3 studies found")
    assert sorted(table_column(dialog, 0)) == ["2024-01-15", "2024-03-02", "2024-04-10"]
    assert sorted(table_column(dialog, 2)) == ["Chest CT", "Knee MR", "Long series"]
    rows = {cell(dialog.studies, r, 2).text(): [cell(dialog.studies, r, c).text() for c in range(7)] for r in range(3)}
    assert rows["Knee MR"][1] == "MR" and rows["Knee MR"][3] == "ACC-MR-2"
    assert rows["Knee MR"][4:6] == ["1", "2"]  # series, instances
    assert rows["Knee MR"][6] == PATIENT_NAME.replace("^", " ")  # on screen, in its own column

    select_study(qtbot, dialog, studies.long)
    assert cell(dialog.series, 0, 0).checkState() == Qt.CheckState.Checked
    assert cell(dialog.series, 0, 2).text() == "CT" and cell(dialog.series, 0, 4).text() == str(LONG_SERIES)
    assert dialog.import_button.isEnabled()

    search(qtbot, dialog, server.url, modality="mr")  # filtered on the server (QIDO-RS)
    assert table_column(dialog, 2) == ["Knee MR"]
    assert not message_boxes()


def test_import_adds_the_series_to_the_project_and_the_library_shows_them(
    qtbot: QtBot, window: MainWindow, server: OrthancServer, studies: Studies
) -> None:
    dialog = open_dialog(qtbot, window)
    search(qtbot, dialog, server.url)
    select_study(qtbot, dialog, studies.mr)
    dialog.class_box.setCurrentText("fracture")

    outcome = run_import(qtbot, dialog)

    assert not outcome.error and not outcome.cancelled
    assert dialog.message.text() == "2 imported, 0 already in the project, 0 could not be read."
    assert dialog.progress.value() == 100
    grid = window.library.grid.model()
    qtbot.waitUntil(lambda: grid.rowCount() == 2, timeout=TIMEOUT_MS)
    assert "fracture (2)" in window.project_model.classes.index(0, 0).data()
    assert sorted(window.project_model.labels.values()) == ["fracture", "fracture"]

    select_study(qtbot, dialog, studies.ct)  # another study, unlabelled
    dialog.class_box.setCurrentIndex(0)
    run_import(qtbot, dialog)
    assert dialog.message.text() == "1 imported, 0 already in the project, 0 could not be read."
    qtbot.waitUntil(lambda: grid.rowCount() == 3, timeout=TIMEOUT_MS)

    select_study(qtbot, dialog, studies.mr)
    run_import(qtbot, dialog)  # the same series again
    assert dialog.message.text() == "0 imported, 2 already in the project, 0 could not be read."
    assert grid.rowCount() == 3
    project = window.project_model.project
    assert project is not None and len(project.images()) == 3
    assert not message_boxes()
    dialog.close()
    window.project_model.close_project()
    stored = project_bytes(project.path)
    for identifier in IDENTIFIERS:  # the patient's name was on screen, never in the project
        assert identifier.encode() not in stored, identifier


def test_wrong_password_shows_the_servers_refusal_in_the_dialog(qtbot: QtBot, window: MainWindow, auth_server: OrthancServer) -> None:
    dialog = open_dialog(qtbot, window)

    search(qtbot, dialog, auth_server.url, username=str(auth_server.username), secret="not-the-password")

    message = dialog.message.text()
    assert dialog.message.styleSheet() == ERROR_STYLE
    assert auth_server.url in message and "not-the-password" not in message
    assert "refused" in message.lower() or "401" in message, message
    assert dialog.studies.rowCount() == 0 and not message_boxes()

    search(qtbot, dialog, auth_server.url, username=str(auth_server.username), secret=str(auth_server.password))
    assert dialog.studies.rowCount() == 1 and dialog.message.styleSheet() != ERROR_STYLE


def test_a_server_that_does_not_answer_is_named_in_the_dialog(qtbot: QtBot, window: MainWindow) -> None:
    dialog = open_dialog(qtbot, window)
    url = f"http://127.0.0.1:{free_port()}/dicom-web"  # nobody listens there

    search(qtbot, dialog, url)

    assert dialog.message.text().startswith(f"{url}: cannot connect") and dialog.message.styleSheet() == ERROR_STYLE
    assert dialog.studies.rowCount() == 0 and not message_boxes()
    assert dialog.search_button.isEnabled() and not dialog.cancel_button.isEnabled()
    dialog.close()

    again = open_dialog(qtbot, window)  # a new dialog: the closed one's model hears nothing more
    assert again.url.text() == ""  # an address that never answered is not remembered
    search(qtbot, again, url)
    assert again.message.text().startswith(f"{url}: cannot connect")


def test_cancel_leaves_the_project_unchanged(qtbot: QtBot, window: MainWindow, server: OrthancServer, studies: Studies) -> None:
    dialog = open_dialog(qtbot, window)
    search(qtbot, dialog, server.url)
    select_study(qtbot, dialog, studies.long)
    progress: list[float] = []

    def cancel_once(fraction: float, text: str) -> None:  # Cancel as soon as the first instance arrived
        progress.append(fraction)
        if len(progress) == 1:
            assert dialog.cancel_button.isEnabled()
            click(dialog.cancel_button)

    dialog.model.importer.progress.connect(cancel_once)
    outcome = run_import(qtbot, dialog)

    assert outcome.cancelled and 0 < progress[0] < 1
    assert dialog.message.text() == "Import cancelled; the project is unchanged."
    project = window.project_model.project
    assert project is not None and project.images() == []
    assert window.library.grid.model().rowCount() == 0
    assert dialog.import_button.isEnabled() and not dialog.cancel_button.isEnabled()

    dialog.model.importer.progress.disconnect(cancel_once)
    run_import(qtbot, dialog)  # not cancelled: everything arrives
    assert dialog.message.text() == f"{LONG_SERIES} imported, 0 already in the project, 0 could not be read."


def test_closing_the_dialog_during_an_import_cancels_it(qtbot: QtBot, window: MainWindow, server: OrthancServer, studies: Studies) -> None:
    dialog = open_dialog(qtbot, window)
    search(qtbot, dialog, server.url)
    select_study(qtbot, dialog, studies.long)
    dialog.model.importer.progress.connect(lambda *_: dialog.close() if dialog.isVisible() else None)
    model = window.project_model

    with qtbot.waitSignal(model.taskChanged, timeout=TIMEOUT_MS, check_params_cb=lambda task: task == ""):
        click(dialog.import_button)

    assert window.project_actions.pacs_dialog is None  # closed (and deleted) mid-import
    assert model.project is not None and model.project.images() == []
    qtbot.wait(50)  # the project's runner is idle again: File > Import from PACS… opens a new dialog, which works
    again = open_dialog(qtbot, window)
    search(qtbot, again, server.url)
    assert again.studies.rowCount() == 3 and not message_boxes()


def test_the_password_stays_out_of_the_settings_and_the_project(
    qtbot: QtBot, window: MainWindow, auth_server: OrthancServer, studies: Studies, memory_keyring: MemoryKeyring
) -> None:
    password, username = str(auth_server.password), str(auth_server.username)
    dialog = open_dialog(qtbot, window)
    dialog.remember.setChecked(True)
    search(qtbot, dialog, auth_server.url, username=username, secret=password)
    select_study(qtbot, dialog, studies.ct)
    assert run_import(qtbot, dialog).value.imported == 1
    dialog.close()

    ini = settings.settings_path().read_text(encoding="utf-8")
    assert auth_server.url in ini and username in ini  # the address and user name are remembered
    assert password not in ini
    assert memory_keyring.entries == {(credentials.SERVICE, f"{username}@{auth_server.url}"): password}  # the OS keyring has it

    again = open_dialog(qtbot, window)  # the next time, filled in from the settings and the keyring
    assert (again.url.text(), again.username.text(), again.secret.text()) == (auth_server.url, username, password)
    assert again.remember.isChecked()
    again.remember.setChecked(False)  # unticked: forgotten once the server accepted the search
    search(qtbot, again, auth_server.url, username=username, secret=password)
    assert memory_keyring.entries == {}
    again.close()

    project = window.project_model.project
    assert project is not None
    window.project_model.close_project()
    assert password.encode() not in project_bytes(project.path)
    with Project.open(project.path, readonly=True) as reopened:
        assert len(reopened.images()) == 1


def test_remember_without_a_keyring_says_so_and_the_search_still_works(
    qtbot: QtBot, window: MainWindow, auth_server: OrthancServer
) -> None:
    with installed_keyring(keyring.backends.fail.Keyring()):  # type: ignore[no-untyped-call]  # what keyring loads where no backend works
        check_no_keyring(qtbot, window, auth_server)


def check_no_keyring(qtbot: QtBot, window: MainWindow, auth_server: OrthancServer) -> None:
    dialog = open_dialog(qtbot, window)
    dialog.remember.setChecked(True)

    search(qtbot, dialog, auth_server.url, username=str(auth_server.username), secret=str(auth_server.password))

    assert dialog.studies.rowCount() == 1
    assert credentials.NO_KEYRING in dialog.message.text()
    assert str(auth_server.password) not in settings.settings_path().read_text(encoding="utf-8")
