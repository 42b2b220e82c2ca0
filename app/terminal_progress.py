"""A progress line with rate and ETA on a terminal; silent when output goes to a pipe or file."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """Call with (done, total, message); draws at most ten times a second."""

    def __init__(self, unit: str = "images", stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._first_done: int | None = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._first_done is None:
            self._first_done, self._start = done, now
        if now - self._last_draw < 0.1 and done < total:
            return
        self._last_draw = now
        self.stream.write("\r" + self.line(done, total, message, now) + "\x1b[K")
        self.stream.flush()

    def line(self, done: int, total: int, message: str, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        rate = (done - (self._first_done or 0)) / elapsed
        remaining = (total - done) / rate if rate > 0 else float("inf")
        eta = "--:--" if remaining == float("inf") else time.strftime("%H:%M:%S" if remaining >= 3600 else "%M:%S", time.gmtime(remaining))
        width = 24
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        return f"[{bar}] {done}/{total} {self.unit}  {rate:.1f}/s  ETA {eta}  {message}"[:160]

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
