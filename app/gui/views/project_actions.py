"""The project's menu and toolbar actions: new/open/recent, export, undo/redo, keys 1-9, adapt."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QMenu

from app.gui import settings
from app.gui.viewmodels.project import CANCELLABLE, ProjectViewModel
from app.gui.views import dialogs
from app.gui.views.export_dialog import ExportDialog
from app.gui.views.library_panel import LibraryPanel
from app.gui.views.pacs_dialog import PacsDialog


class ProjectActions(QObject):
    """Creates the actions on ``window`` and keeps them enabled only when they can run."""

    def __init__(self, window: QMainWindow, model: ProjectViewModel, library: LibraryPanel) -> None:
        super().__init__(window)
        self._window, self._model, self._library = window, model, library

        def action(text: str, shortcut: str | QKeySequence.StandardKey | None = None, tip: str = "") -> QAction:
            made = QAction(text, window)
            if shortcut is not None:
                made.setShortcut(QKeySequence(shortcut))
            made.setToolTip(tip or text.rstrip("…"))
            made.setStatusTip(tip)
            return made

        self.new_project = action("New project…", QKeySequence.StandardKey.New, "Create a project file for a set of images and classes")
        self.open_project = action("Open project…", "Ctrl+Shift+P", "Open a RareSight project file")
        self.close_project = action("Close project", None, "Close the project (everything is already saved)")
        self.save = action("Save", QKeySequence.StandardKey.Save, "Every change is saved in the project file as you work")
        self.export = action("Export predictions (CSV)…", "Ctrl+E", "Write every image's prediction to a CSV file")
        self.report = action("Export report (PDF/HTML)…", "Ctrl+Shift+E", "A case report for the selected images")
        self.import_pacs = action("Import from PACS…", None, "Search a hospital archive (DICOMweb) and import series into the project")
        self.export_cases = action(
            "Export labelled cases…", None, "The labelled images, de-identified, with a labels CSV, for a collaborator"
        )
        self.pacs_dialog: PacsDialog | None = None
        self.export_dialog: ExportDialog | None = None
        self.undo = action("Undo", QKeySequence.StandardKey.Undo)
        self.redo = action("Redo", "Ctrl+Shift+Z")
        self.adapt = action("Adapt", "Ctrl+R", "Fit the model to your labels and predict every unlabelled image")
        self.cancel = action("Cancel", "Esc", "Stop the running import, adaptation or export; nothing is half-saved")
        self.use_unlabelled = action(
            "Learn from unlabelled images",
            None,
            "When adapting, also learn from up to 500 of the project's unlabelled images (their images, no labels needed)",
        )
        self.use_unlabelled.setCheckable(True)
        self.use_unlabelled.setChecked(settings.use_unlabelled())
        self.label_next = action("Label next", "Ctrl+N", "Show the unlabelled images whose label would help the model most")
        self.key_actions = [action(f"Label as class {k}" if k else "Remove label", str(k)) for k in (*range(1, 10), 0)]
        self.recent_menu = QMenu("Open recent", window)
        self._connect()
        self._sync()

    def build_menus(self, file_menu: QMenu, import_actions: list[QAction]) -> None:
        """Fill the File, Edit and Model menus (File's import actions come from the window)."""
        file_menu.addActions([self.new_project, self.open_project])
        file_menu.addMenu(self.recent_menu)
        file_menu.addActions([self.save, self.close_project])
        file_menu.addSeparator()
        file_menu.addActions([*import_actions, self.import_pacs])
        file_menu.addActions([self.export, self.report, self.export_cases])
        file_menu.addSeparator()
        bar = self._window.menuBar()
        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo, self.redo])
        edit.addSeparator()
        edit.addActions(self.key_actions)
        model = bar.addMenu("&Model")
        model.addActions([self.adapt, self.cancel, self.label_next])
        model.addSeparator()
        model.addAction(self.use_unlabelled)
        self._window.addActions(self.key_actions)  # keys 1-9 work wherever focus is (not in text fields)

    def _connect(self) -> None:
        model = self._model
        self.new_project.triggered.connect(self._new)
        self.open_project.triggered.connect(self._open)
        self.close_project.triggered.connect(model.close_project)
        self.save.triggered.connect(self._save)
        self.export.triggered.connect(self._export)
        self.report.triggered.connect(self._report)
        self.import_pacs.triggered.connect(self.show_pacs_dialog)
        self.export_cases.triggered.connect(self.show_export_dialog)
        self.undo.triggered.connect(model.undo)
        self.redo.triggered.connect(model.redo)
        self.adapt.triggered.connect(model.adapt)
        self.cancel.triggered.connect(model.cancel)
        self.label_next.triggered.connect(self.show_label_next)
        self.use_unlabelled.toggled.connect(settings.set_use_unlabelled)  # read when Adapt starts
        for key, key_action in zip((*range(1, 10), 0), self.key_actions, strict=True):
            key_action.triggered.connect(lambda *_, k=key: model.label_with_key(self._library.selected_ids(), k))
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        model.projectChanged.connect(self._sync)
        model.stateChanged.connect(self._sync)
        model.taskChanged.connect(self._sync)

    @Slot()
    def _sync(self, *args: object) -> None:
        model = self._model
        has, task = model.project is not None, model.task
        idle = task in ("", "explain", "sync")
        for each in (self.close_project, self.save, self.label_next, *self.key_actions):
            each.setEnabled(has)
        self.undo.setEnabled(has and model.undo_state.can_undo)
        self.redo.setEnabled(has and model.undo_state.can_redo)
        self.undo.setText(f"Undo {model.undo_state.undo.description}" if model.undo_state.undo else "Undo")
        self.redo.setText(f"Redo {model.undo_state.redo.description}" if model.undo_state.redo else "Redo")
        self.adapt.setEnabled(has and idle and bool(model.labels))
        self.export.setEnabled(has and idle and model.model_version is not None)
        self.report.setEnabled(has and idle and model.model_version is not None)
        self.import_pacs.setEnabled(has and idle)
        self.export_cases.setEnabled(has and idle and bool(model.labels))
        self.cancel.setEnabled(task in CANCELLABLE)

    @Slot()
    def _new(self) -> None:
        path = dialogs.choose_new_project(self._window)
        if path:
            self._model.new_project(path)

    @Slot()
    def _open(self) -> None:
        path = dialogs.choose_project(self._window)
        if path:
            self._model.open_project(path)

    @Slot()
    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in settings.recent_projects():
            item = self.recent_menu.addAction(Path(path).name)
            item.setToolTip(path)
            item.triggered.connect(lambda *_, p=path: self._model.open_project(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    @Slot()
    def _save(self) -> None:
        project = self._model.project
        if project is not None:
            self._model.message.emit(f"All changes are saved in {project.path.name} as you work.")

    @Slot()
    def _export(self) -> None:
        project = self._model.project
        if project is None:
            return
        path = dialogs.choose_export(self._window, f"{project.path.stem}-predictions.csv", project.path.parent)
        if path:
            self._model.export_predictions(path)

    @Slot()
    def _report(self) -> None:
        project, ids = self._model.project, self._library.selected_ids()
        if project is None:
            return
        if not ids:
            self._model.message.emit("Select the images to report on first.")
            return
        path = dialogs.choose_report(self._window, f"{project.path.stem}-report.pdf", project.path.parent)
        if path:
            self._model.export_report(ids, path)

    @Slot()
    def show_pacs_dialog(self) -> None:
        """File > Import from PACS…: the dialog, window-modal (one at a time)."""
        if self.pacs_dialog is None:
            self.pacs_dialog = PacsDialog(self._model, self._window)
            self._open_dialog(self.pacs_dialog, "pacs_dialog")

    @Slot()
    def show_export_dialog(self) -> None:
        """File > Export labelled cases…: the dialog, window-modal (one at a time)."""
        if self.export_dialog is None:
            self.export_dialog = ExportDialog(self._model, self._window)
            self._open_dialog(self.export_dialog, "export_dialog")

    def _open_dialog(self, dialog: QDialog, attribute: str) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda *_: setattr(self, attribute, None))
        dialog.open()

    @Slot()
    def show_label_next(self) -> None:
        """Filter the grid to 'Label next' and select the most useful image."""
        self._library.filter_bar.show_kind("Label next")
        grid = self._library.grid
        if grid.model().rowCount() > 0:
            grid.setCurrentIndex(grid.model().index(0, 0))
            grid.setFocus()
