"""``load_image``: any supported file to a MedicalImage, or an ImageReadError that says why."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from core.errors import ImageReadError
from core.imaging.boundary import decoder_boundary
from core.imaging.limits import read_capped
from core.imaging.medical_image import MedicalImage

log = logging.getLogger(__name__)

DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".ima"})
RASTER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})

_RASTER_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
)


def sniff_format(data: bytes) -> str:
    """'DICOM', a raster format name, or '' when the bytes say nothing (maybe headerless DICOM)."""
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "DICOM"
    for magic, name in _RASTER_MAGIC:
        if data.startswith(magic):
            return name
    return ""


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """The whole file, or an ImageReadError naming the file and what to do.

    Folders, FIFOs, sockets and devices are refused before they are opened (a FIFO would block), and
    files over ``RARESIGHT_MAX_FILE_BYTES`` (2 GiB) from their size (see :mod:`core.imaging.limits`).
    """
    p = Path(path)
    try:
        return read_capped(p)
    except FileNotFoundError as exc:
        # No hint about projects here: the project layer adds "relink" where its stored images are missing.
        raise ImageReadError(p, "file not found", "check the path (spelling, and whether the file was moved or deleted)") from exc
    except PermissionError as exc:
        raise ImageReadError(p, "permission denied", "ask for read access to the file, or copy it somewhere you can read") from exc
    except OSError as exc:
        raise ImageReadError(p, f"could not be read ({exc.strerror or exc})", "check the disk or network share and try again") from exc


def load_image(path: str | os.PathLike[str], frame: int | None = None, *, window_index: int = 0) -> MedicalImage:
    """Read one frame of a DICOM or raster image.

    Parameters
    ----------
    path:
        A DICOM file (Part 10, or without a meta header where pydicom can read it) or a
        PNG/JPEG/TIFF/BMP file.
    frame:
        0-based frame (DICOM multi-frame) or page (TIFF); None picks the middle frame of a DICOM
        and the first page of a raster file.
    window_index:
        Which of the DICOM's proposed windows the display uses (the first by default).

    Raises
    ------
    ImageReadError
        For every failure, naming the file, the reason and what to do. Nothing else: whatever a
        decoder raises, a Rust panic or MemoryError included, is translated (:mod:`core.imaging.boundary`);
        only KeyboardInterrupt and SystemExit pass. Files and pixels over the budgets of
        :mod:`core.imaging.limits` (``RARESIGHT_MAX_FILE_BYTES``, ``RARESIGHT_MAX_PIXELS``) are refused
        before decoding.
    """
    name = str(path)
    with decoder_boundary(name):
        image = _load(path, name, frame, window_index)
    # Logged by content hash, not by name: file names can carry patient names.
    log.debug(
        "read %s: %s %dx%d frame %d/%d",
        image.content_hash[:12],
        image.metadata.get("format"),
        image.width,
        image.height,
        image.frame + 1,
        image.n_frames,
    )
    return image


def _load(path: str | os.PathLike[str], name: str, frame: int | None, window_index: int) -> MedicalImage:
    data = read_file_bytes(path)
    content_hash = hashlib.sha256(data).hexdigest()
    fmt = sniff_format(data)
    suffix = Path(name).suffix.lower()
    if fmt and fmt != "DICOM" and suffix in DICOM_SUFFIXES:
        raise ImageReadError(
            name,
            f"named as DICOM but holds a {fmt} image",
            f"rename it to .{fmt.lower()} if it is meant to be one, or export the DICOM again",
        )
    if fmt in ("DICOM", ""):
        from core.imaging.dicom import read_dicom  # pydicom loads on the first DICOM, not with the store

        image = read_dicom(name, data, content_hash, frame, window_index)
    else:
        from core.imaging.raster import read_raster

        image = read_raster(name, data, content_hash, frame)
    return image
