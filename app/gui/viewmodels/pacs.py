"""What the "Import from PACS" and "Export labelled cases" dialogs run, off the GUI thread.

Searches touch no project, so they run on a :class:`JobRunner` of their own ("pacs", one per
window); a new search cancels the one before. Work that reads or writes the open project (the PACS import, the case
export) runs on the project's own runner, as "Import images" does, through :class:`ProjectTask`:
no adaptation or other import can use the project at the same time, and the project view-model
applies the snapshot the import returns, so the library shows the new images.

Patient names found by a search are handed to the dialog for display only: nothing here logs or
stores a hit. The password or token goes to the OS keyring (``core.pacs.credentials``) when
"Remember" is ticked; the settings keep the server's address (without credentials) and user name only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from app.gui import project_services, settings
from app.gui.viewmodels.project import PACS_IMPORT, ProjectViewModel
from app.gui.workers import JobContext, JobRunner
from core.errors import Cancelled, RareSightError
from core.pacs import (
    PacsCancelled,
    PacsError,
    PacsImportReport,
    PacsServer,
    SeriesHit,
    StudyHit,
    StudyQuery,
    credentials,
    import_from_pacs,
    search_series,
    search_studies,
)
from core.store import Project

IMPORT_TASK = PACS_IMPORT  # a task the window's Cancel stops too (``project.CANCELLABLE``)


def saved_server() -> tuple[str, str]:
    """(DICOMweb address, user name) the dialog used last; ('', '') at first."""
    return settings.pacs_server()


def save_server(server: PacsServer) -> None:
    """Remember the address (``display_url``: any ``user:password@`` removed) and the user name only."""
    settings.set_pacs_server(server.display_url, server.username or "")


def make_server(url: str, username: str, secret: str) -> PacsServer:
    """The server to ask: with a user name the secret is its password, without one a bearer token."""
    url, username = url.strip(), username.strip()
    if not url:
        raise PacsError("Enter the server's DICOMweb address, e.g. http://pacs.example.org/dicom-web")
    if not url.lower().startswith(("http://", "https://")):
        raise PacsError(f"{url}: the DICOMweb address starts with http:// or https://; check it with your PACS administrator")
    if username:
        return PacsServer(url, username=username, password=secret or None)
    return PacsServer(url, token=secret or None)


@dataclass
class TaskOutcome:
    """How a :class:`ProjectTask` ended: its value, or the error's message, or cancelled."""

    value: Any = None
    error: str = ""
    cancelled: bool = False


