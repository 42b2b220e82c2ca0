"""The image a RareSight user sees: modality pixels, a display rendering and safe metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Window:
    """A linear VOI window in modality units (e.g. Hounsfield units for CT)."""

    center: float
    width: float
    name: str = ""

    @property
    def low(self) -> float:
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        return self.center + self.width / 2.0


@dataclass(frozen=True, eq=False)
class MedicalImage:
    """One decoded frame of a DICOM or raster image.

    Attributes
    ----------
    path:
        The file as given to :func:`core.imaging.load_image`.
    pixels:
        Modality values, float32, shape (H, W) for greyscale or (H, W, 3) for colour. For DICOM the
        modality LUT (rescale slope/intercept) is applied, so CT pixels are Hounsfield units.
    display:
        What a radiology viewer shows by default, uint8, shape (H, W) or (H, W, 3): VOI LUT or
        window applied, MONOCHROME1 inverted, colour converted to RGB, padding shown black.
    metadata:
        Plain values only and never a patient identifier: modality, body part, size, frames,
        photometric interpretation, pixel spacing, hashed UIDs ...
    content_hash:
        SHA-256 of the file's bytes (hex); with ``frame`` it identifies the image.
    frame, n_frames:
        Which frame this is (0-based) and how many the file holds.
    windows:
        The windows the file proposes (DICOM Window Center/Width), first one is the default.
    default_window:
        The linear window the display uses: the first proposed one, or the full pixel range.
        None for colour images and images displayed through a non-linear VOI LUT.
    invert:
        True for MONOCHROME1: high values are shown dark.
    padding_mask:
        True where a pixel is padding (outside the field of view), or None when there is none.
    """

    path: str
    pixels: FloatArray
    display: ByteArray
    metadata: dict[str, Any]
    content_hash: str
    frame: int = 0
    n_frames: int = 1
    windows: tuple[Window, ...] = ()
    default_window: Window | None = None
    invert: bool = False
    padding_mask: BoolArray | None = field(default=None, repr=False)

    @property
    def is_color(self) -> bool:
        return self.display.ndim == 3

    @property
    def height(self) -> int:
        return int(self.display.shape[0])

    @property
    def width(self) -> int:
        return int(self.display.shape[1])

    @property
    def value_range(self) -> tuple[float, float]:
        """Minimum and maximum modality value outside padding."""
        values = self.pixels if self.padding_mask is None else self.pixels[~self.padding_mask]
        if values.size == 0:
            return 0.0, 0.0
        return float(values.min()), float(values.max())

    def render(self, window: Window) -> ByteArray:
        """The greyscale display for another window (what a window/level drag shows).

        Colour images have no window: their display is returned unchanged.
        """
        if self.is_color:
            return self.display
        return apply_linear_window(self.pixels, window, self.invert, self.padding_mask)


def apply_linear_window(
    pixels: FloatArray,
    window: Window,
    invert: bool = False,
    padding_mask: BoolArray | None = None,
) -> ByteArray:
    """Map modality values to 0..255 with a DICOM LINEAR window (PS3.3 C.11.2.1.2.1).

    pixels: (H, W) float -> (H, W) uint8. Padding is shown black whatever the inversion.
    """
    center, width = float(window.center), float(window.width)
    # width 1 is a threshold; avoid dividing by zero.
    scaled = ((pixels - (center - 0.5)) / max(width - 1.0, 1e-3) + 0.5) * 255.0
    out: ByteArray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if invert:
        out = np.subtract(255, out, dtype=np.uint8)
    if padding_mask is not None:
        out[padding_mask] = 0
    return out


def full_range_window(pixels: FloatArray, padding_mask: BoolArray | None = None) -> Window:
    """The window spanning every non-padding value: what a viewer shows without a VOI."""
    values = pixels if padding_mask is None else pixels[~padding_mask]
    if values.size == 0:
        return Window(0.0, 1.0, "full range")
    low, high = float(values.min()), float(values.max())
    return Window((low + high + 1.0) / 2.0, max(high - low + 1.0, 1.0), "full range")


def scale_to_uint8(values: npt.NDArray[Any], max_value: float) -> ByteArray:
    """Scale 0..max_value to 0..255 (colour samples of more than 8 bits)."""
    scaled = values if max_value <= 255 else np.rint(values.astype(np.float32) * (255.0 / max_value))
    out: ByteArray = np.clip(scaled, 0, 255).astype(np.uint8)
    return out
