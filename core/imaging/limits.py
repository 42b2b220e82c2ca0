"""Budgets checked before any decoder runs: file size, file type and pixels per frame.

Two settings, read from the environment on every call (so a front-end or test can change them):

``RARESIGHT_MAX_PIXELS`` (default 67,108,864 = 8192 x 8192)
    Most pixels (rows x columns) one decoded frame may have. Decoding costs about 20 bytes per
    pixel (stored values, float32 modality values, the display rendering), so the default keeps one
    image under about 1.3 GB. Checked against the DICOM header and against each codec's own frame
    header (JPEG SOF, JPEG 2000 SIZ, PNG IHDR, and Pillow's lazy open for TIFF, BMP, GIF), which a
    crafted file can set apart from the DICOM header. Pillow's decompression-bomb check follows it.
``RARESIGHT_MAX_FILE_BYTES`` (default 2 GiB)
    Largest file read; the whole file is held in memory (it is hashed and parsed), so a larger one
    is refused from its size alone, before it is opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from core.errors import ImageReadError

MAX_PIXELS_ENV = "RARESIGHT_MAX_PIXELS"
MAX_FILE_BYTES_ENV = "RARESIGHT_MAX_FILE_BYTES"
DEFAULT_MAX_PIXELS = 8192 * 8192
DEFAULT_MAX_FILE_BYTES = 2 << 30
MAX_COMPONENTS = 4  # grey, RGB, RGBA/CMYK: a frame header claiming more is crafted or corrupt

_NOT_REGULAR = (
    (stat.S_ISDIR, "is a folder, not an image file", "choose an image file inside it"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not an image file", "give the image file itself"),
    (stat.S_ISSOCK, "is a socket, not an image file", "give the image file itself"),
    (stat.S_ISCHR, "is a character device, not an image file", "give the image file itself"),
    (stat.S_ISBLK, "is a block device, not an image file", "copy the image onto a disk and give that file"),
)


def _setting(path: object, name: str, default: int) -> int:
    text = os.environ.get(name, "").strip().replace("_", "")
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise ImageReadError(path, f"{name}={os.environ[name]!r} is not a positive whole number", f"unset {name} or fix its value")
    return int(text)


def max_pixels(path: object = "") -> int:
    """The pixel budget of one frame (``RARESIGHT_MAX_PIXELS``)."""
    return _setting(path, MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS)


def max_file_bytes(path: object = "") -> int:
    """The largest file read (``RARESIGHT_MAX_FILE_BYTES``)."""
    return _setting(path, MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES)


def check_pixels(path: object, source: str, width: int, height: int, components: int = 1) -> None:
    """Refuse a frame whose header (``source``, e.g. "its JPEG frame header") declares too much."""
    limit = max_pixels(path)
    if width <= 0 or height <= 0:  # a JPEG height of 0 is left to a DNL marker: libjpeg then grows its buffer without bound
        raise ImageReadError(path, f"{source} declares {width} x {height} pixels (no size)", "export the image again")
    if width * height > limit:
        raise ImageReadError(
            path,
            f"{source} declares {width} x {height} pixels, more than the limit of {limit:,}",
            f"if the image is genuine, raise the limit with {MAX_PIXELS_ENV}={width * height} (decoding needs about "
            f"{_size(20 * width * height)} of memory)",
        )
    if not 0 < components <= MAX_COMPONENTS:
        raise ImageReadError(path, f"{source} declares {components} colour components per pixel", "export the image again")


def not_regular_reason(mode: int) -> tuple[str, str] | None:
    """(reason, advice) for a folder, FIFO, socket or device; None for a regular file."""
    for test, reason, advice in _NOT_REGULAR:
        if test(mode):
            return reason, advice
    return None if stat.S_ISREG(mode) else ("is not a regular file", "give the image file itself")


def read_capped(path: str | os.PathLike[str]) -> bytes:
    """The whole file, refused before opening when it is not a regular file or is over the size cap.

    The file is opened non-blocking and checked again through its descriptor, so a FIFO put in its
    place after the first check cannot block the read.
    """
    p = Path(path)
    _check_stat(p, os.stat(p))
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as file:
        cap = max_file_bytes(p)
        data = _read_at_most(file, min(_check_stat(p, os.fstat(fd)), cap), cap)
    if len(data) > cap:
        raise ImageReadError(p, f"is larger than the limit of {_size(cap)} for one image file", _file_advice(cap))
    if not data:
        raise ImageReadError(p, "file is empty (0 bytes)", "copy or export the file again; the transfer may have failed")
    return data


def _read_at_most(file: BinaryIO, expected: int, cap: int) -> bytes:
    """``expected`` bytes and, when the file has more (it grew, or stat said 0 as /proc does), on to ``cap`` + 1.

    Never ``read(cap + 1)`` at once: Python allocates the whole buffer up front, 2 GiB for every file.
    """
    data = file.read(expected + 1)
    if len(data) <= expected:
        return data
    parts, total = [data], len(data)
    while total <= cap:
        part = file.read(min(1 << 24, cap + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def _check_stat(path: Path, info: os.stat_result) -> int:
    """The file's size; an ImageReadError for a folder, FIFO, socket, device or a file over the cap."""
    refusal = not_regular_reason(info.st_mode)
    if refusal is not None:
        raise ImageReadError(path, *refusal)
    cap = max_file_bytes(path)
    if info.st_size > cap:
        raise ImageReadError(path, f"is {_size(info.st_size)}, more than the limit of {_size(cap)} for one image file", _file_advice(cap))
    return info.st_size


def _file_advice(cap: int) -> str:
    return f"export a smaller file (fewer frames, or compressed), or raise the limit with {MAX_FILE_BYTES_ENV}={2 * cap}"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
