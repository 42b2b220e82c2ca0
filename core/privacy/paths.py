"""File names: stored without loss, shown without harm, special files told apart.

A POSIX name may hold any byte but NUL and '/'. Python hands a name that is not UTF-8 around as a
str with lone surrogates (PEP 383, ``surrogateescape``), which SQLite TEXT, UTF-8 files and a
UTF-8 terminal all refuse. So such a name is stored as ``file:`` + its bytes percent-encoded (the
file URI form, RFC 8089): valid UTF-8, exact, and never confused with a plain path, which is
stored as it is (projects written before this read unchanged).
"""

from __future__ import annotations

import os
import stat
import unicodedata
from urllib.parse import quote, unquote_to_bytes

STORED_PREFIX = "file:"
_REPLACEMENT = "\ufffd"


def to_stored(path: str | os.PathLike[str]) -> str:
    """``path`` as text any UTF-8 store can hold and :func:`from_stored` turns back, byte for byte."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        if not text.startswith(STORED_PREFIX):  # a name that itself starts so is encoded too: no ambiguity
            return text
    return STORED_PREFIX + quote(os.fsencode(text), safe="/")


def from_stored(text: str) -> str:
    """The path :func:`to_stored` was given (as the OS hands it over: surrogates for non-UTF-8 bytes)."""
    if not text.startswith(STORED_PREFIX):
        return text
    return os.fsdecode(unquote_to_bytes(text[len(STORED_PREFIX) :]))


def path_for_display(path: str | bytes | os.PathLike[str]) -> str:
    """A path, or a message naming one, fit for a terminal, a report or a window.

    Bytes that are not UTF-8 and control characters (a newline or an escape sequence in a name would
    forge lines or drive the terminal) become U+FFFD; everything else is kept.
    """
    raw = path if isinstance(path, bytes) else os.fsencode(os.fspath(path))
    text = raw.decode("utf-8", "replace")
    return "".join(_REPLACEMENT if unicodedata.category(c) == "Cc" else c for c in text)


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_file_kind(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it exists but is no regular file or folder (reading it could block forever), else None."""
    try:
        mode = os.stat(path).st_mode  # stat never opens the file, so it cannot block on a FIFO
    except (OSError, ValueError):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), None)


def special_file_message(path: str | os.PathLike[str], kind: str) -> str:
    """The one-line reason a special file is skipped."""
    return f"{path_for_display(path)}: is {kind}, not an image file; skipped (give regular files)"
