"""Settings live in one INI file under RARESIGHT_CONFIG_DIR; the window remembers its geometry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.gui import settings
from app.gui.main_window import MainWindow

pytestmark = pytest.mark.gui


def test_settings_file_is_under_the_config_dir() -> None:
    assert settings.settings_path() == Path(os.environ["RARESIGHT_CONFIG_DIR"]) / "gui.ini"
    settings.set_last_folder("/data/study")
    assert settings.last_folder() == "/data/study"
    assert settings.settings_path().is_file()


def test_window_geometry_is_restored(qtbot: QtBot) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)  # the offscreen screen is 800 x 600
    first.library.splitter.setSizes([300, 120])
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (700, 500)
    assert "splitters" in settings.settings_path().read_text(encoding="utf-8")
