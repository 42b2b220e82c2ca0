"""DICOM decoding as a radiology viewer does it: modality LUT, VOI, MONOCHROME1, colour, frames."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import warnings
from io import BytesIO
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi
from pydicom.pixels.utils import get_nr_frames, pixel_array
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from core.errors import ImageReadError
from core.imaging.boundary import REEXPORT as _REEXPORT
from core.imaging.boundary import decoder_boundary
from core.imaging.dicom_checks import NOT_DICOM, NOT_DICOM_ADVICE, check_bytes, check_frame, check_header, inflate_frame
from core.imaging.medical_image import (
    MedicalImage,
    Window,
    apply_linear_window,
    full_range_window,
    scale_to_uint8,
)

# pydicom logs what it warns about, quoting element values (a malformed birth date, a name):
# those records must never reach a log file.
logging.getLogger("pydicom").propagate = False

DEFLATED_IMAGE_FRAME_COMPRESSION = UID("1.2.840.10008.1.2.8.1")
_PIXEL_DESCRIPTION = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
)
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def read_dicom(path: str, data: bytes, content_hash: str, frame: int | None, window_index: int) -> MedicalImage:
    """Decode one frame of a DICOM file held in ``data`` (its bytes)."""
    # pydicom warns about odd element values, quoting them: they can be patient data, so these
    # warnings are dropped rather than shown or logged.
    with warnings.catch_warnings(), decoder_boundary(path, "pixel values or header elements could not be interpreted"):
        warnings.simplefilter("ignore")
        return _read_dicom(path, data, content_hash, frame, window_index)


def _read_dicom(path: str, data: bytes, content_hash: str, frame: int | None, window_index: int) -> MedicalImage:
    ds = _parse(path, data)
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS) and ("Rows" in ds or len(ds) == 0):
        raise ImageReadError(path, f"DICOM file without Pixel Data ({_sop_class_name(ds)}): it is probably truncated", _REEXPORT)
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        sop = _sop_class_name(ds)
        raise ImageReadError(
            path,
            f"DICOM file holds no image ({sop}, no Pixel Data)",
            "it is not an image (a directory, report, plan or waveform?); open the image files of the study",
        )
    n_frames = _frame_count(path, ds)
    index = n_frames // 2 if frame is None else frame
    if not 0 <= index < n_frames:
        raise ImageReadError(
            path, f"frame {index} asked for, but the file has {n_frames} frame(s)", f"choose a frame from 0 to {n_frames - 1}"
        )
    check_header(path, ds)  # the pixel budget, before any decoder allocates what a header claims
    check_frame(path, ds, index, n_frames)
    raw = _decode(path, ds, index)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    metadata = safe_metadata(ds, n_frames)
    common: dict[str, Any] = {"path": path, "metadata": metadata, "content_hash": content_hash, "frame": index, "n_frames": n_frames}
    if photometric == "PALETTE COLOR":
        return _palette_image(ds, raw, common)
    if raw.ndim == 3:
        return _colour_image(ds, raw, common)
    return _grey_image(ds, raw, index, photometric, window_index, common)


def _parse(path: str, data: bytes) -> Dataset:
    check_bytes(path, data)  # zeros, noise and deflate bombs are refused before pydicom parses them
    ds: Dataset
    try:
        with decoder_boundary(path, "DICOM file is damaged or truncated"):
            ds = pydicom.dcmread(BytesIO(data))
    except ImageReadError as exc:
        if not isinstance(exc.__cause__, InvalidDicomError):
            raise
        ds = _parse_without_header(path, data)
    _ensure_transfer_syntax(ds)
    return ds


def _parse_without_header(path: str, data: bytes) -> Dataset:
    """Files written without the 128-byte preamble and 'DICM' (old or raw exports)."""
    with decoder_boundary(path, NOT_DICOM, NOT_DICOM_ADVICE):
        ds = pydicom.dcmread(BytesIO(data), force=True)
    if "Rows" not in ds and not any(keyword in ds for keyword in _PIXEL_KEYWORDS) and "SOPClassUID" not in ds:
        raise ImageReadError(path, NOT_DICOM, NOT_DICOM_ADVICE)
    return ds


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """Headerless files have no Transfer Syntax UID; take the encoding pydicom detected."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = FileMetaDataset()
        ds.file_meta = meta
    if "TransferSyntaxUID" not in meta:
        implicit, little = ds.original_encoding
        if implicit is False and little is False:
            meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.2")  # explicit VR big endian
        else:
            meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian


