"""Hostile image files of issue 17, made from pydicom's bundled test files (never committed binaries).

Shared by ``test_hostile_files.py`` and ``bench/fuzz_imaging.py``. Each maker writes one file and
returns its path; the byte patches keep every length, so only the claim inside the header changes.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from io import BytesIO
from pathlib import Path

import pydicom
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"
SHARED_DICOM = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "dicom" / "pydicom-data" / "data_store" / "data"


def source(name: str) -> bytes:
    """A file bundled inside pydicom, else one of ../shared/data/dicom (FileNotFoundError if neither)."""
    for folder in (PYDICOM_FILES, SHARED_DICOM):
        if (folder / name).is_file():
            return (folder / name).read_bytes()
    raise FileNotFoundError(name)


def pixel_offset(data: bytes) -> int:
    """Where the Pixel Data element starts (its tag), little endian."""
    return data.rindex(b"\xe0\x7f\x10\x00")


def set_jpeg_size(data: bytes, height: int, width: int) -> bytes:
    """Every JPEG or JPEG-LS SOF marker after Pixel Data claims ``width x height``."""
    out = bytearray(data)
    for marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7):
        at = out.find(bytes((0xFF, marker)), pixel_offset(data))
        if at > 0:
            out[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def set_j2k_size(data: bytes, side: int) -> bytes:
    """The JPEG 2000 SIZ marker claims ``side x side`` pixels in one tile."""
    out = bytearray(data)
    at = out.index(b"\xff\x51", pixel_offset(data))
    out[at + 6 : at + 30] = struct.pack(">6I", side, side, 0, 0, side, side)
    return bytes(out)


def set_element(data: bytes, keyword: str, value: object) -> bytes:
    """``data`` re-saved by pydicom with one element changed."""
    ds = pydicom.dcmread(BytesIO(data), force=True)
    setattr(ds, keyword, value)
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def png_bytes(width: int, height: int, fill_rows: bool = True) -> bytes:
    """A greyscale 8-bit PNG of zeros, streamed row by row (a 13000^2 one is about 0.5 MB)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(packer.compress(row) for _ in range(height if fill_rows else 1)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _meta(syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    return meta


def _grey8_header(side: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.Modality = "OT"
    ds.Rows = ds.Columns = side
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    return ds


def deflated_dicom(side: int) -> bytes:
    """Deflated Explicit VR Little Endian, ``side``^2 8-bit zeros: 32768 gives about 1 MB for 1 GiB."""
    buffer = BytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, _meta(DeflatedExplicitVRLittleEndian))
    header = BytesIO()
    pydicom.dcmwrite(header, _grey8_header(side), implicit_vr=False, little_endian=True)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    buffer.write(packer.compress(header.getvalue()))
    buffer.write(packer.compress(b"\xe0\x7f\x10\x00OB\x00\x00" + struct.pack("<I", side * side)))
    block = b"\x00" * (1 << 20)
    left = side * side
    while left:
        buffer.write(packer.compress(block[: min(left, len(block))]))
        left -= min(left, len(block))
    buffer.write(packer.flush())
    return buffer.getvalue()


def deflated_frame_dicom(side: int) -> bytes:
    """Deflated Image Frame Compression (1.2.840.10008.1.2.8.1): one frame of ``side``^2 zeros."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = b"\x00" * (1 << 20)
    parts, left = [], side * side
    while left:
        parts.append(packer.compress(block[: min(left, len(block))]))
        left -= min(left, len(block))
    fragment = b"".join(parts) + packer.flush()
    ds = _grey8_header(side)
    ds.PixelData = encapsulate([fragment + b"\x00" * (len(fragment) % 2)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    # pydicom will not write a transfer syntax it does not know: meta and body are written apart.
    buffer = BytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, _meta("1.2.840.10008.1.2.8.1"))
    pydicom.dcmwrite(buffer, ds, implicit_vr=False, little_endian=True)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def crafted(folder: Path) -> dict[str, Path]:
    """Every small crafted file of the issue, by name (the 1 MB deflated bombs included)."""
    rle = source("MR_small_RLE.dcm")
    files = {
        "rle_cut": write(folder / "rle_cut.dcm", rle[:5922] + rle[6122:]),
        "rle_columns_1": write(folder / "rle_columns_1.dcm", set_element(source("rtdose_rle_1frame.dcm"), "Columns", 1)),
        "jpeg_sof_65500": write(folder / "jpeg_sof.dcm", set_jpeg_size(source("SC_rgb_jpeg_dcmtk.dcm"), 65500, 65500)),
        "j2k_siz_60000": write(folder / "j2k_siz.dcm", set_j2k_size(source("JPEG2000.dcm"), 60000)),
        "deflated_32768": write(folder / "deflated.dcm", deflated_dicom(32768)),
        "deflated_frame_32768": write(folder / "deflated_frame.dcm", deflated_frame_dicom(32768)),
        "png_13000": write(folder / "big.png", png_bytes(13000, 13000)),
        "png_ihdr_60000": write(folder / "ihdr.png", png_bytes(60000, 60000, fill_rows=False)),
        "zeros": write(folder / "zeros.dcm", b"\x00" * (4 << 20)),
        # found by bench/fuzz_imaging.py: height 0 (left to a DNL marker) made libjpeg grow without bound
        "jpegls_height_0": write(folder / "jpegls_height_0.dcm", set_jpeg_size(source("JPEGLSNearLossless_08.dcm"), 0, 10)),
    }
    with contextlib.suppress(FileNotFoundError):  # only in ../shared/data; the bundled rle_columns_1 stands in for it
        files["emri_columns_1"] = write(folder / "emri_columns_1.dcm", set_element(source("emri_small_RLE.dcm"), "Columns", 1))
    return files
