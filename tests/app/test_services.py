"""The GUI's Qt-free helpers: thumbnails, presets, window/level drag arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from app.gui import services
from core.imaging import Window, load_image


@pytest.mark.parametrize(("shape", "expected"), [((512, 256), (96, 48)), ((10, 20), (48, 96)), ((64, 64, 3), (96, 96, 3))])
def test_thumbnail_fits_the_box_keeping_aspect(shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    display = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    thumb = services.make_thumbnail(display)
    assert thumb.shape == expected and thumb.dtype == np.uint8


def test_small_images_are_enlarged_without_blur() -> None:
    checker = (np.indices((4, 4)).sum(axis=0) % 2 * 255).astype(np.uint8)
    assert set(np.unique(services.make_thumbnail(checker))) == {0, 255}


def test_presets_for_ct_and_drag_arithmetic() -> None:
    image = load_image(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
    names = [w.name for w in services.window_presets(image)]
    assert names == ["Lung", "Mediastinum / soft tissue", "Bone", "Brain", "Full range"]
    dragged = services.dragged_window(Window(40, 400), dx=50, dy=-25, value_span=1000)
    assert (dragged.width, dragged.center) == (500, -10)
    assert services.dragged_window(Window(40, 10), dx=-500, dy=0, value_span=1000).width == 1  # never below 1
    assert services.describe_window(Window(-600, 1500)) == "W 1500 / L -600"


def test_unreadable_reason_drops_the_path_prefix() -> None:
    failure = services.UnreadableFile("/x/scan.dcm", "/x/scan.dcm: file is empty (0 bytes); copy it again")
    assert failure.reason == "file is empty (0 bytes); copy it again" and failure.name == "scan.dcm"
