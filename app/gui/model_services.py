"""The adapted model as the window shows it: one image's prediction and reasons, support-set quality.

Plain functions and values (no Qt), run in the model worker. Probabilities and prediction sets
come from the same classifier :func:`core.scoring.pipeline.score_images` uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from core.embedding import DEFAULT_BACKBONE, CancelToken, ProgressFn
from core.scoring.pipeline import AdaptResult, ProjectModel, ScoringError, adapt_project, load_project_model
from core.store import Project

#: Fewer support examples than this and a class gets a "too few" warning.
MIN_EXAMPLES = 3
#: Mean cosine similarity between a class's own examples above which they count as "too alike".
TOO_ALIKE = 0.97
#: Leave-one-out accuracy below this gets a "often mistaken" warning.
LOW_ACCURACY = 0.7


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

    @property
    def none_of_these(self) -> bool:
        return not self.prediction_set


@dataclass(frozen=True)
class ClassQuality:
    """How well one class's support examples hold up (leave-one-out), in words for a clinician."""

    name: str
    n: int
    correct: int
    accuracy: float | None
    ci95: tuple[float, float]
    similarity: float | None  # mean cosine similarity between the class's own examples
    warnings: tuple[str, ...]


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
    start-up, before the window is shown. Returns the seconds it took.
    """
    import time

    import numpy.ma  # noqa: F401 -- imported lazily by the first leave-one-out statistics
    import torch

    start = time.perf_counter()
    weight = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.Adam([weight], lr=0.1)
    (weight * 2).sum().backward()
    optimiser.step()
    return time.perf_counter() - start


def adapt(
    project: Project,
    backbone: str = DEFAULT_BACKBONE,
    budget_s: float = 20.0,
    coverage: float = 0.9,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> AdaptResult:
    """Fit the model to the labels and predict every unlabelled image (nothing saved if cancelled)."""
    limit_threads()
    return adapt_project(project, budget_s=budget_s, coverage=coverage, backbone=backbone, progress=progress, cancel=cancel)


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
    why = clf.explain([path], k=k)[0]
    plausible = clf.predict_set([path], coverage=coverage)[0]
    hashes = list(model.state.settings["support_hashes"])
    nearest = {
        name: [
            SupportExample(hashes[n.support_index], model.support_paths.get(hashes[n.support_index], n.name), n.similarity) for n in found
        ]
        for name, found in why.nearest.items()
    }
    return ImageExplanation(path, why.probabilities, tuple(plausible), why.prediction, why.novelty, nearest, coverage, model.version)


def support_quality(model: ProjectModel) -> list[ClassQuality]:
    """Leave-one-out accuracy per class with its 95 % interval, and plain-language warnings."""
    clf = model.classifier
    embeddings, codes = clf.support_embeddings_, clf.support_labels_
    out = []
    for code, acc in enumerate(clf.support_accuracy()):
        own = embeddings[codes == code]
        similarity = None
        if len(own) >= 2:
            sims = own @ own.T
            similarity = float(sims[np.triu_indices(len(own), 1)].mean())
        out.append(
            ClassQuality(acc.label, acc.n, acc.correct, acc.accuracy, acc.ci95, similarity, _warnings(acc.n, acc.accuracy, similarity))
        )
    return out


def _warnings(n: int, accuracy: float | None, similarity: float | None) -> tuple[str, ...]:
    found = []
    if n < MIN_EXAMPLES:
        found.append(f"Only {n} example(s): label at least {MIN_EXAMPLES} to 5 varied examples so the model can be checked.")
    if similarity is not None and similarity > TOO_ALIKE:
        found.append("The examples are very alike: add examples that show how this disease varies.")
    if accuracy is not None and accuracy < LOW_ACCURACY:
        found.append("Its own examples are often mistaken for another class: check the labels, or add clearer examples.")
    return tuple(found)
