from __future__ import annotations

import numpy as np

from core.embedding.preprocess import IMAGENET_MEAN, IMAGENET_STD, letterbox, to_model_input, to_rgb


def test_grey_becomes_three_equal_channels() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = to_rgb(grey)
    assert rgb.shape == (3, 4, 3)
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_letterbox_keeps_the_whole_field_of_view() -> None:
    wide = np.full((50, 100, 3), 255, dtype=np.uint8)
    out = letterbox(wide, 64)
    assert out.shape == (64, 64, 3)
    assert (out[0] == 0).all() and (out[-1] == 0).all()  # padded top and bottom
    assert (out[32, :] == 255).all()  # full width kept


def test_normalisation_and_layout() -> None:
    white = np.full((10, 10, 3), 255, dtype=np.uint8)
    x = to_model_input(white, 16)
    assert x.shape == (3, 16, 16) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 8, 8], (1 - IMAGENET_MEAN) / IMAGENET_STD, rtol=1e-5)