def _frame_count(path: str, ds: Dataset) -> int:
    try:
        return max(int(get_nr_frames(ds, warn=False)), 1)
    except (ValueError, TypeError) as exc:
        raise ImageReadError(path, "Number of Frames is not a valid number", _REEXPORT) from exc


def _decode(path: str, ds: Dataset, index: int) -> np.ndarray:
    syntax = ds.file_meta.TransferSyntaxUID
    try:
        with decoder_boundary(path, "pixel data could not be decoded"):
            if syntax == DEFLATED_IMAGE_FRAME_COMPRESSION:
                return _inflate_frame(path, ds, index)
            return np.asarray(pixel_array(ds, index=index))
    except ImageReadError as exc:
        if isinstance(exc.__cause__, NotImplementedError | RuntimeError):
            raise _decoder_error(path, syntax, exc.__cause__) from exc.__cause__
        raise


def _decoder_error(path: str, syntax: UID, exc: BaseException) -> ImageReadError:
    """Words for what pydicom raises when no decoder, or every decoder, failed."""
    if isinstance(exc, NotImplementedError):
        return ImageReadError(
            path,
            f"pixel data in an unsupported form ({syntax_name(syntax)}: {_first_line(exc)})",
            "export the image uncompressed, 8 or 16 bits per sample",
        )
    if "missing dependencies" in str(exc) or "no decoding plugins" in str(exc).lower():
        return ImageReadError(
            path,
            f"pixel data compressed as {syntax_name(syntax)}, and no installed decoder can read it",
            "reinstall RareSight with its pylibjpeg decoders, or export the series uncompressed",
        )
    reason = _plugin_reason(exc)
    if "memory" in reason.lower():  # a decoder's allocation failed; pydicom wraps it in RuntimeError
        return ImageReadError(path, f"not enough memory to decode this image ({reason})", "close other programs and try again")
    return ImageReadError(path, f"{syntax_name(syntax)} pixel data could not be decoded ({reason})", _REEXPORT)


