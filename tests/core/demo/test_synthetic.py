from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.demo import DEMO_CLASSES, render_cell, write_demo_images
from core.imaging import load_image


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    first = write_demo_images(tmp_path / "a", per_class=2, seed=3)
    second = write_demo_images(tmp_path / "b", per_class=2, seed=3)
    for kind in DEMO_CLASSES:
        for a, b in zip(first[kind], second[kind], strict=True):
            assert a.read_bytes() == b.read_bytes()
            assert a.name.startswith("synthetic_")


def test_classes_differ_in_shape() -> None:
    """The pale-pixel fraction (cell vs background) separates the classes' shapes."""
    rng = np.random.default_rng(0)
    cover = {kind: np.mean([(render_cell(kind, rng)[..., 1] < 170).mean() for _ in range(8)]) for kind in DEMO_CLASSES}
    assert cover["elliptocyte"] < cover["discocyte"] and cover["sickle cell"] < cover["discocyte"]


def test_written_images_load(tmp_path: Path) -> None:
    paths = write_demo_images(tmp_path, per_class=1)
    image = load_image(paths["target cell"][0])
    assert image.is_color and image.display.shape == (96, 96, 3)


def test_unknown_class() -> None:
    with pytest.raises(ValueError, match="unknown demo class"):
        render_cell("platelet", np.random.default_rng(0))
