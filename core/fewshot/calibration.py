"""Calibration learnt across many tasks, informed by each support set, and the statistics around it.

The shipped file ``resources/fewshot_calibration.json`` holds, per backbone, values meta-fitted on
development episodes of four domains (bench/lodo.py --ship; bench/lodo.py also reports how each
holds on a domain it was not fitted on):

- ``temperature``: the softmax temperature for logits ``-squared distance``. A prior, log-linear in
  the task statistics (``TEMPERATURE_FEATURES``: shots, the support set's scale), is moved toward what
  the support set itself shows: each example predicted from the others (leave-one-out, frozen
  embedding) gives a likelihood for every temperature, and log T is the posterior mean under a
  Gaussian prior on log T whose precision (``loo_strength``) is meta-fitted. Support sets whose
  examples are recognised with wide margins (an easy task) get sharp probabilities; muddled ones soft
  probabilities. Adaptation's factor (how far it pulled the classes apart) applies on top.
- ``set_threshold``: cumulative calibrated probability at which a prediction set stops growing,
  per target coverage and shots, so that the sets cover their target on every fitting domain;
- ``unknown_threshold``: the novelty score (squared distance to the nearest prototype over the support
  set's own leave-one-out spread, in the frozen embedding even after adaptation) above which a query
  is "none of these"; ``adapted_unknown_threshold`` is only read for models saved when adapted
  models judged novelty in their adapted embedding;
- ``estimate_sd``: the systematic error of the accuracy estimate on held-out domains, for its interval.

A saved model keeps the calibration it was fitted with (core.fewshot.persistence), so editing this
file never changes a project's numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import ModelError

CALIBRATION_RESOURCE = "fewshot_calibration.json"
FloatArray = npt.NDArray[np.float64]


# Inputs of the prior temperature model, in order: log T_prior = weights . features(task statistics).
TEMPERATURE_FEATURES = ("bias", "log_shots", "log_scale", "log_ways", "adapted", "log_ratio")
PRIOR_FEATURES = 4  # the first four features make the prior of the frozen embedding; the rest are adaptation's factor
# log-temperatures on which the support set's leave-one-out likelihood is evaluated (T from 0.01 to 100)
LOG_T_GRID = np.linspace(math.log(1e-2), math.log(1e2), 161)


@dataclass(frozen=True)
class TaskStatistics:
    """What a support set says about its task, measured on the support set alone.

    shots: mean examples per class; ways: classes; support_scale: mean distance of the frozen
    embeddings to their centre before the L2; spread: typical squared distance of an example to its
    own prototype, leave-one-out (one shot: half the prototype gap); prototype_gap: mean squared
    distance between prototypes; adapted / adaptation_ratio: whether adaptation ran and how far it
    pulled the classes apart.
    """

    shots: float
    ways: int
    support_scale: float
    spread: float
    prototype_gap: float
    adapted: bool = False
    adaptation_ratio: float = 1.0

    def features(self) -> FloatArray:
        """(len(TEMPERATURE_FEATURES),) inputs of the prior temperature model."""
        return np.array(
            [
                1.0,
                math.log(max(self.shots, 1.0)),
                math.log(max(self.support_scale, 1e-6)),
                math.log(max(self.ways, 2)),
                float(self.adapted),
                math.log(max(self.adaptation_ratio, 1.0)) if self.adapted else 0.0,
            ]
        )


def loo_nll_curve(loo_logits: FloatArray | None, targets: npt.NDArray[np.int64]) -> FloatArray | None:
    """Summed NLL of the support set's leave-one-out predictions at each temperature of LOG_T_GRID, or None.

    loo_logits: (n_support, n_classes) with NaN rows for examples that cannot be left out.
    """
    if loo_logits is None:
        return None
    rows = ~np.isnan(loo_logits[:, 0])
    if not rows.any():
        return None
    z = loo_logits[rows][None, :, :] / np.exp(LOG_T_GRID)[:, None, None]  # (grid, n, k)
    z = z - z.max(axis=2, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_p, targets[rows][None, :, None], axis=2)[..., 0]
    return np.asarray(-picked.sum(axis=1), dtype=np.float64)


def posterior_means(priors: FloatArray, strength: float, curves: FloatArray, shift: float = 0.0) -> FloatArray:
    """The posterior mean of log T given the support set's leave-one-out likelihood and a Gaussian prior on
    log T centred on the prior with precision ``strength`` (per unit of squared log T).

    priors: (n,); curves: (n, len(LOG_T_GRID)) from :func:`loo_nll_curve`. ``shift`` corrects the
    leave-one-out evidence for its bias: a left-out example meets prototypes of one example fewer than
    a new image does, so its best temperature is off by a meta-fitted factor. The mean (not the mode)
    keeps the temperature a smooth function of the prior, which the meta-fit needs.
    """
    log_post = -(curves + strength * (LOG_T_GRID[None, :] - (priors[:, None] - shift)) ** 2)
    log_post -= log_post.max(axis=1, keepdims=True)
    weights = np.exp(log_post)
    return np.asarray((weights * LOG_T_GRID[None, :]).sum(axis=1) / weights.sum(axis=1) + shift, dtype=np.float64)


def log_temperatures(
    weights: FloatArray, features: FloatArray, curves: FloatArray, has_curve: npt.NDArray[np.bool_], strength: float, shift: float
) -> FloatArray:
    """log T of many tasks at once: features (n, len(TEMPERATURE_FEATURES)), curves (n, len(LOG_T_GRID))
    read only where ``has_curve``; the prior moved by the evidence, then adaptation's factor."""
    prior = features[:, :PRIOR_FEATURES] @ weights[:PRIOR_FEATURES]
    frozen = prior.copy()
    if math.isfinite(strength) and has_curve.any():
        frozen[has_curve] = posterior_means(prior[has_curve], strength, curves[has_curve], shift)
    return np.asarray(np.clip(frozen + features[:, PRIOR_FEATURES:] @ weights[PRIOR_FEATURES:], -7.0, 7.0), dtype=np.float64)


