"""Which frame of a file scoring used: what ``load_image`` picks when not told (read from the header only)."""

from __future__ import annotations

import warnings

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.pixels.utils import get_nr_frames

from core.errors import ImageReadError
from core.imaging import load_image, sniff_format


def default_frame(path: str) -> int:
    """0-based frame ``load_image(path)`` decodes: the middle frame of a DICOM, the first page otherwise.

    The embedder reads the file without saying which frame it used (a cached embedding is not
    decoded at all), so the frame is worked out again here from the DICOM header, which costs a
    fraction of decoding; ``load_image`` itself answers when the header cannot be read this way.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(132)
    except OSError:
        return 0  # gone since it was scored: nothing better to say
    if sniff_format(head) not in ("DICOM", ""):
        return 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom quotes element values, which can be patient data
            header = dcmread(path, stop_before_pixels=True, force=True, specific_tags=["NumberOfFrames"])
            # the rule of core.imaging.dicom: frames counted as at least one, the middle one by default
            return max(int(get_nr_frames(header, warn=False)), 1) // 2
    except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError, KeyError):
        try:
            return load_image(path).frame
        except ImageReadError:
            return 0
