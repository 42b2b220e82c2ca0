"""Meta-fitting the shipped calibration from development episodes (see resources/fewshot_calibration.json).

Given the :class:`EpisodeRecord` of many episodes per domain (any shot counts, adapted or not), fit

- the temperature model (core.fewshot.calibration): the prior's weights, the strength and bias
  correction of the support set's leave-one-out evidence, and adaptation's factor, minimising the
  query NLL averaged over domains with equal weight (so the domain with the most images does not
  decide); which prior features are free is chosen by leave-one-domain-out within the domains;
- the cumulative-probability threshold at which prediction sets reach each target coverage on every
  domain (with "none of these" active, as the product uses them);
- the novelty cut (novelty is measured in the frozen embedding, adapted or not) that rejects about
  ``false_rejection`` of known queries on the domain that needs the highest cut.

What counts is how these hold on a domain they were not fitted on: bench/lodo.py fits them on three
development domains and reports on the fourth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from scipy import optimize

from core.evaluation.metrics import expected_calibration_error
from core.evaluation.runner import EpisodeRecord
from core.fewshot.calibration import (
    LOG_T_GRID,
    PRIOR_FEATURES,
    TEMPERATURE_FEATURES,
    Calibration,
    log_temperatures,
    loo_nll_curve,
    prediction_sets,
    softmax,
)

COVERAGES = (0.8, 0.85, 0.9, 0.95)
# temperature-model variants, chosen between by leave-one-domain-out within the fitting domains:
# which prior features are free (the rest stay 0) and whether the support set's leave-one-out evidence is used
VARIANTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "shots": (("bias", "log_shots"), False),
    "shots+scale": (("bias", "log_shots", "log_scale"), False),
    "shots+loo": (("bias", "log_shots"), True),
    "shots+scale+loo": (("bias", "log_shots", "log_scale"), True),
    "shots+ways": (("bias", "log_shots", "log_ways"), False),
    "shots+ways+loo": (("bias", "log_shots", "log_ways"), True),
}


class _Domain:
    """One domain's episodes, arranged for fast evaluation of many candidate calibrations."""

    def __init__(self, records: Sequence[EpisodeRecord]) -> None:
        if any(r.stats is None for r in records):
            raise ValueError("episode records need their task statistics to fit the temperature model")
        self.records = list(records)
        self.x = np.stack([r.stats.features() for r in records if r.stats is not None])
        curves = [loo_nll_curve(r.support_loo, r.support_targets) if r.support_targets is not None else None for r in records]
        self.has_curve = np.array([c is not None for c in curves])
        self.curves = np.stack([c if c is not None else np.zeros_like(LOG_T_GRID) for c in curves])
        self.adapted = np.array([bool(r.stats is not None and r.stats.adapted) for r in records])
        self.groups = []
        for ways in sorted({r.logits.shape[1] for r in records}):
            idx = [i for i, r in enumerate(records) if r.logits.shape[1] == ways]
            logits = np.concatenate([records[i].logits for i in idx])
            targets = np.concatenate([records[i].targets for i in idx])
            episode = np.concatenate([np.full(len(records[i].targets), i) for i in idx])
            self.groups.append((logits, targets, episode))
        self.queries = sum(len(r.targets) for r in records)

    def log_temperatures(self, weights: npt.NDArray[np.float64], strength: float, shift: float = 0.0) -> npt.NDArray[np.float64]:
        return log_temperatures(weights, self.x, self.curves, self.has_curve, strength, shift)

    def nll(self, log_t: npt.NDArray[np.float64]) -> float:
        total = 0.0
        for logits, targets, episode in self.groups:
            z = logits / np.exp(log_t[episode])[:, None]
            z = z - z.max(axis=1, keepdims=True)
            total -= float((z[np.arange(len(z)), targets] - np.log(np.exp(z).sum(axis=1))).sum())
        return total / max(self.queries, 1)


def fit_temperature_model(domains: Sequence[_Domain], variant: str) -> tuple[npt.NDArray[np.float64], float, float]:
    """Weights and leave-one-out strength minimising the query NLL averaged over domains (equal weight).

    The frozen embedding's prior (and strength) are fitted on episodes without adaptation, then
    adaptation's factor on the adapted ones, the frozen part held fixed.
    """
    free, use_loo = VARIANTS[variant]
    free_idx = [TEMPERATURE_FEATURES.index(f) for f in free]

    def unpack(theta: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], float, float]:
        w = np.zeros(len(TEMPERATURE_FEATURES))
        w[free_idx] = theta[: len(free_idx)]
        return (w, float(np.exp(theta[-2])), float(theta[-1])) if use_loo else (w, math.inf, 0.0)

    def frozen_loss(theta: npt.NDArray[np.float64]) -> float:
        w, strength, shift = unpack(theta)
        return float(np.mean([d.nll(d.log_temperatures(w, strength, shift)) for d in frozen_domains]))

    frozen_domains = _split(domains, adapted=False)
    start = np.array([math.log(0.5)] + [0.0] * (len(free_idx) - 1) + ([math.log(3.0), 0.0] if use_loo else []))
    best = optimize.minimize(frozen_loss, start, method="Nelder-Mead", options=_nelder_mead(start))
    w, strength, shift = unpack(best.x)
    adapted_domains = _split(domains, adapted=True)
    if adapted_domains:

        def adapted_loss(theta: npt.NDArray[np.float64]) -> float:
            w2 = w.copy()
            w2[PRIOR_FEATURES:] = theta
            return float(np.mean([d.nll(d.log_temperatures(w2, strength, shift)) for d in adapted_domains]))

        start_adapted = np.array([0.0, 1.0])
        fit = optimize.minimize(adapted_loss, start_adapted, method="Nelder-Mead", options=_nelder_mead(start_adapted))
        w[PRIOR_FEATURES:] = fit.x
    return w, strength, shift


