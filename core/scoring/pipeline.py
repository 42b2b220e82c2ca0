"""The one scoring path both front-ends call: adapt a project's model, score images with it.

    result = adapt_project(project, budget_s=20, progress=..., cancel=...)   # GUI "Adapt", `raresight adapt`
    model = load_project_model(project)                                       # the latest adapted model
    for item in score_images(model, paths, coverage=0.9): ...                 # ScoreRow or ScoreError

Nothing is written to the project until adaptation and the predictions for its unlabelled images
are complete, so a cancelled or failed adaptation leaves the project exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.embedding import DEFAULT_BACKBONE, CancelToken, Embedder, EmbeddingCache, ProgressFn, check_cancel, load_backbone
from core.embedding.embedder import EmbeddingResult, subset
from core.errors import ModelError, ProjectError, RareSightError
from core.fewshot import PrototypicalClassifier
from core.fewshot.persistence import from_model_state, to_model_state
from core.fewshot.quality import AccuracyEstimate, estimate_accuracy
from core.scoring.records import NearestSupport, ScoreError, ScoreRow
from core.store import Project
from core.store.records import ModelState, PredictionRecord

log = logging.getLogger(__name__)

DEFAULT_COVERAGE = 0.9
BATCH = 32


class ScoringError(RareSightError):
    """The project has no usable model for scoring; the message says what to run."""


@dataclass(frozen=True)
class ProjectModel:
    """A project's adapted model, restored: what the GUI and ``raresight score`` both predict with."""

    classifier: PrototypicalClassifier
    state: ModelState
    support_paths: dict[str, str]  # support content hash -> path, for explanations

    @property
    def version(self) -> int:
        return int(self.state.version or 0)

    @property
    def classes(self) -> list[str]:
        return list(self.state.class_names)


@dataclass(frozen=True)
class AdaptResult:
    version: int
    predictions: int
    adapted: bool
    seconds: float


def labels_fingerprint(pairs: Sequence[tuple[str, str]]) -> str:
    """Identifies a support set: the sorted (image content hash, class) pairs."""
    return hashlib.sha256(json.dumps(sorted(pairs)).encode()).hexdigest()


def _support(project: Project) -> tuple[list[str], list[str], list[str]]:
    """Paths, classes and content hashes of the labelled images; missing files are an error."""
    labels = project.labels()
    records = {r.id: r for r in project.images()}
    paths, classes, hashes, missing = [], [], [], []
    for image_id, class_name in sorted(labels.items()):
        record = records[image_id]
        if not Path(record.path).is_file():
            missing.append(record.path)
            continue
        paths.append(record.path)
        classes.append(class_name)
        hashes.append(record.content_hash)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ProjectError(f"{len(missing)} labelled image file(s) are missing: {shown}; relink the project to the folder they moved to")
    if not paths:
        raise ScoringError(f"{project.path}: no labelled images yet; label a few images of each class first")
    return paths, classes, hashes


def project_backbone(project: Project) -> str:
    """The backbone id recorded with the project's latest model version, or the default backbone."""
    state = project.model_state()
    return state.backbone_id if state is not None and state.backbone_id else DEFAULT_BACKBONE


