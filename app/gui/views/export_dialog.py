"""File > Export labelled cases…: the project's labelled images and a labels CSV, for a collaborator.

What ``raresight export`` does (:func:`core.privacy.export.export_project`), off the GUI thread on the
project's runner: an empty or new output folder; "De-identify" (DICOM PS3.15 basic profile) on by
default; "Keep identifiers" only with de-identification off, and with a warning; "Allow burned-in
annotation" off. At the end the dialog shows what was written and the de-identification check's counts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import settings
from app.gui.viewmodels.pacs import ProjectTask, TaskOutcome
from app.gui.viewmodels.project import ProjectViewModel
from app.gui.workers import JobContext
from core.privacy.export import ExportReport, export_project
from core.privacy.paths import path_for_display
from core.store import Project

EXPORT_TASK = "case export"
DEIDENTIFY = "De-identify (DICOM PS3.15 basic profile)"
KEEP_IDENTIFIERS = "Keep identifiers (export DICOM files as they are)"
BURNED_IN = "Allow burned-in annotation"
KEEP_WARNING = (
    "Without de-identification, DICOM files are refused unless identifiers are kept on purpose: they then "
    "leave with patient names, IDs, dates of birth and addresses. Share them only where that is allowed."
)
ERROR_STYLE = "color: #b00020;"
WARNING_STYLE = "color: #8a5300;"


def describe(report: ExportReport, deidentified: bool) -> str:
    """What an export wrote, skipped, and (de-identified) the profile check's counts, for the dialog."""
    check = report.check
    lines = [
        f"{len(report.files)} file(s) and {report.rows} label row(s) written to {path_for_display(report.out_dir)}; "
        f"{len(report.skipped)} skipped."
    ]
    if deidentified:
        left = sum(check.left.values())
        reasons = "; ".join(f"{reason}: {n}" for reason, n in sorted(check.left.items()))
        lines.append(
            f"De-identification check (PS3.15 basic profile): attributes checked {check.checked}, removed {check.removed}, "
            f"emptied {check.emptied}, replaced {check.replaced}, left {left}" + (f" ({reasons})" if reasons else "") + "."
        )
    elif any(name.endswith(".dcm") for name in report.files):
        lines.append("The DICOM files were exported as they are: they hold patient identifiers.")
    lines += [f"Skipped: {message}" for _, message in report.skipped[:5]]
    if len(report.skipped) > 5:
        lines.append(f"… and {len(report.skipped) - 5} more skipped")
    return "\n".join(lines)


