"""Medical image reading: DICOM and raster files to :class:`MedicalImage`."""

from core.imaging.loader import DICOM_SUFFIXES, RASTER_SUFFIXES, load_image, read_file_bytes, sniff_format
from core.imaging.medical_image import MedicalImage, Window, apply_linear_window
from core.imaging.scan import ScanResult, iter_files, scan_file, scan_paths

__all__ = [
    "DICOM_SUFFIXES",
    "RASTER_SUFFIXES",
    "MedicalImage",
    "ScanResult",
    "Window",
    "apply_linear_window",
    "iter_files",
    "load_image",
    "read_file_bytes",
    "scan_file",
    "scan_paths",
    "sniff_format",
]
