"""Calibration with a pool of unlabelled images, leave-one-domain-out (issue 16: does it stay within target?).

    .venv/bin/python bench/lodo_pool_calibration.py --records /tmp/rec --out bench/results/lodo-pool-calibration.json

The app learns from a project's unlabelled images by centring the task embedding on the support set and
the pool (``bench/lodo_pool.py`` chose it). This runs the episodes of ``bench/lodo.py`` again, each with a
pool of 100 unlabelled images drawn as ``raresight eval --unlabelled 100`` draws them (imbalanced, holding
classes outside the episode), frozen Lite0, and scores them leave-one-domain-out: for each held-out domain
a calibration is fitted on the other three domains' seed-1 episodes and scored on the held-out domain's
seed-0 episodes. Two fits are compared: on episodes without a pool (what the shipped calibration is fitted
on) and on episodes with one. Rows: 1 shot and 5 shots frozen (300 episodes each); ``--adapted`` adds the
product's 5-shot adapted row (30 episodes of 6-18 s each on 2 cores, as in ``bench/lodo.py``), run with the
pool on the reporting seed only (about 14 min per domain under load): the fit without pool includes the
adapted row as the shipped fit does, the fit with pool uses the frozen rows. Targets:
ECE <= 0.05, coverage of the 90 % sets 87-93 %. Data: ../shared/data; without it the bench says so and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import episode_records as er  # noqa: E402
import numpy as np  # noqa: E402
from bench_json import write_json  # noqa: E402
from lodo import FIT_SEED, REPORT_SEED, episodes_for, fit_on, git_sha, score  # noqa: E402

from core.evaluation.metrics import mean_ci95  # noqa: E402

POOL = 100
ROWS = (("1-shot", 1, "auto", 300), ("5-shot frozen", 5, "none", 300))
ADAPTED_ROW = ("5-shot adapted", 5, "auto", 30)
KEEP = (
    "accuracy",
    "gain_over_easyfsl",
    "gain_ci95",
    "ece",
    "set_coverage",
    "set_size",
    "open_set_auroc",
    "known_flagged_none",
    "unknown_flagged_none",
    "estimate_abs_error",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--records", type=Path, required=True, help="folder of saved episodes (made when missing)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--adapted", action="store_true", help="add the 5-shot adapted row (about an hour on 2 cores)")
    args = parser.parse_args()
    rows = (*ROWS, ADAPTED_ROW) if args.adapted else ROWS
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not args.data.is_dir():
        print(f"lodo_pool_calibration: skipped, no development data at {args.data}", file=sys.stderr)
        return 0
    start = time.perf_counter()
    args.records.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[int, dict[str, dict[str, er.Episodes]]]] = {"no pool": {}, "pool": {}}
    for seed in (FIT_SEED, REPORT_SEED):
        runs["no pool"][seed] = {d: {r: episodes_for(args.data, args.records, d, seed, k, a, n) for r, k, a, n in rows} for d in er.DOMAINS}
        pool_rows = rows if seed == REPORT_SEED else ROWS
        runs["pool"][seed] = {
            d: {r: episodes_for(args.data, args.records, d, seed, k, a, n, pool=POOL) for r, k, a, n in pool_rows} for d in er.DOMAINS
        }
    table: dict[str, Any] = {}
    for held_out in er.DOMAINS:
        others = [d for d in er.DOMAINS if d != held_out]
        fits = {
            "fitted without pool": fit_on(runs["no pool"][FIT_SEED], others),
            "fitted with pool": fit_on(runs["pool"][FIT_SEED], others),
        }
        for row, *_ in rows:
            cells = {"no pool": score(runs["no pool"][REPORT_SEED][held_out][row], fits["fitted without pool"])}
            for fit_name, cal in fits.items():
                cells[f"pool, {fit_name}"] = score(runs["pool"][REPORT_SEED][held_out][row], cal)
            table.setdefault(held_out, {})[row] = {name: {k: cell[k] for k in KEEP} for name, cell in cells.items()}
            pooled, plain = cells["pool, fitted without pool"]["episode_accuracy"], cells["no pool"]["episode_accuracy"]
            gain, gain_ci = mean_ci95(np.array(pooled) - np.array(plain))
            table[held_out][row]["pool_gain"] = {"mean": gain, "ci95": gain_ci}  # paired, same episodes
            line = "  ".join(
                f"{name}: acc {100 * c['accuracy']:.1f} ECE {c['ece']:.3f} cover {100 * c['set_coverage']:.1f}" for name, c in cells.items()
            )
            print(f"{held_out:20s} {row:14s} {line}", flush=True)
    out = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "git_sha": git_sha(),
        "protocol": f"frozen Lite0, pool of {POOL} per episode (the app's default method, centre); calibration fitted on the "
        f"other three domains (seed {FIT_SEED}) without and with the pool, scored on the held-out domain (seed {REPORT_SEED})",
        "rows": {name: {"shots": k, "adapt": a, "episodes": n} for name, k, a, n in rows},
        "targets": {"ece_at_most": 0.05, "coverage_between": [0.87, 0.93]},
        "seconds": round(time.perf_counter() - start, 1),
        "table": table,
    }
    write_json(out, args.out, indent=1, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
