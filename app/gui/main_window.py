"""The main window: assembles the views, view-models, actions and settings; no logic of its own.

Left: classes over the thumbnail grid; centre: the viewer; right: tabs for the prediction and its
reasons, support-set quality and metadata. Without a project, opened files are only browsed; with
one, opening files imports them into it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QSplitter, QTabWidget, QToolBar, QWidget

from app.gui import settings
from app.gui.viewmodels.library import LibraryViewModel
from app.gui.viewmodels.prediction import PredictionViewModel
from app.gui.viewmodels.project import ProjectViewModel
from app.gui.viewmodels.viewer import ViewerViewModel
from app.gui.views import dialogs
from app.gui.views.classes_panel import ClassesPanel
from app.gui.views.file_drop import FileDropFilter
from app.gui.views.library_panel import LibraryPanel
from app.gui.views.metadata_panel import MetadataPanel
from app.gui.views.prediction_panel import PredictionPanel
from app.gui.views.project_actions import ProjectActions
from app.gui.views.quality_panel import QualityPanel
from app.gui.views.status_bar import StatusBar
from app.gui.views.viewer_panel import ViewerPanel
from app.logging_setup import log_file
from app.version import package_version
from core.scoring.pipeline import AdaptResult
from core.scoring.pool_record import POOL_SETTING, describe_pool
from core.store.folder_classes import ClassFolders, find_class_folders


class MainWindow(QMainWindow):
    """Classes + library | viewer | prediction, quality and metadata tabs; File/Edit/Model/Help menus.

    ``backbone`` (None: the project's current one, else the default) and ``budget_s`` (adaptation
    time budget, seconds) are passed to the model; tests use a tiny backbone.
    """

    def __init__(self, parent: QWidget | None = None, backbone: str | None = None, budget_s: float = 20.0) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"RareSight: {dialogs.RESEARCH_NOTICE}")
        self.library_model = LibraryViewModel(self)
        self.viewer_model = ViewerViewModel(self)
        self.project_model = ProjectViewModel(self, backbone=backbone, budget_s=budget_s)
        self.prediction_model = PredictionViewModel(self.project_model, self)
        self.library = LibraryPanel(self.library_model, self)
        self.classes = ClassesPanel(self.project_model, self)
        self.viewer = ViewerPanel(self.viewer_model, self)
        self.prediction = PredictionPanel(self.prediction_model, self.project_model, self)
        self.quality = QualityPanel(self.prediction_model, self)
        self.metadata = MetadataPanel(self)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self._lay_out()
        self.drops = FileDropFilter(self)
        self.installEventFilter(self.drops)
        self.setAcceptDrops(True)
        self._make_actions()
        self._connect()
        self.resize(1280, 800)
        settings.restore_window(self, self._splitters())

    def _lay_out(self) -> None:
        self.left = QSplitter(Qt.Orientation.Vertical, self)
        self.left.addWidget(self.classes)
        self.left.addWidget(self.library)
        self.left.setStretchFactor(0, 1)  # the classes list grows with the window too
        self.left.setStretchFactor(1, 2)
        self.left.setSizes([260, 540])
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.prediction, "Prediction")
        self.tabs.addTab(self.quality, "Support quality")
        self.tabs.addTab(self.metadata, "Metadata")
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        for widget, stretch in ((self.left, 0), (self.viewer, 1), (self.tabs, 0)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self.splitter.setSizes([400, 500, 380])
        self.setCentralWidget(self.splitter)

    def _splitters(self) -> dict[str, QSplitter]:
        return {"main": self.splitter, "library": self.library.splitter, "left": self.left}

    def _make_actions(self) -> None:
        self.open_files_action = QAction("Open images…", self, shortcut=QKeySequence(QKeySequence.StandardKey.Open))
        self.open_folder_action = QAction("Open folder…", self, shortcut=QKeySequence("Ctrl+Shift+O"))
        self.quit_action = QAction("Quit", self, shortcut=QKeySequence(QKeySequence.StandardKey.Quit))
        self.about_action = QAction("About RareSight", self)
        self.open_folder_action.setToolTip("Open every image in a folder and its subfolders")
        self.project_actions = ProjectActions(self, self.project_model, self.library)
        file_menu = self.menuBar().addMenu("&File")
        self.project_actions.build_menus(file_menu, [self.open_files_action, self.open_folder_action])
        file_menu.addAction(self.quit_action)
        self.menuBar().addMenu("&Help").addAction(self.about_action)
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addActions([self.project_actions.new_project, self.project_actions.open_project, self.open_folder_action])
        toolbar.addSeparator()
        actions = self.project_actions
        toolbar.addActions([actions.adapt, actions.cancel, actions.label_next, actions.export])
        self.addToolBar(toolbar)

    def _connect(self) -> None:
        self.open_files_action.triggered.connect(self._open_files)
        self.open_folder_action.triggered.connect(self._open_folder)
        self.quit_action.triggered.connect(self.close)
        self.about_action.triggered.connect(self.show_about)
        self.library.imageSelected.connect(self.viewer_model.open)
        self.library_model.loadingChanged.connect(self.status.set_loading)
        self.library_model.progressChanged.connect(self.status.set_progress)
        self.library_model.loadFinished.connect(self._on_load_finished)
        self.library_model.errorOccurred.connect(self.show_error)
        self.viewer_model.errorOccurred.connect(self.show_error)
        self.viewer_model.imageChanged.connect(self.metadata.show_image)
        self.viewer.canvas.hovered.connect(self._on_hover)
        self.drops.pathsDropped.connect(self.open_paths)
        self.library.countChanged.connect(self._sync_placeholder)
        self._connect_project()

    def _connect_project(self) -> None:
        project = self.project_model
        self.library.imageIdSelected.connect(lambda image_id: self.prediction_model.select(image_id if image_id >= 0 else None))
        project.projectChanged.connect(self._on_project)
        project.stateChanged.connect(lambda: self.library.filter_bar.set_classes(project.classes.names()))
        project.taskChanged.connect(lambda task: self.status.set_loading(task not in ("", "explain")))
        project.progressChanged.connect(self.status.set_progress)
        project.message.connect(lambda text: self.status.showMessage(text, 10_000))
        project.errorOccurred.connect(self.show_error)
        project.importFinished.connect(self._on_imported)
        project.adaptFinished.connect(self._on_adapted)
        project.exportFinished.connect(self._on_exported)

    def open_paths(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        """Open a project file, and import files and folders (with subfolders) into it, or browse them without one."""
        projects = [p for p in paths if str(p).endswith(".raresight")]
        if projects:  # `raresight gui demo.raresight`, and what `raresight demo` opens
            self.project_model.open_project(projects[-1])
            paths = [p for p in paths if not str(p).endswith(".raresight")]
        if not paths:
            return
        if self.project_model.project is not None:
            folders = class_archive(paths)
            if folders is None:
                self.project_model.import_paths(paths)
            else:  # a folder-per-class archive: offer to keep its classes
                model = self.project_model
                dialogs.ask_class_folders(self, folders, lambda: model.import_class_folders(folders), lambda: model.import_paths(paths))
        else:
            self.library_model.open_paths(paths, recursive=True)

    @Slot(str)
    def _on_project(self, path: str) -> None:
        project = self.project_model
        name = f"{os.path.basename(path)} · " if path else ""
        self.setWindowTitle(f"RareSight: {name}{dialogs.RESEARCH_NOTICE}")
        self.library.show_project(project.filtered if path else None, project.failures if path else None, project.classes.names())
        self.open_files_action.setText("Import images…" if path else "Open images…")
        self.open_folder_action.setText("Import folder…" if path else "Open folder…")
        self.viewer_model.set_project(project.project)  # its stored copies stand in for absent files; clears the viewer
        self.prediction_model.select(None)
        self._sync_placeholder()

    @Slot()
    def _sync_placeholder(self, *args: object) -> None:
        self.viewer.set_context(self.project_model.project is not None, self.library.grid.model().rowCount())

    @Slot(int, int)
    def _on_imported(self, images: int, failed: int) -> None:
        snapshot = self.project_model.snapshot
        note = f"; {snapshot.note}" if snapshot is not None and snapshot.note else ""
        self.status.show_result(f"The project has {images} image(s){note}; {failed} file(s) could not be read.")

    @Slot(object)
    def _on_adapted(self, result: AdaptResult) -> None:
        pool = describe_pool({POOL_SETTING: result.pool_used})
        learned = "the labelled examples only" if pool == "none" else f"the labelled examples and {pool}"
        self.status.show_result(
            f"Model version {result.version}: learned from {learned}; {result.predictions} image(s) predicted in {result.seconds:.0f} s."
        )

    @Slot(str, int)
    def _on_exported(self, path: str, rows: int) -> None:
        report = Path(path).suffix.lower() in (".pdf", ".html", ".htm")
        what = f"Report of {rows} case(s)" if report else f"Predictions for {rows} image(s)"
        self.status.show_result(f"{what} written to {path}")

    @Slot()
    def _open_files(self) -> None:
        self.open_paths(dialogs.choose_files(self))

    @Slot()
    def _open_folder(self) -> None:
        folder = dialogs.choose_folder(self)
        if folder:
            self.open_paths([folder])

    @Slot(int, int)
    def _on_load_finished(self, readable: int, unreadable: int) -> None:
        self.status.show_result(f"Read {readable} image(s); {unreadable} file(s) could not be read.")

    @Slot(int, int)
    def _on_hover(self, x: int, y: int) -> None:
        self.status.set_pixel(self.viewer_model.describe_pixel(x, y))

    @Slot(str)
    def show_error(self, message: str) -> None:
        self.status.show_result(f"Error: {message.splitlines()[0] if message else ''}", error=True)
        dialogs.show_error(self, message)

    @Slot()
    def show_about(self) -> None:
        dialogs.show_about(self, package_version(), log_file())

    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the layout, then cancel loading and wait for the worker threads."""
        settings.save_window(self, self._splitters())
        self.shutdown_workers()
        super().closeEvent(event)

    def shutdown_workers(self) -> None:
        """Cancel loading and model work, block until the worker threads are idle, close the project."""
        self.library_model.shutdown()
        self.viewer_model.shutdown()
        self.project_model.shutdown()


def class_archive(paths: Sequence[str | os.PathLike[str]]) -> ClassFolders | None:
    """The class folders when ``paths`` is one folder with two or more subfolders of images, else None."""
    if len(paths) != 1 or not Path(paths[0]).is_dir():
        return None
    folders = find_class_folders(paths[0])
    return folders if len(folders.files) >= 2 else None
