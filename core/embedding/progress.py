"""Progress callbacks and cancel tokens for long work (see STYLE.md section 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from core.errors import Cancelled

ProgressFn = Callable[[float, str], None]


class CancelToken(Protocol):
    """Anything with ``is_set()``: a ``threading.Event`` works."""

    def is_set(self) -> bool: ...


def check_cancel(cancel: CancelToken | None, what: str = "work") -> None:
    """Raise :class:`Cancelled` when the token is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what} cancelled")


def report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), message)
