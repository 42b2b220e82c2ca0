"""Prototypical few-shot classifier with the estimator shape of STYLE.md.

    clf = PrototypicalClassifier().fit(support_images, ["sickle", "normal", ...])
    clf.predict_proba(queries)           # (n_query, n_classes), columns follow clf.classes_
    clf.predict_set(queries, 0.9)        # plausible classes per query; [] means "none of these"
    clf.explain(queries)                 # nearest support examples per class, with similarity
    clf.support_accuracy()               # leave-one-out accuracy per class, with a 95 % interval

Images go in as paths or :class:`MedicalImage`, or already embedded as an
:class:`EmbeddingResult` (what evaluation does, so hundreds of episodes share one embedding pass).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from core.embedding import DEFAULT_BACKBONE, CancelToken, Embedder, EmbeddingCache, EmbeddingResult, ImageLike, ProgressFn, load_backbone
from core.errors import NotFittedError
from core.fewshot import adaptation
from core.fewshot.calibration import TaskStatistics, load_calibration, prediction_sets, softmax, support_scale, wilson_interval
from core.fewshot.features import FeatureConfig, l2, transform
from core.fewshot.transductive import (
    POOL_METHODS,
    REFINING_METHODS,
    PoolSettings,
    centres_on_pool,
    confident,
    neg_sq_dist,
    refine_prototypes,
)
from core.fewshot.validation import check_duplicates, check_empty_classes, check_labels, drop_unreadable

log = logging.getLogger(__name__)

Images = Sequence[ImageLike] | EmbeddingResult
# chosen leave-one-domain-out (bench/results/lodo-pool.json): centring on the pool gained +0.1 to +2.3 points on
# every domain; prototype refinement (soft k-means, BD-CSPN) gained nothing more, and lost up to 5 points
# where it let pool images of unlabelled classes pull the prototypes
DEFAULT_POOL_METHOD = "centre"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Neighbour:
    support_index: int
    name: str
    similarity: float  # cosine similarity in the task's embedding, -1 .. 1


@dataclass(frozen=True)
class Explanation:
    """Why one query got its prediction: per class, the nearest support examples."""

    prediction: str
    probabilities: dict[str, float]
    nearest: dict[str, list[Neighbour]]
    novelty: float  # > 1: further from every class than its own examples usually are
    prediction_set: tuple[str, ...] | None = None  # at the coverage asked for; () means "none of these"


@dataclass(frozen=True)
class ClassAccuracy:
    """Leave-one-out accuracy of one class of the support set (None when it has one example)."""

    label: str
    n: int
    correct: int
    accuracy: float | None
    ci95: tuple[float, float]


class PrototypicalClassifier:
    """Nearest-prototype classifier on a frozen (optionally adapted) backbone embedding.

    Parameters
    ----------
    backbone: registry name of the backbone.
    adapt: "none", "always", or "auto" (decide from the support set: enough shots per class).
    adapt_seconds: time budget of adaptation, seconds.
    features: which pooled backbone features to use; defaults measured on the dev sets.
    temperature: None for the meta-fitted calibration, or a fixed softmax temperature.
    pool_method: how ``fit(..., unlabelled=...)`` uses a pool of unlabelled images (``POOL_METHODS``);
        "none" ignores it. pool_settings: that method's settings (None: the measured defaults).
    progress, cancel: for the long parts (embedding, adaptation).
    """

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        *,
        adapt: Literal["auto", "none", "always"] = "auto",
        adapt_seconds: float = 20.0,
        features: FeatureConfig | None = None,
        temperature: float | None = None,
        pool_method: str = DEFAULT_POOL_METHOD,
        pool_settings: PoolSettings | None = None,
        cache: bool = True,
        random_state: int = 0,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.backbone = backbone
        self.adapt = adapt
        self.adapt_seconds = adapt_seconds
        self.features = features
        self.temperature = temperature
        self.pool_method = pool_method
        self.pool_settings = pool_settings
        self.cache = cache
        self.random_state = random_state
        self.progress = progress
        self.cancel = cancel

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Images, y: Sequence[Any], unlabelled: Images | None = None) -> PrototypicalClassifier:
        """Learn prototypes from support images ``X`` with class labels ``y`` (any hashable, kept as strings).

        unlabelled: the project's unlabelled images (a pool, never with labels); ``pool_method`` refines the
        prototypes with them. None or empty: the support set alone.
        """
        if self.pool_method not in POOL_METHODS:
            raise ValueError(f"unknown pool_method {self.pool_method!r}; choose one of {', '.join(POOL_METHODS)}")
        labels = check_labels(len(X), list(y))
        self._config = self.features or FeatureConfig()
        self._calibration = load_calibration(self.backbone)
        emb = self._embed(X, need_activations=self.adapt != "none")
        keep, labels = drop_unreadable(emb, labels)
        from core.embedding import subset

        emb = subset(emb, keep)
        check_duplicates(emb, labels)
        self.classes_ = np.array(sorted(set(labels)), dtype=object)
        codes = np.searchsorted(self.classes_.astype(str), np.array(labels, dtype=str)).astype(np.int64)
        self.support_labels_ = codes
        self.support_names_ = list(emb.names)
        self.support_hashes_ = list(emb.content_hashes)  # content SHA-256 of each kept support example
        self.shots_ = np.bincount(codes, minlength=len(self.classes_))
        self._upper: Any = None
        self.adapted_ = False
        self.adapt_seconds_ = 0.0
        self.adaptation_ratio_ = 1.0
        frozen = transform(emb.raw, self._backbone().layout, self._config)
        self.support_scale_ = support_scale(frozen)
        # the support set's own evidence on how hard its task is: each example predicted from the others,
        # in the frozen embedding (the adapted one was trained on these very examples)
        frozen_unit = l2(frozen - frozen.mean(axis=0, keepdims=True))
        self.frozen_loo_ = leave_one_out_logits(frozen_unit, codes, len(self.classes_))
        # "none of these" is judged in the frozen embedding even after adaptation: adaptation draws the
        # support set tight around itself, so distances there do not compare across tasks (novelty cuts
        # fitted on adapted development episodes ranged 2.2-6.9 between domains; frozen 0.9-1.5)
        self._frozen_mean: npt.NDArray[np.float32] | None = frozen.mean(axis=0, keepdims=True)
        self.frozen_prototypes_ = np.stack([frozen_unit[codes == k].mean(axis=0) for k in range(len(self.classes_))])
        self._novelty_spread = _spread_of(self.frozen_loo_, codes, self.frozen_prototypes_)
        if self._should_adapt(emb):
            frozen_spread = _prototype_spread(frozen, codes)
            start = time.perf_counter()
            loss_t = self.temperature or adaptation.loss_temperature(float(self.shots_.mean()), self.support_scale_)
            self._upper = adaptation.adapt_upper(
                self._backbone(), emb, codes, self._config, loss_t, self.adapt_seconds, self.random_state, self.progress, self.cancel
            )
            self.adapted_ = True
            self.adapt_seconds_ = time.perf_counter() - start
            # adaptation pulls the support classes apart, inflating every logit: measured on the support
            # set alone, the ratio is one of the statistics the temperature follows
            self.adaptation_ratio_ = float(np.clip(_prototype_spread(self._base(emb), codes) / frozen_spread, 1.0, 10.0))
        z = self._base(emb) if self.adapted_ else frozen
        use_pool = unlabelled is not None and len(unlabelled) > 0 and self.pool_method != "none"
        pool_emb = self._readable(self._embed(unlabelled, self.adapted_)) if use_pool and unlabelled is not None else None
        if pool_emb is not None and self.adapted_ and pool_emb.activations is None:
            log.warning("the unlabelled images were embedded without activations, so they cannot follow the adapted layers; not used")
            pool_emb = None
        pool = z[:0] if pool_emb is None else self._base(pool_emb)
        settings = self.pool_settings or PoolSettings()
        # the pool's images estimate the domain's mean far better than a handful of support examples
        centred_on_pool = len(pool) > 0 and centres_on_pool(self.pool_method, settings)
        self._mean = np.concatenate([z, pool]).mean(axis=0, keepdims=True) if centred_on_pool else z.mean(axis=0, keepdims=True)
        self.support_embeddings_ = l2(z - self._mean)
        self.prototypes_ = np.stack([self.support_embeddings_[codes == k].mean(axis=0) for k in range(len(self.classes_))])
        # unadapted and centred on the support set, the task embedding is the frozen one: its leave-one-out
        # logits are already there
        task_is_frozen = not self.adapted_ and not centred_on_pool
        self.centred_on_pool_ = centred_on_pool
        self._loo = self.frozen_loo_ if task_is_frozen else leave_one_out_logits(self.support_embeddings_, codes, len(self.classes_))
        self._spread = self._support_spread()
        self.task_stats_ = self._task_statistics()
        self.temperature_ = self._fit_temperature()
        if centred_on_pool and settings.rescale_temperature and self.temperature is None:
            # the calibration was fitted on support-centred logits: follow their scale
            self.temperature_ *= self.task_stats_.prototype_gap / _prototype_spread(z, codes)
        self.pool_used_: dict[str, Any] = {"images": len(pool), "method": self.pool_method if len(pool) else "none"}
        if pool_emb is not None and len(pool):
            self._refine_with_pool(pool_emb, pool, settings)
        return self

    def _readable(self, pool: EmbeddingResult) -> EmbeddingResult:
        from core.embedding import subset

        for message in pool.errors.values():
            log.warning("unlabelled image skipped, unreadable: %s", message)
        return subset(pool, np.flatnonzero(pool.ok))

    def _refine_with_pool(self, pool_emb: EmbeddingResult, pool: npt.NDArray[np.float32], settings: PoolSettings) -> None:
        """Refine the prototypes with the pool's images (``pool``: (n, d), not centred) that are not "none of
        these", judged in the frozen embedding as queries are; the temperature and task statistics stay the
        support set's own (the calibration was fitted on those)."""
        if self.pool_method not in REFINING_METHODS:
            return
        novelty = self._frozen_novelty(pool_emb)
        inliers = novelty <= settings.novelty_factor * self._calibration.unknown_cut(self.adapted_)
        z = l2(pool[inliers] - self._mean)
        z = z[confident(z, self.prototypes_, self.temperature_, settings)]
        self.prototypes_ = refine_prototypes(
            self.pool_method, self.support_embeddings_, self.support_labels_, self.prototypes_, z, self.temperature_, settings
        )
        self.pool_used_["refined_with"] = len(z)
        if not self.centred_on_pool_:  # then only these were used at all
            self.pool_used_["images"] = len(z)

    def fit_classes(self, support: Mapping[str, Sequence[ImageLike]]) -> PrototypicalClassifier:
        """Fit from ``{class name: [images]}``; an empty class is an error, not silently dropped."""
        check_empty_classes(support)
        items = [item for images in support.values() for item in images]
        labels = [name for name, images in support.items() for _ in images]
        return self.fit(items, labels)

    def _should_adapt(self, emb: EmbeddingResult) -> bool:
        if self.adapt == "none":
            return False
        if emb.activations is None or not self._backbone().adaptable:
            if self.adapt == "always":
                log.warning("adaptation needs backbone activations; %s has none here, so the frozen embedding is used", self.backbone)
            return False
        return self.adapt == "always" or adaptation.worth_adapting(self.shots_)

    def _backbone(self) -> Any:
        return load_backbone(self.backbone)

    def _embed(self, X: Images, need_activations: bool) -> EmbeddingResult:
        if isinstance(X, EmbeddingResult):
            return X
        cache = EmbeddingCache() if self.cache else None
        embedder = Embedder(self.backbone, flip=self._config.flip, cache=cache)
        return embedder.embed(list(X), activations=need_activations, progress=self.progress, cancel=self.cancel)

    def _base(self, emb: EmbeddingResult) -> npt.NDArray[np.float32]:
        """Task-independent embedding (n, d): adapted upper features when adapted."""
        raw = emb.raw
        if self._upper is not None and emb.activations is not None:
            raw = adaptation.recompute_raw(self._backbone(), self._upper, emb)
        return transform(raw, self._backbone().layout, self._config)

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "prototypes_"):
            raise NotFittedError("this classifier has no support set yet; call fit(support_images, labels) first")

    def _query(self, X: Images) -> tuple[EmbeddingResult, npt.NDArray[np.float32]]:
        """The queries' embedding result, and their embeddings (n, d) in the task's embedding."""
        self._check_fitted()
        emb = self._embed(X, need_activations=self.adapted_)
        if emb.errors:
            first = next(iter(emb.errors.values()))
            from core.errors import ImageReadError

            raise ImageReadError(first.split(":")[0], f"{len(emb.errors)} query image(s) unreadable: {first}")
        z = self._base(emb)
        return emb, l2(z - self._mean) if self._config.centre else z

    def _novelty(self, emb: EmbeddingResult, logits: FloatArray) -> FloatArray:
        """Squared distance to the nearest prototype over the support set's own leave-one-out spread, judged in
        the frozen embedding; ``logits`` are the task embedding's, the same space when unadapted."""
        # in the task embedding when that is the frozen one, or for models saved before frozen novelty
        if self._frozen_mean is None or (not self.adapted_ and not self.centred_on_pool_):
            return np.asarray(-logits.max(axis=1) / self._spread, dtype=np.float64)
        return self._frozen_novelty(emb)

    def _frozen_novelty(self, emb: EmbeddingResult) -> FloatArray:
        """Novelty of ``emb``'s images judged in the frozen embedding against the frozen prototypes."""
        assert self._frozen_mean is not None  # set by fit (or restored)
        f = l2(transform(emb.raw, self._backbone().layout, self._config) - self._frozen_mean)
        return np.asarray(-neg_sq_dist(f, self.frozen_prototypes_).max(axis=1) / self._novelty_spread, dtype=np.float64)

    def _neg_sq_dist(self, q: npt.NDArray[np.float32]) -> FloatArray:
        return neg_sq_dist(q, self.prototypes_)

    def _scores(self, X: Images) -> tuple[npt.NDArray[np.float32], FloatArray, FloatArray]:
        """Query embeddings, their logits and their novelty, from one pass."""
        emb, q = self._query(X)
        logits = self._neg_sq_dist(q)
        return q, logits, self._novelty(emb, logits)

    def decision_function(self, X: Images) -> FloatArray:
        """Logits before temperature: minus squared distance to each prototype, (n, n_classes)."""
        return self._neg_sq_dist(self._query(X)[1])

    def predict_proba(self, X: Images) -> FloatArray:
        """Calibrated class probabilities, (n_query, n_classes), columns follow ``classes_``."""
        return softmax(self.decision_function(X) / self.temperature_)

    def predict(self, X: Images) -> npt.NDArray[np.object_]:
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[proba.argmax(axis=1)], dtype=object)

    def novelty(self, X: Images) -> FloatArray:
        """Distance to the nearest prototype relative to the support set's own spread, (n,); higher is more unusual."""
        return self._scores(X)[2]

    def predict_set(self, X: Images, coverage: float = 0.9, allow_none: bool = True) -> list[list[str]]:
        """Plausible classes per query at ``coverage``; an empty list means "none of these"."""
        _, logits, novelty = self._scores(X)
        return self._sets(logits, novelty, coverage, allow_none)

    def _sets(self, logits: FloatArray, novelty: FloatArray, coverage: float, allow_none: bool) -> list[list[str]]:
        proba = softmax(logits / self.temperature_)
        threshold = self._calibration.set_threshold(coverage, float(self.shots_.mean()))
        sets = prediction_sets(proba, threshold)
        unknown = novelty > self._calibration.unknown_cut(self.adapted_) if allow_none else np.zeros(len(sets), dtype=bool)
        return [[] if unknown[i] else [str(self.classes_[k]) for k in s] for i, s in enumerate(sets)]

    def explain(self, X: Images, k: int = 3, coverage: float | None = None) -> list[Explanation]:
        """For each query, the ``k`` nearest support examples of every class with their cosine similarity.

        With ``coverage``, each explanation also holds the prediction set (as :meth:`predict_set`),
        from the same pass over the queries.
        """
        q, logits, novelty = self._scores(X)
        proba = softmax(logits / self.temperature_)
        sets = None if coverage is None else self._sets(logits, novelty, coverage, allow_none=True)
        sims = q @ self.support_embeddings_.T
        out = []
        for i in range(len(q)):
            nearest = {}
            for c, name in enumerate(self.classes_):
                members = np.flatnonzero(self.support_labels_ == c)
                order = members[np.argsort(-sims[i, members])][:k]
                nearest[str(name)] = [Neighbour(int(j), self.support_names_[j], float(sims[i, j])) for j in order]
            probs = {str(c): float(p) for c, p in zip(self.classes_, proba[i], strict=True)}
            plausible = None if sets is None else tuple(sets[i])
            out.append(Explanation(str(self.classes_[proba[i].argmax()]), probs, nearest, float(novelty[i]), plausible))
        return out

    # ------------------------------------------------------------------ support-set statistics
    def _task_statistics(self) -> TaskStatistics:
        """What the support set says about how hard its task is (the calibration's inputs)."""
        d = ((self.prototypes_[:, None] - self.prototypes_[None]) ** 2).sum(-1)
        return TaskStatistics(
            shots=float(self.shots_.mean()),
            ways=len(self.classes_),
            support_scale=self.support_scale_,
            spread=self._spread,
            prototype_gap=float(max(d[np.triu_indices(len(d), 1)].mean(), 1e-6)),
            adapted=self.adapted_,
            adaptation_ratio=self.adaptation_ratio_,
        )

    def _fit_temperature(self) -> float:
        if self.temperature is not None:
            return self.temperature
        return self._calibration.task_temperature(self.task_stats_, self.frozen_loo_, self.support_labels_)

    def _support_spread(self) -> float:
        """Typical squared distance of a support example to its own class prototype (leave-one-out where possible)."""
        return _spread_of(self._loo, self.support_labels_, self.prototypes_)

    def support_accuracy(self) -> list[ClassAccuracy]:
        """Leave-one-out accuracy per class on the support set, with 95 % Wilson intervals."""
        self._check_fitted()
        out = []
        for c, name in enumerate(self.classes_):
            n = int(self.shots_[c])
            if self._loo is None or n < 2:
                out.append(ClassAccuracy(str(name), n, 0, None, (0.0, 1.0)))
                continue
            rows = np.flatnonzero(self.support_labels_ == c)
            correct = int((self._loo[rows].argmax(axis=1) == c).sum())
            out.append(ClassAccuracy(str(name), n, correct, correct / n, wilson_interval(correct, n)))
        return out


