"""The size a codec's own frame header declares, read without decoding anything.

A decoder allocates what its frame header says, whatever the DICOM header or the file size say:
these readers let that claim be checked first. Each returns (width, height, components), or None
when the bytes hold no such header (the decoder then reports what is wrong).
"""

from __future__ import annotations

import struct

Size = tuple[int, int, int]

# Start-of-frame markers: baseline, extended, progressive, lossless (Huffman and arithmetic), JPEG-LS.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7})
_JPEG_NO_LENGTH = frozenset({0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})
_J2K_SIZ = b"\xff\x4f\xff\x51"  # start of codestream, then SIZ: always first in a J2K codestream
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


def jpeg_size(data: bytes) -> Size | None:
    """JPEG / JPEG-LS: the first SOF marker's X, Y and Nf. A height of 0 (set later by DNL) reads as 0."""
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None  # not at a marker: a damaged stream, left to the decoder
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            at += 2
            continue
        if marker in _JPEG_SOF:
            if at + 10 > len(data):
                return None
            height, width, components = struct.unpack(">HHB", data[at + 5 : at + 10])
            return width, height, components
        if marker == 0xDA:  # start of scan before any frame header
            return None
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def j2k_size(data: bytes) -> Size | None:
    """JPEG 2000 codestream (or JP2 file): image size from SIZ (Xsiz - XOsiz, Ysiz - YOsiz) and Csiz."""
    at = data.find(_J2K_SIZ, 0, 4096) if data.startswith(_JP2_SIGNATURE) else (0 if data.startswith(_J2K_SIZ) else -1)
    if at < 0 or at + 42 > len(data):
        return None
    xsiz, ysiz, x0, y0 = struct.unpack(">4I", data[at + 8 : at + 24])
    (components,) = struct.unpack(">H", data[at + 40 : at + 42])
    return max(xsiz - x0, 0), max(ysiz - y0, 0), components


def png_size(data: bytes) -> Size | None:
    """PNG: width and height from IHDR; components from its colour type (palette counts as one)."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR" or len(data) < 26:
        return None
    width, height = struct.unpack(">II", data[16:24])
    components = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(data[25], 0)
    return width, height, components


def codec_size(data: bytes) -> tuple[str, Size] | None:
    """(codec name, size) from whichever of the headers above ``data`` starts with."""
    for name, reader in (("JPEG", jpeg_size), ("JPEG 2000", j2k_size), ("PNG", png_size)):
        size = reader(data)
        if size is not None:
            return name, size
    return None
