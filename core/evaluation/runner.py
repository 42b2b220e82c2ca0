"""Episodic evaluation: embed a dataset once, then run many cheap episodes through the classifier.

report = evaluate(Path("data/rbc"), ways=5, shots=(1, 5), episodes=300, groups="manifest.csv:source_smear")
report.to_dict()   # the JSON of ``raresight eval``
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
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
from core.errors import ProjectError
from core.evaluation.dataset import FolderDataset, load_folder_dataset
from core.evaluation.episodes import Episode, ineligibility, sample_episodes, sample_pools
from core.evaluation.metrics import auroc, expected_calibration_error, mean_ci95
from core.evaluation.provenance import run_provenance
from core.fewshot import FeatureConfig, PrototypicalClassifier
from core.fewshot.calibration import TaskStatistics, mean_confidence, softmax
from core.fewshot.classifier import DEFAULT_POOL_METHOD

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
EpisodeProgressFn = Callable[[int, int, str], None]  # (episodes done over all shot counts, their total, message)

POOL_DRAW = "Dirichlet(1) class proportions over every class; no support image, query, or image of a support group"
EMBED_SHARE = 0.2  # of the progress fraction: embedding the dataset, before the episodes


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
    # class -> why it was left out of these episodes (too few usable images or groups for this shot count)
    dropped_classes: dict[str, str] = field(default_factory=dict)
    # metric -> why it is NaN; the JSON has null there and this as "<metric>_reason"
    not_measured: dict[str, str] = field(default_factory=dict)
    # with --unlabelled N: the same episodes with a pool of N unlabelled images each, and the paired gain
    pool: PoolResult | None = None


@dataclass
class PoolResult:
    """The shot count's episodes again, each with its pool of unlabelled images (labels never read)."""

    unlabelled: int  # pool images drawn per episode
    method: str
    images_used: float  # per episode, mean
    gain: float  # paired accuracy gain over the same episodes without the pool
    gain_ci95: float
    result: ShotResult


@dataclass
class EvalReport:
    dataset: str
    backbone: str
    adapt: str
    results: list[ShotResult] = field(default_factory=list)  # finished shot counts only
    provenance: dict[str, Any] = field(default_factory=dict)  # see core.evaluation.provenance
    interrupted: bool = False
    partial_result: ShotResult | None = None  # the shot count an interrupt stopped, over its finished episodes

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON values: a metric that could not be measured (NaN) is None, with ``<metric>_reason`` after it."""
        return {
            "dataset": self.dataset,
            "backbone": self.backbone,
            "adapt": self.adapt,
            "interrupted": self.interrupted,
            "finished_shots": [r.shots for r in self.results],
            "results": [_result_dict(r) for r in self.results],
            "partial_result": None if self.partial_result is None else _result_dict(self.partial_result),
            "provenance": _finite_or_none(self.provenance),
        }


class EvaluationInterrupted(KeyboardInterrupt):
    """Ctrl-C during the episodes; ``report`` holds the finished shot counts and the stopped one as partial."""

    def __init__(self, report: EvalReport) -> None:
        super().__init__("evaluation interrupted")
        self.report = report


def _result_dict(result: ShotResult) -> dict[str, Any]:
    fields: dict[str, Any] = _finite_or_none(asdict(result))
    fields.pop("pool")  # today's keys only without a pool; with one, its own block below
    reasons = fields.pop("not_measured")
    out: dict[str, Any] = {}
    for key, value in fields.items():
        out[key] = value
        if value is None:
            out[f"{key}_reason"] = reasons.get(key, "could not be measured on these episodes")
    if result.pool is not None:
        p = result.pool
        block = {"unlabelled": p.unlabelled, "method": p.method, "images_used": p.images_used, "gain": p.gain, "gain_ci95": p.gain_ci95}
        out["with_pool"] = _finite_or_none(block) | _result_dict(p.result)
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


def run_episode(
    clf: PrototypicalClassifier, emb: EmbeddingResult, ds: FolderDataset, ep: Episode, coverage: float, pool: IntArray | None = None
) -> EpisodeRecord:
    """Fit ``clf`` on the episode's support set (and the unlabelled images ``pool``, indices into ``emb``; their
    labels are never read) and score its queries."""
    names = [ds.classes[c] for c in ep.support_labels]
    clf.fit(subset(emb, ep.support), names, unlabelled=None if pool is None else subset(emb, pool))
    return score_episode(clf, emb, ds, ep, coverage)


def score_episode(clf: PrototypicalClassifier, emb: EmbeddingResult, ds: FolderDataset, ep: Episode, coverage: float) -> EpisodeRecord:
    """The episode's record of the fitted ``clf``."""
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
    not_measured: dict[str, str] = {}
    if not aurocs:
        not_measured["open_set_auroc"] = "no class left out of the episodes to serve as unknown (ways == classes usable at this shot count)"
    if len(records) < 2:
        not_measured["accuracy_ci95"] = "one episode: an interval needs two or more"
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
        not_measured=not_measured,
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
    episode_progress: EpisodeProgressFn | None = None,
    unlabelled: int = 0,
    pool_method: str | None = None,
) -> EvalReport:
    """Episodic evaluation of :class:`PrototypicalClassifier` on a folder-per-class dataset.

    progress: fraction of the whole run (embedding is the first ``EMBED_SHARE``); episode_progress:
    called with (episodes done, episodes in all, message) before the first episode and after each.
    Ctrl-C during the episodes raises :class:`EvaluationInterrupted` carrying the finished results.
    unlabelled: pool size; each episode is also run with a pool of that many unlabelled images
    (:func:`sample_pools`), used by ``pool_method`` (None: the classifier's default); 0: no pool.
    """
    ds = load_folder_dataset(dataset_dir, groups)
    adaptable = load_backbone(backbone).adaptable and adapt != "none"  # an unknown backbone is the first error
    _dropped_classes(ds, None, shots, groups is not None)  # raises before the long embedding: fail fast
    emb, embed_seconds = embed_dataset(ds, backbone, adaptable, lambda f, m: report(progress, EMBED_SHARE * f, m), cancel)
    usable = emb.ok & ~_in_several_classes(emb, ds)
    readable = np.flatnonzero(usable)
    dropped = _dropped_classes(ds, readable, shots, groups is not None)
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
    method = pool_method or DEFAULT_POOL_METHOD
    if unlabelled > 0:  # absent otherwise: a run without a pool pins down what it did before pools existed
        prov |= {"unlabelled": unlabelled, "pool_method": method, "pool_draw": POOL_DRAW}
    out = EvalReport(dataset=str(dataset_dir), backbone=backbone, adapt=adapt, provenance=prov)
    total = len(shots) * episodes
    if episode_progress is not None:
        episode_progress(0, total, "episodes")
    records: list[EpisodeRecord] = []  # of the shot count running now
    pooled: list[tuple[EpisodeRecord, int]] = []  # the same episodes with their pools, and the pool images used
    eff_ways, si, k = ways, 0, shots[0]
    try:
        for si, k in enumerate(shots):
            eff_ways, eps = sample_episodes(ds.labels[readable], ds.groups[readable], ways, k, queries, episodes, seed)
            pools = sample_pools(ds.labels[readable], ds.groups[readable], eps, unlabelled, seed) if unlabelled > 0 else []
            for i, ep in enumerate(eps):
                check_cancel(cancel, "evaluation")
                episode = _remap(ep, readable)
                clf = PrototypicalClassifier(backbone, adapt=adapt, random_state=seed * 100003 + i)
                records.append(run_episode(clf, emb, ds, episode, coverage))
                if pools:
                    clf = PrototypicalClassifier(backbone, adapt=adapt, pool_method=method, random_state=seed * 100003 + i)
                    pooled.append((run_episode(clf, emb, ds, episode, coverage, readable[pools[i]]), clf.pool_used_["images"]))
                done, message = si * episodes + i + 1, f"{k}-shot episode {i + 1} of {episodes}"
                report(progress, EMBED_SHARE + (1 - EMBED_SHARE) * done / total, message)
                if episode_progress is not None:
                    episode_progress(done, total, message)
            out.results.append(_summary(records, eff_ways, k, embed_seconds, dropped[k], pooled, unlabelled, method))
            if keep_records is not None:
                keep_records += records
            records, pooled = [], []
    except KeyboardInterrupt as exc:
        if records and len(out.results) == si:  # shot count si has episodes but no summary yet
            summary = _summary(records[: len(pooled) or len(records)], eff_ways, k, embed_seconds, dropped[k], pooled, unlabelled, method)
            _keep_unsummarised(out, summary, episodes)
        out.interrupted = True
        raise EvaluationInterrupted(out) from exc
    return out


