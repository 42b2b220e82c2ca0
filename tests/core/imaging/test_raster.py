"""PNG/JPEG/TIFF/BMP: 8 and 16 bits, grey, RGB, palette, pages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.imaging import Window, load_image


def gradient(height: int = 32, width: int = 48, top: int = 255) -> np.ndarray:
    return np.linspace(0, top, height * width).reshape(height, width)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
def test_grey8_lossless_formats_keep_values(tmp_path: Path, suffix: str) -> None:
    values = gradient().astype(np.uint8)
    path = tmp_path / f"grey{suffix}"
    Image.fromarray(values, mode="L").save(path)
    image = load_image(path)
    np.testing.assert_array_equal(image.display, values)
    np.testing.assert_array_equal(image.pixels, values.astype(np.float32))
    assert not image.is_color and image.metadata["format"] in {"PNG", "TIFF", "BMP"}
    # The default window is the identity, so a window/level drag starts from what the file shows.
    assert image.default_window is not None
    np.testing.assert_array_equal(image.render(image.default_window), values)


def test_grey16_png_keeps_values_and_uses_full_range_window(tmp_path: Path) -> None:
    values = gradient(top=4095).astype(np.uint16)  # 12-bit data in a 16-bit PNG, as detectors write
    path = tmp_path / "grey16.png"
    Image.fromarray(values).save(path)
    image = load_image(path)
    np.testing.assert_array_equal(image.pixels, values.astype(np.float32))
    assert image.display.min() == 0 and image.display.max() == 255
    assert image.metadata["bits_stored"] == 16


def test_rgb_jpeg(tmp_path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 200
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    image = load_image(path)
    assert image.is_color and abs(int(image.display[16, 16, 0]) - 200) <= 3 and image.display[16, 16, 1] <= 3


def test_palette_png_grey_and_colour(tmp_path: Path) -> None:
    grey = Image.fromarray(gradient().astype(np.uint8), mode="L").convert("P")
    grey.save(tmp_path / "greypal.png")
    assert not load_image(tmp_path / "greypal.png").is_color
    colour = Image.fromarray(np.dstack([gradient().astype(np.uint8)] * 2 + [np.zeros((32, 48), np.uint8)])).convert(
        "P", palette=Image.Palette.ADAPTIVE
    )
    colour.save(tmp_path / "colourpal.png")
    assert load_image(tmp_path / "colourpal.png").is_color


def test_rgba_png_becomes_rgb(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 8, 4), 120, np.uint8), mode="RGBA").save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png").display.shape == (8, 8, 3)


def test_multipage_tiff_pages(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((8, 8), value, np.uint8)) for value in (10, 20, 30)]
    path = tmp_path / "stack.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert load_image(path).n_frames == 3
    assert int(load_image(path, frame=2).display[0, 0]) == 30


def test_render_window_on_raster(tmp_path: Path) -> None:
    path = tmp_path / "g.png"
    Image.fromarray(gradient().astype(np.uint8)).save(path)
    narrow = load_image(path).render(Window(128.0, 20.0))
    assert narrow.min() == 0 and narrow.max() == 255