@dataclass(frozen=True)
class Calibration:
    """Meta-fitted calibration for one backbone; see the module docstring."""

    temperature_weights: tuple[float, ...] = (math.log(0.3), 0.0, 0.0, 0.0, 0.0, 0.0)
    loo_strength: float = math.inf  # prior precision against the support set's evidence; inf: ignore the evidence
    loo_shift: float = 0.0  # log-temperature correction of the leave-one-out evidence (see posterior_means)
    set_coverages: tuple[float, ...] = (0.9,)
    set_shots: tuple[float, ...] = (1.0, 5.0)
    set_values: tuple[tuple[float, ...], ...] = ((0.9, 0.9),)  # [coverage][shots]
    unknown_threshold: float = 3.0
    adapted_unknown_threshold: float | None = None  # models saved when novelty was judged in the adapted embedding
    extra: dict[str, Any] = field(default_factory=dict)

    def task_temperature(
        self, stats: TaskStatistics, loo_logits: FloatArray | None = None, loo_targets: npt.NDArray[np.int64] | None = None
    ) -> float:
        """Softmax temperature for logits ``-squared distance`` of the task these statistics describe.

        With the support set's frozen leave-one-out logits, the prior temperature moves toward what
        they show (posterior mean in log T); adaptation's factor applies on top.
        """
        curve = None if loo_logits is None or loo_targets is None else loo_nll_curve(loo_logits, loo_targets)
        log_t = log_temperatures(
            np.asarray(self.temperature_weights),
            stats.features()[None, :],
            (curve if curve is not None else np.zeros_like(LOG_T_GRID))[None, :],
            np.array([curve is not None]),
            self.loo_strength,
            self.loo_shift,
        )
        return float(math.exp(log_t[0]))

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
            model = data["temperature"]
            if tuple(model["features"]) != TEMPERATURE_FEATURES:
                raise ValueError(f"temperature features {model['features']} are not {list(TEMPERATURE_FEATURES)}")
            return cls(
                temperature_weights=tuple(float(v) for v in model["weights"]),
                loo_strength=math.inf if model.get("loo_strength") is None else float(model["loo_strength"]),
                loo_shift=float(model.get("loo_shift", 0.0)),
                set_coverages=tuple(float(v) for v in data["set_threshold"]["coverages"]),
                set_shots=tuple(float(v) for v in data["set_threshold"]["shots"]),
                set_values=tuple(tuple(float(v) for v in row) for row in data["set_threshold"]["values"]),
                unknown_threshold=float(data["unknown_threshold"]),
                adapted_unknown_threshold=None
                if data.get("adapted_unknown_threshold") is None
                else float(data["adapted_unknown_threshold"]),
                extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"malformed calibration entry ({exc!r})") from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": {
                "features": list(TEMPERATURE_FEATURES),
                "weights": list(self.temperature_weights),
                "loo_strength": self.loo_strength if math.isfinite(self.loo_strength) else None,
                "loo_shift": self.loo_shift,
            },
            "set_threshold": {
                "coverages": list(self.set_coverages),
                "shots": list(self.set_shots),
                "values": [list(r) for r in self.set_values],
            },
            "unknown_threshold": self.unknown_threshold,
            "adapted_unknown_threshold": self.adapted_unknown_threshold,
            **self.extra,
        }


