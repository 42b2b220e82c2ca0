"""Few-shot classification: prototypes, calibration, prediction sets, adaptation, explanation.

The names below load on first use (PEP 562), so that importing a light submodule such as
``core.fewshot.quality`` (``raresight project info``) does not load torch with the classifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_getattr

if TYPE_CHECKING:
    from core.fewshot.calibration import Calibration, load_calibration, wilson_interval
    from core.fewshot.classifier import ClassAccuracy, Explanation, Neighbour, PrototypicalClassifier
    from core.fewshot.features import FeatureConfig
    from core.fewshot.validation import SupportSetError, SupportSetWarning

_HOME = {
    "Calibration": "calibration",
    "load_calibration": "calibration",
    "wilson_interval": "calibration",
    "ClassAccuracy": "classifier",
    "Explanation": "classifier",
    "Neighbour": "classifier",
    "PrototypicalClassifier": "classifier",
    "FeatureConfig": "features",
    "SupportSetError": "validation",
    "SupportSetWarning": "validation",
}

__all__ = [
    "Calibration",
    "ClassAccuracy",
    "Explanation",
    "FeatureConfig",
    "Neighbour",
    "PrototypicalClassifier",
    "SupportSetError",
    "SupportSetWarning",
    "load_calibration",
    "wilson_interval",
]

if not TYPE_CHECKING:  # mypy sees the imports above; an unknown name stays an error for it
    __getattr__ = lazy_getattr(__name__, _HOME)