def _keep_unsummarised(out: EvalReport, summary: ShotResult, episodes: int) -> None:
    """The shot count an interrupt stopped: partial, or finished when only its summary was missing."""
    if summary.episodes == episodes:
        out.results.append(summary)
    else:
        out.partial_result = summary


def _summary(
    records: Sequence[EpisodeRecord],
    ways: int,
    shots: int,
    embed_seconds: float,
    dropped: dict[str, str],
    pooled: Sequence[tuple[EpisodeRecord, int]] = (),
    unlabelled: int = 0,
    method: str = "none",
) -> ShotResult:
    result = summarise(records, ways, shots, embed_seconds)
    result.dropped_classes = dict(dropped)
    if pooled:
        with_pool = summarise([r for r, _ in pooled], ways, shots, embed_seconds)
        with_pool.dropped_classes = dict(dropped)
        gain, gain_ci = mean_ci95(np.array(with_pool.episode_accuracy) - np.array(result.episode_accuracy))
        used = float(np.mean([n for _, n in pooled]))
        result.pool = PoolResult(unlabelled, method, used, gain, gain_ci, with_pool)
    return result


def _dropped_classes(
    ds: FolderDataset, usable: npt.NDArray[np.int64] | None, shots: Sequence[int], grouped: bool
) -> dict[int, dict[str, str]]:
    """Per shot count, each class left out and why; ProjectError, naming them, when fewer than two remain.

    usable: indices of the images that can be used (None: all, before anything was read).
    """
    idx = np.arange(len(ds)) if usable is None else usable
    out: dict[int, dict[str, str]] = {}
    for k in shots:
        why = ineligibility(ds.labels[idx], ds.groups[idx], k, len(ds.classes), grouped)
        dropped = {ds.classes[c]: reason for c, reason in why.items()}
        dropped |= {name: "no image file in the folder" for name in ds.empty_classes}
        if len(ds.classes) - len(why) < 2:
            named = "; ".join(f"{name!r}: {reason}" for name, reason in dropped.items())
            raise ProjectError(
                f"only {len(ds.classes) - len(why)} class(es) can fill {k}-shot episodes; need two or more"
                + (f". Left out: {named}" if named else f" (the dataset has {len(ds.classes)} class folder(s) with images)")
            )
        out[k] = dropped
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
