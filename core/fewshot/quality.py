"""How good is the support set? Per-class leave-one-out accuracy, and warnings a clinician can act on."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from core.fewshot.calibration import softmax
from core.fewshot.classifier import PrototypicalClassifier

TOO_ALIKE = 0.97  # mean cosine similarity between a class's examples above which they add little


@dataclass(frozen=True)
class ClassQuality:
    """Leave-one-out accuracy of one class of the support set, with its 95% interval and a warning."""

    class_name: str
    examples: int
    accuracy: float | None
    ci_low: float
    ci_high: float
    warning: str = ""


@dataclass(frozen=True)
class ReliabilityBin:
    """Among predictions with this mean confidence, the share that were right."""

    confidence: float
    accuracy: float
    count: int


def support_quality(clf: PrototypicalClassifier) -> list[ClassQuality]:
    """Each class's leave-one-out accuracy and, where it matters, what to do about it."""
    out = []
    for entry in clf.support_accuracy():
        code = int(np.flatnonzero(clf.classes_ == entry.label)[0])
        warning = _warning(clf, code, entry.n, entry.accuracy)
        out.append(ClassQuality(entry.label, entry.n, entry.accuracy, entry.ci95[0], entry.ci95[1], warning))
    return out


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