class ProjectTask(QObject):
    """One long job on the open project's runner, under its own task name and with its own cancel.

    ``start(fn)`` runs ``fn(project, ctx, is_cancelled) -> (value, snapshot or None)`` in the
    project's worker (:meth:`ProjectViewModel.run_task`); ``is_cancelled()`` turns True on the
    dialog's Cancel and on the window's (toolbar, Esc: the task names are in ``project.CANCELLABLE``).
    A snapshot returned is applied by the project view-model (the library
    refreshes). A :class:`RareSightError` becomes the outcome's ``error`` (shown by the dialog, not
    as a second message box), a cancel its ``cancelled``. Signals: ``runningChanged(bool)``,
    ``progress(fraction, text)``, ``finished(TaskOutcome)``.
    """

    runningChanged = Signal(bool)
    progress = Signal(float, str)
    finished = Signal(object)

    def __init__(self, model: ProjectViewModel, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model, self.name = model, name
        self.running = False
        self._outcome: TaskOutcome | None = None
        self._cancel = threading.Event()
        model.taskChanged.connect(self._on_task)
        model.progressChanged.connect(self._on_progress)

    def start(self, fn: Callable[[Project, JobContext, Callable[[], bool]], tuple[Any, Any]]) -> str:
        """Start ``fn``; returns '' when it started, else why it could not (shown to the user)."""
        model, project = self._model, self._model.project
        if project is None:
            return "Open or create a project first (File > New project…)."
        if self.running:
            return f"Please wait: {self.name} is still running (or cancel it)."
        outcome, cancel = TaskOutcome(), threading.Event()

        def job(ctx: JobContext) -> Any:
            try:
                outcome.value, snapshot = fn(project, ctx, lambda: ctx.cancelled or cancel.is_set())
            except (Cancelled, PacsCancelled):
                outcome.cancelled = True
                return None
            except RareSightError as exc:
                outcome.error = str(exc)
                return None
            return snapshot

        why = model.run_task(self.name, job, cancel.set)  # starts now, or says why not (another long task is running)
        if not why:
            self._outcome, self._cancel = outcome, cancel
        return why

    def cancel(self) -> None:
        """Ask the job to stop at its next check (the dialog's Cancel button)."""
        self._cancel.set()

    @Slot(str)
    def _on_task(self, task: str) -> None:
        if task == self.name and not self.running:
            self.running = True
            self.runningChanged.emit(True)
        elif task != self.name and self.running:  # ended: finished, failed, or the project closed
            self.running = False
            outcome, self._outcome = self._outcome, None
            if outcome is None or (outcome.value is None and not outcome.error and not outcome.cancelled):
                outcome = TaskOutcome(cancelled=True)  # stopped before it returned (the project was closed)
            if outcome.cancelled:  # in the status bar too: the window's Cancel may have stopped it
                self._model.message.emit(f"{self.name[:1].upper()}{self.name[1:]} cancelled; the project is unchanged.")
            self.runningChanged.emit(False)
            self.finished.emit(outcome)

    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        if self.running:
            self.progress.emit(fraction, text)


def import_summary(report: PacsImportReport) -> str:
    """'3 imported, 1 already in the project, 0 could not be read'."""
    return f"{report.imported} imported, {report.duplicates} already in the project, {len(report.failed)} could not be read"


class PacsViewModel(QObject):
    """The PACS dialog's jobs: search studies, list a study's series, import series into the project.

    Signals: ``studiesFound(list[StudyHit], note)``, ``seriesFound(study_uid, list[SeriesHit])``,
    ``searchFailed(message)``, ``searchingChanged(bool)``; the import's are those of
    :attr:`importer` (a :class:`ProjectTask`).
    """

    studiesFound = Signal(list, str)
    seriesFound = Signal(str, list)
    searchFailed = Signal(str)
    searchingChanged = Signal(bool)

    def __init__(self, project_model: ProjectViewModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_model = project_model
        self.runner = search_runner(project_model)
        self.importer = ProjectTask(project_model, IMPORT_TASK, self)
        self.runner.result.connect(self._on_result)
        self.runner.error.connect(self._on_error)  # slots, not lambdas: the runner outlives this dialog's model
        self.runner.busyChanged.connect(self.searchingChanged)
        self.importer.finished.connect(self._announce)

    @property
    def searching(self) -> bool:
        return self.runner.busy

    def search(self, server: PacsServer, query: StudyQuery, remember: bool) -> None:
        """Search the server's studies; once it answered, remember (or forget) the secret as asked."""

        def job(ctx: JobContext) -> tuple[str, PacsServer, list[StudyHit], str]:
            hits = search_studies(server, query)
            ctx.check()
            return "studies", server, hits, _keep_secret(server, remember)

        self.runner.start(job)

    def list_series(self, server: PacsServer, study_uid: str) -> None:
        """List a study's series (the search before, if still running, is cancelled)."""

        def job(ctx: JobContext) -> tuple[str, str, list[SeriesHit]]:
            return "series", study_uid, search_series(server, study_uid)

        self.runner.start(job)

    def cancel_search(self) -> None:
        self.runner.cancel()

    def start_import(self, server: PacsServer, study_uid: str, series_uids: Sequence[str], class_name: str | None) -> str:
        """Import the series into the open project, in its worker; '' when started, else why not."""
        chosen = list(series_uids)

        def work(project: Project, ctx: JobContext, is_cancelled: Callable[[], bool]) -> tuple[PacsImportReport, Any]:
            def progress(done: int, total: int) -> None:
                ctx.progress(done / total if total else 0.0, f"PACS: {done} of {total} instance(s) retrieved")

            report = import_from_pacs(
                project, server, study_uid, chosen, class_name=class_name, progress=progress, is_cancelled=is_cancelled
            )
            failed = [(report.server, reason) for reason in report.failed]
            return report, project_services.read_snapshot(project, failed, import_summary(report))

        return self.importer.start(work)

    def shutdown(self) -> None:
        """Drop a running search's answer (the dialog closes); its request ends in the background."""
        self.runner.cancel()

    @Slot(object)
    def _announce(self, outcome: TaskOutcome) -> None:
        """The import's end in the window's status bar too, beside the library that now shows it."""
        if outcome.error:
            text = f"PACS import failed: {outcome.error.splitlines()[0]}"
        elif isinstance(outcome.value, PacsImportReport):
            text = f"From {outcome.value.server}: {import_summary(outcome.value)}."
        else:
            text = "PACS import cancelled; the project is unchanged."
        self.project_model.message.emit(text)

    @Slot(object)
    def _on_error(self, exc: object) -> None:
        self.searchFailed.emit(str(exc))

    @Slot(object)
    def _on_result(self, value: object) -> None:
        if not isinstance(value, tuple):
            return
        if value[0] == "studies":
            save_server(value[1])  # the server answered: offer it next time (address and user name only)
            self.studiesFound.emit(value[2], value[3])
        elif value[0] == "series":
            self.seriesFound.emit(value[1], value[2])


def search_runner(project_model: ProjectViewModel) -> JobRunner:
    """The window's one "pacs" runner (made on first use, kept by the project view-model).

    Not the dialog's own: closing the dialog while a search waits on a silent server would block the
    GUI thread until the request timed out (a thread pool waits for its thread when deleted).
    """
    found = project_model.findChild(JobRunner, "pacs")
    return found if isinstance(found, JobRunner) else JobRunner("pacs", project_model)


def _keep_secret(server: PacsServer, remember: bool) -> str:
    """Store the secret the server just accepted in the keyring, or forget a stored one; a note when
    the keyring could not be used ('' otherwise). Runs in the worker: a keyring may be slow to answer."""
    secret = server.password or server.token
    try:
        if remember and secret:
            credentials.remember_secret(server.display_url, server.username or "", secret)
        elif not remember:
            credentials.forget_secret(server.display_url, server.username or "")
    except RareSightError as exc:
        return f"The password was not remembered: {exc}"
    return ""
