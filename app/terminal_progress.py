"""Progress with rate and ETA: a redrawn line on a terminal; in a pipe or file, silent or log lines."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """Call with (done, total, message).

    On a terminal one line is redrawn, at most ten times a second. Where the stream is not a
    terminal (a pipe, a log file) it is silent, unless ``log_every`` is given: then it writes a
    whole line at most every ``log_every`` seconds, and always for the first and the last step.
    ``enabled`` forces the redrawn line on (True) or everything off (False).
    """

    def __init__(
        self, unit: str = "images", stream: TextIO | None = None, enabled: bool | None = None, log_every: float | None = None
    ) -> None:
        self.unit = unit
        self.stream = stream or sys.stderr
        tty = self.stream.isatty()
        self.enabled = tty if enabled is None else enabled
        self.log_every = log_every if enabled is None and not tty else None
        self._start = time.monotonic()
        self._last_draw: float | None = None
        self._first_done: int | None = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled and self.log_every is None:
            return
        now = time.monotonic()
        if self._first_done is None:
            self._first_done, self._start = done, now
        due = self._last_draw is None or done >= total
        if self.log_every is not None:
            if due or now - (self._last_draw or now) >= self.log_every:
                self._last_draw = now
                stamp = time.strftime("%H:%M:%S")
                self.stream.write(f"{stamp} {self.line(done, total, message, now, bar=False)}\n")
                self.stream.flush()
            return
        if not due and now - (self._last_draw or now) < 0.1:
            return
        self._last_draw = now
        self.stream.write("\r" + self.line(done, total, message, now) + "\x1b[K")
        self.stream.flush()

    def line(self, done: int, total: int, message: str, now: float, bar: bool = True) -> str:
        """``[####----] 12/300 episodes  4.2/min  ETA 01:08:30  message``; rate and ETA since the first call."""
        elapsed = max(now - self._start, 1e-9)
        rate = (done - (self._first_done or 0)) / elapsed
        remaining = (total - done) / rate if rate > 0 else float("inf")
        eta = "--:--" if remaining == float("inf") else time.strftime("%H:%M:%S" if remaining >= 3600 else "%M:%S", time.gmtime(remaining))
        # slow steps (adapted episodes: seconds each) read better per minute than as 0.1/s
        speed = f"{rate:.1f}/s" if rate >= 1 or rate == 0 else f"{60 * rate:.1f}/min"
        width = 24
        filled = int(width * done / total) if total else width
        drawn = f"[{'#' * filled}{'-' * (width - filled)}] " if bar else ""
        return f"{drawn}{done}/{total} {self.unit}  {speed}  ETA {eta}  {message}"[:160]

    def finish(self) -> None:
        """End the redrawn line (log lines end themselves)."""
        if self.enabled and self.log_every is None and self._last_draw is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._last_draw = None  # a second finish() adds no empty line
