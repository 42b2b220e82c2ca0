from __future__ import annotations

import numpy as np
import pytest

from core.fewshot.calibration import (
    Calibration,
    fit_temperature,
    load_calibration,
    prediction_sets,
    softmax,
    support_scale,
    wilson_interval,
)


def test_shipped_calibration_for_the_default_backbone() -> None:
    cal = load_calibration("efficientnet-lite0")
    assert cal.temperature(1) > cal.temperature(5) > 0  # more shots, sharper
    assert 0.5 < cal.set_threshold(0.9, 5) < 1
    assert cal.unknown_threshold > 0
    assert Calibration.from_dict(cal.to_dict()) == cal


def test_task_scale_softens_tight_support_sets() -> None:
    cal = Calibration(temperature_shots=(1.0, 5.0), temperature_values=(0.5, 0.5), scale_exponent=2.0, scale_reference=0.5)
    assert cal.task_temperature(1, 0.25) == pytest.approx(0.5 * 4.0)  # half the reference scale: four times softer
    assert cal.task_temperature(1, 0.5) == pytest.approx(0.5)
    assert cal.task_temperature(1, 0.0) == pytest.approx(0.5)  # unknown scale: unscaled
    assert Calibration.from_dict(cal.to_dict()) == cal
    older = {k: v for k, v in cal.to_dict().items() if k != "task_scale"}  # files written before the task scale
    assert Calibration.from_dict(older).task_factor(0.25) == 1.0


def test_support_scale_is_the_mean_distance_to_the_centre() -> None:
    z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    assert support_scale(z) == pytest.approx(2.0)


def test_unknown_backbone_gets_a_default() -> None:
    cal = load_calibration("no-such-backbone")
    assert cal.temperature(3) > 0 and "note" in cal.extra


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
