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
    first.resize(first.minimumSizeHint().width() + 10, 500)  # the offscreen screen is 800 x 600
    first.library.splitter.setSizes([300, 120])
    saved = (first.width(), first.height())
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == saved
    assert "splitters" in settings.settings_path().read_text(encoding="utf-8")


def test_recent_projects_newest_first_without_missing_files(tmp_path: Path) -> None:
    files = [tmp_path / f"p{i}.raresight" for i in range(3)]
    for file in files:
        file.write_bytes(b"x")
        settings.add_recent_project(file)
    settings.add_recent_project(files[0])  # opened again: first, not twice
    assert settings.recent_projects() == [str(files[0]), str(files[2]), str(files[1])]
    files[2].unlink()
    assert settings.recent_projects() == [str(files[0]), str(files[1])]
    for index in range(settings.MAX_RECENT + 3):
        (tmp_path / f"q{index}.raresight").write_bytes(b"x")
        settings.add_recent_project(tmp_path / f"q{index}.raresight")
    assert len(settings.recent_projects()) == settings.MAX_RECENT


def test_coverage_is_one_of_the_offered_levels() -> None:
    assert settings.coverage() == settings.DEFAULT_COVERAGE
    settings.set_coverage(0.8)
    assert settings.coverage() == 0.8
    settings.set_coverage(0.5)  # not offered: back to the default
    assert settings.coverage() == settings.DEFAULT_COVERAGE