def _prototype_spread(z: npt.NDArray[np.float32], codes: npt.NDArray[np.int64]) -> float:
    """Mean squared distance between class prototypes of the centred, normalised support embedding."""
    e = l2(z - z.mean(axis=0, keepdims=True))
    protos = np.stack([e[codes == k].mean(axis=0) for k in np.unique(codes)])
    d = ((protos[:, None] - protos[None]) ** 2).sum(-1)
    return float(max(d[np.triu_indices(len(d), 1)].mean(), 1e-6))


def leave_one_out_logits(z: npt.NDArray[np.float32], codes: npt.NDArray[np.int64], n_classes: int) -> FloatArray | None:
    """Minus squared distance of each support embedding (n, d) to every prototype, its own class's prototype
    recomputed without it: (n, n_classes), NaN rows for classes with one example; None if no class has two."""
    shots = np.bincount(codes, minlength=n_classes)
    if shots.max() < 2:
        return None
    sums = np.stack([z[codes == c].sum(axis=0) for c in range(n_classes)])
    protos = sums / np.maximum(shots, 1)[:, None]
    logits = np.full((len(z), n_classes), np.nan)
    for i in range(len(z)):
        c = codes[i]
        if shots[c] < 2:
            continue
        own = protos.copy()
        own[c] = (sums[c] - z[i]) / (shots[c] - 1)
        logits[i] = -((z[i][None, :] - own) ** 2).sum(axis=1)
    return logits


def _spread_of(loo: FloatArray | None, codes: npt.NDArray[np.int64], prototypes: npt.NDArray[np.float32]) -> float:
    """Median squared distance of a support example to its own prototype, leave-one-out; with one shot,
    half the median distance between prototypes (there is no within-class spread to measure)."""
    if loo is not None:
        rows = ~np.isnan(loo[:, 0])
        return float(max(np.median(-loo[rows, codes[rows]]), 1e-3))
    d = ((prototypes[:, None] - prototypes[None]) ** 2).sum(-1)
    return float(max(np.median(d[np.triu_indices(len(d), 1)]) / 2, 1e-3))
