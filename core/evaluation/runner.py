"""Episodic evaluation: embed a dataset once, then run many cheap episodes through the classifier.

report = evaluate(Path("data/rbc"), ways=5, shots=(1, 5), episodes=300, groups="manifest.csv:source_smear")
report.to_dict()   # the JSON of ``raresight eval``
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from core.embedding import (
    DEFAULT_BACKBONE,
    CancelToken,
    Embedder,
    EmbeddingCache,
    EmbeddingResult,
    ProgressFn,
    check_cancel,
    load_backbone,
    subset,
)
from core.embedding.progress import report
from core.evaluation.dataset import FolderDataset, load_folder_dataset
from core.evaluation.episodes import Episode, sample_episodes
from core.evaluation.metrics import auroc, expected_calibration_error, mean_ci95
from core.evaluation.provenance import run_provenance
from core.fewshot import FeatureConfig, PrototypicalClassifier
from core.fewshot.calibration import TaskStatistics, mean_confidence, softmax

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass
class EpisodeRecord:
    """Everything one episode produced; enough to recompute any metric or refit the calibration."""

    shots: int
    ways: int
    logits: FloatArray  # (n_query, ways) minus squared distances
    targets: npt.NDArray[np.int64]  # (n_query,) column index of the true class
    unknown_logits: FloatArray  # (n_unknown, ways)
    temperature: float
    spread: float
    sets: list[list[str]]
    class_names: list[str]
    adapt_seconds: float
    infer_seconds: float
    adaptation_ratio: float = 1.0
    support_scale: float = 0.0  # of the frozen support embedding
    stats: TaskStatistics | None = None  # the support set's statistics the temperature follows
    support_loo: FloatArray | None = None  # (n_support, ways) frozen leave-one-out logits, NaN rows for singletons
    support_targets: npt.NDArray[np.int64] | None = None  # (n_support,) column of each support example's class
    novelty: FloatArray | None = None  # (n_query,) as the classifier judges "none of these"; None: -max logit / spread
    unknown_novelty: FloatArray | None = None  # (n_unknown,)

    def query_novelty(self) -> FloatArray:
        return self.novelty if self.novelty is not None else np.asarray(-self.logits.max(axis=1) / self.spread)

    def unknown_query_novelty(self) -> FloatArray:
        if self.unknown_novelty is not None:
            return self.unknown_novelty
        return np.asarray(-self.unknown_logits.max(axis=1) / self.spread)


@dataclass
class ShotResult:
    ways: int
    shots: int
    episodes: int
    accuracy: float
    accuracy_ci95: float
    ece: float
    ece_uncalibrated: float
    set_coverage: float
    set_size: float
    open_set_auroc: float
    adapt_seconds: float
    infer_seconds_per_image: float
    # the app's accuracy estimate (mean calibrated confidence over the episode's unlabelled queries), averaged
    # over episodes, and its mean absolute and signed error against each episode's true query accuracy
    estimated_accuracy: float = float("nan")
    estimate_abs_error: float = float("nan")
    estimate_signed_error: float = float("nan")
    # per episode, in episode order: two runs with the same seed can be compared pairwise
    episode_accuracy: list[float] = field(default_factory=list)


@dataclass
class EvalReport:
    dataset: str
    backbone: str
    adapt: str
    results: list[ShotResult] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)  # see core.evaluation.provenance

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON values: a metric that could not be measured (NaN) is None."""
        results = [asdict(r) for r in self.results]
        out: dict[str, Any] = _finite_or_none(
            {"dataset": self.dataset, "backbone": self.backbone, "adapt": self.adapt, "results": results, "provenance": self.provenance}
        )
        return out


def _finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinity, however deeply nested, replaced by None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def embed_dataset(
    ds: FolderDataset, backbone: str, activations: bool, progress: ProgressFn | None = None, cancel: CancelToken | None = None
) -> tuple[EmbeddingResult, float]:
    """All images of ``ds`` (cached on disk) and the measured seconds per image of a fresh embedding."""
    embedder = Embedder(backbone, flip=FeatureConfig().flip, cache=EmbeddingCache())
    emb = embedder.embed(ds.files, activations=activations and embedder.backbone.adaptable, progress=progress, cancel=cancel)
    for message in emb.errors.values():
        log.warning("skipped, unreadable: %s", message)
    # per-image embedding cost, measured without the cache on a few images
    probe = [f for i, f in enumerate(ds.files[:16]) if i not in emb.errors]
    start = time.perf_counter()
    Embedder(backbone, flip=embedder.flip, cache=None).embed(probe)
    return emb, (time.perf_counter() - start) / max(len(probe), 1)


def run_episode(clf: PrototypicalClassifier, emb: EmbeddingResult, ds: FolderDataset, ep: Episode, coverage: float) -> EpisodeRecord:
    names = [ds.classes[c] for c in ep.support_labels]
    clf.fit(subset(emb, ep.support), names)
    start = time.perf_counter()
    _, logits, novelty = clf._scores(subset(emb, ep.query))
    sets = clf._sets(logits, novelty, coverage, allow_none=True)
    infer = (time.perf_counter() - start) / max(len(ep.query), 1)
    unknown, unknown_novelty = np.zeros((0, len(clf.classes_))), np.zeros(0)
    if len(ep.unknown):
        _, unknown, unknown_novelty = clf._scores(subset(emb, ep.unknown))
    column = {name: j for j, name in enumerate(clf.classes_)}
    targets = np.array([column[ds.classes[c]] for c in ep.query_labels], dtype=np.int64)
    return EpisodeRecord(
        shots=int(clf.shots_.min()),
        ways=len(clf.classes_),
        logits=logits,
        targets=targets,
        unknown_logits=unknown,
        temperature=clf.temperature_,
        spread=clf._spread,
        sets=sets,
        class_names=[str(c) for c in clf.classes_],
        adapt_seconds=clf.adapt_seconds_,
        infer_seconds=infer,
        adaptation_ratio=clf.adaptation_ratio_,
        support_scale=clf.support_scale_,
        stats=clf.task_stats_,
        support_loo=clf.frozen_loo_,
        support_targets=clf.support_labels_,
        novelty=novelty,
        unknown_novelty=unknown_novelty,
    )


