"""The classes panel: the rare-disease classes with their keys and counts; drop thumbnails to label."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.viewmodels.project import ProjectViewModel

HELP = (
    "Select thumbnails, press 1–9 to label them (0 removes the label) or drag them onto a class. "
    "Grid: bold and framed = your label, italic = the model's prediction."
)
#: The list shows at least this many classes without scrolling (it grows with the window).
MIN_VISIBLE_CLASSES = 6


class ClassesPanel(QWidget):
    """List of classes (a drop target) and a row to add one: name, optional description, Add."""

    def __init__(self, model: ProjectViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.title = QLabel("<b>Classes</b>", self)
        self.list = QListView(self)
        self.list.setModel(model.classes)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.list.setAcceptDrops(True)
        self.list.viewport().setAcceptDrops(True)
        self.list.setDropIndicatorShown(True)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setToolTip(HELP)
        self.list.setUniformItemSizes(True)
        self.list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("New class, e.g. sickle cell")
        self.description = QLineEdit(self)
        self.description.setPlaceholderText("Description")
        self.description.setToolTip("What this class is, for whoever labels next (optional)")
        self.add_button = QPushButton("Add class", self)
        self.rename_button = QPushButton("Rename…", self)
        self.colour_button = QPushButton("Colour…", self)
        self.describe_button = QPushButton("Description…", self)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip("Delete a class no image was labelled with")
        self.help = QLabel(HELP, self)
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: #5a5a5a;")
        self._layout()
        self.add_button.clicked.connect(self._add)
        self.name.returnPressed.connect(self._add)
        self.description.returnPressed.connect(self._add)
        self.rename_button.clicked.connect(self._rename)
        self.colour_button.clicked.connect(self._choose_colour)
        self.describe_button.clicked.connect(self._describe)
        self.delete_button.clicked.connect(self._confirm_delete)
        self.list.selectionModel().selectionChanged.connect(self._sync_buttons)
        self._keep = ""
        model.classes.modelAboutToBeReset.connect(self._remember_selection)
        model.classes.modelReset.connect(self._restore_selection)
        model.classes.modelReset.connect(self._fit_rows)
        self._fit_rows()
        model.projectChanged.connect(self._on_project)
        self._on_project("")

    def _layout(self) -> None:
        row = QHBoxLayout()
        row.addWidget(self.name, 3)
        row.addWidget(self.description, 2)
        row.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        edit = QHBoxLayout()
        for button in (self.rename_button, self.colour_button, self.describe_button, self.delete_button):
            edit.addWidget(button)
        edit.addStretch(1)
        layout.addLayout(edit)
        layout.addLayout(row)
        layout.addWidget(self.help)

    @Slot()
    def _fit_rows(self) -> None:
        """Keep room for ``MIN_VISIBLE_CLASSES`` rows whatever the splitter or saved layout says."""
        view = self.list
        row = view.sizeHintForRow(0) if self._model.classes.rowCount() else -1
        if row <= 0:
            row = max(view.fontMetrics().height(), view.iconSize().height(), 16) + 2
        view.setMinimumHeight(MIN_VISIBLE_CLASSES * (row + 2 * view.spacing()) + 2 * view.frameWidth() + 2)

    @Slot()
    def _add(self) -> None:
        if self._model.add_class(self.name.text(), self.description.text()) is not None:
            self.name.clear()
            self.description.clear()

    def selected_class(self) -> str:
        indexes = self.list.selectionModel().selectedIndexes()
        return self._model.classes.names()[indexes[0].row()] if indexes else ""

    @Slot()
    def _remember_selection(self) -> None:
        self._keep = self.selected_class()

    @Slot()
    def _restore_selection(self) -> None:
        names = self._model.classes.names()
        if self._keep in names:
            self.list.setCurrentIndex(self._model.classes.index(names.index(self._keep), 0))
        self._sync_buttons()

    @Slot()
    def _sync_buttons(self, *args: object) -> None:
        chosen = bool(self.selected_class())
        for button in (self.rename_button, self.colour_button, self.describe_button, self.delete_button):
            button.setEnabled(chosen)

    @Slot()
    def _choose_colour(self) -> None:
        name = self.selected_class()
        info = next((c for c in self._model.class_infos() if c.name == name), None)
        if info is None:
            return
        dialog = QColorDialog(QColor(info.colour or "#1f77b4"), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle(f"Colour of {name}")
        dialog.colorSelected.connect(lambda colour: self._model.edit_class(name, colour=colour.name()))
        dialog.open()  # window-modal, no nested event loop

    @Slot()
    def _rename(self) -> None:
        name = self.selected_class()
        if not name:
            return
        self._ask_text(f"Rename {name}", "New name (its labelled images keep it):", name, lambda text: self._model.rename_class(name, text))

    @Slot()
    def _describe(self) -> None:
        name = self.selected_class()
        info = next((c for c in self._model.class_infos() if c.name == name), None)
        if info is None:
            return
        self._ask_text(
            f"Description of {name}",
            "What this class is, for whoever labels next:",
            info.description,
            lambda text: self._model.edit_class(name, description=text),
        )

    def _ask_text(self, title: str, label: str, value: str, accepted: Callable[[str], object]) -> None:
        """A window-modal text prompt (no nested event loop) that calls ``accepted`` with the text on OK."""
        dialog = QInputDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle(title)
        dialog.setLabelText(label)
        dialog.setTextValue(value)
        dialog.textValueSelected.connect(accepted)
        dialog.open()

    @Slot()
    def _confirm_delete(self) -> None:
        name = self.selected_class()
        if not name:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Delete class", f"Delete the class {name!r}?", parent=self)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(lambda: self._model.delete_class(name))
        box.open()

    @Slot(str)
    def _on_project(self, path: str) -> None:
        self._sync_buttons()
        for widget in (self.name, self.description, self.add_button):
            widget.setEnabled(bool(path))
        self.title.setText("<b>Classes</b>" if path else "<b>Classes</b> (open or create a project first)")

    def row_rect_center(self, name: str) -> tuple[int, int]:
        """Viewport point of the class ``name`` (where to drop thumbnails on it)."""
        row = self._model.classes.names().index(name)
        center = self.list.visualRect(self._model.classes.index(row, 0)).center()
        return center.x(), center.y()
