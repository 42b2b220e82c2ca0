"""The main window: assembles the views, view-models, actions and settings; no logic of its own."""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QSplitter, QToolBar, QWidget

from app.cli import package_version
from app.gui import settings
from app.gui.viewmodels.library import LibraryViewModel
from app.gui.viewmodels.viewer import ViewerViewModel
from app.gui.views import dialogs
from app.gui.views.file_drop import FileDropFilter
from app.gui.views.library_panel import LibraryPanel
from app.gui.views.metadata_panel import MetadataPanel
from app.gui.views.status_bar import StatusBar
from app.gui.views.viewer_panel import ViewerPanel
from app.logging_setup import log_file


class MainWindow(QMainWindow):
    """Library (thumbnails + unreadable files) | viewer | metadata, with File and Help menus."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"RareSight: {dialogs.RESEARCH_NOTICE}")
        self.library_model = LibraryViewModel(self)
        self.viewer_model = ViewerViewModel(self)
        self.library = LibraryPanel(self.library_model, self)
        self.viewer = ViewerPanel(self.viewer_model, self)
        self.metadata = MetadataPanel(self)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        for widget, stretch in ((self.library, 0), (self.viewer, 1), (self.metadata, 0)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self.splitter.setSizes([330, 650, 300])
        self.setCentralWidget(self.splitter)
        self.drops = FileDropFilter(self)
        self.installEventFilter(self.drops)
        self.setAcceptDrops(True)
        self._make_actions()
        self._connect()
        self.resize(1280, 800)
        settings.restore_window(self, self._splitters())

    def _splitters(self) -> dict[str, QSplitter]:
        return {"main": self.splitter, "library": self.library.splitter}

    def _make_actions(self) -> None:
        self.open_files_action = QAction("Open images…", self, shortcut=QKeySequence(QKeySequence.StandardKey.Open))
        self.open_folder_action = QAction("Open folder…", self, shortcut=QKeySequence("Ctrl+Shift+O"))
        self.quit_action = QAction("Quit", self, shortcut=QKeySequence(QKeySequence.StandardKey.Quit))
        self.about_action = QAction("About RareSight", self)
        self.open_folder_action.setToolTip("Open every image in a folder and its subfolders")
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.open_files_action, self.open_folder_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.menuBar().addMenu("&Help").addAction(self.about_action)
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addActions([self.open_files_action, self.open_folder_action])
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

    def open_paths(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        """Open files and folders (folders with their subfolders) in the library."""
        if paths:
            self.library_model.open_paths(paths, recursive=True)

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
        self.status.showMessage(f"Read {readable} image(s); {unreadable} file(s) could not be read.", 4000)

    @Slot(int, int)
    def _on_hover(self, x: int, y: int) -> None:
        self.status.set_pixel(self.viewer_model.describe_pixel(x, y))

    @Slot(str)
    def show_error(self, message: str) -> None:
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
        """Cancel loading and block until both worker threads are idle."""
        self.library_model.shutdown()
        self.viewer_model.shutdown()
