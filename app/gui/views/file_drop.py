"""Dropping files or folders from the file manager onto the window opens them."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QObject, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent


def local_paths(mime: QMimeData) -> list[str]:
    """The local files and folders a drag carries (other URLs are ignored)."""
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


class FileDropFilter(QObject):
    """Event filter for a widget with ``setAcceptDrops(True)``: emits ``pathsDropped(paths)``."""

    pathsDropped = Signal(list)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QDragEnterEvent | QDropEvent) and event.type() in (QEvent.Type.DragEnter, QEvent.Type.Drop):
            paths = local_paths(event.mimeData())
            if not paths:
                return False
            event.acceptProposedAction()
            if event.type() == QEvent.Type.Drop:
                self.pathsDropped.emit(paths)
            return True
        return super().eventFilter(watched, event)
