"""The opened files: a thumbnail grid of what could be read, and a list of what could not, and why."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListView,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.gui.viewmodels.file_models import PATH_ROLE
from app.gui.viewmodels.library import LibraryViewModel

ICON_SIZE = 96


class LibraryPanel(QWidget):
    """Binds :class:`LibraryViewModel`; emits ``imageSelected(path)`` when a thumbnail is chosen."""

    imageSelected = Signal(str)

    def __init__(self, model: LibraryViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.grid = QListView(self)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setModel(model.thumbnails)
        self.grid.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.grid.setGridSize(QSize(ICON_SIZE + 24, ICON_SIZE + 36))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setWordWrap(True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.failures = QTreeView(self)
        self.failures.setModel(model.failures)
        self.failures.setRootIsDecorated(False)
        self.failures.setAlternatingRowColors(True)
        self.failures.setWordWrap(True)
        self.failures.setUniformRowHeights(False)
        self.failures.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.failures.setItemDelegate(WrappingDelegate(self.failures))
        self.failures.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.failures.header().setStretchLastSection(True)
        self.grid_title = QLabel(self)
        self.failures_title = QLabel(self)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(_titled(self.grid_title, self.grid))
        self.splitter.addWidget(_titled(self.failures_title, self.failures))
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self._update_titles()
        self.grid.selectionModel().selectionChanged.connect(self._on_selection)
        for item_model in (model.thumbnails, model.failures):
            item_model.rowsInserted.connect(self._update_titles)
            item_model.modelReset.connect(self._update_titles)
        model.loadFinished.connect(self._select_first_if_none)

    def select_path(self, path: str) -> bool:
        """Select the thumbnail of ``path``; False when it is not in the grid."""
        row = self._model.thumbnails.row_of(path)
        if row < 0:
            return False
        self.grid.setCurrentIndex(self._model.thumbnails.index(row, 0))
        return True

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if indexes:
            self.imageSelected.emit(str(indexes[0].data(PATH_ROLE)))

    @Slot()
    def _select_first_if_none(self) -> None:
        if not self.grid.selectionModel().hasSelection() and self._model.thumbnails.rowCount() > 0:
            self.grid.setCurrentIndex(self._model.thumbnails.index(0, 0))

    @Slot()
    def _update_titles(self, *args: object) -> None:
        readable, unreadable = self._model.thumbnails.rowCount(QModelIndex()), self._model.failures.rowCount(QModelIndex())
        self.grid_title.setText(f"<b>Images</b> ({readable})")
        self.failures_title.setText(f"<b>Could not be read</b> ({unreadable})")


class WrappingDelegate(QStyledItemDelegate):
    """Rows tall enough for their text wrapped to the column width (the reason is a sentence)."""

    def __init__(self, view: QTreeView) -> None:
        super().__init__(view)
        self._view = view
        self._relayout = QTimer(self, singleShot=True, interval=0)
        self._relayout.timeout.connect(view.doItemsLayout)
        view.header().sectionResized.connect(self._relayout.start)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        width = self._view.columnWidth(index.column()) - 8
        if width <= 0:
            return hint
        bounds = QRect(0, 0, width, 100_000)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        height = option.fontMetrics.boundingRect(bounds, Qt.TextFlag.TextWordWrap, text).height() + 6
        return QSize(hint.width(), max(hint.height(), height))


def _titled(title: QLabel, body: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(title)
    layout.addWidget(body, 1)
    return box
