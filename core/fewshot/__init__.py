"""Few-shot classification: prototypes, calibration, prediction sets, adaptation, explanation."""

from core.fewshot.calibration import Calibration, load_calibration, wilson_interval
from core.fewshot.classifier import ClassAccuracy, Explanation, Neighbour, PrototypicalClassifier
from core.fewshot.features import FeatureConfig
from core.fewshot.validation import SupportSetError, SupportSetWarning

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
