"""PNG, JPEG, TIFF, BMP (8/16-bit, grey, RGB, palette) as MedicalImage."""

from __future__ import annotations

import warnings
from io import BytesIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageReadError
from core.imaging.medical_image import MedicalImage, Window, apply_linear_window, full_range_window

_GREY_MODES = {"1", "L", "LA", "La"}
_HIGH_BIT_GREY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def read_raster(path: str, data: bytes, content_hash: str, frame: int | None) -> MedicalImage:
    """Decode one page of a raster image file held in ``data``."""
    with warnings.catch_warnings():
        # Large images raise DecompressionBombError above Pillow's hard limit; below it, a warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(BytesIO(data)) as image:
                fmt = str(image.format or "image")
                n_frames = int(getattr(image, "n_frames", 1) or 1)
                index = 0 if frame is None else frame
                if not 0 <= index < n_frames:
                    raise ImageReadError(
                        path, f"frame {index} asked for, but the file has {n_frames} page(s)", f"choose a page from 0 to {n_frames - 1}"
                    )
                image.seek(index)
                image.load()
                page = ImageOps.exif_transpose(image) or image
                return _to_medical_image(path, page, fmt, content_hash, index, n_frames)
        except ImageReadError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise ImageReadError(path, f"not a readable image ({exc})", "open DICOM, PNG, JPEG, TIFF or BMP files") from exc
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError ... on bad data
            raise ImageReadError(
                path, f"image data is damaged or truncated ({type(exc).__name__}: {exc})", "save or export the image again"
            ) from exc


def _to_medical_image(path: str, page: Image.Image, fmt: str, content_hash: str, index: int, n_frames: int) -> MedicalImage:
    mode = page.mode
    metadata: dict[str, object] = {
        "format": fmt,
        "modality": "",
        "rows": page.height,
        "columns": page.width,
        "frames": n_frames,
        "mode": mode,
    }
    common = {"path": path, "metadata": metadata, "content_hash": content_hash, "frame": index, "n_frames": n_frames}
    if mode in _HIGH_BIT_GREY_MODES:
        pixels = np.asarray(page, dtype=np.float32)
        window = full_range_window(pixels)
        metadata["bits_stored"] = 16 if mode.startswith("I;16") else 32
        return MedicalImage(pixels=pixels, display=apply_linear_window(pixels, window), default_window=window, **common)  # type: ignore[arg-type]
    if mode == "P" or mode == "PA":
        rgb = np.asarray(page.convert("RGB"))
        # A palette of greys is a greyscale image (common for exported X-rays).
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
            return _grey8(rgb[..., 0], common, metadata)
        return _rgb8(rgb, common, metadata)
    if mode in _GREY_MODES:
        return _grey8(np.asarray(page.convert("L")), common, metadata)
    return _rgb8(np.asarray(page.convert("RGB")), common, metadata)


def _grey8(grey: np.ndarray, common: dict[str, object], metadata: dict[str, object]) -> MedicalImage:
    metadata["bits_stored"] = 8
    display = np.ascontiguousarray(grey, dtype=np.uint8)
    # The identity window, so that a window/level drag starts from what the file shows.
    return MedicalImage(pixels=display.astype(np.float32), display=display, default_window=Window(128.0, 256.0, "full range"), **common)  # type: ignore[arg-type]


def _rgb8(rgb: np.ndarray, common: dict[str, object], metadata: dict[str, object]) -> MedicalImage:
    metadata["bits_stored"] = 8
    display = np.ascontiguousarray(rgb, dtype=np.uint8)
    return MedicalImage(pixels=display.astype(np.float32), display=display, **common)  # type: ignore[arg-type]
