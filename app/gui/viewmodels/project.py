"""The open project: its images, classes and labels, and the long tasks on it (import, adapt, export).

Long tasks and model work run on one :class:`JobRunner` ("model"), so the model is never used from
two threads at once. Labels, classes and undo are single small transactions and run on the GUI
thread. Errors reach ``errorOccurred`` with core's message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QIcon

from app.gui import model_services, project_services, settings
from app.gui.project_services import ProjectSnapshot
from app.gui.services import UnreadableFile
from app.gui.viewmodels.file_models import FailureModel
from app.gui.viewmodels.project_models import ClassListModel, ImageFilter, ImageItemModel
from app.gui.workers import JobContext, JobRunner
from core.errors import RareSightError
from core.scoring.pipeline import AdaptResult
from core.store import ClassInfo, PredictionRecord, Project, UndoState, class_edit
from core.store.folder_classes import ClassFolders

log = logging.getLogger(__name__)

#: Long tasks the dialogs start through :meth:`ProjectViewModel.run_task`.
PACS_IMPORT, CASE_EXPORT = "PACS import", "case export"

#: The long tasks Cancel (toolbar, Model menu, Esc) stops; the others are short reads the window needs.
CANCELLABLE = ("import", "adapt", "export", PACS_IMPORT, CASE_EXPORT)

#: Tasks a new long task may replace (short, and redone when needed).
_REPLACEABLE = ("", "explain", "sync")


class ProjectViewModel(QObject):
    """Holds the open :class:`core.store.Project` and what the window shows of it.

    Signals: ``projectChanged(path)`` ('' when closed), ``stateChanged()`` (classes, labels,
    predictions or undo changed), ``taskChanged(name)`` ('' when idle), ``progressChanged(f, text)``,
    ``importFinished(added, failed)``, ``adaptFinished(result)``, ``exportFinished(path, rows)``,
    ``modelResult(job name, value)`` (jobs of :meth:`run_model_job` and :meth:`run_task`), ``message(text)``,
    ``errorOccurred(message)``.
    """

    projectChanged = Signal(str)
    stateChanged = Signal()
    taskChanged = Signal(str)
    progressChanged = Signal(float, str)
    importFinished = Signal(int, int)
    adaptFinished = Signal(object)
    exportFinished = Signal(str, int)
    modelResult = Signal(str, object)
    message = Signal(str)
    errorOccurred = Signal(str)

    def __init__(self, parent: QObject | None = None, backbone: str | None = None, budget_s: float = 20.0) -> None:
        super().__init__(parent)
        self.backbone, self.budget_s = backbone, budget_s
        self.images = ImageItemModel(self)
        self.filtered = ImageFilter(self)
        self.filtered.setSourceModel(self.images)
        self.classes = ClassListModel(self)
        self.failures = FailureModel(self)
        self.project: Project | None = None
        self.snapshot: ProjectSnapshot | None = None
        self.labels: dict[int, str] = {}
        self.predictions: dict[int, PredictionRecord] = {}
        self.model_version: int | None = None
        self.undo_state = UndoState(None, None)
        self.labels_revision = 0
        self.task = ""
        self._job_name = ""
        self._classes: list[ClassInfo] = []
        self._id_by_hash: dict[str, int] = {}
        self._after_task: list[Callable[[], None]] = []
        self._stop_task: Callable[[], None] | None = None  # how the running run_task job is asked to stop
        self.runner = JobRunner("model", self, background=True)
        self.runner.progress.connect(self.progressChanged)
        self.runner.result.connect(self._on_result)
        self.runner.error.connect(self._on_error)
        self.runner.finished.connect(self._on_finished)
        self.classes.labelDropped.connect(self.label)

    # -- opening and closing -----------------------------------------------------------------------
    def new_project(self, path: str | os.PathLike[str]) -> bool:
        """Create an empty project file at ``path`` and open it."""
        return self._open(lambda: Project.create(path))

    def open_project(self, path: str | os.PathLike[str]) -> bool:
        return self._open(lambda: Project.open(path))

    def _open(self, opener: Callable[[], Project]) -> bool:
        try:
            project = opener()
        except RareSightError as exc:
            self.errorOccurred.emit(str(exc))
            return False
        self.close_project()
        self.project = project
        settings.add_recent_project(project.path)
        self.projectChanged.emit(str(project.path))
        self._start("open", lambda ctx: project_services.read_snapshot(project))
        return True

    def close_project(self) -> None:
        """Stop the running task, wait for it, and close the project file."""
        self.runner.shutdown()
        self._after_task.clear()
        self._set_task("")
        if self.project is not None:
            self.project.close()
            self.project = None
            self.snapshot = None
            self.labels, self.predictions, self.model_version = {}, {}, None
            self.images.reset([], {})
            self.failures.clear()
            self._refresh_views()
            self.projectChanged.emit("")

    def shutdown(self) -> None:
        self.close_project()

    # -- long tasks ----------------------------------------------------------------------------------
    def import_paths(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        """Add the images under ``paths`` (folders with subfolders) to the project, in the worker."""
        project = self.project
        if project is None or not paths or self._refuse_when_busy():
            return
        targets = [os.fspath(p) for p in paths]

        def job(ctx: JobContext) -> ProjectSnapshot:
            report = project_services.import_paths(project, targets, ctx.progress, lambda: ctx.cancelled)
            return project_services.read_snapshot(project, report.failed)

        self._start("import", job)

    def import_class_folders(self, folders: ClassFolders) -> None:
        """Import a folder-per-class archive labelled by subfolder name, in the worker."""
        project = self.project
        if project is None or self._refuse_when_busy():
            return

        def job(ctx: JobContext) -> ProjectSnapshot:
            report, note = project_services.import_class_folders(project, folders, ctx.progress, lambda: ctx.cancelled)
            return project_services.read_snapshot(project, report.failed, note)

        self._start("import", job)

    def adapt(self) -> None:
        """Fit the model to the labels and predict every unlabelled image, in the worker."""
        project = self.project
        if project is None or self._refuse_when_busy():
            return
        backbone, budget, coverage, pool = self.backbone, self.budget_s, settings.coverage(), settings.use_unlabelled()

        def job(ctx: JobContext) -> tuple[AdaptResult, dict[int, PredictionRecord]]:
            result = model_services.adapt(project, backbone, budget, coverage, ctx.progress, ctx.token, use_unlabelled=pool)
            return result, {p.image_id: p for p in project.predictions(result.version)}

        self._start("adapt", job)

    def export_predictions(self, path: str | os.PathLike[str]) -> None:
        """Score every image with the adapted model into a CSV (or JSONL, Parquet) file."""
        project = self.project
        if project is None or self._refuse_when_busy():
            return
        target, coverage = Path(path), settings.coverage()

        def job(ctx: JobContext) -> tuple[str, int]:
            rows = project_services.export_predictions(project, target, coverage, ctx.progress, ctx.token)
            return str(target), rows

        self._start("export", job)

    def export_report(self, image_ids: Sequence[int], path: str | os.PathLike[str]) -> None:
        """A case report (PDF or HTML) for the given images, in the worker."""
        project = self.project
        if project is None or self._refuse_when_busy():
            return
        paths = [p for p in (self.images.path_of(i) for i in image_ids) if p]
        target, coverage = Path(path), settings.coverage()

        def job(ctx: JobContext) -> tuple[str, int]:
            return str(target), project_services.export_report(project, paths, target, coverage, ctx.progress, ctx.token)

        self._start("export", job)

    def run_model_job(self, name: str, fn: Callable[[JobContext], Any]) -> None:
        """Run a short model job (an explanation) now, or after the long task that is running."""
        if self.task in ("", "explain"):
            self._start(name, fn)
        else:
            self._after_task = [lambda: self._start(name, fn)]

    def run_task(self, name: str, fn: Callable[[JobContext], Any], stop: Callable[[], None] | None = None) -> str:
        """Start a long job (a PACS import, a case export) now; '' when it started, else why not (for the user).

        Long tasks never queue. With ``name`` in :data:`CANCELLABLE` the window's Cancel calls ``stop()``
        (the job then says how it ended, as on its dialog's Cancel), else cancels ``ctx`` (result dropped).
        A :class:`ProjectSnapshot` returned is applied; any other value reaches ``modelResult(name, value)``.
        """
        if self.project is None:
            return "Open or create a project first (File > New project…)."
        why = self._busy_reason()
        if why:
            return why
        self._start(name, fn)
        self._stop_task = stop
        return ""

    def cancel(self) -> None:
        """Cancel the running task; an adaptation, export, PACS import or case export cancelled this way
        writes nothing (the job stops at its next check, in the worker).

        A cancelled import keeps the images read so far (the project saves them in batches).
        After an adaptation, the model version is read back once the worker has stopped, in case
        the adaptation had already saved its result when the cancel arrived.
        """
        task, project, stop = self.task, self.project, self._stop_task
        if task not in CANCELLABLE:
            return  # reading the project back, or an explanation: short, and needed
        if stop is not None:  # the job says how it ended (it may be past its last check): as its dialog's Cancel
            self.message.emit(f"Cancelling the {task}…")
            stop()
            return
        self.runner.cancel()
        if task == "import" and project is not None:  # the images read so far are kept: show them
            self.message.emit("Import cancelled; the images read so far were added to the project.")
            self._start("open", lambda ctx: project_services.read_snapshot(project))
            return
        self.message.emit(f"{task[:1].upper()}{task[1:]} cancelled; the project is unchanged.")
        if task == "adapt" and project is not None:
            self._start("sync", lambda ctx: project_services.read_predictions(project))
            return
        self._set_task("")
        self._run_after_task()

    def _refuse_when_busy(self) -> bool:
        why = self._busy_reason()
        if why:
            self.message.emit(why)
        return bool(why)

    def _busy_reason(self) -> str:
        """Why a long task cannot start now ('' when it can)."""
        return "" if self.task in _REPLACEABLE else f"Please wait: {self.task} is still running (or cancel it)."

    def _start(self, name: str, fn: Callable[[JobContext], Any]) -> None:
        self._stop_task = None
        self._set_task(name)
        self._job_name = name
        self.runner.start(fn)

    def _set_task(self, name: str) -> None:
        if name != self.task:
            self.task = name
            self.taskChanged.emit(name)

    # -- classes, labels, undo (GUI thread: one small transaction each) --------------------------------
    def add_class(self, name: str, description: str = "") -> ClassInfo | None:
        project = self.project
        if project is None or not name.strip():
            return None
        info = self._call(lambda p: p.add_class(name.strip(), description.strip(), project_services.next_colour(p.classes())))
        self._reload_state()
        return info if isinstance(info, ClassInfo) else None

    def edit_class(self, name: str, colour: str | None = None, description: str | None = None) -> None:
        """Change a class's colour or description."""
        self._call(lambda p: class_edit.edit_class(p, name, colour=colour, description=description))
        self._reload_state()

    def rename_class(self, name: str, new_name: str) -> None:
        """Rename a class; its labels follow (the model then needs adapting again)."""
        if new_name.strip() and new_name.strip() != name:
            self._call(lambda p: class_edit.rename_class(p, name, new_name))
            self._reload_state()

    def delete_class(self, name: str) -> None:
        """Remove a class no image was ever labelled with (core explains when it cannot)."""
        self._call(lambda p: class_edit.delete_class(p, name))
        self._reload_state()

    @Slot(list, str)
    def label(self, image_ids: Sequence[int], class_name: str | None, note: str = "") -> None:
        """Label images with ``class_name`` (None removes their labels) in one undoable step."""
        if self.project is None or not image_ids:
            return
        self._call(lambda p: p.label(list(image_ids), class_name, note))
        self._labels_changed()
        what = f"as {class_name}" if class_name else "as not labelled"
        self.message.emit(f"Labelled {len(image_ids)} image(s) {what}.")

    def label_with_key(self, image_ids: Sequence[int], key: int) -> None:
        """Key 1-9 labels with the class in that row of the classes panel; 0 removes the label."""
        names = self.classes.names()
        if key == 0:
            self.label(image_ids, None)
        elif 1 <= key <= len(names):
            self.label(image_ids, names[key - 1])

    def confirm(self, image_id: int) -> None:
        """Accept the model's prediction as the label (audited with the model version)."""
        prediction = self.predictions.get(image_id)
        if prediction is None or prediction.top_class is None:
            return
        note = f"confirms model {prediction.model_version} prediction"
        self.label([image_id], prediction.top_class, note)
        details = {"kind": "confirm", "image_id": image_id, "class": prediction.top_class, "model_version": prediction.model_version}
        self._call(lambda p: p.record_event("note", details))

    def override(self, image_id: int, class_name: str) -> None:
        """Label against the model's prediction; recorded as an override in the audit log."""
        prediction = self.predictions.get(image_id)
        predicted = None if prediction is None else prediction.top_class
        version = None if prediction is None else prediction.model_version
        self.label([image_id], class_name, f"overrides model {version} prediction {predicted or 'none of these'}")
        details = {"image_id": image_id, "predicted": predicted, "chosen": class_name, "model_version": version}
        self._call(lambda p: p.record_event("override", details))

    def undo(self) -> None:
        step = self._call(lambda p: p.undo())
        self._labels_changed()
        self.message.emit(f"Undone: {step.description}" if step is not None else "Nothing to undo.")

    def redo(self) -> None:
        step = self._call(lambda p: p.redo())
        self._labels_changed()
        self.message.emit(f"Redone: {step.description}" if step is not None else "Nothing to redo.")

    def _call(self, fn: Callable[[Project], Any]) -> Any:
        if self.project is None:
            return None
        try:
            return fn(self.project)
        except RareSightError as exc:
            self.errorOccurred.emit(str(exc))
            return None

    def _labels_changed(self) -> None:
        self.labels_revision += 1
        self._reload_state()

    def _reload_state(self) -> None:
        project = self.project
        if project is None:
            return
        try:
            self._set_state(project.classes(), project.labels(), project.undo_state())
        except RareSightError as exc:
            self.errorOccurred.emit(str(exc))

    def _set_state(self, classes: list[ClassInfo], labels: dict[int, str], undo: UndoState) -> None:
        self._classes, self.labels, self.undo_state = classes, labels, undo
        self._refresh_views()

    def _refresh_views(self) -> None:
        classes = self._classes
        self.classes.reset(classes, self.labels)
        self.images.set_state(self.labels, self.predictions, classes)
        self.stateChanged.emit()

    def class_infos(self) -> list[ClassInfo]:
        return list(self._classes)

    def support_icon(self, content_hash: str) -> QIcon | None:
        """The thumbnail of the project image with this content hash (a support example)."""
        image_id = self._id_by_hash.get(content_hash)
        return None if image_id is None else self.images.icon(image_id)

    # -- results ------------------------------------------------------------------------------------
    @Slot(object)
    def _on_result(self, value: object) -> None:
        name = self._job_name
        if isinstance(value, ProjectSnapshot):
            self._apply_snapshot(value)
            if name == "import":
                self.importFinished.emit(len(value.images), len(value.failed))
        elif name == "adapt" and isinstance(value, tuple):
            result, predictions = value
            self.predictions, self.model_version = predictions, result.version
            self._refresh_views()
            self.adaptFinished.emit(result)
        elif name == "sync" and isinstance(value, tuple):
            version, predictions = value
            if version != self.model_version:
                self.predictions, self.model_version = predictions, version
                self._refresh_views()
                self.message.emit(f"The adaptation had finished before it was cancelled: model version {version} was saved.")
        elif name == "export" and isinstance(value, tuple):
            self.exportFinished.emit(str(value[0]), int(value[1]))
        else:
            self.modelResult.emit(name, value)

    def _apply_snapshot(self, snapshot: ProjectSnapshot) -> None:
        self.snapshot = snapshot
        self.images.reset(snapshot.images, snapshot.thumbnails)
        self._id_by_hash = {r.content_hash: int(r.id or 0) for r in snapshot.images}
        self.failures.clear()
        for path, reason in snapshot.failed:
            self.failures.append(UnreadableFile(path, reason))
        self.predictions, self.model_version = snapshot.predictions, snapshot.model_version
        self._set_state(snapshot.classes, snapshot.labels, snapshot.undo)

    @Slot(object)
    def _on_error(self, exc: object) -> None:
        self.errorOccurred.emit(str(exc))

    @Slot()
    def _on_finished(self) -> None:
        self._set_task("")
        self._run_after_task()

    def _run_after_task(self) -> None:
        pending, self._after_task = self._after_task, []
        for start in pending:
            start()
