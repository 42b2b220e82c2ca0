"""Meta-fitting the calibration on synthetic episodes of known difficulty.

Each episode is a 5-way task of Gaussian classes in 32 dimensions whose class means lie ``separation``
apart in units of the within-class spread: large separation is an easy task, small a hard one. The
embedding goes through the classifier's own steps (centred on the support mean, L2, prototypes,
leave-one-out logits), so the support set carries the same kind of evidence as in the product.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.calibrate import fit_calibration
from core.evaluation.metrics import expected_calibration_error
from core.evaluation.runner import EpisodeRecord
from core.fewshot.calibration import Calibration, TaskStatistics, prediction_sets, softmax
from core.fewshot.classifier import leave_one_out_logits
from core.fewshot.features import l2

WAYS, SHOTS, QUERIES, DIM = 5, 5, 15, 32


def _episode(rng: np.random.Generator, separation: float, shots: int = SHOTS) -> EpisodeRecord:
    means = rng.normal(0.0, separation / np.sqrt(2 * DIM), size=(WAYS, DIM))  # pairwise distance about ``separation``
    support = np.repeat(means, shots, axis=0) + rng.normal(size=(WAYS * shots, DIM))
    queries = np.repeat(means, QUERIES, axis=0) + rng.normal(size=(WAYS * QUERIES, DIM))
    codes = np.repeat(np.arange(WAYS), shots)
    centre = support.mean(axis=0, keepdims=True)
    s, q = l2((support - centre).astype(np.float32)), l2((queries - centre).astype(np.float32))
    protos = np.stack([s[codes == c].mean(axis=0) for c in range(WAYS)])
    logits = -((q[:, None, :] - protos[None]) ** 2).sum(-1).astype(np.float64)
    loo = leave_one_out_logits(s, codes, WAYS)
    own = -loo[np.arange(len(codes)), codes] if loo is not None else np.array([1.0])
    stats = TaskStatistics(float(shots), WAYS, 1.0, float(np.median(own)), 1.0)
    return EpisodeRecord(
        shots=shots,
        ways=WAYS,
        logits=logits,
        targets=np.repeat(np.arange(WAYS), QUERIES),
        unknown_logits=np.zeros((0, WAYS)),
        temperature=1.0,
        spread=float(np.median(own)),
        sets=[],
        class_names=[str(k) for k in range(WAYS)],
        adapt_seconds=0.0,
        infer_seconds=0.0,
        stats=stats,
        support_loo=loo,
        support_targets=codes,
    )


def _domain(rng: np.random.Generator, separations: tuple[float, ...], episodes: int = 60) -> list[EpisodeRecord]:
    return [_episode(rng, separations[i % len(separations)]) for i in range(episodes)]


def _probabilities(cal: Calibration, records: list[EpisodeRecord]) -> list[np.ndarray]:
    return [softmax(r.logits / cal.task_temperature(r.stats, r.support_loo, r.support_targets)) for r in records if r.stats]


def _confidence_and_accuracy(cal: Calibration, records: list[EpisodeRecord]) -> tuple[float, float, float]:
    proba = _probabilities(cal, records)
    conf = np.concatenate([p.max(1) for p in proba])
    ok = np.concatenate([p.argmax(1) == r.targets for p, r in zip(proba, records, strict=True)])
    return float(conf.mean()), float(ok.mean()), expected_calibration_error(conf, ok)


@pytest.fixture(scope="module")
def fitted() -> tuple[Calibration, Calibration]:
    rng = np.random.default_rng(0)
    # three "domains", each mixing tasks of several difficulties, as real modalities do
    records = {name: _domain(rng, seps) for name, seps in {"a": (1.5, 4.0), "b": (2.0, 6.0), "c": (2.5, 7.0)}.items()}
    return fit_calibration(records, variant="shots+loo"), fit_calibration(records, variant="shots")


def test_probabilities_follow_the_difficulty_of_each_task(fitted: tuple[Calibration, Calibration]) -> None:
    with_evidence, prior_only = fitted
    rng = np.random.default_rng(1)
    easy, hard = [_episode(rng, 6.5) for _ in range(40)], [_episode(rng, 2.0) for _ in range(40)]
    easy_conf, easy_acc, easy_ece = _confidence_and_accuracy(with_evidence, easy)
    hard_conf, hard_acc, hard_ece = _confidence_and_accuracy(with_evidence, hard)
    assert easy_acc > 0.95 and hard_acc < 0.5  # the generator makes the tasks as intended
    assert easy_conf > 0.9 and hard_conf < 0.55  # confident where easy, soft where hard
    assert easy_ece < 0.05 and hard_ece < 0.06
    # a temperature that ignores the support set's evidence cannot serve both
    assert max(_confidence_and_accuracy(prior_only, easy)[2], _confidence_and_accuracy(prior_only, hard)[2]) > 0.08


def test_the_fit_prefers_the_support_set_evidence_when_it_carries_information() -> None:
    rng = np.random.default_rng(2)
    records = {name: _domain(rng, seps, 40) for name, seps in {"a": (1.5, 5.0), "b": (2.0, 6.0), "c": (2.5, 4.0)}.items()}
    cal = fit_calibration(records)
    assert cal.extra["temperature_model"] in {"shots+loo", "shots+scale+loo"}
    assert np.isfinite(cal.loo_strength)


def test_sets_reach_their_coverage_on_every_domain_not_only_on_average(fitted: tuple[Calibration, Calibration]) -> None:
    rng = np.random.default_rng(3)
    records = {"easy": _domain(rng, (6.0,), 40), "hard": _domain(rng, (2.0,), 40)}
    cal = fit_calibration(records, variant="shots")  # one temperature for both: the threshold must serve the harder
    for recs in records.values():
        hits = []
        for r, p in zip(recs, _probabilities(cal, recs), strict=True):
            sets = prediction_sets(p, cal.set_threshold(0.9, SHOTS))
            rejected = -r.logits.max(axis=1) / r.spread > cal.unknown_threshold
            hits += [(t in s) and not rej for t, s, rej in zip(r.targets, sets, rejected, strict=True)]
        assert np.mean(hits) >= 0.9


def test_a_calibration_round_trips_through_json(fitted: tuple[Calibration, Calibration]) -> None:
    for cal in fitted:
        assert Calibration.from_dict(cal.to_dict()) == cal
