"""The worker pattern: newest job wins, errors are reported, closing waits for the threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.gui import services
from app.gui.main_window import MainWindow
from app.gui.workers import JobContext, JobRunner
from core.errors import ImageReadError
from tests.app.conftest import ImageFolder
from tests.app.helpers import TIMEOUT_MS, load

pytestmark = pytest.mark.gui


def test_a_new_job_cancels_the_running_one(qtbot: QtBot) -> None:
    runner = JobRunner("test")
    streamed: list[object] = []
    results: list[object] = []
    runner.yielded.connect(streamed.append)
    runner.result.connect(results.append)
    first_running = threading.Event()

    def slow(ctx: JobContext) -> str:
        for i in range(200):
            ctx.check()
            ctx.emit(("slow", i))
            first_running.set()
            time.sleep(0.005)
        return "slow"

    runner.start(slow)
    assert first_running.wait(5)
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS):
        runner.start(lambda ctx: (ctx.emit(("fast", 0)), "fast")[1])

    assert results == ["fast"]
    assert ("fast", 0) in streamed
    assert len([s for s in streamed if s[0] == "slow"]) < 200  # type: ignore[index]
    assert runner.shutdown(1000) and not runner.busy


def test_core_errors_arrive_as_error_signal(qtbot: QtBot) -> None:
    runner = JobRunner("test")

    def failing(ctx: JobContext) -> None:
        raise ImageReadError("scan.dcm", "file is empty (0 bytes)", "copy it again")

    with qtbot.waitSignal(runner.error, timeout=TIMEOUT_MS) as blocker:
        runner.start(failing)
    assert str(blocker.args[0]) == "scan.dcm: file is empty (0 bytes); copy it again"
    qtbot.waitUntil(lambda: not runner.busy, timeout=TIMEOUT_MS)


def test_opening_again_replaces_a_load_in_progress(
    qtbot: QtBot, window: MainWindow, image_folder: ImageFolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_load = services.load_image

    def slow_load(path: Path, *args: object, **kwargs: object) -> object:
        time.sleep(0.05)
        return real_load(path)

    monkeypatch.setattr(services, "load_image", slow_load)
    window.open_paths([image_folder.root])
    readable, unreadable = load(qtbot, window, image_folder.png)

    assert (readable, unreadable) == (1, 0)
    assert window.library_model.thumbnails.rowCount() == 1
    assert window.library_model.failures.rowCount() == 0


def test_closing_waits_for_the_loading_thread(qtbot: QtBot, image_folder: ImageFolder, monkeypatch: pytest.MonkeyPatch) -> None:
    started, calls = threading.Event(), []
    real_load = services.load_image

    def slow_load(path: Path, *args: object, **kwargs: object) -> object:
        started.set()
        time.sleep(0.2)
        calls.append(path)
        return real_load(path)

    monkeypatch.setattr(services, "load_image", slow_load)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.open_paths([image_folder.root])
    assert started.wait(5)

    window.close()

    runner = window.library_model.runner
    assert not runner.busy and runner.wait(0)  # no worker thread outlives closeEvent
    assert 1 <= len(calls) < 6  # it stopped between files instead of reading the whole folder