def adapt_project(
    project: Project,
    *,
    budget_s: float = 20.0,
    coverage: float = DEFAULT_COVERAGE,
    backbone: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> AdaptResult:
    """Fit the model to the project's labels, predict its unlabelled images, then save both.

    ``backbone`` None keeps the backbone of the project's current model (so a meta-trained backbone a
    research team chose stays in use when a clinician re-adapts), else the default one.
    """
    if not backbone:
        backbone = project_backbone(project)
        try:
            load_backbone(backbone)
        except ModelError as exc:  # e.g. the research team's backbone file was moved
            raise ModelError(
                f"{exc}. This project's model was adapted with that backbone; put the file back, or adapt with the "
                f"default one: raresight adapt {project.path} --backbone {DEFAULT_BACKBONE}"
            ) from exc
    paths, classes, hashes = _support(project)

    def stage(low: float, high: float) -> ProgressFn | None:
        return None if progress is None else (lambda f, m: progress(low + (high - low) * f, m))

    clf = PrototypicalClassifier(backbone, adapt="auto", adapt_seconds=budget_s, progress=stage(0.0, 0.6), cancel=cancel)
    clf.fit(paths, classes)
    path_of = dict(zip(hashes, paths, strict=True))
    fingerprint = labels_fingerprint(list(zip(hashes, classes, strict=True)))
    support_paths = [path_of.get(h, "") for h in clf.support_hashes_]
    settings = {"budget_s": budget_s, "labels_fingerprint": fingerprint, "support_paths": support_paths}
    state = to_model_state(clf, settings)
    model = ProjectModel(clf, state, dict(zip(clf.support_hashes_, support_paths, strict=True)))
    labelled = set(project.labels())
    unlabelled = [r for r in project.images() if r.id not in labelled and Path(r.path).is_file()]
    records: list[PredictionRecord] = []
    scored = score_images(model, [r.path for r in unlabelled], coverage=coverage, progress=stage(0.6, 1.0), cancel=cancel)
    ids = {r.path: r.id for r in unlabelled}
    for item in scored:
        if isinstance(item, ScoreRow):
            top = max(item.probabilities, key=item.probabilities.__getitem__)
            records.append(
                PredictionRecord(
                    int(ids[item.path] or 0), item.probabilities, item.prediction_set, item.predicted_class, item.probabilities[top]
                )
            )
    check_cancel(cancel, "adaptation")
    estimate = _accuracy_estimate(clf, records)
    if estimate is not None:
        state.settings["accuracy_estimate"] = estimate.to_dict()
    version = project.save_model_state(state)
    project.add_predictions(version, records)
    return AdaptResult(version, len(records), bool(clf.adapted_), float(clf.adapt_seconds_))


def _accuracy_estimate(clf: PrototypicalClassifier, records: Sequence[PredictionRecord]) -> AccuracyEstimate | None:
    """What the model is expected to get right, from its calibrated probabilities on the unlabelled images."""
    names = [str(c) for c in clf.classes_]
    proba = np.array([[r.probabilities[name] for name in names] for r in records], dtype=np.float64).reshape(-1, len(names))
    return estimate_accuracy(proba, names, float(clf._calibration.extra.get("estimate_sd", 0.0)))


def load_project_model(project: Project, *, allow_stale: bool = False) -> ProjectModel:
    """The project's latest adapted model; an error that says to adapt when there is none or labels changed."""
    state = project.model_state()
    if state is None:
        raise ScoringError(f"{project.path}: no adapted model yet; run 'raresight adapt {project.path}' first")
    if not allow_stale:
        current = [(r.content_hash, project.labels()[r.id]) for r in project.images() if r.id in project.labels()]
        if labels_fingerprint(current) != state.settings.get("labels_fingerprint"):
            raise ScoringError(
                f"{project.path}: labels changed since model version {state.version} was adapted; run 'raresight adapt {project.path}'"
            )
    try:
        classifier = from_model_state(state)
    except ModelError as exc:
        raise ScoringError(f"{project.path}: {exc}") from exc
    support_paths = dict(zip(state.settings["support_hashes"], state.settings.get("support_paths", []), strict=False))
    return ProjectModel(classifier, state, support_paths)


def score_images(
    model: ProjectModel,
    paths: Sequence[str],
    *,
    coverage: float = DEFAULT_COVERAGE,
    batch_size: int = BATCH,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[ScoreRow | ScoreError]:
    """Score ``paths`` in batches, in order: one ScoreRow per readable image, a ScoreError otherwise."""
    clf = model.classifier
    embedder = Embedder(clf.backbone, flip=clf._config.flip, cache=EmbeddingCache())
    for start in range(0, len(paths), batch_size):
        check_cancel(cancel, "scoring")
        batch = list(paths[start : start + batch_size])
        emb = embedder.embed(batch, activations=clf.adapted_, cancel=cancel)
        rows = _score_batch(model, batch, emb, coverage)
        for index, path in enumerate(batch):
            yield rows[index] if index in rows else ScoreError(path, emb.errors.get(index, f"{path}: could not be scored"))
        if progress is not None:
            done = min(start + batch_size, len(paths))
            progress(done / max(len(paths), 1), f"scored {done} of {len(paths)} images")


def _score_batch(model: ProjectModel, batch: list[str], emb: EmbeddingResult, coverage: float) -> dict[int, ScoreRow]:
    """Rows for the readable images of one embedded batch, by position in the batch."""
    readable = [int(i) for i in np.flatnonzero(emb.ok)]
    if not readable:
        return {}
    clf = model.classifier
    good = subset(emb, readable)
    support_hashes = list(model.state.settings["support_hashes"])
    explanations = clf.explain(good, k=1, coverage=coverage)  # one pass gives probabilities, sets and neighbours
    rows = {}
    for position, (index, why) in enumerate(zip(readable, explanations, strict=True)):
        plausible = why.prediction_set or ()
        nearest = {
            name: NearestSupport(
                support_hashes[n[0].support_index], model.support_paths.get(support_hashes[n[0].support_index], ""), n[0].similarity
            )
            for name, n in why.nearest.items()
            if n
        }
        none = not plausible
        rows[index] = ScoreRow(
            path=batch[index],
            content_hash=good.content_hashes[position],
            frame=0,
            predicted_class=None if none else why.prediction,
            probabilities=why.probabilities,
            prediction_set=tuple(plausible),
            none_of_these=none,
            nearest_support=nearest,
            model_version=model.version,
        )
    return rows
