"""The prediction for the selected image, with its reasons, and the support-set quality.

Explanations are model work: they run on the project's single model worker (after a long task,
if one is running). The restored model is kept between selections until labels or the model
version change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from app.gui import model_services, project_services, settings
from app.gui.model_services import AccuracyEstimate, ClassQuality, ImageExplanation
from app.gui.viewmodels.project import ProjectViewModel
from app.gui.workers import JobContext
from core.scoring.pipeline import ProjectModel, ScoringError
from core.scoring.pool_record import describe_pool
from core.store import Project

NO_MODEL = "No predictions yet: label a few examples of each class, then press Adapt."


def explain(project: Project, model: ProjectModel, path: str, coverage: float) -> ImageExplanation:
    """The model's answer for the project image at ``path``, read from the project's stored copy when
    its file is absent (a PACS import; ``--embed`` and moved since), as the viewer shows it."""
    with project_services.readable_images(project, [path]) as names:
        readable = next(iter(names), path)
        return dataclasses.replace(model_services.explain(model, readable, coverage), path=path)


@dataclass(frozen=True)
class _Answer:
    image_id: int | None
    explanation: ImageExplanation | None
    model: ProjectModel | None
    key: tuple[int | None, int]
    stale: bool
    quality: tuple[list[ClassQuality], AccuracyEstimate | None] | None
    message: str = ""


class PredictionViewModel(QObject):
    """Selected image -> :class:`ImageExplanation` at the chosen coverage; model -> class quality.

    Signals: ``explanationChanged(explanation or None, message)``,
    ``qualityChanged(list of ClassQuality, AccuracyEstimate or None)``,
    ``coverageChanged(coverage)``, ``loadingChanged(bool)``.
    """

    explanationChanged = Signal(object, str)
    qualityChanged = Signal(list, object)
    coverageChanged = Signal(float)
    loadingChanged = Signal(bool)

    def __init__(self, project: ProjectViewModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project = project
        self.image_id: int | None = None
        self.coverage = settings.coverage()
        self.explanation: ImageExplanation | None = None
        self.stale = False
        self.quality: list[ClassQuality] = []
        self.accuracy_estimate: AccuracyEstimate | None = None  # expected accuracy on new images
        self.pool = ""  # what the model learned from unlabelled images ("none" when nothing; "" no model)
        self._model: ProjectModel | None = None
        self._model_key: tuple[int | None, int] = (None, -1)
        self.loading = False
        project.modelResult.connect(self._on_result)
        project.adaptFinished.connect(self.refresh)
        project.projectChanged.connect(self._on_project)
        project.stateChanged.connect(self._on_state)
        project.taskChanged.connect(self._on_task)

    def select(self, image_id: int | None) -> None:
        """Explain ``image_id`` (None: nothing selected)."""
        self.image_id = image_id
        self.refresh()

    def set_coverage(self, coverage: float) -> None:
        """The coverage of prediction sets (0.8, 0.9, 0.95); remembered in the settings."""
        if coverage != self.coverage:
            self.coverage = coverage
            settings.set_coverage(coverage)
            self.coverageChanged.emit(coverage)
            self.refresh()

    @Slot()
    def refresh(self, *args: object) -> None:
        """Recompute what the panels show for the current image, model and coverage."""
        project = self._project.project
        if project is None or self._project.model_version is None:
            self._model, self.explanation, self.quality, self.accuracy_estimate, self.pool = None, None, [], None, ""
            self.qualityChanged.emit([], None)
            self.explanationChanged.emit(None, NO_MODEL if project is not None else "")
            return
        key = (self._project.model_version, self._project.labels_revision)
        cached = self._model if key == self._model_key else None
        image_id, coverage = self.image_id, self.coverage
        path = None if image_id is None else self._project.images.path_of(image_id)

        def job(ctx: JobContext) -> _Answer:
            quality = None
            stale = self.stale
            model = cached
            if model is None:
                try:
                    model, stale = model_services.load_model(project)
                except ScoringError as exc:
                    return _Answer(image_id, None, None, key, False, ([], None), str(exc))
                quality = model_services.support_quality(model)
            ctx.check()
            explanation = None if path is None else explain(project, model, path, coverage)
            return _Answer(image_id, explanation, model, key, stale, quality)

        self._set_loading(True)
        self._project.run_model_job("explain", job)

    @Slot(str, object)
    def _on_result(self, name: str, value: object) -> None:
        if name != "explain" or not isinstance(value, _Answer):
            return
        self._set_loading(False)
        self._model, self._model_key, self.stale = value.model, value.key, value.stale
        if value.quality is not None:
            self.quality, self.accuracy_estimate = value.quality
            self.pool = "" if value.model is None else describe_pool(value.model.state.settings)
            self.qualityChanged.emit(*value.quality)
        if value.image_id != self.image_id:
            return  # the selection moved on; its own request follows
        self.explanation = value.explanation
        self.explanationChanged.emit(value.explanation, value.message)

    @Slot(str)
    def _on_project(self, path: str) -> None:
        self._model, self._model_key, self.image_id = None, (None, -1), None
        self._set_loading(False)
        self.refresh()

    @Slot()
    def _on_state(self) -> None:
        if (self._project.model_version, self._project.labels_revision) != self._model_key:
            self.refresh()

    @Slot(str)
    def _on_task(self, name: str) -> None:
        if not name:
            self._set_loading(False)

    def _set_loading(self, loading: bool) -> None:
        if loading != self.loading:
            self.loading = loading
            self.loadingChanged.emit(loading)
