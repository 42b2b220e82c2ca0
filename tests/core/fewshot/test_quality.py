"""Support-set quality: expected accuracy on new images per class, leave-one-out kept, stored estimates read back."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.fewshot import PrototypicalClassifier
from core.fewshot.quality import AccuracyEstimate, estimate_accuracy, model_accuracy_estimate, pooled_leave_one_out, support_quality


def test_support_quality_fills_the_expected_accuracy_from_the_estimate(tiny: str, support: tuple[list[Path], list[str]]) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    classes = [str(c) for c in clf.classes_]
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.9, 0.05, 0.05]])[:, : len(classes)]
    proba[:, 2] = 0.02  # hardly any image looks like the third class: no estimate for it
    proba /= proba.sum(axis=1, keepdims=True)
    estimate = estimate_accuracy(proba, classes)
    assert estimate is not None
    without = support_quality(clf)
    rows = {q.class_name: q for q in support_quality(clf, estimate)}
    for old in without:  # leave-one-out and the advice unchanged, only the expected accuracy added
        new = rows[old.class_name]
        assert (new.accuracy, new.ci_low, new.ci_high, new.warning) == (old.accuracy, old.ci_low, old.ci_high, old.warning)
        assert old.expected is None and old.expected_low is None and old.expected_high is None
    for name in classes[:2]:
        value, low, high = estimate.per_class[name]
        assert (rows[name].expected, rows[name].expected_low, rows[name].expected_high) == (value, low, high)
    assert math.isnan(estimate.per_class[classes[2]][0]) and rows[classes[2]].expected is None and rows[classes[2]].expected_low is None


def test_pooled_leave_one_out_counts_checked_classes_only(tiny: str, support: tuple[list[Path], list[str]]) -> None:
    rows = support_quality(PrototypicalClassifier(tiny, adapt="none").fit(*support))
    pooled = pooled_leave_one_out(rows)
    assert pooled is not None
    correct, examples, low, high = pooled
    assert examples == 3 + 2  # the one-example class cannot be left out
    assert 0 <= low <= correct / examples <= high <= 1
    assert pooled_leave_one_out([replace(q, accuracy=None) for q in rows]) is None


def test_model_accuracy_estimate_reads_the_stored_dict_and_tolerates_absence() -> None:
    estimate = estimate_accuracy(np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]), ["a", "b"], systematic_sd=0.05)
    assert estimate is not None
    assert model_accuracy_estimate({"accuracy_estimate": estimate.to_dict()}) == estimate
    assert model_accuracy_estimate({}) is None  # no unlabelled images, or adapted before estimates were stored
    assert model_accuracy_estimate({"accuracy_estimate": None}) is None
    rare = AccuracyEstimate(0.7, 0.6, 0.8, 10, {"a": (0.7, 0.5, 0.9), "b": (math.nan, 0.0, 1.0)})
    read = model_accuracy_estimate({"accuracy_estimate": rare.to_dict()})
    assert read is not None and math.isnan(read.per_class["b"][0]) and read.per_class["a"] == (0.7, 0.5, 0.9)


@pytest.mark.parametrize(
    "stored",
    [
        "72 %",
        {"accuracy": 0.7},
        {"accuracy": "high", "ci95": [0.6, 0.8], "images": 10, "per_class": {}},
        {"accuracy": 0.7, "ci95": [0.6], "images": 10, "per_class": {}},
        {"accuracy": 1.7, "ci95": [0.6, 0.8], "images": 10, "per_class": {}},
        {"accuracy": 0.7, "ci95": [0.6, 0.8], "images": 10, "per_class": {"a": {"accuracy": 0.5}}},
    ],
)
def test_a_malformed_stored_estimate_is_ignored_with_a_warning(stored: object, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="core.fewshot.quality"):
        assert model_accuracy_estimate({"accuracy_estimate": stored}) is None
    assert "accuracy estimate" in caplog.text
