"""The adapted model as the window shows it: one image's prediction and reasons, support-set quality.

Support-set quality is :func:`core.fewshot.quality.support_quality` with the model's stored
:class:`~core.fewshot.quality.AccuracyEstimate`: the same numbers and advice the reports show.

Plain functions and values (no Qt), run in the model worker. Probabilities and prediction sets
come from the same classifier :func:`core.scoring.pipeline.score_images` uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.embedding import CancelToken, ProgressFn
from core.fewshot.quality import LEAVE_ONE_OUT_CAVEAT as LEAVE_ONE_OUT_CAVEAT
from core.fewshot.quality import NO_ESTIMATE_ADVICE as NO_ESTIMATE_ADVICE
from core.fewshot.quality import NO_ESTIMATE_REASON as NO_ESTIMATE_REASON
from core.fewshot.quality import AccuracyEstimate as AccuracyEstimate
from core.fewshot.quality import ClassQuality as ClassQuality
from core.fewshot.quality import model_accuracy_estimate
from core.fewshot.quality import pooled_leave_one_out as pooled_leave_one_out
from core.fewshot.quality import support_quality as core_support_quality
from core.scoring.pipeline import AdaptResult, ProjectModel, ScoringError, adapt_project, load_project_model
from core.store import Project


@dataclass(frozen=True)
class SupportExample:
    """A labelled image the prediction resembles: its content hash, file and cosine similarity."""

    content_hash: str
    path: str
    similarity: float


@dataclass(frozen=True)
class ImageExplanation:
    """The model's answer for one image at ``coverage``, with its reasons.

    ``prediction_set`` is empty when the image is unlike every class ("none of these").
    ``nearest`` maps each class to its most similar support examples, most similar first.
    """

    path: str
    probabilities: dict[str, float]
    prediction_set: tuple[str, ...]
    top_class: str
    novelty: float
    nearest: dict[str, list[SupportExample]]
    coverage: float
    model_version: int
    backbone: str = ""  # what the clinician sees: the registry name, or the meta-trained file's name

    @property
    def none_of_these(self) -> bool:
        return not self.prediction_set


def backbone_label(backbone_id: str) -> str:
    """A short name for a backbone id: a meta-trained file's id is its full path plus a hash."""
    return Path(backbone_id.split("@", 1)[0]).name if ".rsbackbone" in backbone_id else backbone_id


def limit_threads(reserve: int = 1) -> int:
    """Leave ``reserve`` CPU core(s) to the GUI thread: torch uses the others. Returns the count."""
    import torch

    threads = max(1, (os.cpu_count() or 2) - reserve)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def warm_up() -> float:
    """Import what the first adaptation would import lazily (torch's optimiser pulls in torch._dynamo).

    Those imports hold the GIL for a couple of seconds in bursts of up to ~250 ms; done in the
    worker during the first adaptation they would freeze the window, so the GUI calls this once at
    start-up, before the window is shown. Then moves everything loaded so far out of the garbage
    collector's reach (``gc.freeze``). Returns the seconds it took.
    """
    import gc
    import time

    import numpy.ma  # noqa: F401 -- imported lazily by the first leave-one-out statistics
    import torch

    start = time.perf_counter()
    weight = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.Adam([weight], lr=0.1)
    (weight * 2).sum().backward()  # type: ignore[no-untyped-call]
    optimiser.step()
    # The libraries leave ~400,000 long-lived objects; a full garbage collection over them holds
    # the GIL for 100-400 ms, whichever thread triggers it. Freeze them out of the collector.
    gc.collect()
    gc.freeze()
    return time.perf_counter() - start


def adapt(
    project: Project,
    backbone: str | None = None,
    budget_s: float = 20.0,
    coverage: float = 0.9,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    use_unlabelled: bool = True,
) -> AdaptResult:
    """Fit the model to the labels and predict every unlabelled image (nothing saved if cancelled);
    ``use_unlabelled``: also learn from the unlabelled images (the Model menu's option)."""
    limit_threads()
    return adapt_project(
        project,
        budget_s=budget_s,
        coverage=coverage,
        backbone=backbone,
        use_unlabelled=use_unlabelled,
        progress=progress,
        cancel=cancel,
    )


def load_model(project: Project) -> tuple[ProjectModel, bool]:
    """The project's latest model, and whether labels changed since it was adapted (stale).

    Raises ScoringError (core's message) when the project has no adapted model yet.
    """
    limit_threads()
    try:
        return load_project_model(project), False
    except ScoringError:
        if project.model_state() is None:
            raise
    return load_project_model(project, allow_stale=True), True


def explain(model: ProjectModel, path: str, coverage: float, k: int = 3) -> ImageExplanation:
    """Probabilities, prediction set at ``coverage`` and the ``k`` nearest support examples per class."""
    clf = model.classifier
    why = clf.explain([path], k=k, coverage=coverage)[0]  # one pass, as core.scoring does
    hashes = list(model.state.settings["support_hashes"])
    nearest = {
        name: [
            SupportExample(hashes[n.support_index], model.support_paths.get(hashes[n.support_index], n.name), n.similarity) for n in found
        ]
        for name, found in why.nearest.items()
    }
    return ImageExplanation(
        path,
        why.probabilities,
        why.prediction_set or (),
        why.prediction,
        why.novelty,
        nearest,
        coverage,
        model.version,
        backbone_label(model.state.backbone_id),
    )


def support_quality(model: ProjectModel) -> tuple[list[ClassQuality], AccuracyEstimate | None]:
    """Per class: expected accuracy on new images and leave-one-out accuracy, each with its 95 % interval,
    and advice (core's, as reports show it); and the overall estimate, None when the model has none."""
    estimate = model_accuracy_estimate(model.state.settings)
    return core_support_quality(model.classifier, estimate), estimate
