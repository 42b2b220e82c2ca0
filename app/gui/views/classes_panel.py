"""The classes panel: the rare-disease classes with their keys and counts; drop thumbnails to label."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QListView, QPushButton, QVBoxLayout, QWidget

from app.gui.viewmodels.project import ProjectViewModel

HELP = (
    "Select thumbnails and press 1–9 to label them (0 removes the label), or drag them onto a class. "
    "In the grid, bold framed names are your labels; italic ones are the model's predictions."
)


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
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("New class, e.g. sickle cell")
        self.description = QLineEdit(self)
        self.description.setPlaceholderText("Description (optional)")
        self.add_button = QPushButton("Add class", self)
        self.help = QLabel(HELP, self)
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: #5a5a5a;")
        self._layout()
        self.add_button.clicked.connect(self._add)
        self.name.returnPressed.connect(self._add)
        self.description.returnPressed.connect(self._add)
        model.projectChanged.connect(self._on_project)
        self._on_project("")

    def _layout(self) -> None:
        row = QHBoxLayout()
        row.addWidget(self.name, 2)
        row.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        layout.addWidget(self.description)
        layout.addWidget(self.help)

    @Slot()
    def _add(self) -> None:
        if self._model.add_class(self.name.text(), self.description.text()) is not None:
            self.name.clear()
            self.description.clear()

    @Slot(str)
    def _on_project(self, path: str) -> None:
        for widget in (self.name, self.description, self.add_button):
            widget.setEnabled(bool(path))
        self.title.setText("<b>Classes</b>" if path else "<b>Classes</b> (open or create a project first)")

    def row_rect_center(self, name: str) -> tuple[int, int]:
        """Viewport point of the class ``name`` (where to drop thumbnails on it)."""
        row = self._model.classes.names().index(name)
        center = self.list.visualRect(self._model.classes.index(row, 0)).center()
        return center.x(), center.y()
