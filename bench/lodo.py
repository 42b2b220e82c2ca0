"""Leave-one-domain-out table of the few-shot engine: every fitted quantity is fitted on three
development domains (seed-1 episodes) and reported on the fourth (seed-0 episodes), in turn.

    .venv/bin/python bench/lodo.py --records /tmp/rec --out bench/results/lodo.json
    .venv/bin/python bench/lodo.py --records /tmp/rec --calibration bench/baselines/calibration-2164a35.json \\
        --out bench/results/lodo-before.json       # a fixed calibration (no refit), on the same episodes
    .venv/bin/python bench/lodo.py --records /tmp/rec --ship resources/fewshot_calibration.json  # fit on all four

Episodes are run once and saved under --records (bench/episode_records.py); they are re-run only
when missing. Per domain and row (1 shot; 5 shots frozen; 5 shots adapted, the product default):
accuracy with 95 % CI, the gain over easyfsl 1.5.0 ProtoNet on frozen Lite0 on the same episodes
(paired 95 % CI), ECE, 90 % set coverage and size, open-set AUROC (queries against a class left out
of the episode), the share of known and left-out queries called "none of these", and the error of
the app's accuracy estimate (mean calibrated confidence over the episode's unlabelled queries)
against the episode's true accuracy. Ways are min(5, classes - 1) so a class is always left out.
Data: ../shared/data (never copied into the repository); without it the bench says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import episode_records as er  # noqa: E402

from core.evaluation.calibrate import fit_calibration  # noqa: E402
from core.evaluation.metrics import auroc, expected_calibration_error, mean_ci95  # noqa: E402
from core.evaluation.provenance import git_state  # noqa: E402
from core.evaluation.runner import EpisodeRecord  # noqa: E402
from core.fewshot.calibration import Calibration, mean_confidence, prediction_sets, softmax  # noqa: E402

log = logging.getLogger("lodo")
# (name, shots, adapt, episodes per seed): the rows of the table
ROWS = (("1-shot", 1, "auto", 300), ("5-shot frozen", 5, "none", 300), ("5-shot adapted", 5, "auto", 30))
FIT_SEED, REPORT_SEED = 1, 0
COVERAGE = 0.9


def record_file(records: Path, domain: str, seed: int, shots: int, adapt: str, episodes: int, pool: int = 0) -> Path:
    prefix = f"pool{pool}-" if pool else ""
    return records / f"{prefix}{domain}-seed{seed}-{shots}shot-{adapt}-{episodes}.npz"


def episodes_for(data: Path, records: Path, domain: str, seed: int, shots: int, adapt: str, episodes: int, pool: int = 0) -> er.Episodes:
    """The saved episodes (run and saved when missing); with ``pool`` each episode also learns from that many unlabelled images."""
    path = record_file(records, domain, seed, shots, adapt, episodes, pool)
    if not path.is_file():
        start = time.perf_counter()
        er.save(path, er.collect(data, domain, seed, shots, adapt, episodes, pool=pool))
        log.warning("ran %s in %.0f s", path.name, time.perf_counter() - start)
    return er.load(path)


def as_records(eps: er.Episodes) -> list[EpisodeRecord]:
    return [
        EpisodeRecord(
            shots=round(s.shots),
            ways=s.ways,
            logits=lg,
            targets=t,
            unknown_logits=u,
            temperature=1.0,
            spread=float(sp),
            sets=[],
            class_names=[str(k) for k in range(s.ways)],
            adapt_seconds=float(a),
            infer_seconds=0.0,
            adaptation_ratio=s.adaptation_ratio,
            support_scale=s.support_scale,
            stats=s,
            support_loo=loo if len(loo) else None,
            support_targets=st,
            novelty=nov,
            unknown_novelty=unov,
        )
        for lg, t, u, s, sp, a, loo, st, nov, unov in zip(
            eps.logits,
            eps.targets,
            eps.unknown_logits,
            eps.stats,
            eps.spread,
            eps.adapt_seconds,
            eps.support_loo,
            eps.support_targets,
            eps.novelty,
            eps.unknown_novelty,
            strict=True,
        )
    ]


def score(eps: er.Episodes, cal: Calibration) -> dict[str, Any]:
    """The table's metrics of ``eps`` under ``cal``."""
    accs, conf, ok, covered, sizes, aurocs, est, flagged_known, flagged_unknown, floor = [], [], [], [], [], [], [], [], [], []
    for r in as_records(eps):
        assert r.stats is not None
        proba = softmax(r.logits / cal.task_temperature(r.stats, r.support_loo, r.support_targets))
        pred = proba.argmax(1)
        accs.append(float((pred == r.targets).mean()))
        conf.append(proba.max(1))
        ok.append(pred == r.targets)
        cut = cal.unknown_cut(r.stats.adapted)
        rejected = r.query_novelty() > cut
        sets = prediction_sets(proba, cal.set_threshold(COVERAGE, r.stats.shots))
        covered += [(t in s) and not rej for t, s, rej in zip(r.targets, sets, rejected, strict=True)]
        sizes += [0 if rej else len(s) for s, rej in zip(sets, rejected, strict=True)]
        flagged_known.append(rejected.mean())
        est.append(mean_confidence(proba))
        top = proba.max(1)
        # the error a perfectly calibrated estimate would still make: the queries' right/wrong are coin flips
        floor.append(float(np.sqrt(2 / np.pi * (top * (1 - top)).sum()) / len(top)))
        if len(r.unknown_logits):
            aurocs.append(auroc(r.query_novelty(), r.unknown_query_novelty()))
            flagged_unknown.append(float((r.unknown_query_novelty() > cut).mean()))
    acc, ci = mean_ci95(accs)
    gain, gain_ci = mean_ci95(np.array(accs) - eps.baseline_accuracy)
    errors = np.array(est) - np.array(accs)
    return {
        "episodes": len(accs),
        "ways": int(eps.stats[0].ways),
        "accuracy": acc,
        "accuracy_ci95": ci,
        "easyfsl_accuracy": float(eps.baseline_accuracy.mean()),
        "gain_over_easyfsl": gain,
        "gain_ci95": gain_ci,
        "ece": expected_calibration_error(np.concatenate(conf), np.concatenate(ok)),
        "easyfsl_ece": expected_calibration_error(np.concatenate(eps.baseline_confidence), np.concatenate(eps.baseline_correct)),
        "set_coverage": float(np.mean(covered)),
        "set_size": float(np.mean(sizes)),
        "open_set_auroc": float(np.mean(aurocs)) if aurocs else None,
        "known_flagged_none": float(np.mean(flagged_known)),
        "unknown_flagged_none": float(np.mean(flagged_unknown)) if flagged_unknown else None,
        "estimated_accuracy": float(np.mean(est)),
        "estimate_abs_error": float(np.abs(errors).mean()),
        "estimate_signed_error": float(errors.mean()),
        "estimate_noise_floor": float(np.mean(floor)),
        "episode_accuracy": [round(a, 4) for a in accs],
    }


