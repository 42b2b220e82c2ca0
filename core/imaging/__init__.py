"""Medical image reading: DICOM and raster files to :class:`MedicalImage`.

The names below load on first use (PEP 562): a project opens, and ``iter_files`` walks a folder,
without loading numpy, pydicom or Pillow. Code outside this package that decodes image bytes itself
(thumbnails, say) wraps the call in ``decoder_boundary`` so that whatever the decoder raises becomes
an ImageReadError; the budgets are in :mod:`core.imaging.limits`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_getattr

if TYPE_CHECKING:
    from core.imaging.boundary import decoder_boundary
    from core.imaging.loader import DICOM_SUFFIXES, RASTER_SUFFIXES, load_image, read_file_bytes, sniff_format
    from core.imaging.medical_image import MedicalImage, Window, apply_linear_window
    from core.imaging.scan import ScanResult, iter_files, scan_file, scan_paths

_HOME = {
    "decoder_boundary": "boundary",
    "DICOM_SUFFIXES": "loader",
    "RASTER_SUFFIXES": "loader",
    "load_image": "loader",
    "read_file_bytes": "loader",
    "sniff_format": "loader",
    "MedicalImage": "medical_image",
    "Window": "medical_image",
    "apply_linear_window": "medical_image",
    "ScanResult": "scan",
    "iter_files": "scan",
    "scan_file": "scan",
    "scan_paths": "scan",
}

__all__ = [
    "DICOM_SUFFIXES",
    "RASTER_SUFFIXES",
    "MedicalImage",
    "ScanResult",
    "Window",
    "apply_linear_window",
    "decoder_boundary",
    "iter_files",
    "load_image",
    "read_file_bytes",
    "scan_file",
    "scan_paths",
    "sniff_format",
]

if not TYPE_CHECKING:  # mypy sees the imports above; an unknown name stays an error for it
    __getattr__ = lazy_getattr(__name__, _HOME)
