"""The one worker pattern of the GUI: jobs on a single-thread pool, newest job wins.

A :class:`JobRunner` owns a ``QThreadPool`` with one thread, so the work it runs (image loading,
later model work) is never done from two threads at once. ``start(fn)`` cancels the running job and
queues ``fn(ctx)``; only the current job's signals reach the runner's own signals, so results of a
cancelled job never reach a view. Signals always arrive on the GUI thread (queued connections to
the runner, which lives there).

``fn`` receives a :class:`JobContext`: ``ctx.progress(fraction, text)``, ``ctx.emit(value)`` for
streamed results, and ``ctx.check()`` which raises :class:`core.errors.Cancelled` once cancelled.
A :class:`core.errors.RareSightError` becomes ``error``; anything else is a bug and is handed to
``sys.excepthook`` on the GUI thread (which logs it and tells the user where the log is).
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from core.errors import Cancelled, RareSightError

log = logging.getLogger(__name__)

_job_ids = itertools.count(1)


class JobContext:
    """What a job sees of its runner: progress, streamed results, and its cancel token."""

    def __init__(self, job_id: int, signals: _JobSignals) -> None:
        self.job_id = job_id
        self._signals = signals
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def token(self) -> threading.Event:
        """The cancel token itself, for core functions that take ``cancel=`` (an Event)."""
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled.set()

    def check(self) -> None:
        """Raise :class:`Cancelled` once the job was cancelled (call it between units of work)."""
        if self._cancelled.is_set():
            raise Cancelled("cancelled: a newer job replaced this one")

    def progress(self, fraction: float, text: str = "") -> None:
        """Report progress, 0..1, with a short text for the status bar."""
        if not self.cancelled:
            self._signals.progress.emit(self.job_id, float(fraction), text)

    def emit(self, value: object) -> None:
        """Stream one partial result (e.g. one loaded file) to the GUI thread."""
        if not self.cancelled:
            self._signals.yielded.emit(self.job_id, value)


class _JobSignals(QObject):
    """Signals emitted from the pool thread, tagged with the job id."""

    started = Signal(int)
    progress = Signal(int, float, str)
    yielded = Signal(int, object)
    result = Signal(int, object)
    error = Signal(int, object)
    crashed = Signal(int, object)
    finished = Signal(int)


def lower_thread_priority(niceness: int = 10) -> None:
    """Let the calling (worker) thread yield the CPU to the GUI thread when cores are busy.

    Linux: the thread's nice value (per thread there); elsewhere Qt's low thread priority.
    """
    if sys.platform.startswith("linux") and hasattr(os, "setpriority"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), niceness))
        except OSError as exc:
            log.debug("could not lower the worker's priority: %s", exc)
        return
    QThread.currentThread().setPriority(QThread.Priority.LowPriority)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[JobContext], Any], ctx: JobContext, signals: _JobSignals, background: bool) -> None:
        super().__init__()
        self._fn = fn
        self._ctx = ctx
        self._signals = signals
        self._background = background

    def run(self) -> None:
        job_id, signals = self._ctx.job_id, self._signals
        if self._background:
            lower_thread_priority()
        signals.started.emit(job_id)
        try:
            value = self._fn(self._ctx)
        except Cancelled:
            log.debug("job %d cancelled", job_id)
        except RareSightError as exc:
            signals.error.emit(job_id, exc)
        except Exception as exc:  # noqa: BLE001 -- a bug: handed to the excepthook on the GUI thread
            signals.crashed.emit(job_id, exc)
        else:
            if not self._ctx.cancelled:
                signals.result.emit(job_id, value)
        finally:
            signals.finished.emit(job_id)


class JobRunner(QObject):
    """Runs one job at a time off the GUI thread; starting a job cancels the previous one.

    Signals (current job only, on the GUI thread): ``started()``, ``progress(fraction, text)``,
    ``yielded(value)``, ``result(value)``, ``error(RareSightError)``, ``finished()``, and
    ``busyChanged(bool)``.
    """

    started = Signal()
    progress = Signal(float, str)
    yielded = Signal(object)
    result = Signal(object)
    error = Signal(object)
    finished = Signal()
    busyChanged = Signal(bool)

    def __init__(self, name: str, parent: QObject | None = None, background: bool = False) -> None:
        """``background``: run jobs at a lower CPU priority than the GUI thread (long model work)."""
        super().__init__(parent)
        self.setObjectName(name)
        self._background = background
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _JobSignals(self)
        self._current: JobContext | None = None
        self._busy = False
        self._signals.started.connect(self._on_started)
        self._signals.progress.connect(self._on_progress)
        self._signals.yielded.connect(self._on_yielded)
        self._signals.result.connect(self._on_result)
        self._signals.error.connect(self._on_error)
        self._signals.crashed.connect(self._on_crashed)
        self._signals.finished.connect(self._on_finished)

    @property
    def busy(self) -> bool:
        """True from ``start`` until the current job has finished."""
        return self._busy

    def start(self, fn: Callable[[JobContext], Any]) -> int:
        """Cancel the current job and queue ``fn(ctx)``; returns the new job's id."""
        self.cancel()
        ctx = JobContext(next(_job_ids), self._signals)
        self._current = ctx
        self._set_busy(True)
        self._pool.start(_Job(fn, ctx, self._signals, self._background))
        return ctx.job_id

    def cancel(self) -> None:
        """Cancel the current job (it stops at its next ``ctx.check()``); its signals are dropped."""
        self._pool.clear()  # jobs queued behind the running one never start
        if self._current is not None:
            self._current.cancel()
            self._current = None
        self._set_busy(False)

    def wait(self, msecs: int = -1) -> bool:
        """Block until the pool thread is idle; True when it is."""
        return bool(self._pool.waitForDone(msecs))

    def shutdown(self, msecs: int = -1) -> bool:
        """Cancel and wait: what ``closeEvent`` calls so no thread outlives the window."""
        self.cancel()
        return self.wait(msecs)

    def _is_current(self, job_id: int) -> bool:
        return self._current is not None and self._current.job_id == job_id

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        if self._is_current(job_id):
            self.started.emit()

    @Slot(int, float, str)
    def _on_progress(self, job_id: int, fraction: float, text: str) -> None:
        if self._is_current(job_id):
            self.progress.emit(fraction, text)

    @Slot(int, object)
    def _on_yielded(self, job_id: int, value: object) -> None:
        if self._is_current(job_id):
            self.yielded.emit(value)

    @Slot(int, object)
    def _on_result(self, job_id: int, value: object) -> None:
        if self._is_current(job_id):
            self.result.emit(value)

    @Slot(int, object)
    def _on_error(self, job_id: int, exc: object) -> None:
        if self._is_current(job_id):
            self.error.emit(exc)

    @Slot(int, object)
    def _on_crashed(self, job_id: int, exc: object) -> None:
        if isinstance(exc, BaseException):
            sys.excepthook(type(exc), exc, exc.__traceback__)

    @Slot(int)
    def _on_finished(self, job_id: int) -> None:
        if self._is_current(job_id):
            self._current = None
            self._set_busy(False)
            self.finished.emit()