def load_all(data: Path, records: Path, seed: int) -> dict[str, dict[str, er.Episodes]]:
    """domain -> row name -> episodes of ``seed``."""
    return {d: {name: episodes_for(data, records, d, seed, k, adapt, n) for name, k, adapt, n in ROWS} for d in er.DOMAINS}


def fit_on(episodes: dict[str, dict[str, er.Episodes]], domains: list[str]) -> Calibration:
    return fit_calibration({d: [r for eps in episodes[d].values() for r in as_records(eps)] for d in domains})


def git_sha() -> str | None:
    """HEAD's SHA, "-dirty" when tracked files differ from it (the results this bench writes do not count)."""
    sha, dirty = git_state(REPO, untracked=False)
    return None if sha is None else sha + ("-dirty" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--records", type=Path, required=True, help="folder of saved episodes (made when missing)")
    parser.add_argument("--calibration", type=Path, help="score this fixed calibration JSON instead of refitting per held-out domain")
    parser.add_argument("--ship", type=Path, metavar="JSON", help="fit on all four domains (seed 1) and write the shipped calibration")
    parser.add_argument("--out", type=Path, help="write the table as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not args.data.is_dir():
        print(f"lodo: skipped, no development data at {args.data}", file=sys.stderr)
        return 0
    fit_eps = load_all(args.data, args.records, FIT_SEED)
    if args.ship:
        return ship(fit_eps, args)
    report_eps = load_all(args.data, args.records, REPORT_SEED)
    fixed = None
    if args.calibration:
        fixed = Calibration.from_dict(json.loads(args.calibration.read_text())["backbones"]["efficientnet-lite0"])
    table: dict[str, Any] = {}
    for held_out in er.DOMAINS:
        cal = fixed or fit_on(fit_eps, [d for d in er.DOMAINS if d != held_out])
        table[held_out] = {name: score(report_eps[held_out][name], cal) for name, *_ in ROWS}
        for name, row in table[held_out].items():
            print(summary_line(held_out, name, row), flush=True)
        table[held_out]["calibration"] = cal.to_dict()  # what was fitted without this domain
    out = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "git_sha": git_sha(),
        "protocol": f"fit on the other three domains, seed {FIT_SEED}; reported on seed {REPORT_SEED}"
        if fixed is None
        else f"fixed calibration {args.calibration}",
        "rows": {name: {"shots": k, "adapt": adapt, "episodes": n} for name, k, adapt, n in ROWS},
        "coverage": COVERAGE,
        "table": table,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return 0


def summary_line(domain: str, name: str, row: dict[str, Any]) -> str:
    auroc_text = "-" if row["open_set_auroc"] is None else f"{row['open_set_auroc']:.3f}"
    return (
        f"{domain:20s} {name:15s} {row['ways']}-way acc {100 * row['accuracy']:5.1f}+-{100 * row['accuracy_ci95']:.1f} "
        f"gain {100 * row['gain_over_easyfsl']:+5.1f}+-{100 * row['gain_ci95']:.1f}  ECE {row['ece']:.3f}  "
        f"cover {100 * row['set_coverage']:5.1f} size {row['set_size']:.2f}  AUROC {auroc_text}  "
        f"none {100 * row['known_flagged_none']:.0f}/{100 * (row['unknown_flagged_none'] or 0):.0f}%  "
        f"est err {100 * row['estimate_abs_error']:.1f} ({100 * row['estimate_signed_error']:+.1f}; "
        f"floor {100 * row['estimate_noise_floor']:.1f})"
    )


def estimate_sd(fit_eps: dict[str, dict[str, er.Episodes]]) -> float:
    """Systematic error of the app's accuracy estimate on a domain the calibration was not fitted on: the RMS,
    over domains held out in turn and rows, of the mean signed error (seed-1 episodes only)."""
    biases = []
    for held_out in er.DOMAINS:
        cal = fit_on(fit_eps, [d for d in er.DOMAINS if d != held_out])
        biases += [score(eps, cal)["estimate_signed_error"] for eps in fit_eps[held_out].values()]
    return float(np.sqrt(np.mean(np.square(biases))))


def ship(fit_eps: dict[str, dict[str, er.Episodes]], args: argparse.Namespace) -> int:
    return ship_calibration(fit_eps, args.ship, "efficientnet-lite0", f"{', '.join(er.DOMAINS)}: ", "bench/lodo.py --ship")


def ship_calibration(fit_eps: dict[str, dict[str, er.Episodes]], path: Path, backbone: str, data: str, script: str) -> int:
    """Fit ``backbone``'s calibration on every domain's seed-1 episodes of ROWS and write it into the calibration file."""
    cal = fit_on(fit_eps, list(er.DOMAINS)).to_dict()
    cal["estimate_sd"] = estimate_sd(fit_eps)
    cal["fitted_on"] = (
        f"{data}seed-{FIT_SEED} episodes "
        + ", ".join(f"{name} ({n} per domain)" for name, _, _, n in ROWS)
        + "; ways min(5, classes - 1), 15 queries, chest grouped by patient and rbc by smear"
    )
    cal["fitted_by"] = f"{script} (git {git_sha()})"
    table = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"version": 2, "backbones": {}}
    table["version"] = 2
    table["backbones"][backbone] = cal
    path.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(cal, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