_KNOWN_KEYS = {"temperature", "set_threshold", "unknown_threshold", "adapted_unknown_threshold"}


def support_scale(z: npt.NDArray[np.floating[Any]]) -> float:
    """Mean distance of the support embeddings (n, d), before centring and L2, to their mean."""
    return float(np.linalg.norm(z - z.mean(axis=0, keepdims=True), axis=1).mean())


def _interp_log(shots: float, xs: tuple[float, ...], ys: list[float]) -> float:
    return float(np.interp(math.log(max(shots, 1.0)), [math.log(x) for x in xs], ys))


def load_calibration(backbone_id: str) -> Calibration:
    """The shipped calibration for ``backbone_id``; an uncalibrated default (with a note in the log) if none."""
    table = json.loads(_calibration_text()).get("backbones", {})
    if ".rsbackbone" in backbone_id and "efficientnet-lite0" in table:
        # A meta-trained file is distilled toward the pretrained backbone: its base's calibration is the
        # nearest one shipped until one is fitted for it (raresight-meta-lite0 ships its own).
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


CALIBRATION_ENV = "RARESIGHT_CALIBRATION"


def _calibration_text() -> str:
    """The shipped calibration JSON, or the file ``$RARESIGHT_CALIBRATION`` names (same format) when set.

    The override lets tests and experiments try another calibration without editing the installed file.
    """
    override = os.environ.get(CALIBRATION_ENV)
    if not override:
        return resources.files("resources").joinpath(CALIBRATION_RESOURCE).read_text(encoding="utf-8")
    try:
        with open(override, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ModelError(f"{CALIBRATION_ENV}={override}: cannot read the calibration file ({exc.strerror})") from exc


def calibration_id(cal: Calibration) -> str:
    """A short stable name for ``cal``'s values (sha256 of its canonical JSON, 12 hex digits)."""
    canonical = json.dumps(cal.to_dict(), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def mean_confidence(proba: FloatArray) -> float:
    """Expected accuracy on images with calibrated probabilities ``proba`` (n, k): their mean top probability.

    If the probabilities are calibrated, the top one is the chance the prediction is right, so its
    mean over unlabelled images estimates the accuracy on them without knowing their labels.
    """
    return float(proba.max(axis=1).mean()) if len(proba) else float("nan")
