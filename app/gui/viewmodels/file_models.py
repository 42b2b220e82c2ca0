"""Item models for the files that were read (thumbnail grid) and those that were not (reasons)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QIcon, QPixmap

from app.gui.qimage import to_qimage
from app.gui.services import LoadedFile, UnreadableFile

PATH_ROLE = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


class ThumbnailModel(QAbstractListModel):
    """One row per readable file: name, thumbnail (decoration), details (tooltip), path (PATH_ROLE)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._files: list[LoadedFile] = []
        self._icons: list[QIcon] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 -- Qt's signature
        return 0 if parent.isValid() else len(self._files)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._files):
            return None
        item = self._files[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icons[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            frames = f", {item.n_frames} frames" if item.n_frames > 1 else ""
            return f"{item.path}\n{item.modality or 'image'} {item.width} × {item.height}{frames}"
        if role == PATH_ROLE:
            return item.path
        return None

    def append(self, item: LoadedFile) -> None:
        """Add a file; its thumbnail becomes a QPixmap here, on the GUI thread."""
        row = len(self._files)
        self.beginInsertRows(QModelIndex(), row, row)
        self._files.append(item)
        pixmap = QPixmap.fromImage(to_qimage(item.thumbnail))
        icon = QIcon(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over a medical image
        self._icons.append(icon)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._files.clear()
        self._icons.clear()
        self.endResetModel()

    def path_at(self, row: int) -> str:
        return self._files[row].path

    def row_of(self, path: str) -> int:
        """The row of ``path`` (compared as given and resolved), or -1."""
        for row, item in enumerate(self._files):
            if item.path == path or _same_file(item.path, path):
                return row
        return -1


class FailureModel(QAbstractTableModel):
    """One row per unreadable file: File, Reason (core's message, short; the full text in the tooltip)."""

    HEADERS = ("File", "Reason")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._failures: list[UnreadableFile] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 -- Qt's signature
        return 0 if parent.isValid() else len(self._failures)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 -- Qt's signature
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._failures):
            return None
        item = self._failures[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name if index.column() == 0 else item.short_reason
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.details
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        if role == PATH_ROLE:
            return item.path
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole and section == 1:
            return "Point at a reason to read the full message, with the decoder's own words"
        return None

    def append(self, item: UnreadableFile) -> None:
        row = len(self._failures)
        self.beginInsertRows(QModelIndex(), row, row)
        self._failures.append(item)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._failures.clear()
        self.endResetModel()

    def failure(self, row: int) -> UnreadableFile:
        return self._failures[row]


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
