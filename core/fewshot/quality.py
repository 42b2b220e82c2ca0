"""How good is the model? Expected accuracy on new images, leave-one-out on the support set, and advice.

The number to trust is :class:`AccuracyEstimate`: the deployed model's expected accuracy on new
images, from its calibrated probabilities on the project's unlabelled images. Leave-one-out on the
labelled examples themselves is kept as a secondary, optimistic figure.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from core.fewshot.calibration import mean_confidence, softmax, wilson_interval
from core.fewshot.estimate import NO_ESTIMATE_ADVICE as NO_ESTIMATE_ADVICE
from core.fewshot.estimate import NO_ESTIMATE_REASON as NO_ESTIMATE_REASON
from core.fewshot.estimate import AccuracyEstimate as AccuracyEstimate
from core.fewshot.estimate import model_accuracy_estimate as model_accuracy_estimate

if TYPE_CHECKING:  # only in annotations: 'project info' reads the estimate without loading torch
    from core.fewshot.classifier import PrototypicalClassifier

log = logging.getLogger(__name__)

LEAVE_ONE_OUT_CAVEAT = "optimistic: these are the hand-picked examples the model learnt from; new images are usually harder"
TOO_ALIKE = 0.97  # mean cosine similarity between a class's examples above which they add little


@dataclass(frozen=True)
class ClassQuality:
    """One class: its expected accuracy on new images (the main figure), leave-one-out accuracy on its
    own examples (secondary, optimistic), each with a 95 % interval, and a warning in words.

    ``expected`` is None when the model has no estimate (no unlabelled images) or too few unlabelled
    images look like this class to estimate it; ``expected_low``/``expected_high`` are None with it.
    ``accuracy`` (leave-one-out) is None when the class has one example.
    """

    class_name: str
    examples: int
    accuracy: float | None
    ci_low: float
    ci_high: float
    warning: str = ""
    expected: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None


@dataclass(frozen=True)
class ReliabilityBin:
    """Among predictions with this mean confidence, the share that were right."""

    confidence: float
    accuracy: float
    count: int


def support_quality(clf: PrototypicalClassifier, estimate: AccuracyEstimate | None = None) -> list[ClassQuality]:
    """Each class's expected accuracy on new images (from ``estimate``, when there is one), its
    leave-one-out accuracy and, where it matters, what to do about it."""
    per_class = {} if estimate is None else estimate.per_class
    out = []
    for entry in clf.support_accuracy():
        code = int(np.flatnonzero(clf.classes_ == entry.label)[0])
        warning = _warning(clf, code, entry.n, entry.accuracy)
        expected, low, high = per_class.get(entry.label, (math.nan, 0.0, 1.0))
        known = not math.isnan(expected)
        out.append(
            ClassQuality(
                entry.label,
                entry.n,
                entry.accuracy,
                entry.ci95[0],
                entry.ci95[1],
                warning,
                expected if known else None,
                low if known else None,
                high if known else None,
            )
        )
    return out


def pooled_leave_one_out(rows: Sequence[ClassQuality]) -> tuple[int, int, float, float] | None:
    """Leave-one-out over the whole support set: (correct, examples, 95 % low, high); None when no
    class has two examples. Optimistic: the examples are the ones the model was fitted on."""
    checked = [q for q in rows if q.accuracy is not None]
    if not checked:
        return None
    correct = sum(round(q.accuracy * q.examples) for q in checked if q.accuracy is not None)
    examples = sum(q.examples for q in checked)
    low, high = wilson_interval(correct, examples)
    return correct, examples, low, high


def _warning(clf: PrototypicalClassifier, code: int, n: int, accuracy: float | None) -> str:
    if n < 2:
        return "Only one example: add more so the class can be checked and learnt reliably."
    members = clf.support_embeddings_[clf.support_labels_ == code]
    similarity = members @ members.T
    mean_other = (similarity.sum() - np.trace(similarity)) / (n * (n - 1))
    if mean_other > TOO_ALIKE:
        return "Examples are nearly identical: add examples that show how the disease varies."
    if n < 3:
        return "Few examples: add a few more."
    if accuracy is not None and accuracy < 0.6:
        return "Often mistaken for another class: check its labels, or add clearer examples."
    return ""


def support_reliability(clf: PrototypicalClassifier, bins: int = 5) -> list[ReliabilityBin]:
    """Reliability of the calibrated probabilities on the support set itself (leave-one-out)."""
    loo = clf._loo
    if loo is None:
        return []
    rows = ~np.isnan(loo[:, 0])
    proba = softmax(loo[rows] / clf.temperature_)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == clf.support_labels_[rows]
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            out.append(ReliabilityBin(float(confidence[inside].mean()), float(correct[inside].mean()), int(inside.sum())))
    return out


def estimate_accuracy(proba: npt.NDArray[np.float64], classes: Sequence[str], systematic_sd: float = 0.0) -> AccuracyEstimate | None:
    """The :class:`AccuracyEstimate` from calibrated probabilities ``proba`` (n_images, n_classes).

    If the probabilities are calibrated, an image's top probability is the chance its prediction is
    right: their mean estimates the accuracy, and, per class, the probability mass of the images
    predicted as that class over all the mass the class gets estimates how often its images are
    recognised. The interval adds the sampling spread of that many images to ``systematic_sd``, the
    calibration's own error measured on development domains it was not fitted on. None without images.
    """
    if len(proba) == 0:
        return None
    top = proba.max(axis=1)
    predicted = proba.argmax(axis=1)
    overall = mean_confidence(proba)
    sd = math.sqrt(float((top * (1 - top)).sum()) / len(top) ** 2 + systematic_sd**2)
    per_class = {}
    for k, name in enumerate(classes):
        mass = float(proba[:, k].sum())
        if mass < 0.5:
            per_class[str(name)] = (float("nan"), 0.0, 1.0)
            continue
        recall = float(proba[predicted == k, k].sum()) / mass
        class_sd = math.sqrt(recall * (1 - recall) / mass + systematic_sd**2)
        per_class[str(name)] = (recall, max(0.0, recall - 1.96 * class_sd), min(1.0, recall + 1.96 * class_sd))
    return AccuracyEstimate(overall, max(0.0, overall - 1.96 * sd), min(1.0, overall + 1.96 * sd), len(top), per_class)
