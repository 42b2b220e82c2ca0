"""Start-up and the error paths: run(), the excepthook dialog, crashes in workers, core errors."""

from __future__ import annotations

import sys
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.gui import main
from app.gui.main_window import MainWindow
from app.logging_setup import configure_logging, log_file
from tests.app.conftest import ImageFolder
from tests.app.helpers import TIMEOUT_MS, flush_logs, message_boxes

pytestmark = pytest.mark.gui


def test_excepthook_logs_and_names_the_log_file(qtbot: QtBot, fresh_logging: None) -> None:
    assert configure_logging() == log_file()
    try:
        raise ZeroDivisionError("an unexpected bug")
    except ZeroDivisionError:
        exc_type, exc, tb = sys.exc_info()
    assert exc_type is not None and exc is not None

    main.excepthook(exc_type, exc, tb)

    boxes = message_boxes()
    assert len(boxes) == 1
    assert str(log_file()) in boxes[0].text() and "ZeroDivisionError: an unexpected bug" in boxes[0].text()
    flush_logs()
    logged = log_file().read_text(encoding="utf-8")
    assert "Unexpected error" in logged and "Traceback" in logged and "ZeroDivisionError" in logged
    main.excepthook(exc_type, exc, tb)
    assert len(message_boxes()) == 1  # a burst of errors shows one dialog, not a stack of them
    boxes[0].reject()


def test_crash_in_a_worker_reaches_the_excepthook_dialog(
    qtbot: QtBot, window: MainWindow, image_folder: ImageFolder, fresh_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_loader(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in a loader")

    monkeypatch.setattr("app.gui.project_services.load_image", broken_loader)  # what the viewer reads images through
    configure_logging()
    with main.installed_hooks():
        window.viewer_model.open(str(image_folder.ct))
        qtbot.waitUntil(lambda: bool(message_boxes()), timeout=TIMEOUT_MS)
    box = message_boxes()[0]
    assert "RuntimeError: bug in a loader" in box.text() and str(log_file()) in box.text()
    assert not window.viewer_model.loading  # the window carries on
    box.reject()
    flush_logs()
    assert "bug in a loader" in log_file().read_text(encoding="utf-8")


def test_run_opens_window_loads_paths_and_restores_hooks(qtbot: QtBot, image_folder: ImageFolder, fresh_logging: None) -> None:
    hook_before = sys.excepthook
    seen: dict[str, object] = {}
    deadline = time.monotonic() + TIMEOUT_MS / 1000

    def close_when_loaded() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows:
            library = windows[0].library_model
            loaded = library.thumbnails.rowCount() == 4 and not library.loading
            if loaded or time.monotonic() > deadline:
                seen.update(rows=library.thumbnails.rowCount(), hook=sys.excepthook)
                windows[0].close()
                return
        QTimer.singleShot(20, close_when_loaded)

    QTimer.singleShot(0, close_when_loaded)
    assert main.run([str(image_folder.root)]) == 0

    assert seen == {"rows": 4, "hook": main.excepthook}
    assert sys.excepthook is hook_before
    flush_logs()
    assert "GUI starting" in log_file().read_text(encoding="utf-8")
