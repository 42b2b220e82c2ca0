"""Meta-fitting the calibration: temperatures, the task-scale exponent and set thresholds per dataset.

Synthetic episodes whose true temperature is known: targets are drawn from softmax(logits / T) with
T = T0 * (reference / support_scale) ** k, the support scale differing between two "modalities".
"""

from __future__ import annotations

import numpy as np

from core.evaluation.calibrate import fit_calibration
from core.evaluation.metrics import expected_calibration_error
from core.evaluation.runner import EpisodeRecord
from core.fewshot.calibration import prediction_sets, softmax

WAYS, QUERIES = 5, 40


def _records(rng: np.random.Generator, scale_mean: float, exponent: float, episodes: int = 150, shots: int = 1) -> list[EpisodeRecord]:
    out = []
    for _ in range(episodes):
        scale = float(rng.normal(scale_mean, 0.03))
        t_true = 0.5 * (0.5 / scale) ** exponent
        logits = rng.normal(-2.0, 1.0, size=(QUERIES, WAYS))
        p = softmax(logits / t_true)
        targets = np.array([rng.choice(WAYS, p=row) for row in p], dtype=np.int64)
        out.append(
            EpisodeRecord(
                shots=shots,
                ways=WAYS,
                logits=logits,
                targets=targets,
                unknown_logits=np.zeros((0, WAYS)),
                temperature=1.0,
                spread=1.0,
                sets=[],
                class_names=[str(k) for k in range(WAYS)],
                adapt_seconds=0.0,
                infer_seconds=0.0,
                support_scale=scale,
            )
        )
    return out


def _ece(records: list[EpisodeRecord], cal_t: list[float]) -> float:
    proba = [softmax(r.logits / t) for r, t in zip(records, cal_t, strict=True)]
    ok = np.concatenate([p.argmax(1) == r.targets for p, r in zip(proba, records, strict=True)])
    return expected_calibration_error(np.concatenate([p.max(1) for p in proba]), ok)


def test_the_temperature_follows_the_support_scale_when_the_data_say_so() -> None:
    rng = np.random.default_rng(0)
    records = {"tight": _records(rng, 0.42, exponent=4.0), "loose": _records(rng, 0.58, exponent=4.0)}
    scaled = fit_calibration(records)
    plain = fit_calibration(records, exponents=(0.0,))
    assert 3.0 <= scaled.scale_exponent <= 5.0
    for recs in records.values():
        with_scale = _ece(recs, [scaled.task_temperature(1, r.support_scale) for r in recs])
        without = _ece(recs, [plain.task_temperature(1, r.support_scale) for r in recs])
        assert with_scale < 0.04 < without


def test_no_scaling_when_the_scale_says_nothing() -> None:
    rng = np.random.default_rng(1)
    records = {"a": _records(rng, 0.42, exponent=0.0), "b": _records(rng, 0.58, exponent=0.0)}
    assert fit_calibration(records).scale_exponent <= 1.0


def test_sets_reach_their_coverage_on_every_dataset_not_only_on_average() -> None:
    rng = np.random.default_rng(2)
    # one dataset calibrated at a sharper temperature than the other: a shared threshold must serve the harder one
    records = {"easy": _records(rng, 0.5, exponent=0.0), "hard": _records(rng, 0.5, exponent=0.0)}
    for r in records["hard"]:
        r.logits = r.logits * 0.4  # same targets, flatter logits: less confident, so larger sets are needed
    cal = fit_calibration(records, exponents=(0.0,))
    for recs in records.values():
        hits = []
        for r in recs:
            sets = prediction_sets(softmax(r.logits / cal.task_temperature(1, r.support_scale)), cal.set_threshold(0.9, 1))
            rejected = -r.logits.max(axis=1) / r.spread > cal.unknown_threshold
            hits += [(t in s) and not rej for t, s, rej in zip(r.targets, sets, rejected, strict=True)]
        assert np.mean(hits) >= 0.9
