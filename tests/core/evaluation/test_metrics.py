from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.evaluation import auroc, expected_calibration_error, mean_ci95


def test_auroc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    neg, pos = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 30).astype(float)
    expected = roc_auc_score(np.r_[np.zeros(40), np.ones(30)], np.r_[neg, pos])
    assert auroc(neg, pos) == pytest.approx(expected)
    assert np.isnan(auroc([], [1.0]))


def test_ece() -> None:
    assert expected_calibration_error([0.8] * 10, [1] * 8 + [0] * 2) == pytest.approx(0.0)
    assert expected_calibration_error([1.0] * 4, [0, 0, 0, 0]) == pytest.approx(1.0)
    assert expected_calibration_error([0.6, 0.9], [1, 1]) == pytest.approx(0.25)


def test_mean_ci95() -> None:
    mean, half = mean_ci95([0.0, 1.0] * 50)
    assert mean == 0.5 and half == pytest.approx(1.96 * np.std([0.0, 1.0] * 50, ddof=1) / 10)
