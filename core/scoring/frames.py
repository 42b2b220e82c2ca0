"""Which frame of a file scoring used: what ``load_image`` picks when not told (read from the header only)."""

from __future__ import annotations

import warnings

from pydicom import dcmread
from pydicom.pixels.utils import get_nr_frames

from core.errors import ImageReadError
from core.imaging import decoder_boundary, load_image, sniff_format


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
    kind = sniff_format(head)
    if kind not in ("DICOM", ""):
        return 0
    if kind == "DICOM":  # a preamble and DICM: the header alone, behind the decoders' boundary
        try:
            with decoder_boundary(path, "DICOM header could not be read"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom quotes element values, which can be patient data
                header = dcmread(path, stop_before_pixels=True, specific_tags=["NumberOfFrames"])
                # the rule of core.imaging.dicom: frames counted as at least one, the middle one by default
                return max(int(get_nr_frames(header, warn=False)), 1) // 2
        except ImageReadError:
            pass
    try:  # anything else (no preamble, a damaged header): load_image's own checks answer
        return load_image(path).frame
    except ImageReadError:
        return 0
