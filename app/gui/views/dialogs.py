"""Dialogs: choosing files or a folder, core errors, the crash notice and the About box.

Message boxes are opened window-modal with ``open()`` (not ``exec()``): no nested event loop,
so nothing re-enters a slot while a message is on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.gui import settings
from core.store.folder_classes import ClassFolders

RESEARCH_NOTICE = "Research use only, not for clinical diagnosis"
# Parentless boxes are owned by nobody in C++: keep them alive here until they close.
_unparented: set[QMessageBox] = set()
IMAGE_FILTER = "Images (*.dcm *.dicom *.dic *.ima *.png *.jpg *.jpeg *.tif *.tiff *.bmp);;All files (*)"


def choose_files(parent: QWidget | None) -> list[str]:
    """Ask for image files (DICOM or raster; files without a suffix via 'All files')."""
    paths, _ = QFileDialog.getOpenFileNames(parent, "Open images", settings.last_folder(), IMAGE_FILTER)
    if paths:
        settings.set_last_folder(Path(paths[0]).parent)
    return list(paths)


def choose_folder(parent: QWidget | None) -> str:
    """Ask for a folder (read with its subfolders); '' when cancelled."""
    folder = QFileDialog.getExistingDirectory(parent, "Open folder (with subfolders)", settings.last_folder())
    if folder:
        settings.set_last_folder(folder)
    return folder


def _message_box(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setWindowModality(Qt.WindowModality.WindowModal if parent is not None else Qt.WindowModality.ApplicationModal)
    if parent is None:
        _unparented.add(box)
        box.finished.connect(lambda *_: _unparented.discard(box))
    box.open()
    return box


def show_error(parent: QWidget | None, message: str) -> QMessageBox:
    """Show a RareSightError's message as core wrote it (what happened, which file, what to do)."""
    return _message_box(parent, QMessageBox.Icon.Warning, "RareSight", message)


def show_crash(parent: QWidget | None, summary: str, log_file: Path | None) -> QMessageBox:
    """Tell the user an unexpected error happened and where its details were logged."""
    where = f"The details were written to the log file:\n{log_file}" if log_file else "The log file could not be written."
    text = (
        f"RareSight hit an unexpected error:\n{summary}\n\n{where}\n\n"
        "Please send that file to the RareSight team. Your images were not changed."
    )
    return _message_box(parent, QMessageBox.Icon.Critical, "RareSight: unexpected error", text)


def show_about(parent: QWidget | None, version: str, log_file: Path | None) -> QMessageBox:
    text = (
        f"<h3>RareSight {version}</h3>"
        "<p>Few-shot diagnosis of rare diseases from medical images, offline, on your own machine.</p>"
        f"<p><b>{RESEARCH_NOTICE}.</b></p>"
        f"<p>Qt for Python {pyside_version}<br>Log file: {log_file or 'not available'}</p>"
    )
    box = _message_box(parent, QMessageBox.Icon.Information, "About RareSight", text)
    box.setTextFormat(Qt.TextFormat.RichText)
    return box


PROJECT_FILTER = "RareSight projects (*.raresight);;All files (*)"
EXPORT_FILTER = "CSV (*.csv);;JSON Lines (*.jsonl);;Parquet (*.parquet)"


def choose_new_project(parent: QWidget | None) -> str:
    """Ask where to create a project file ('' when cancelled); adds the .raresight suffix."""
    path, _ = QFileDialog.getSaveFileName(parent, "New project", settings.last_folder(), PROJECT_FILTER)
    if not path:
        return ""
    settings.set_last_folder(Path(path).parent)
    return path if Path(path).suffix else f"{path}.raresight"


def choose_project(parent: QWidget | None) -> str:
    """Ask for a project file to open ('' when cancelled)."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open project", settings.last_folder(), PROJECT_FILTER)
    if path:
        settings.set_last_folder(Path(path).parent)
    return path


def _choose_save(
    parent: QWidget | None, title: str, suggested: str, file_filter: str, suffixes: dict[str, str], folder: str | Path | None
) -> str:
    """Ask where to save ('' when cancelled); a name without suffix gets the chosen filter's
    (``suffixes``: filter-name prefix -> suffix, the first entry is the default).

    Starts in the folder the last report or export went to, else in ``folder`` (the project's).
    """
    start = str(Path(settings.output_folder() or folder or settings.last_folder() or Path.home()) / suggested)
    path, chosen = QFileDialog.getSaveFileName(parent, title, start, file_filter)
    if not path:
        return ""
    settings.set_output_folder(Path(path).parent)
    if not Path(path).suffix:
        path += next((suffix for prefix, suffix in suffixes.items() if chosen.startswith(prefix)), next(iter(suffixes.values())))
    return path


def choose_export(parent: QWidget | None, suggested: str, folder: str | Path | None = None) -> str:
    """Ask where to export predictions ('' when cancelled); CSV unless another format is chosen."""
    suffixes = {"CSV": ".csv", "Parquet": ".parquet", "JSON": ".jsonl"}
    return _choose_save(parent, "Export predictions", suggested, EXPORT_FILTER, suffixes, folder)


def show_info(parent: QWidget | None, message: str) -> QMessageBox:
    return _message_box(parent, QMessageBox.Icon.Information, "RareSight", message)


REPORT_FILTER = "PDF (*.pdf);;HTML (*.html)"


def choose_report(parent: QWidget | None, suggested: str, folder: str | Path | None = None) -> str:
    """Ask where to write a case report ('' when cancelled); PDF unless HTML is chosen."""
    return _choose_save(parent, "Export report", suggested, REPORT_FILTER, {"PDF": ".pdf", "HTML": ".html"}, folder)


LABELLED_IMPORT = "Import labelled by subfolder"
PLAIN_IMPORT = "Import unlabelled"


def ask_class_folders(parent: QWidget, folders: ClassFolders, labelled: Callable[[], None], unlabelled: Callable[[], None]) -> QMessageBox:
    """Offer to import a folder-per-class archive labelled by its subfolders' names (window-modal)."""
    counts = ", ".join(f"{name} ({n})" for name, n in list(folders.counts().items())[:8])
    more = f" and {len(folders.files) - 8} more" if len(folders.files) > 8 else ""
    loose = f" The {len(folders.loose)} image(s) directly in the folder come in unlabelled." if folders.loose else ""
    text = (
        f"“{folders.root.name}” has {len(folders.files)} subfolders of images: {counts}{more}.\n\n"
        f"Import them labelled with the subfolder names as classes (new classes are added)?{loose}"
    )
    box = QMessageBox(QMessageBox.Icon.Question, "Import folder", text, QMessageBox.StandardButton.NoButton, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    yes = box.addButton(LABELLED_IMPORT, QMessageBox.ButtonRole.YesRole)
    no = box.addButton(PLAIN_IMPORT, QMessageBox.ButtonRole.NoRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(yes)
    box.buttonClicked.connect(lambda button: labelled() if button is yes else unlabelled() if button is no else None)
    box.open()
    return box