class ExportDialog(QDialog):
    """Choose the folder and options, export, read the counts; ``project_model`` holds the open project."""

    def __init__(self, project_model: ProjectViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export labelled cases")
        self.setObjectName("exportDialog")
        self.project_model = project_model
        self.task = ProjectTask(project_model, EXPORT_TASK, self)
        self._deidentified = True
        self._lay_out()
        self.task.runningChanged.connect(lambda *_: self._sync())
        self.task.progress.connect(self._on_progress)
        self.task.finished.connect(self._on_finished)
        self.deidentify.toggled.connect(self._sync)
        self.keep.toggled.connect(self._sync)
        self.folder.textChanged.connect(self._sync)
        self.choose.clicked.connect(self._choose_folder)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.task.cancel)
        self.buttons.rejected.connect(self.reject)
        self._suggest_folder()
        self._sync()
        self.resize(760, self.sizeHint().height() + 40)  # room for the counts; grows with the text

    def _lay_out(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Writes the project's labelled images into a new or empty folder: DICOM images as DICOM, others as PNG "
            "re-encoded from their pixels (no metadata), and labels.csv (file, class, frame). Files are named "
            "case-0001.dcm, case-0002.png, …, never after the original.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.folder = QLineEdit(self)
        self.folder.setPlaceholderText("a new or empty folder")
        self.choose = QPushButton("Choose…", self)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.choose)
        form.addRow("Output folder", row)
        layout.addLayout(form)
        self.deidentify = QCheckBox(DEIDENTIFY, self)
        self.deidentify.setChecked(True)
        self.deidentify.setToolTip(
            "Names, IDs, addresses and free text removed or replaced, UIDs replaced consistently, dates shifted; pixels unchanged"
        )
        self.keep = QCheckBox(KEEP_IDENTIFIERS, self)
        self.keep.setToolTip("Only with de-identification off: the DICOM files keep the patient's identifiers")
        self.keep_warning = QLabel(KEEP_WARNING, self)
        self.keep_warning.setWordWrap(True)
        self.keep_warning.setStyleSheet(WARNING_STYLE)
        self.burned_in = QCheckBox(BURNED_IN, self)
        self.burned_in.setToolTip(
            "Also export DICOM images marked Burned In Annotation YES: text in the pixels (a name, a date) is not removed"
        )
        for widget in (self.deidentify, self.keep, self.keep_warning, self.burned_in):
            layout.addWidget(widget)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.export_button = QPushButton("Export", self)
        self.export_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the export; nothing is left in the output folder")
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.export_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.message, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        layout.addWidget(self.buttons)

    def _suggest_folder(self) -> None:
        project = self.project_model.project
        if project is None:
            return
        base = Path(settings.output_folder() or project.path.parent)
        candidate, n = base / f"{project.path.stem}-cases", 2
        while candidate.exists():
            candidate, n = base / f"{project.path.stem}-cases-{n}", n + 1
        self.folder.setText(str(candidate))

    @Slot()
    def _choose_folder(self) -> None:
        start = self.folder.text().strip() or settings.output_folder() or settings.last_folder()
        folder = QFileDialog.getExistingDirectory(self, "Export labelled cases into (a new or empty folder)", str(Path(start).parent))
        if folder:
            self.folder.setText(folder)

    @Slot()
    def _sync(self, *args: object) -> None:
        running = self.task.running
        deidentify = self.deidentify.isChecked()
        if deidentify and self.keep.isChecked():
            self.keep.setChecked(False)  # they contradict each other
        self.keep.setEnabled(not deidentify and not running)
        self.keep_warning.setVisible(not deidentify)
        for widget in (self.folder, self.choose, self.deidentify, self.burned_in):
            widget.setEnabled(not running)
        has = self.project_model.project is not None
        self.export_button.setEnabled(has and not running and bool(self.folder.text().strip()))
        self.cancel_button.setEnabled(running)

    @Slot()
    def start(self) -> None:
        text = self.folder.text().strip()
        if not text:
            self._set_message("Choose the output folder first.", error=True)
            return
        target = Path(text).expanduser()
        deidentify, keep, burned_in = self.deidentify.isChecked(), self.keep.isChecked(), self.burned_in.isChecked()

        def work(project: Project, ctx: JobContext, is_cancelled: Callable[[], bool]) -> tuple[ExportReport, None]:
            report = export_project(
                project,
                target,
                deidentify=deidentify,
                keep_identifiers=keep,
                allow_burned_in=burned_in,
                progress=ctx.progress,
                is_cancelled=is_cancelled,
            )
            return report, None

        self._deidentified = deidentify
        self.progress.setValue(0)
        why = self.task.start(work)
        if why:
            self._set_message(why, error=True)
        else:
            self._set_message(f"Exporting into {path_for_display(target)}…")

    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(100 * fraction))

    @Slot(object)
    def _on_finished(self, outcome: TaskOutcome) -> None:
        report = outcome.value
        if outcome.error:
            self.progress.setValue(0)
            self._set_message(outcome.error, error=True)
        elif outcome.cancelled or not isinstance(report, ExportReport):
            self.progress.setValue(0)
            self._set_message("Export cancelled; nothing was written.")
        else:
            self.progress.setValue(100)
            settings.set_output_folder(report.out_dir.parent)
            self._set_message(describe(report, self._deidentified), error=bool(report.skipped))
            self.project_model.message.emit(f"{len(report.files)} labelled case(s) exported to {path_for_display(report.out_dir)}.")

    def _set_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else "")

    def reject(self) -> None:
        """Close; a running export is cancelled (it leaves nothing behind)."""
        if self.task.running:
            self.task.cancel()
        super().reject()
