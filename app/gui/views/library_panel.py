"""The opened files: a thumbnail grid of what could be read, and a list of what could not, and why."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
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
from app.gui.viewmodels.project_models import FILTERS, IMAGE_ID_ROLE, ImageFilter
from app.gui.views.thumbnail_delegate import ThumbnailDelegate

ICON_SIZE = 96


class LibraryPanel(QWidget):
    """Binds :class:`LibraryViewModel` (or a project's images, see :meth:`show_project`).

    Emits ``imageSelected(path)`` when a thumbnail is chosen, and ``imageIdSelected(id)`` (-1: none)
    for project images. Thumbnails can be selected several at a time and dragged onto a class.
    """

    imageSelected = Signal(str)
    imageIdSelected = Signal(int)
    countChanged = Signal(int)

    def __init__(self, model: LibraryViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.grid = QListView(self)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setModel(model.thumbnails)
        self.grid.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setWordWrap(True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setDragEnabled(True)  # after setMovement(Static), which turns dragging off
        self.grid.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self._plain_delegate = ThumbnailDelegate(ICON_SIZE, self.grid, show_status=False)
        self._project_delegate = ThumbnailDelegate(ICON_SIZE, self.grid)
        self._use_delegate(self._plain_delegate)
        self.filter_bar = FilterBar(self)
        self.filter_bar.setVisible(False)
        self._filter: ImageFilter | None = None
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
        self.splitter.addWidget(_titled(self.grid_title, self.filter_bar, self.grid))
        self.splitter.addWidget(_titled(self.failures_title, self.failures))
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self._update_titles()
        self.grid.selectionModel().selectionChanged.connect(self._on_selection)
        for item_model in (model.thumbnails, model.failures):
            self._watch(item_model)
        model.loadFinished.connect(self._select_first_if_none)
        self.filter_bar.changed.connect(self._apply_filter)
        self._last_row = -1
        self._keeping: set[int] = set()

    def _keep_position(self, item_model: QAbstractItemModel) -> None:
        """When labelling moves the selected image out of a filtered grid, select the next one."""
        if id(item_model) in self._keeping:
            return
        self._keeping.add(id(item_model))
        for signal in (item_model.rowsRemoved, item_model.layoutChanged):
            signal.connect(self._reselect)

    @Slot()
    def _reselect(self, *args: object) -> None:
        model = self.grid.model()
        if self._filter is None or self.grid.selectionModel().hasSelection() or self._last_row < 0 or model.rowCount() == 0:
            return
        self.grid.setCurrentIndex(model.index(min(self._last_row, model.rowCount() - 1), 0))

    def _watch(self, item_model: QAbstractItemModel) -> None:
        for signal in (item_model.rowsInserted, item_model.rowsRemoved, item_model.modelReset, item_model.layoutChanged):
            signal.connect(self._update_titles)

    def show_project(self, images: ImageFilter | None, failures: QAbstractItemModel | None, class_names: list[str]) -> None:
        """Show a project's images (filterable) and failed imports; None goes back to opened files."""
        self._filter = images
        grid_model = images if images is not None else self._model.thumbnails
        if self.grid.model() is not grid_model:
            self.grid.setModel(grid_model)
            self.grid.selectionModel().selectionChanged.connect(self._on_selection)
            self._watch(grid_model)
            if images is not None:
                self._keep_position(images)
        failure_model = failures if failures is not None else self._model.failures
        if self.failures.model() is not failure_model:
            self.failures.setModel(failure_model)
            self._watch(failure_model)
        self.filter_bar.setVisible(images is not None)
        self.filter_bar.set_classes(class_names)
        self._use_delegate(self._project_delegate if images is not None else self._plain_delegate)
        self._update_titles()

    def _use_delegate(self, delegate: ThumbnailDelegate) -> None:
        self.grid.setItemDelegate(delegate)
        lines = delegate.text_lines() * self.grid.fontMetrics().height() + 14
        self.grid.setGridSize(QSize(ICON_SIZE + 24, ICON_SIZE + lines))

    def selected_ids(self) -> list[int]:
        """Project image ids of the selected thumbnails, in grid order."""
        rows = sorted(self.grid.selectionModel().selectedIndexes(), key=lambda i: i.row())
        return [int(i.data(IMAGE_ID_ROLE)) for i in rows if i.data(IMAGE_ID_ROLE) is not None]

    def select_ids(self, image_ids: list[int]) -> None:
        """Select the thumbnails of ``image_ids`` (the first becomes current)."""
        model, selection = self.grid.model(), self.grid.selectionModel()
        wanted = set(image_ids)
        selection.clearSelection()
        first = None
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            if index.data(IMAGE_ID_ROLE) in wanted:
                first = first or index
                selection.select(index, selection.SelectionFlag.Select)
        if first is not None:
            selection.setCurrentIndex(first, selection.SelectionFlag.NoUpdate)
            self.grid.scrollTo(first)

    @Slot()
    def _apply_filter(self) -> None:
        if self._filter is not None:
            self._filter.set_filter(self.filter_bar.kind.currentText(), self.filter_bar.class_name())
            self._filter.set_sort_by_confidence(self.filter_bar.by_confidence.isChecked())

    def select_path(self, path: str) -> bool:
        """Select the thumbnail of ``path``; False when it is not in the grid."""
        row = self._model.thumbnails.row_of(path)
        if row < 0:
            return False
        self.grid.setCurrentIndex(self._model.thumbnails.index(row, 0))
        return True

    def index_of_id(self, image_id: int) -> QModelIndex:
        """The grid index showing project image ``image_id`` (invalid when filtered out)."""
        model = self.grid.model()
        for row in range(model.rowCount()):
            if model.index(row, 0).data(IMAGE_ID_ROLE) == image_id:
                return model.index(row, 0)
        return QModelIndex()

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        indexes = selected.indexes() or self.grid.selectionModel().selectedIndexes()
        if indexes:
            self._last_row = indexes[0].row()
            self.imageSelected.emit(str(indexes[0].data(PATH_ROLE)))
            image_id = indexes[0].data(IMAGE_ID_ROLE)
            self.imageIdSelected.emit(-1 if image_id is None else int(image_id))
        else:
            self.imageIdSelected.emit(-1)

    @Slot()
    def _select_first_if_none(self) -> None:
        model = self.grid.model()
        if not self.grid.selectionModel().hasSelection() and model.rowCount() > 0:
            self.grid.setCurrentIndex(model.index(0, 0))

    @Slot()
    def _update_titles(self, *args: object) -> None:
        readable, unreadable = self.grid.model().rowCount(QModelIndex()), self.failures.model().rowCount(QModelIndex())
        self.grid_title.setText(f"<b>Images</b> ({readable})")
        self.failures_title.setText(f"<b>Could not be read</b> ({unreadable})")
        self.countChanged.emit(readable)


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


class FilterBar(QWidget):
    """Which project images to show (``FILTERS``), for which class, and 'least confident first'."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox(self)
        self.kind.addItems(list(FILTERS))
        self.kind.setToolTip("Show all images, unlabelled ones, a class, uncertain predictions, … ")
        self.classes = QComboBox(self)
        self.classes.setToolTip("The class for 'Labelled as…' and 'Predicted as…'")
        self.by_confidence = QCheckBox("Least confident first", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind, 1)
        layout.addWidget(self.classes, 1)
        layout.addWidget(self.by_confidence)
        self.kind.currentIndexChanged.connect(self._on_change)
        self.classes.currentIndexChanged.connect(self._on_change)
        self.by_confidence.toggled.connect(self._on_change)
        self._on_change()

    def set_classes(self, names: list[str]) -> None:
        current = self.classes.currentText()
        self.classes.blockSignals(True)
        self.classes.clear()
        self.classes.addItems(names)
        if current in names:
            self.classes.setCurrentText(current)
        self.classes.blockSignals(False)

    def class_name(self) -> str:
        return self.classes.currentText() if self.classes.isEnabled() else ""

    def show_kind(self, kind: str) -> None:
        self.kind.setCurrentText(kind)

    @Slot()
    def _on_change(self, *args: object) -> None:
        self.classes.setEnabled(self.kind.currentText().endswith("…"))
        self.changed.emit()


def _titled(title: QLabel, *body: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(title)
    for widget in body:
        layout.addWidget(widget, 1 if widget is body[-1] else 0)
    return box
