"""MedicalImage to model input: grey to three channels, letterbox resize, normalisation.

Bump :data:`PREPROCESS_VERSION` whenever the output for a given image can change; it is part of
the embedding cache key, so old embeddings are then recomputed rather than reused.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

PREPROCESS_VERSION = 1

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]


def to_rgb(display: npt.NDArray[np.generic]) -> ByteArray:
    """(H, W) grey or (H, W, 3|4) colour uint8 -> (H, W, 3) uint8."""
    arr = np.asarray(display)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] >= 3:
        return np.ascontiguousarray(arr[:, :, :3])
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {arr.shape}")


def letterbox(rgb: ByteArray, size: int) -> ByteArray:
    """Resize so the longer side is ``size`` and pad the shorter one with black, centred.

    Keeps the whole field of view and the aspect ratio (a centre crop could cut off a lesion at
    the edge of an X-ray). (H, W, 3) uint8 -> (size, size, 3) uint8.
    """
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BILINEAR))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out


def to_model_input(display: npt.NDArray[np.generic], size: int) -> FloatArray:
    """Viewer display (uint8 grey or RGB) -> (3, size, size) float32, ImageNet-normalised."""
    rgb = letterbox(to_rgb(display), size).astype(np.float32) / 255.0
    rgb = (rgb - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))
