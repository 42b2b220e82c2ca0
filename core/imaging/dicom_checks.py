"""Checks on a DICOM file's bytes and header that run before pydicom parses or decodes anything costly.

- Data that does not start like a DICOM data set (zeros, noise) is refused at once: pydicom would
  otherwise parse megabytes of zeros as millions of empty elements (minutes for 200 MB).
- A deflated data set is inflated once without keeping the output, up to what its header declares,
  before pydicom inflates it whole in memory (a 1 MB file can declare 1 GB).
- The pixel budget (:mod:`core.imaging.limits`) is checked against the DICOM header and against the
  frame header inside the compressed frame (JPEG SOF, JPEG 2000 SIZ), which decoders obey.
"""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.filereader import read_dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from core.errors import ImageReadError
from core.imaging.boundary import REEXPORT
from core.imaging.frame_headers import codec_size
from core.imaging.limits import check_pixels, max_file_bytes

_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_HEADER_CHUNK = 1 << 20  # inflated bytes looked at for the header of a deflated data set
_SLACK = 16 << 20  # elements other than Pixel Data (overlays, private data) a deflated data set may add
NOT_DICOM = "not a DICOM file (no 'DICM' marker, and it does not start like a DICOM data set) and not an image format RareSight reads"
NOT_DICOM_ADVICE = "open DICOM, PNG, JPEG, TIFF or BMP files"


def plausible_start(head: bytes) -> bool:
    """Whether ``head`` can start a DICOM data set: a tag whose group is 0x0002 to 0x7FE0 in either byte order.

    Real data sets start with group 0x0002 (meta), 0x0008 or so; zeros (group 0) and most noise do not.
    """
    if len(head) < 8:
        return False
    groups = struct.unpack("<H", head[:2]) + struct.unpack(">H", head[:2])
    return any(0x0002 <= group <= 0x7FE0 for group in groups)


def part10_body(data: bytes) -> tuple[int, str] | None:
    """(offset of the data set after the file meta, transfer syntax UID) of a Part 10 file, else None."""
    if data[128:132] != b"DICM":
        return None
    at, syntax = 132, ""
    while at + 8 <= len(data) and data[at : at + 2] == b"\x02\x00":  # meta is explicit VR little endian
        element, vr = struct.unpack("<H", data[at + 2 : at + 4])[0], data[at + 4 : at + 6]
        if vr in _LONG_VRS:
            length, start = struct.unpack("<I", data[at + 8 : at + 12])[0], at + 12
        else:
            length, start = struct.unpack("<H", data[at + 6 : at + 8])[0], at + 8
        if element == 0x0010:
            syntax = data[start : start + length].rstrip(b"\x00 ").decode("ascii", "replace")
        at = start + length
    return at, syntax


def check_bytes(path: str, data: bytes) -> None:
    """Refuse zeros and noise fast; bound a deflated data set; before ``dcmread`` sees ``data``."""
    body = part10_body(data)
    if body is None:
        if not plausible_start(data[:8]):
            raise ImageReadError(path, NOT_DICOM, NOT_DICOM_ADVICE)
        return
    offset, syntax = body
    if syntax == DeflatedExplicitVRLittleEndian:
        _check_deflated(path, data[offset:])
    elif offset < len(data) and not plausible_start(data[offset : offset + 8]):
        raise ImageReadError(path, "DICOM file whose data set is damaged (it starts with zeros or noise after the file meta)", REEXPORT)


def _check_deflated(path: str, deflated: bytes) -> None:
    """Inflate, counting and discarding, up to what the header declares (its pixels, plus 16 MiB of other elements)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        head = inflater.decompress(deflated, _HEADER_CHUNK)
    except zlib.error as exc:
        raise ImageReadError(path, f"deflated DICOM data set is damaged ({exc})", REEXPORT) from exc
    header = _header_of(head)
    bound = _HEADER_CHUNK + _SLACK  # no Rows in the first MiB: garbage, or not an image at all
    if header is not None:
        check_header(path, header)
        bound = min(max_file_bytes(path), declared_pixel_bytes(header) + _SLACK)
    total = len(head)
    try:
        while inflater.unconsumed_tail and total <= bound:
            total += len(inflater.decompress(inflater.unconsumed_tail, _HEADER_CHUNK))
    except zlib.error as exc:
        raise ImageReadError(path, f"deflated DICOM data set is damaged ({exc})", REEXPORT) from exc
    if total > bound:
        raise ImageReadError(path, f"deflated DICOM data set expands to more than {bound:,} bytes, more than its header declares", REEXPORT)


def _header_of(head: bytes) -> Dataset | None:
    try:
        ds = read_dataset(BytesIO(head), False, True, stop_when=lambda tag, vr, length: tag >= 0x7FE00008)
    except Exception:  # noqa: BLE001 - a header cut at the chunk's end or damaged: fall back to the file cap
        return None
    return ds if "Rows" in ds and "Columns" in ds else None


def declared_pixel_bytes(ds: Dataset) -> int:
    """Rows x Columns x Number of Frames x Samples per Pixel x Bits Allocated / 8, as the header says."""
    frames = int(str(ds.get("NumberOfFrames", 1) or 1).strip() or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.get("BitsAllocated", 8) or 8)
    return int(ds.Rows) * int(ds.Columns) * max(frames, 1) * samples * -(-bits // 8)


def check_header(path: str, ds: Dataset) -> None:
    """The pixel budget against the DICOM header's Rows, Columns and Samples per Pixel."""
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    check_pixels(path, "the DICOM header", columns, rows, int(ds.get("SamplesPerPixel", 1) or 1))


def check_frame(path: str, ds: Dataset, index: int, n_frames: int) -> None:
    """The pixel budget against the codec frame header inside compressed frame ``index``."""
    pixel_data = ds.get("PixelData")
    if not isinstance(pixel_data, bytes) or not pixel_data.startswith(b"\xfe\xff\x00\xe0"):
        return  # native pixel data: the DICOM header's check covers it
    try:
        frame = get_frame(ds.PixelData, index, number_of_frames=n_frames)
    except Exception:  # noqa: BLE001 - damaged encapsulation: the decoder says so, behind the boundary
        return
    found = codec_size(frame[:65536])
    if found is not None:
        codec, (width, height, components) = found
        check_pixels(path, f"its {codec} frame header", width, height, components)


def inflate_frame(path: str, fragment: bytes, expected: int) -> bytes:
    """One Deflated Image Frame Compression frame, refused if it inflates past ``expected`` bytes."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    native = inflater.decompress(fragment, expected)
    if inflater.unconsumed_tail and inflater.decompress(inflater.unconsumed_tail, 1):
        raise ImageReadError(path, f"deflated frame expands to more than the {expected:,} bytes its header declares", REEXPORT)
    return native
