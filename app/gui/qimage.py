"""NumPy uint8 images to and from QImage, on the GUI thread (QImage copies the buffer)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtGui import QImage


def to_qimage(pixels: npt.NDArray[np.uint8]) -> QImage:
    """uint8 (H, W) greyscale or (H, W, 3) RGB -> a QImage that owns a copy of the pixels."""
    array = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = array.shape[:2]
    if array.ndim == 2:
        fmt, bytes_per_line = QImage.Format.Format_Grayscale8, width
    elif array.ndim == 3 and array.shape[2] == 3:
        fmt, bytes_per_line = QImage.Format.Format_RGB888, 3 * width
    else:
        raise ValueError(f"expected (H, W) or (H, W, 3) uint8 pixels, got shape {array.shape}")
    # .copy(): the QImage must not point into a NumPy buffer that may be freed.
    return QImage(array.data, width, height, bytes_per_line, fmt).copy()


def from_qimage(image: QImage) -> npt.NDArray[np.uint8]:
    """The pixels of a Grayscale8 or RGB888 QImage as (H, W) or (H, W, 3) uint8 (a copy)."""
    if image.format() == QImage.Format.Format_Grayscale8:
        channels = 1
    elif image.format() == QImage.Format.Format_RGB888:
        channels = 3
    else:
        image, channels = image.convertToFormat(QImage.Format.Format_RGB888), 3
    height, width, stride = image.height(), image.width(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    rows = raw[:, : width * channels].copy()
    return rows.reshape(height, width) if channels == 1 else rows.reshape(height, width, 3)
