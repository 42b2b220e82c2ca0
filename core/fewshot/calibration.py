"""Calibration learnt across many tasks, refined per support set, and the statistics around it.

The shipped file ``resources/fewshot_calibration.json`` holds, per backbone, values meta-fitted
over thousands of development episodes (see bench/bench_fewshot.py --fit-calibration):

- ``temperature``: softmax temperature for logits ``-squared distance``, as a function of shots
  (interpolated in log-shots);
- ``set_threshold``: cumulative calibrated probability at which a prediction set stops growing,
  per target coverage and shots, so that the sets cover their target on held-out tasks;
- ``unknown_quantile``: the novelty score below which ``1 - false_rejection`` of known queries fall,
  expressed relative to the support set's own leave-one-out spread;
- ``task_scale``: how the temperature follows the support set's own scale. Centring and L2 put every
  task on the unit sphere, which hides how alike its images are: support examples of chest X-rays sit
  closer together (before the L2) than those of blood cells, and such tasks are harder. The temperature
  is multiplied by ``(reference / support_scale) ** exponent``, softening the probabilities of tasks
  whose support set is tight; the exponent is meta-fitted with the rest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import ModelError

CALIBRATION_RESOURCE = "fewshot_calibration.json"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Calibration:
    """Meta-fitted calibration for one backbone; see the module docstring."""

    temperature_shots: tuple[float, ...] = (1.0, 5.0)
    temperature_values: tuple[float, ...] = (0.1, 0.1)
    set_coverages: tuple[float, ...] = (0.9,)
    set_shots: tuple[float, ...] = (1.0, 5.0)
    set_values: tuple[tuple[float, ...], ...] = ((0.9, 0.9),)  # [coverage][shots]
    unknown_threshold: float = 3.0
    adapted_scale: float = 1.0  # temperature multiplier once the embedding was adapted to the support set
    adapted_unknown_threshold: float | None = None  # adaptation tightens the support set, so novelty needs its own cut
    scale_exponent: float = 0.0  # 0: the temperature ignores the support set's scale
    scale_reference: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def temperature(self, shots: float) -> float:
        return float(math.exp(_interp_log(shots, self.temperature_shots, [math.log(v) for v in self.temperature_values])))

    def task_factor(self, support_scale: float) -> float:
        """Temperature multiplier for a support set of mean distance ``support_scale`` to its centre (frozen features)."""
        if self.scale_exponent == 0.0 or support_scale <= 0.0:
            return 1.0
        return float((self.scale_reference / support_scale) ** self.scale_exponent)

    def task_temperature(self, shots: float, support_scale: float) -> float:
        return self.temperature(shots) * self.task_factor(support_scale)

    def unknown_cut(self, adapted: bool) -> float:
        """Novelty above which a query is "none of these"."""
        if adapted and self.adapted_unknown_threshold is not None:
            return self.adapted_unknown_threshold
        return self.unknown_threshold

    def set_threshold(self, coverage: float, shots: float) -> float:
        """Cumulative-probability threshold for a target coverage (interpolated; the target itself outside the table)."""
        per_cov = [_interp_log(shots, self.set_shots, list(row)) for row in self.set_values]
        if not self.set_coverages or coverage < self.set_coverages[0] or coverage > self.set_coverages[-1]:
            return coverage
        return float(np.interp(coverage, self.set_coverages, per_cov))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        try:
            return cls(
                temperature_shots=tuple(float(v) for v in data["temperature"]["shots"]),
                temperature_values=tuple(float(v) for v in data["temperature"]["values"]),
                set_coverages=tuple(float(v) for v in data["set_threshold"]["coverages"]),
                set_shots=tuple(float(v) for v in data["set_threshold"]["shots"]),
                set_values=tuple(tuple(float(v) for v in row) for row in data["set_threshold"]["values"]),
                unknown_threshold=float(data["unknown_threshold"]),
                adapted_scale=float(data.get("adapted_scale", 1.0)),
                adapted_unknown_threshold=None
                if data.get("adapted_unknown_threshold") is None
                else float(data["adapted_unknown_threshold"]),
                scale_exponent=float(data.get("task_scale", {}).get("exponent", 0.0)),
                scale_reference=float(data.get("task_scale", {}).get("reference", 1.0)),
                extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"malformed calibration entry ({exc!r})") from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": {"shots": list(self.temperature_shots), "values": list(self.temperature_values)},
            "set_threshold": {
                "coverages": list(self.set_coverages),
                "shots": list(self.set_shots),
                "values": [list(r) for r in self.set_values],
            },
            "unknown_threshold": self.unknown_threshold,
            "adapted_scale": self.adapted_scale,
            "adapted_unknown_threshold": self.adapted_unknown_threshold,
            "task_scale": {"exponent": self.scale_exponent, "reference": self.scale_reference},
            **self.extra,
        }


_KNOWN_KEYS = {"temperature", "set_threshold", "unknown_threshold", "adapted_scale", "adapted_unknown_threshold", "task_scale"}


def support_scale(z: npt.NDArray[np.floating[Any]]) -> float:
    """Mean distance of the support embeddings (n, d), before centring and L2, to their mean."""
    return float(np.linalg.norm(z - z.mean(axis=0, keepdims=True), axis=1).mean())


def _interp_log(shots: float, xs: tuple[float, ...], ys: list[float]) -> float:
    return float(np.interp(math.log(max(shots, 1.0)), [math.log(x) for x in xs], ys))


def load_calibration(backbone_id: str) -> Calibration:
    """The shipped calibration for ``backbone_id``; an uncalibrated default (with a note in the log) if none."""
    text = resources.files("resources").joinpath(CALIBRATION_RESOURCE).read_text(encoding="utf-8")
    table = json.loads(text).get("backbones", {})
    if ".rsbackbone" in backbone_id and "efficientnet-lite0" in table:
        # A meta-trained file retrains only the upper layers, distilled toward the pretrained ones:
        # its base's calibration is the nearest one shipped (until meta-train fits its own).
        base = Calibration.from_dict(table["efficientnet-lite0"])
        return replace(base, extra={**base.extra, "note": f"calibration of efficientnet-lite0, the base of {backbone_id}"})
    if backbone_id not in table:
        return Calibration(extra={"note": f"no meta-fitted calibration for {backbone_id}"})
    return Calibration.from_dict(table[backbone_id])


def softmax(logits: FloatArray) -> FloatArray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def fit_temperature(neg_sq_dist: FloatArray, targets: npt.NDArray[np.int64], lo: float = 1e-3, hi: float = 10.0) -> float:
    """Temperature minimising the NLL of ``softmax(neg_sq_dist / T)`` (golden-section search in log T)."""
    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2

    def nll(log_t: float) -> float:
        p = softmax(neg_sq_dist / math.exp(log_t))
        return float(-np.log(p[np.arange(len(targets)), targets] + 1e-12).mean())

    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(c), nll(d)
    for _ in range(40):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(d)
    return float(math.exp((a + b) / 2))


def prediction_sets(proba: FloatArray, threshold: float) -> list[list[int]]:
    """Smallest top-k set whose cumulative probability reaches ``threshold`` (at least one class)."""
    order = np.argsort(-proba, axis=1)
    cum = np.cumsum(np.take_along_axis(proba, order, axis=1), axis=1)
    sizes = np.minimum((cum < threshold).sum(axis=1) + 1, proba.shape[1])
    return [order[i, : sizes[i]].tolist() for i in range(len(proba))]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval for a binomial proportion; (0, 1) when n == 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