def _nelder_mead(start: npt.NDArray[np.float64], step: float = 0.5) -> dict[str, object]:
    """Options with a starting simplex of real steps: scipy's default moves a zero start by 0.00025 only."""
    simplex = np.vstack([start] + [start + step * np.eye(len(start))[i] for i in range(len(start))])
    return {"initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-6, "maxiter": 2000}


def _split(domains: Sequence[_Domain], adapted: bool) -> list[_Domain]:
    """Each domain's adapted (or frozen) episodes, leaving out domains that have none."""
    parts = [[r for r, a in zip(d.records, d.adapted, strict=True) if a == adapted] for d in domains]
    return [_Domain(part) for part in parts if part]


def choose_variant(records: Mapping[str, Sequence[EpisodeRecord]]) -> tuple[str, dict[str, float]]:
    """The variant with the smallest worst-domain ECE when each fitting domain is held out in turn."""
    domains = {name: _Domain(recs) for name, recs in records.items()}
    worst = {}
    for variant in VARIANTS:
        eces = []
        for held in domains:
            w, strength, shift = fit_temperature_model([d for n, d in domains.items() if n != held], variant)
            d = domains[held]
            eces.append(_ece(d, d.log_temperatures(w, strength, shift)))
        worst[variant] = max(eces)
    return min(worst, key=lambda v: worst[v]), worst


def _ece(domain: _Domain, log_t: npt.NDArray[np.float64]) -> float:
    conf, ok = [], []
    for r, lt in zip(domain.records, log_t, strict=True):
        p = softmax(r.logits / math.exp(lt))
        conf.append(p.max(1))
        ok.append(p.argmax(1) == r.targets)
    return expected_calibration_error(np.concatenate(conf), np.concatenate(ok))


def fit_calibration(
    records: Mapping[str, Sequence[EpisodeRecord]], false_rejection: float = 0.02, variant: str | None = None
) -> Calibration:
    """The whole calibration from ``records`` (domain name -> episode records of any shots, adapted or not).

    ``variant`` None chooses the temperature model by leave-one-domain-out within ``records``.
    """
    chosen, worst = (variant, {}) if variant else choose_variant(records)
    w, strength, shift = fit_temperature_model([_Domain(recs) for recs in records.values()], chosen)
    cal = Calibration(temperature_weights=tuple(float(v) for v in w), loo_strength=strength, loo_shift=shift)
    temps = {
        name: [cal.task_temperature(r.stats, r.support_loo, r.support_targets) for r in recs if r.stats is not None]
        for name, recs in records.items()
    }
    # novelty is judged in the frozen embedding, adapted or not (core.fewshot.classifier), so one cut serves
    # both: per domain the quantile that rejects ``false_rejection`` of known queries, then the largest
    unknown = float(max(np.quantile(np.concatenate([r.query_novelty() for r in recs]), 1 - false_rejection) for recs in records.values()))
    cal = replace(cal, unknown_threshold=unknown, adapted_unknown_threshold=None)
    shots = sorted({int(r.shots) for recs in records.values() for r in recs})
    values = [tuple(_set_threshold(records, temps, cal, cov, k) for k in shots) for cov in COVERAGES]
    extra = {"temperature_model": chosen, "variant_worst_ece": {k: round(v, 4) for k, v in worst.items()}}
    return replace(cal, set_coverages=COVERAGES, set_shots=tuple(float(k) for k in shots), set_values=tuple(values), extra=extra)


def _set_threshold(
    records: Mapping[str, Sequence[EpisodeRecord]],
    temps: Mapping[str, Sequence[float]],
    cal: Calibration,
    coverage: float,
    shots: int,
) -> float:
    """Smallest threshold whose sets cover at least ``coverage`` on every domain (bisection)."""
    chosen = {
        name: [(r, t) for r, t in zip(recs, temps[name], strict=True) if r.shots == shots and r.stats is not None]
        for name, recs in records.items()
    }
    chosen = {name: pairs for name, pairs in chosen.items() if pairs}

    def worst_coverage(threshold: float) -> float:
        covs = []
        for pairs in chosen.values():
            hits = []
            for r, t in pairs:
                sets = prediction_sets(softmax(r.logits / t), threshold)
                rejected = r.query_novelty() > cal.unknown_cut(bool(r.stats and r.stats.adapted))
                hits += [(tg in s) and not rej for tg, s, rej in zip(r.targets, sets, rejected, strict=True)]
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
