"""The model's expected accuracy on new images as a model state stores it: read without numpy or torch,
so ``project info`` and the window show it at once. :func:`core.fewshot.quality.estimate_accuracy` computes it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

NO_ESTIMATE_REASON = "the model was adapted without unlabelled images (or before RareSight estimated accuracy)"
NO_ESTIMATE_ADVICE = "Add unlabelled images of the same kind and adapt again to estimate accuracy on new images."


@dataclass(frozen=True)
class AccuracyEstimate:
    """Expected accuracy of the deployed model on new images, from its calibrated probabilities on the
    project's unlabelled images (no labels needed): overall and per class, with 95 % intervals.

    per_class: class name -> (estimate, low, high); a class no unlabelled image is likely to belong
    to has estimate NaN and interval (0, 1).
    """

    accuracy: float
    ci_low: float
    ci_high: float
    images: int
    per_class: dict[str, tuple[float, float, float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "ci95": [self.ci_low, self.ci_high],
            "images": self.images,
            "per_class": {
                name: {"accuracy": None if math.isnan(v[0]) else v[0], "ci95": [v[1], v[2]]} for name, v in self.per_class.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccuracyEstimate:
        per_class = {
            str(name): (float("nan") if v["accuracy"] is None else float(v["accuracy"]), float(v["ci95"][0]), float(v["ci95"][1]))
            for name, v in data["per_class"].items()
        }
        return cls(float(data["accuracy"]), float(data["ci95"][0]), float(data["ci95"][1]), int(data["images"]), per_class)


def model_accuracy_estimate(state_settings: Mapping[str, Any]) -> AccuracyEstimate | None:
    """The :class:`AccuracyEstimate` a model state stored when it was adapted (``settings["accuracy_estimate"]``).

    None when there is none (no unlabelled images, or a model adapted before estimates were stored),
    and, with a logged warning, when the stored one is malformed.
    """
    data = state_settings.get("accuracy_estimate")
    if data is None:
        return None
    try:
        estimate = AccuracyEstimate.from_dict(data)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        log.warning("ignoring the model's stored accuracy estimate: it is malformed (%s: %s)", type(exc).__name__, exc)
        return None
    values = [estimate.accuracy, estimate.ci_low, estimate.ci_high]
    values += [x for v in estimate.per_class.values() for x in v if not math.isnan(x)]
    if not all(0.0 <= x <= 1.0 for x in values) or not estimate.ci_low <= estimate.accuracy <= estimate.ci_high or estimate.images < 1:
        log.warning("ignoring the model's stored accuracy estimate: its values are out of range (%s)", data)
        return None
    return estimate
