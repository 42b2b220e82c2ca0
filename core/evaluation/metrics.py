"""Metrics for episodic evaluation: accuracy with a 95 % interval, ECE, set coverage, AUROC."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def mean_ci95(values: npt.ArrayLike) -> tuple[float, float]:
    """Mean and 95 % normal half-width (1.96 standard errors) over episodes."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    half = 1.96 * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    return float(v.mean()), float(half)


def expected_calibration_error(confidence: npt.ArrayLike, correct: npt.ArrayLike, bins: int = 15) -> float:
    """ECE with equal-width confidence bins: sum over bins of |accuracy - confidence| weighted by bin size."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if len(conf) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(ok[mask].mean() - conf[mask].mean())
    return float(ece)


def auroc(negatives: npt.ArrayLike, positives: npt.ArrayLike) -> float:
    """Probability that a positive scores above a negative (ties count half); NaN if either is empty.

    scikit-learn's ``roc_auc_score`` with the negatives labelled 0 and the positives 1.
    """
    from sklearn.metrics import roc_auc_score  # here: importing core.evaluation should not load scikit-learn

    neg = np.asarray(negatives, dtype=np.float64).ravel()
    pos = np.asarray(positives, dtype=np.float64).ravel()
    if len(neg) == 0 or len(pos) == 0:
        return float("nan")
    truth = np.concatenate([np.zeros(len(neg)), np.ones(len(pos))])
    return float(roc_auc_score(truth, np.concatenate([neg, pos])))
