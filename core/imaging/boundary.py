"""The one boundary every decoder call sits behind: whatever a decoder raises becomes an ImageReadError.

Decoders fail in any way a damaged file leads them to: ``ValueError`` and ``struct.error`` from
pydicom, ``OSError`` and ``SyntaxError`` from Pillow, ``MemoryError`` from a large allocation and,
from the Rust RLE decoder (pylibjpeg-rle), ``pyo3_runtime.PanicException``, which derives from
``BaseException`` so that ``except Exception`` misses it. None of these may stop a batch.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import ImageReadError

REEXPORT = "export the image again from the scanner or PACS"
_NEVER_CAUGHT = (KeyboardInterrupt, SystemExit, GeneratorExit)  # the user's or the interpreter's, not the file's
_OBJECT_REPR = re.compile(r"\s*<[^<>]*\bat 0x[0-9a-fA-F]+>")


@contextmanager
def decoder_boundary(path: str, reason: str = "image data could not be decoded", advice: str = REEXPORT) -> Iterator[None]:
    """Run a decoder; anything it raises becomes ``ImageReadError(path, "<reason> (<what it raised>)", advice)``.

    ImageReadError passes through unchanged. The failed call's frames are cleared, so arrays it had
    allocated are freed now and not kept alive by the error's traceback (the next file needs the memory).
    """
    try:
        yield
    except ImageReadError:
        raise
    except MemoryError as exc:
        traceback.clear_frames(exc.__traceback__)
        raise ImageReadError(
            path,
            "not enough memory to decode this image",
            "close other programs and try again, or export a smaller image (RARESIGHT_MAX_PIXELS refuses such images before decoding)",
        ) from exc
    except BaseException as exc:  # the one place: panics from Rust decoders are BaseException (see the module docstring)
        if isinstance(exc, _NEVER_CAUGHT):
            raise
        traceback.clear_frames(exc.__traceback__)
        raise ImageReadError(path, f"{reason} ({describe(exc)})", advice) from exc


def describe(exc: BaseException) -> str:
    """'Type: first line of the message', without object reprs; the type alone when nothing is left."""
    name = type(exc).__name__
    if name == "PanicException":
        name = "decoder crashed"
    text = _OBJECT_REPR.sub("", str(exc)).strip()
    first = text.split("\n")[0].strip().rstrip(":").strip()[:200]
    return f"{name}: {first}" if first else name