def summarise(records: Sequence[EpisodeRecord], ways: int, shots: int, embed_seconds: float) -> ShotResult:
    accs: list[float] = []
    aurocs: list[float] = []
    conf: list[FloatArray] = []
    conf_raw: list[FloatArray] = []
    ok: list[npt.NDArray[np.bool_]] = []
    covered: list[bool] = []
    sizes: list[int] = []
    estimates: list[float] = []
    for r in records:
        proba = softmax(r.logits / r.temperature)
        pred = proba.argmax(1)
        accs.append(float((pred == r.targets).mean()))
        estimates.append(mean_confidence(proba))
        conf.append(proba.max(1))
        conf_raw.append(softmax(r.logits).max(1))
        ok.append(pred == r.targets)
        truth = [r.class_names[t] for t in r.targets]
        covered += [t in s for t, s in zip(truth, r.sets, strict=True)]
        sizes += [len(s) for s in r.sets]
        if len(r.unknown_logits):
            aurocs.append(auroc(r.query_novelty(), r.unknown_query_novelty()))
    acc, ci = mean_ci95(accs)
    conf_all, ok_all = np.concatenate(conf), np.concatenate(ok)
    errors = np.array(estimates) - np.array(accs)
    return ShotResult(
        ways=ways,
        shots=shots,
        episodes=len(records),
        accuracy=acc,
        accuracy_ci95=ci,
        ece=expected_calibration_error(conf_all, ok_all),
        ece_uncalibrated=expected_calibration_error(np.concatenate(conf_raw), ok_all),
        set_coverage=float(np.mean(covered)),
        set_size=float(np.mean(sizes)),
        open_set_auroc=float(np.nanmean(aurocs)) if aurocs else float("nan"),
        adapt_seconds=float(np.mean([r.adapt_seconds for r in records])),
        infer_seconds_per_image=embed_seconds + float(np.mean([r.infer_seconds for r in records])),
        estimated_accuracy=float(np.mean(estimates)),
        estimate_abs_error=float(np.abs(errors).mean()),
        estimate_signed_error=float(errors.mean()),
        episode_accuracy=[round(a, 4) for a in accs],
    )


def evaluate(
    dataset_dir: Path,
    *,
    ways: int = 5,
    shots: Sequence[int] = (1, 5),
    queries: int = 15,
    episodes: int = 300,
    seed: int = 0,
    backbone: str = DEFAULT_BACKBONE,
    adapt: Literal["auto", "none", "always"] = "auto",
    groups: str | None = None,
    coverage: float = 0.9,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    keep_records: list[EpisodeRecord] | None = None,
) -> EvalReport:
    """Episodic evaluation of :class:`PrototypicalClassifier` on a folder-per-class dataset."""
    ds = load_folder_dataset(dataset_dir, groups)
    adaptable = adapt != "none" and load_backbone(backbone).adaptable
    emb, embed_seconds = embed_dataset(ds, backbone, adaptable, lambda f, m: report(progress, 0.2 * f, m), cancel)
    usable = emb.ok & ~_in_several_classes(emb, ds)
    readable = np.flatnonzero(usable)
    prov = run_provenance(
        dataset_dir,
        seed=seed,
        queries=queries,
        ways=ways,
        shots=shots,
        episodes=episodes,
        groups=groups,
        coverage=coverage,
        backbone=backbone,
        adapt=adapt,
    )
    out = EvalReport(dataset=str(dataset_dir), backbone=backbone, adapt=adapt, provenance=prov)
    total = len(shots) * episodes
    for si, k in enumerate(shots):
        eff_ways, eps = sample_episodes(ds.labels[readable], ds.groups[readable], ways, k, queries, episodes, seed)
        eps = [_remap(ep, readable) for ep in eps]
        records = []
        for i, ep in enumerate(eps):
            check_cancel(cancel, "evaluation")
            clf = PrototypicalClassifier(backbone, adapt=adapt, random_state=seed * 100003 + i)
            records.append(run_episode(clf, emb, ds, ep, coverage))
            report(progress, 0.2 + 0.8 * (si * episodes + i + 1) / total, f"{k}-shot episode {i + 1} of {episodes}")
        out.results.append(summarise(records, eff_ways, k, embed_seconds))
        if keep_records is not None:
            keep_records += records
    return out


def _in_several_classes(emb: EmbeddingResult, ds: FolderDataset) -> npt.NDArray[np.bool_]:
    """Images whose exact content sits in two or more class folders: left out, with a warning."""
    classes_of: dict[str, set[int]] = {}
    for h, label in zip(emb.content_hashes, ds.labels, strict=True):
        if h:
            classes_of.setdefault(h, set()).add(int(label))
    bad = np.array([bool(h) and len(classes_of[h]) > 1 for h in emb.content_hashes], dtype=bool)
    for i in np.flatnonzero(bad):
        log.warning("left out: %s is also in another class folder", ds.files[i])
    return bad


def _remap(ep: Episode, readable: npt.NDArray[np.int64]) -> Episode:
    return Episode(
        classes=ep.classes,
        support=readable[ep.support],
        support_labels=ep.support_labels,
        query=readable[ep.query],
        query_labels=ep.query_labels,
        unknown=readable[ep.unknown],
        unknown_class=ep.unknown_class,
    )