def _inflate_frame(path: str, ds: Dataset, index: int) -> np.ndarray:
    """Deflated Image Frame Compression (2024): each frame is a raw deflate stream of native pixels.

    pydicom 3.0 has no decoder for it; inflate the one frame and decode it as native data.
    """
    n_frames = max(int(get_nr_frames(ds, warn=False)), 1)
    fragment = list(generate_frames(ds.PixelData, number_of_frames=n_frames))[index]
    native = Dataset()
    native.file_meta = FileMetaDataset()
    native.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for keyword in _PIXEL_DESCRIPTION:
        if keyword in ds:
            setattr(native, keyword, ds[keyword].value)
    native.NumberOfFrames = 1
    expected = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1) or 1) * -(-int(ds.BitsAllocated) // 8)
    native.PixelData = inflate_frame(path, fragment, expected)
    return np.asarray(pixel_array(native, index=0))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n")[0][:200]


def _plugin_reason(exc: BaseException) -> str:
    """pydicom lists each plugin's failure on its own line ("name: reason"); the first with a reason says most."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines[1:]:
        name, _, reason = line.partition(":")
        if reason.strip():
            return f"{name.strip()}: {reason.strip()}"[:200]
    if len(lines) > 1:
        return f"{', '.join(line.rstrip(':') for line in lines[1:])} gave no reason"[:200]
    return (lines[0] if lines else type(exc).__name__)[:200]


def _colour_image(ds: Dataset, raw: np.ndarray, common: dict[str, Any]) -> MedicalImage:
    # pixel_array already converted YBR_FULL/YBR_FULL_422 (and JPEG's YCbCr) to RGB.
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
    display = scale_to_uint8(raw, float(2**bits - 1))
    return MedicalImage(pixels=raw.astype(np.float32), display=display, **common)


def _palette_image(ds: Dataset, raw: np.ndarray, common: dict[str, Any]) -> MedicalImage:
    rgb = np.asarray(apply_color_lut(raw, ds))
    display = scale_to_uint8(rgb, 255.0 if rgb.dtype == np.uint8 else 65535.0)
    return MedicalImage(pixels=rgb.astype(np.float32), display=display, **common)


def _grey_image(ds: Dataset, raw: np.ndarray, index: int, photometric: str, window_index: int, common: dict[str, Any]) -> MedicalImage:
    padding = _padding_mask(ds, raw)
    pixels = _modality_values(ds, raw, index)
    invert = photometric == "MONOCHROME1"
    windows = _windows(ds, index)
    if windows:
        chosen = windows[min(max(window_index, 0), len(windows) - 1)]
        return MedicalImage(
            pixels=pixels,
            display=apply_linear_window(pixels, chosen, invert, padding),
            windows=windows,
            default_window=chosen,
            invert=invert,
            padding_mask=padding,
            **common,
        )
    if _valid_lut(ds, "VOILUTSequence"):
        display = _voi_lut_display(ds, pixels, invert, padding)
        return MedicalImage(pixels=pixels, display=display, invert=invert, padding_mask=padding, **common)
    window = full_range_window(pixels, padding)
    return MedicalImage(
        pixels=pixels,
        display=apply_linear_window(pixels, window, invert, padding),
        default_window=window,
        invert=invert,
        padding_mask=padding,
        **common,
    )


def _padding_mask(ds: Dataset, raw: np.ndarray) -> np.ndarray | None:
    """Pixels outside the field of view, given as stored values (PS3.3 C.7.5.1.1.2)."""
    value = ds.get("PixelPaddingValue")
    if value is None or raw.dtype.kind not in "iu":
        return None
    value = int(value)
    limit = ds.get("PixelPaddingRangeLimit")
    if limit is None:
        mask = raw == value
    else:
        low, high = sorted((value, int(limit)))
        mask = (raw >= low) & (raw <= high)
    return mask if mask.any() else None


def _frame_item(ds: Dataset, index: int, sequence: str) -> Dataset | None:
    """An enhanced multi-frame functional group: the frame's own, else the shared one."""
    for group, item_index in (("PerFrameFunctionalGroupsSequence", index), ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(group)
        if groups and len(groups) > item_index and sequence in groups[item_index]:
            items = groups[item_index][sequence]
            if items:
                item: Dataset = items[0]
                return item
    return None


def _modality_values(ds: Dataset, raw: np.ndarray, index: int) -> np.ndarray:
    """Stored values to modality units: Modality LUT, else Rescale Slope/Intercept (PS3.3 C.11.1)."""
    source: Dataset = ds
    if not (_valid_modality_lut(ds) or _rescale(ds)):
        source = _frame_item(ds, index, "PixelValueTransformationSequence") or ds
    if _valid_modality_lut(source):
        return np.asarray(apply_modality_lut(raw, source), dtype=np.float32)
    rescale = _rescale(source)
    if rescale is not None:
        slope, intercept = rescale
        return raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    return raw.astype(np.float32)


def _valid_modality_lut(ds: Dataset) -> bool:
    return _valid_lut(ds, "ModalityLUTSequence")


def _valid_lut(ds: Dataset, sequence: str) -> bool:
    """A LUT sequence whose first item has a descriptor and data (some files leave them empty)."""
    items = ds.get(sequence)
    if not items:
        return False
    item = items[0]
    return item.get("LUTDescriptor") is not None and item.get("LUTData") is not None


def _rescale(ds: Dataset) -> tuple[float, float] | None:
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is None or intercept is None:
        return None
    try:
        return float(slope), float(intercept)
    except (TypeError, ValueError):
        return None


def _windows(ds: Dataset, index: int) -> tuple[Window, ...]:
    source: Dataset | None = ds if "WindowCenter" in ds else _frame_item(ds, index, "FrameVOILUTSequence")
    if source is None or source.get("WindowCenter") is None or source.get("WindowWidth") is None:
        return ()
    centers, widths = _as_list(source.WindowCenter), _as_list(source.WindowWidth)
    names = _as_list(source.get("WindowCenterWidthExplanation", []))
    windows = []
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        try:
            c, w = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if w >= 1.0:
            windows.append(Window(c, w, str(names[i]) if i < len(names) else f"window {i + 1}"))
    return tuple(windows)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return list(value)
    return [value]


def _voi_lut_display(ds: Dataset, pixels: np.ndarray, invert: bool, padding: np.ndarray | None) -> np.ndarray:
    out = np.asarray(apply_voi(pixels, ds, 0), dtype=np.float32)
    item = ds.VOILUTSequence[0]
    bits = int(item.LUTDescriptor[2]) if "LUTDescriptor" in item else 16
    top = float(max(out.max(), 1.0)) if bits > 16 else float(2**bits - 1)
    display: np.ndarray = np.clip(np.rint(out * (255.0 / top)), 0, 255).astype(np.uint8)
    if invert:
        display = np.subtract(255, display, dtype=np.uint8)
    if padding is not None:
        display[padding] = 0
    return display


def _sop_class_name(ds: Dataset) -> str:
    uid = ds.get("SOPClassUID") or getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID")
    if uid is None:
        return "SOP class not given"
    return f"SOP class {_uid_name(uid) or 'not readable'}"


def _uid_name(value: Any) -> str:
    """A valid UID's name, else ''. A damaged length can make a UI element swallow the rest of the
    header, patient name included: such a value must never reach a message or the metadata."""
    text = str(value) if isinstance(value, str) else ""
    return str(UID(text).name) if text and UID(text).is_valid else ""


def syntax_name(uid: UID) -> str:
    """The transfer syntax's name, including those newer than pydicom's dictionary."""
    return "Deflated Image Frame Compression" if uid == DEFLATED_IMAGE_FRAME_COMPRESSION else str(uid.name)


def hash_uid(value: Any) -> str:
    """A stable pseudonym for a UID: it links files of one study without revealing it."""
    return hashlib.sha256(str(value).encode("ascii", "replace")).hexdigest()[:16]


def safe_metadata(ds: Dataset, n_frames: int) -> dict[str, Any]:
    """Technical metadata only. Names, IDs, dates of birth, institutions never enter here."""
    meta: dict[str, Any] = {
        "format": "DICOM",
        "modality": str(ds.get("Modality", "") or ""),
        "body_part": str(ds.get("BodyPartExamined", "") or ""),
        "rows": int(ds.get("Rows", 0) or 0),
        "columns": int(ds.get("Columns", 0) or 0),
        "frames": n_frames,
        "photometric_interpretation": str(ds.get("PhotometricInterpretation", "") or ""),
        "bits_stored": int(ds.get("BitsStored", 0) or 0),
        "samples_per_pixel": int(ds.get("SamplesPerPixel", 1) or 1),
        "transfer_syntax": syntax_name(ds.file_meta.TransferSyntaxUID),
        "sop_class": _uid_name(ds.get("SOPClassUID")),
    }
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    if spacing is not None:
        with contextlib.suppress(TypeError, ValueError):
            meta["pixel_spacing_mm"] = [float(v) for v in _as_list(spacing)][:2]
    for keyword, key in (
        ("StudyInstanceUID", "study_uid_hash"),
        ("SeriesInstanceUID", "series_uid_hash"),
        ("SOPInstanceUID", "instance_uid_hash"),
    ):
        if keyword in ds:
            meta[key] = hash_uid(ds.get(keyword))
    return meta
