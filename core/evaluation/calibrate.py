"""Meta-fitting the shipped calibration from development episodes (see resources/fewshot_calibration.json).

Given the :class:`EpisodeRecord` of many episodes per dataset and shot count, fit

- one temperature per shot count: the one with the smallest worst-case ECE over the datasets,
  between their NLL optima, so no single dataset or modality dominates;
- the exponent by which the temperature follows the support set's scale: the one whose worst-case
  ECE, averaged over shot counts, is smallest (0 among the candidates: no scaling);
- the cumulative-probability threshold at which prediction sets reach each target coverage
  (with the "none of these" rejection active, as the product uses them);
- the novelty threshold that rejects about ``false_rejection`` of known queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from core.evaluation.metrics import expected_calibration_error
from core.evaluation.runner import EpisodeRecord
from core.fewshot.calibration import Calibration, fit_temperature, prediction_sets, softmax

COVERAGES = (0.8, 0.85, 0.9, 0.95)
EXPONENTS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)  # candidate task-scale exponents (see core.fewshot.calibration)


def _novelty(logits: np.ndarray, spread: float) -> np.ndarray:  # type: ignore[type-arg]
    return np.asarray(-logits.max(axis=1) / spread)


def fit_calibration(
    records: Mapping[str, Sequence[EpisodeRecord]], false_rejection: float = 0.02, exponents: Sequence[float] = EXPONENTS
) -> Calibration:
    """records: dataset name -> episode records (any shot counts)."""
    by_shots: dict[int, dict[str, list[EpisodeRecord]]] = defaultdict(lambda: defaultdict(list))
    for name, recs in records.items():
        for r in recs:
            by_shots[r.shots][name].append(r)
    shots = sorted(by_shots)
    scales = [r.support_scale for recs in records.values() for r in recs if r.support_scale > 0]
    reference = float(np.median(scales)) if scales else 1.0

    def fitted(exponent: float) -> tuple[float, list[float]]:
        """Mean over shot counts of the worst dataset's ECE, and the temperatures, for one exponent."""
        factor = _task_factor(reference, exponent)
        temps = [_minimax_temperature(by_shots[k], factor) for k in shots]
        worst = [_worst_ece(by_shots[k], t, factor) for k, t in zip(shots, temps, strict=True)]
        return float(np.mean(worst)), temps

    results = {e: fitted(e) for e in exponents}
    exponent = min(results, key=lambda e: results[e][0])
    temps = results[exponent][1]
    factor = _task_factor(reference, exponent)
    # per-dataset quantile, then the largest: a threshold that rejects few known queries anywhere
    unknown_threshold = float(
        max(np.quantile(np.concatenate([_novelty(r.logits, r.spread) for r in recs]), 1 - false_rejection) for recs in records.values())
    )
    values = []
    for cov in COVERAGES:
        row = []
        for k, t in zip(shots, temps, strict=True):
            row.append(_set_threshold(by_shots[k], t, cov, unknown_threshold, factor))
        values.append(tuple(row))
    return Calibration(
        temperature_shots=tuple(float(k) for k in shots),
        temperature_values=tuple(temps),
        set_coverages=COVERAGES,
        set_shots=tuple(float(k) for k in shots),
        set_values=tuple(values),
        unknown_threshold=unknown_threshold,
        scale_exponent=float(exponent),
        scale_reference=reference,
    )


def _task_factor(reference: float, exponent: float) -> Callable[[EpisodeRecord], float]:
    """Per-episode temperature multiplier, as :meth:`Calibration.task_factor` computes it."""
    cal = Calibration(scale_exponent=exponent, scale_reference=reference)
    return lambda r: cal.task_factor(r.support_scale)


def _worst_ece(datasets: Mapping[str, Sequence[EpisodeRecord]], t: float, factor: Callable[[EpisodeRecord], float]) -> float:
    eces = []
    for recs in datasets.values():
        proba = [softmax(r.logits / (t * factor(r))) for r in recs]
        conf = np.concatenate([p.max(1) for p in proba])
        ok = np.concatenate([p.argmax(1) == r.targets for p, r in zip(proba, recs, strict=True)])
        eces.append(expected_calibration_error(conf, ok))
    return max(eces)


def _minimax_temperature(datasets: Mapping[str, Sequence[EpisodeRecord]], factor: Callable[[EpisodeRecord], float]) -> float:
    """The temperature whose worst ECE over the datasets is smallest (robust across modalities).

    Searched between the per-dataset NLL optima, where the compromise must lie.
    """
    fits = []
    for recs in datasets.values():
        fits.append(fit_temperature(np.concatenate([r.logits / factor(r) for r in recs]), np.concatenate([r.targets for r in recs])))
    grid = np.exp(np.linspace(np.log(min(fits)), np.log(max(fits)), 41))
    return float(min(grid, key=lambda t: _worst_ece(datasets, t, factor)))


def _set_threshold(
    datasets: Mapping[str, Sequence[EpisodeRecord]],
    temperature: float,
    coverage: float,
    unknown: float,
    factor: Callable[[EpisodeRecord], float],
) -> float:
    """Smallest threshold whose sets cover at least ``coverage`` on every dataset's average (bisection)."""

    def worst_coverage(threshold: float) -> float:
        covs = []
        for recs in datasets.values():
            hits = []
            for r in recs:
                sets = prediction_sets(softmax(r.logits / (temperature * factor(r))), threshold)
                rejected = _novelty(r.logits, r.spread) > unknown
                hits += [(t in s) and not rej for t, s, rej in zip(r.targets, sets, rejected, strict=True)]
            covs.append(np.mean(hits))
        return float(min(covs))

    lo, hi = 0.3, 0.99999
    for _ in range(25):
        mid = (lo + hi) / 2
        if worst_coverage(mid) >= coverage:
            hi = mid
        else:
            lo = mid
    return hi


def fit_adapted(records: Mapping[str, Sequence[EpisodeRecord]], base: Calibration, false_rejection: float = 0.02) -> Calibration:
    """Add the adapted-embedding temperature scale and novelty cut to ``base``, from adapted episodes."""
    base_t = {name: [base.task_temperature(r.shots, r.support_scale) * r.adaptation_ratio for r in recs] for name, recs in records.items()}
    grid = np.exp(np.linspace(np.log(0.3), np.log(3.0), 61))

    def worst(scale: float) -> float:
        eces = []
        for name, recs in records.items():
            proba = [softmax(r.logits / (t * scale)) for r, t in zip(recs, base_t[name], strict=True)]
            conf = np.concatenate([p.max(1) for p in proba])
            ok = np.concatenate([p.argmax(1) == r.targets for p, r in zip(proba, recs, strict=True)])
            eces.append(expected_calibration_error(conf, ok))
        return max(eces)

    scale = float(min(grid, key=worst))
    cut = float(
        max(np.quantile(np.concatenate([_novelty(r.logits, r.spread) for r in recs]), 1 - false_rejection) for recs in records.values())
    )
    return replace(base, adapted_scale=scale, adapted_unknown_threshold=cut)
