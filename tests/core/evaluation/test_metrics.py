from __future__ import annotations

import numpy as np
import pytest

from core.evaluation import auroc, expected_calibration_error, mean_ci95


def _pairwise_auroc(neg: np.ndarray, pos: np.ndarray) -> float:
    """The definition, over every (negative, positive) pair: above counts 1, a tie 1/2."""
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def test_auroc_is_the_pairwise_probability_with_ties() -> None:
    rng = np.random.default_rng(0)
    for n, m in [(40, 30), (1, 7), (9, 1), (25, 25)]:
        neg, pos = rng.integers(0, 5, n).astype(float), rng.integers(1, 6, m).astype(float)
        assert auroc(neg, pos) == pytest.approx(_pairwise_auroc(neg, pos), abs=1e-12)
    assert auroc([2.0, 2.0], [2.0]) == 0.5  # all tied
    assert auroc([0.0, 1.0], [3.0]) == 1.0 and auroc([3.0], [0.0, 1.0]) == 0.0


def test_auroc_without_negatives_or_positives_is_nan() -> None:
    assert np.isnan(auroc([], [1.0])) and np.isnan(auroc([1.0], [])) and np.isnan(auroc([], []))


def test_ece() -> None:
    assert expected_calibration_error([0.8] * 10, [1] * 8 + [0] * 2) == pytest.approx(0.0)
    assert expected_calibration_error([1.0] * 4, [0, 0, 0, 0]) == pytest.approx(1.0)
    assert expected_calibration_error([0.6, 0.9], [1, 1]) == pytest.approx(0.25)


def test_mean_ci95() -> None:
    mean, half = mean_ci95([0.0, 1.0] * 50)
    assert mean == 0.5 and half == pytest.approx(1.96 * np.std([0.0, 1.0] * 50, ddof=1) / 10)
