"""The one scoring path both front-ends call: adapt a project's model, score images with it.

    result = adapt_project(project, budget_s=20, progress=..., cancel=...)   # GUI "Adapt", `raresight adapt`
    model = load_project_model(project)                                       # the latest adapted model
    for item in score_images(model, paths, coverage=0.9): ...                 # ScoreRow or ScoreError

Nothing is written to the project until adaptation and the predictions for its unlabelled images
are complete, so a cancelled or failed adaptation leaves the project exactly as it was. Images whose
files are gone are read from the copies embedded in the project (``project add --embed``). The model
also learns from the project's unlabelled images (their images, never a label; core/scoring/pool.py)
unless ``use_unlabelled=False``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.defaults import DEFAULT_COVERAGE as DEFAULT_COVERAGE
from core.embedding import DEFAULT_BACKBONE, CancelToken, Embedder, EmbeddingCache, ProgressFn, check_cancel, load_backbone
from core.embedding.embedder import EmbeddingResult, subset
from core.errors import ModelError, ProjectError, RareSightError
from core.fewshot import PrototypicalClassifier
from core.fewshot.classifier import DEFAULT_POOL_METHOD
from core.fewshot.persistence import from_model_state, to_model_state
from core.fewshot.quality import AccuracyEstimate, estimate_accuracy
from core.privacy.paths import path_for_display
from core.scoring.embedded import readable_path
from core.scoring.frames import default_frame
from core.scoring.output import OutputError
from core.scoring.pool import choose_pool, embed_pool, pool_paths, unlabelled_records
from core.scoring.records import NearestSupport, ScoreError, ScoreRow
from core.store import ImageRecord, Project
from core.store.images import file_sha256
from core.store.meta import is_synthetic
from core.store.records import AuditHead, ModelState, PredictionRecord

log = logging.getLogger(__name__)

BATCH = 32


class ScoringError(RareSightError):
    """The project has no usable model for scoring; the message says what to run."""


@dataclass(frozen=True)
class ProjectModel:
    """A project's adapted model, restored: what the GUI and ``raresight score`` both predict with.

    ``support_copies``: embedded copies of the support examples whose files are gone (content hash ->
    file bytes), for reports; ``synthetic_images``: the project holds the demo's synthetic images;
    ``audit_head``: the project's audit log head when the model was loaded, printed in reports and
    exports so a later rewrite of the log can be told from the printed copy (None: not read).
    """

    classifier: PrototypicalClassifier
    state: ModelState
    support_paths: dict[str, str]  # support content hash -> path, for explanations
    support_copies: Mapping[str, bytes] = field(default_factory=dict)
    synthetic_images: bool = False
    audit_head: AuditHead | None = None

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
    pool_used: dict[str, Any] = field(default_factory=dict)  # {"images": n, "method": name}: what it learned from unlabelled images


def labels_fingerprint(pairs: Sequence[tuple[str, str]]) -> str:
    """Identifies a support set: the sorted (image content hash, class) pairs."""
    return hashlib.sha256(json.dumps(sorted(pairs)).encode()).hexdigest()


def _support(
    project: Project, records: Mapping[int, ImageRecord], labels: Mapping[int, str], copies: Path
) -> tuple[list[str], list[str], list[str], dict[str, str]]:
    """Readable paths (embedded copies under ``copies`` for missing files), classes and content hashes
    of the labelled images, and {copy's content hash: image's} for de-identified copies, whose bytes
    differ from the file's; a missing file without an embedded copy is an error."""
    paths, classes, hashes, missing = [], [], [], []
    aliases: dict[str, str] = {}
    for image_id, class_name in sorted(labels.items()):
        record = records[image_id]
        path = readable_path(project, record, copies)
        if path is None:
            missing.append(path_for_display(record.path))
            continue
        if path != record.path:
            aliases[file_sha256(Path(path))] = record.content_hash
        paths.append(path)
        classes.append(class_name)
        hashes.append(record.content_hash)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ProjectError(
            f"{len(missing)} labelled image file(s) are missing and have no copy in the project: {shown}; "
            f"relink the project to the folder they moved to (raresight project relink {project.path} FOLDER)"
        )
    if not paths:
        raise ScoringError(f"{project.path}: no labelled images yet; label a few images of each class first")
    return paths, classes, hashes, aliases


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
    use_unlabelled: bool = True,
    pool_method: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> AdaptResult:
    """Fit the model to the project's labels, predict its unlabelled images, then save both.

    ``backbone`` None keeps the backbone of the project's current model (so a meta-trained backbone a
    research team chose stays in use when a clinician re-adapts), else the default one.
    ``use_unlabelled``: the classifier also learns from up to ``POOL_CAP`` of the project's
    unlabelled images (their images only; core/scoring/pool.py) with ``pool_method`` (None: the
    classifier's measured default; names in ``core.fewshot.transductive.POOL_METHODS``); False fits
    on the labels alone, as before the pool existed.
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
    images = {int(r.id or 0): r for r in project.images()}

    def stage(low: float, high: float) -> ProgressFn | None:
        return None if progress is None else (lambda f, m: progress(low + (high - low) * f, m))

    labels = project.labels()
    unlabelled = unlabelled_records(images.values(), set(labels))
    with tempfile.TemporaryDirectory(prefix="raresight-copies-") as copies:
        paths, classes, hashes, aliases = _support(project, images, labels, Path(copies))
        method = (pool_method or DEFAULT_POOL_METHOD) if use_unlabelled else "none"
        # the pool's share of the progress bar: embedding it costs about what predicting costs
        fit_from = 0.3 if method != "none" and unlabelled else 0.0
        clf = PrototypicalClassifier(
            backbone, adapt="auto", adapt_seconds=budget_s, pool_method=method, progress=stage(fit_from, 0.6), cancel=cancel
        )
        pool = None
        if fit_from:
            pool_files = pool_paths(project, choose_pool(unlabelled), Path(copies))
            to_bar = stage(0.0, fit_from)
            pool = embed_pool(
                pool_files, backbone, progress=None if to_bar is None else lambda f, m: to_bar(f, f"unlabelled images: {m}"), cancel=cancel
            )
        clf.fit(paths, classes, unlabelled=pool)
        # support examples are the project's images: a de-identified copy goes by its image's hash, and
        # every example by its hash, not its file name (which would stay in the settings and the audit)
        clf.support_hashes_ = [aliases.get(h, h) for h in clf.support_hashes_]
        clf.support_names_ = list(clf.support_hashes_)
        fingerprint = labels_fingerprint(list(zip(hashes, classes, strict=True)))
        # settings name support examples by content hash only (paths often name the patient)
        state = to_model_state(clf, {"budget_s": budget_s, "labels_fingerprint": fingerprint})
        path_of = {r.content_hash: r.path for r in images.values()}  # explanations name the project's files
        model = ProjectModel(clf, state, {h: path_of.get(h, "") for h in clf.support_hashes_})
        records = _predict(project, model, unlabelled, Path(copies), coverage, stage(0.6, 1.0), cancel)
    check_cancel(cancel, "adaptation")
    estimate = _accuracy_estimate(clf, records)
    if estimate is not None:
        state.settings["accuracy_estimate"] = estimate.to_dict()
    version = project.save_model_state(state)
    project.add_predictions(version, records)
    return AdaptResult(version, len(records), bool(clf.adapted_), float(clf.adapt_seconds_), dict(clf.pool_used_))


def _predict(
    project: Project,
    model: ProjectModel,
    unlabelled: Sequence[ImageRecord],
    copies: Path,
    coverage: float,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> list[PredictionRecord]:
    """Predictions for the unlabelled images that can be read (their file, else their embedded copy)."""
    ids: dict[str, int] = {}
    for record in unlabelled:
        path = readable_path(project, record, copies)
        if path is not None:
            ids[path] = int(record.id or 0)
    records: list[PredictionRecord] = []
    for item in score_images(model, list(ids), coverage=coverage, progress=progress, cancel=cancel):
        if isinstance(item, ScoreRow):
            top = max(item.probabilities, key=item.probabilities.__getitem__)
            confidence = item.probabilities[top]
            records.append(PredictionRecord(ids[item.path], item.probabilities, item.prediction_set, item.predicted_class, confidence))
    return records


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
    images = project.images()
    if not allow_stale:
        labels = project.labels()
        current = [(r.content_hash, labels[r.id]) for r in images if r.id in labels]
        if labels_fingerprint(current) != state.settings.get("labels_fingerprint"):
            raise ScoringError(
                f"{project.path}: labels changed since model version {state.version} was adapted; run 'raresight adapt {project.path}'"
            )
    try:
        classifier = from_model_state(state)
    except ModelError as exc:
        raise ScoringError(f"{project.path}: {exc}") from exc
    hashes = list(state.settings["support_hashes"])
    old_paths = list(state.settings.get("support_paths", []))  # models saved before settings held hashes only
    stored = {h: old_paths[i] if i < len(old_paths) else "" for i, h in enumerate(hashes)}
    by_hash = {r.content_hash: r for r in images}
    support_paths, copies = _support_files(project, stored, by_hash)
    return ProjectModel(classifier, state, support_paths, copies, is_synthetic(project), project.audit_head())


def _support_files(
    project: Project, stored: Mapping[str, str], by_hash: Mapping[str, ImageRecord]
) -> tuple[dict[str, str], dict[str, bytes]]:
    """Where each support example is now (relinked files included), and the embedded copies of those gone."""
    paths: dict[str, str] = {}
    copies: dict[str, bytes] = {}
    for content_hash, path in stored.items():
        record = by_hash.get(content_hash)
        paths[content_hash] = record.path if record is not None else path
        if record is not None and record.id is not None and not Path(record.path).is_file():
            try:
                copies[content_hash] = project.image_bytes(record.id)
            except ProjectError:
                log.info("support example %s: its file is missing and the project holds no copy", content_hash[:12])
    return paths, copies


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
            frame=default_frame(batch[index]),
            predicted_class=None if none else why.prediction,
            probabilities=why.probabilities,
            prediction_set=tuple(plausible),
            none_of_these=none,
            nearest_support=nearest,
            model_version=model.version,
        )
    return rows


AUDIT_HEAD_KEY = "raresight_audit_head"  # the Parquet schema metadata key an output's audit head is under


def audit_head_dict(head: AuditHead) -> dict[str, int | str]:
    """{"row": id, "hash": hex}: the audit head as ``project info --json`` and Parquet outputs hold it."""
    return {"row": head.row_id, "hash": head.hash}


def stamp_audit_head(output: Path, head: AuditHead | None) -> bool:
    """Record ``head`` in a Parquet output's schema metadata under :data:`AUDIT_HEAD_KEY`; True if done.

    CSV and JSON Lines outputs have no metadata slot (their rows stay as they are): the caller prints
    the head instead. The file is copied row group by row group into ``FILE.tmp``, which replaces it
    whole, so a crash leaves the complete unstamped file (the next run stamps it).
    """
    if head is None or output.suffix.lower() != ".parquet":
        return False
    import pyarrow as pa
    import pyarrow.parquet as pq

    temporary = output.with_name(output.name + ".tmp")
    try:
        with pq.ParquetFile(output) as source:
            stamp = {AUDIT_HEAD_KEY.encode(): json.dumps(audit_head_dict(head)).encode()}
            schema = source.schema_arrow.with_metadata({**(source.schema_arrow.metadata or {}), **stamp})
            with pq.ParquetWriter(temporary, schema) as writer:
                for index in range(source.num_row_groups):
                    writer.write_table(source.read_row_group(index).replace_schema_metadata(schema.metadata))
        with temporary.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, output)
    except (OSError, pa.ArrowException) as exc:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"{output}: the audit head could not be recorded in it ({exc}); its rows are complete") from exc
    return True
