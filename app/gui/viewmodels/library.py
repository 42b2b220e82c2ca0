"""The library: which files were opened, which could be read (thumbnails) and which not (why)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal, Slot

from app.gui import services
from app.gui.services import LoadedFile, UnreadableFile
from app.gui.viewmodels.file_models import FailureModel, ThumbnailModel
from app.gui.workers import JobContext, JobRunner


class LibraryViewModel(QObject):
    """Loads files off the GUI thread into :attr:`thumbnails` and :attr:`failures`.

    Opening new paths replaces the current set and cancels a load still running.

    Signals: ``loadingChanged(bool)``, ``progressChanged(fraction, text)``,
    ``loadFinished(readable, unreadable)``, ``errorOccurred(message)``.
    """

    loadingChanged = Signal(bool)
    progressChanged = Signal(float, str)
    loadFinished = Signal(int, int)
    errorOccurred = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = ThumbnailModel(self)
        self.failures = FailureModel(self)
        self._runner = JobRunner("library-loader", self)
        self._runner.yielded.connect(self._on_file)
        self._runner.progress.connect(self.progressChanged)
        self._runner.result.connect(self._on_result)
        self._runner.error.connect(self._on_error)
        self._runner.busyChanged.connect(self.loadingChanged)

    @property
    def runner(self) -> JobRunner:
        return self._runner

    @property
    def loading(self) -> bool:
        return self._runner.busy

    def open_paths(self, paths: Sequence[str | os.PathLike[str]], recursive: bool = True) -> None:
        """Replace the library with the files in ``paths`` (folders expanded, recursively by default)."""
        self.thumbnails.clear()
        self.failures.clear()
        targets = [os.fspath(p) for p in paths]

        def job(ctx: JobContext) -> tuple[int, int]:
            return services.load_files(targets, recursive, ctx.emit, ctx.progress, ctx.check)

        self._runner.start(job)

    def cancel(self) -> None:
        self._runner.cancel()

    def shutdown(self, msecs: int = -1) -> bool:
        """Cancel loading and wait for the worker thread (window closing)."""
        return self._runner.shutdown(msecs)

    @Slot(object)
    def _on_file(self, item: object) -> None:
        if isinstance(item, LoadedFile):
            self.thumbnails.append(item)
        elif isinstance(item, UnreadableFile):
            self.failures.append(item)

    @Slot(object)
    def _on_result(self, counts: object) -> None:
        readable, unreadable = counts if isinstance(counts, tuple) else (0, 0)
        self.loadFinished.emit(int(readable), int(unreadable))

    @Slot(object)
    def _on_error(self, exc: object) -> None:
        self.errorOccurred.emit(str(exc))
