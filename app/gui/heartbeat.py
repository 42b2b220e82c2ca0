"""A heartbeat on the GUI thread: how long the event loop was away (a frozen window shows as a gap).

    beat = Heartbeat(interval_ms=10)
    beat.start("adapt")
    ...                                  # work in the worker; the event loop keeps running
    beat.stop().worst_ms                 # longest wait between two beats during "adapt"

Used by ``bench/bench_gui_responsiveness.py`` and the GUI tests; gaps over ``warn_ms`` are logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Slot

log = logging.getLogger(__name__)


@dataclass
class BeatReport:
    """Gaps between beats during one phase, in milliseconds (a gap includes the interval itself)."""

    phase: str
    interval_ms: float
    gaps_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def worst_ms(self) -> float:
        return max(self.gaps_ms, default=0.0)

    def to_json(self) -> dict[str, object]:
        gaps = np.asarray(self.gaps_ms or [0.0])
        return {
            "phase": self.phase,
            "seconds": round(self.seconds, 2),
            "beats": len(self.gaps_ms),
            "interval_ms": self.interval_ms,
            "worst_gap_ms": round(float(gaps.max()), 1),
            "p99_gap_ms": round(float(np.percentile(gaps, 99)), 1),
            "median_gap_ms": round(float(np.median(gaps)), 1),
            "gaps_over_100ms": int((gaps > 100).sum()),
        }


class Heartbeat(QObject):
    """A precise timer on the GUI thread that records the time between its own timeouts."""

    def __init__(self, interval_ms: int = 10, warn_ms: float = 100.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._beat)
        self._warn_ms = warn_ms
        self._last = 0.0
        self._started = 0.0
        self.report = BeatReport("", float(interval_ms))

    def start(self, phase: str) -> None:
        """Start (or restart) recording a phase."""
        self.report = BeatReport(phase, float(self._timer.interval()))
        self._started = self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> BeatReport:
        """Stop and return the phase's report (the gap up to now counts too)."""
        self._beat()
        self._timer.stop()
        self.report.seconds = time.perf_counter() - self._started
        return self.report

    @Slot()
    def _beat(self) -> None:
        now = time.perf_counter()
        gap = (now - self._last) * 1000.0
        self._last = now
        self.report.gaps_ms.append(gap)
        if gap > self._warn_ms:
            log.warning("the GUI thread was busy for %.0f ms during %s", gap, self.report.phase)
