"""PNG, JPEG, TIFF, BMP (8/16-bit, grey, RGB, palette) as MedicalImage."""

from __future__ import annotations

import re
import warnings
from io import BytesIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageReadError
from core.imaging.boundary import decoder_boundary
from core.imaging.frame_headers import codec_size
from core.imaging.limits import MAX_PIXELS_ENV, check_pixels, max_pixels
from core.imaging.medical_image import MedicalImage, Window, apply_linear_window, full_range_window

_GREY_MODES = {"1", "L", "LA", "La"}
_HIGH_BIT_GREY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SAVE_AGAIN = "save or export the image again"
_NOT_AN_IMAGE = "not an image file Pillow can read (PNG, JPEG, TIFF, BMP) or a DICOM file"
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


def read_raster(path: str, data: bytes, content_hash: str, frame: int | None) -> MedicalImage:
    """Decode one page of a raster image file held in ``data``.

    The pixel budget (``RARESIGHT_MAX_PIXELS``) is checked on the PNG IHDR or JPEG SOF before Pillow
    sees the file, then on the size Pillow's lazy open reads (TIFF, BMP, GIF; each TIFF page).
    Pillow's own decompression-bomb check stays on, at the same limit, and is an error here.
    """
    found = codec_size(data[:65536])
    if found is not None:
        codec, (width, height, components) = found
        check_pixels(path, f"its {codec} header", width, height, components)
    Image.MAX_IMAGE_PIXELS = max_pixels(path)  # Pillow warns above this and refuses above twice it
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with decoder_boundary(path, "image data is damaged or truncated", _SAVE_AGAIN), Image.open(BytesIO(data)) as image:
                return _read_page(path, image, content_hash, frame)
        except ImageReadError as exc:
            clearer = _pillow_error(path, exc.__cause__)
            if clearer is None:
                raise
            raise clearer from exc.__cause__


def _read_page(path: str, image: Image.Image, content_hash: str, frame: int | None) -> MedicalImage:
    fmt = str(image.format or "image")
    n_frames = int(getattr(image, "n_frames", 1) or 1)
    index = 0 if frame is None else frame
    if not 0 <= index < n_frames:
        advice = f"choose a page from 0 to {n_frames - 1}"
        raise ImageReadError(path, f"frame {index} asked for, but the file has {n_frames} page(s)", advice)
    image.seek(index)
    check_pixels(path, f"its {fmt} header", image.width, image.height)  # pages of a TIFF have sizes of their own
    image.load()
    page = ImageOps.exif_transpose(image) or image
    return _to_medical_image(path, page, fmt, content_hash, index, n_frames)


def _pillow_error(path: str, cause: BaseException | None) -> ImageReadError | None:
    """Clear words for Pillow's 'cannot identify' (which quotes a BytesIO repr) and its bomb check."""
    if isinstance(cause, UnidentifiedImageError):
        return ImageReadError(path, _NOT_AN_IMAGE, "open DICOM, PNG, JPEG, TIFF or BMP files")
    if isinstance(cause, Image.DecompressionBombWarning | Image.DecompressionBombError):
        match = _BOMB_PIXELS.search(str(cause))
        declared = f"{int(match.group(1)):,} pixels" if match else "more pixels"
        return ImageReadError(
            path,
            f"its header declares {declared}, more than the limit of {max_pixels(path):,} (Pillow's decompression-bomb check)",
            f"if the image is genuine, raise the limit with {MAX_PIXELS_ENV}",
        )
    return None


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
