"""Fixtures for GUI tests: a folder of real test images and a shown main window."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow


@dataclass(frozen=True)
class ImageFolder:
    """tmp folder: CT, MR, PNG, a truncated DICOM and an empty file; a multi-frame file in sub/."""

    root: Path
    ct: Path
    mr: Path
    multi: Path
    png: Path
    broken: Path
    empty: Path

    @property
    def readable(self) -> list[Path]:
        return [self.ct, self.mr, self.multi, self.png]


def _testdata(name: str) -> Path:
    found = get_testdata_file(name)  # bundled with pydicom: no download
    assert found is not None, f"pydicom test file {name} is missing"
    return Path(found)


@pytest.fixture
def image_folder(tmp_path: Path) -> ImageFolder:
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    ct, mr, multi = root / "CT_small.dcm", root / "MR_small.dcm", root / "sub" / "rtdose.dcm"
    for target in (ct, mr, multi):
        target.write_bytes(_testdata(target.name).read_bytes())
    png = root / "photo.png"
    gradient = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (40, 1))
    Image.fromarray(gradient).save(png)
    broken = root / "broken.dcm"
    broken.write_bytes(ct.read_bytes()[:20000])  # header intact, pixel data cut short
    empty = root / "empty.dcm"
    empty.write_bytes(b"")
    return ImageFolder(root, ct, mr, multi, png, broken, empty)


def shown_window(qtbot: QtBot, main_window: MainWindow) -> MainWindow:
    qtbot.addWidget(main_window)
    main_window.show()
    qtbot.waitExposed(main_window)
    return main_window


@pytest.fixture
def window(qtbot: QtBot) -> MainWindow:
    return shown_window(qtbot, MainWindow())


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """No RareSight log handler left from another test (each test has its own log folder)."""

    def drop() -> None:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_raresight", False)]:
            root.removeHandler(handler)
            handler.close()

    drop()
    yield
    drop()
