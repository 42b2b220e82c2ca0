from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import ModelError
from core.fewshot.calibration import (
    Calibration,
    TaskStatistics,
    fit_temperature,
    load_calibration,
    prediction_sets,
    softmax,
    support_scale,
    wilson_interval,
)


def _stats(shots: float, adapted: bool = False, ratio: float = 1.0) -> TaskStatistics:
    return TaskStatistics(shots=shots, ways=5, support_scale=0.5, spread=1.0, prototype_gap=1.0, adapted=adapted, adaptation_ratio=ratio)


def test_shipped_calibration_for_the_default_backbone() -> None:
    cal = load_calibration("efficientnet-lite0")
    assert cal.task_temperature(_stats(1)) > 0 and cal.task_temperature(_stats(5)) > 0
    assert 0.5 < cal.set_threshold(0.9, 5) < 1
    assert cal.unknown_threshold > 0
    assert "fitted_on" in cal.extra
    assert Calibration.from_dict(cal.to_dict()) == cal


def test_the_support_sets_own_evidence_moves_the_temperature() -> None:
    """Leave-one-out predictions that are all right with wide margins pull T down; muddled ones push it up."""
    cal = Calibration(temperature_weights=(math.log(0.3), 0.0, 0.0, 0.0, 0.0, 0.0), loo_strength=2.0)
    targets = np.repeat(np.arange(3), 4)
    clear = np.where(np.arange(3)[None, :] == targets[:, None], -0.2, -2.0)  # own class much nearer
    muddled = np.where(np.arange(3)[None, :] == targets[:, None], -1.0, -0.9)  # own class a little further
    prior = cal.task_temperature(_stats(4))
    assert cal.task_temperature(_stats(4), clear, targets) < prior < cal.task_temperature(_stats(4), muddled, targets)
    ignore = Calibration(temperature_weights=cal.temperature_weights)  # loo_strength inf: evidence ignored
    assert ignore.task_temperature(_stats(4), clear, targets) == pytest.approx(prior)
    assert cal.task_temperature(_stats(1), None, None) == pytest.approx(prior)  # one shot: nothing to leave out


def test_adaptation_factor_applies_on_top() -> None:
    cal = Calibration(temperature_weights=(math.log(0.3), 0.0, 0.0, 0.0, math.log(1.5), 1.0))
    assert cal.task_temperature(_stats(5, adapted=True, ratio=2.0)) == pytest.approx(0.3 * 1.5 * 2.0)
    assert Calibration.from_dict(cal.to_dict()) == cal


def test_a_file_of_another_model_form_is_refused() -> None:
    data = Calibration().to_dict()
    data["temperature"]["features"] = ["bias", "something_else"]
    with pytest.raises(ModelError, match="malformed calibration"):
        Calibration.from_dict(data)


def test_support_scale_is_the_mean_distance_to_the_centre() -> None:
    z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    assert support_scale(z) == pytest.approx(2.0)


def test_unknown_backbone_gets_a_default() -> None:
    cal = load_calibration("no-such-backbone")
    assert cal.task_temperature(_stats(3)) > 0 and "note" in cal.extra


def test_fit_temperature_recovers_the_generating_one() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (4000, 5))
    true_t = 0.5
    targets = np.array([rng.choice(5, p=p) for p in softmax(logits / true_t)])
    assert fit_temperature(logits, targets) == pytest.approx(true_t, rel=0.1)


def test_prediction_sets_grow_with_threshold() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    assert prediction_sets(proba, 0.5) == [[0], [0, 1]]
    assert prediction_sets(proba, 0.95) == [[0, 1, 2], [0, 1, 2]]
    assert prediction_sets(proba, 0.0) == [[0], [0]]


def test_wilson_interval() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490, abs=1e-3) and high == pytest.approx(0.943, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(5, 5)[1] == 1.0
