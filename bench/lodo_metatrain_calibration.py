"""Calibration of the meta-trained backbone, fitted leave-one-domain-out (issue 16: may it become the default?).

    .venv/bin/python bench/lodo_metatrain_calibration.py --records /tmp/rec --out bench/results/lodo-metatrain-calibration.json

Each domain's episodes are run on the backbone that never saw that domain (its fold of
``bench/lodo_metatrain.py``, in ~/.cache/raresight/metatrain-folds), which is what the shipped backbone
is on a clinician's new domain. For each held-out domain the calibration is fitted on the other three
domains' seed-1 episodes and scored on the held-out domain's seed-0 episodes, as ``bench/lodo.py`` does
for Lite0; Lite0 is refitted on the same rows for a like-for-like comparison. Rows: 1 shot and 5 shots
frozen (the adapted 5-shot row, 30 episodes of 6-18 s, is left out here: what this decides is whether the
borrowed calibration's rise in ECE goes away with one fitted for the backbone).
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
from bench_json import write_json  # noqa: E402
from lodo import FIT_SEED, REPORT_SEED, episodes_for, fit_on, git_sha, score, ship_calibration  # noqa: E402
from lodo import ROWS as SHIP_ROWS  # noqa: E402

import core.metatrain.backbone_file  # noqa: E402,F401  (registers .rsbackbone files)

ROWS = (("1-shot", 1, "auto", 300), ("5-shot frozen", 5, "none", 300))
FOLDS = Path.home() / ".cache" / "raresight" / "metatrain-folds"
KEEP = ("accuracy", "ece", "set_coverage", "set_size", "open_set_auroc", "known_flagged_none", "unknown_flagged_none", "estimate_abs_error")


def meta_episodes(data: Path, records: Path, domain: str, seed: int, shots: int, adapt: str, n: int) -> er.Episodes:
    path = records / f"meta-fold-{domain}-seed{seed}-{shots}shot-{adapt}-{n}.npz"
    if not path.is_file():
        backbone = str(FOLDS / f"fold-{domain}.rsbackbone")
        er.save(path, er.collect(data, domain, seed, shots, adapt, n, backbone=backbone))
    return er.load(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--records", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--ship",
        type=Path,
        metavar="JSON",
        help="fit raresight-meta-lite0's calibration on all four domains' seed-1 fold episodes, the adapted 5-shot row included, "
        "and write it into this calibration file (resources/fewshot_calibration.json)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not args.data.is_dir() or not FOLDS.is_dir():
        print(f"lodo_metatrain_calibration: skipped, no development data at {args.data} or no fold backbones at {FOLDS}", file=sys.stderr)
        return 0
    start = time.perf_counter()
    args.records.mkdir(parents=True, exist_ok=True)
    if args.ship:
        return ship(args)
    runs: dict[str, dict[int, dict[str, dict[str, er.Episodes]]]] = {"lite0": {}, "meta": {}}
    for seed in (FIT_SEED, REPORT_SEED):
        runs["lite0"][seed] = {d: {r: episodes_for(args.data, args.records, d, seed, k, a, n) for r, k, a, n in ROWS} for d in er.DOMAINS}
        runs["meta"][seed] = {d: {r: meta_episodes(args.data, args.records, d, seed, k, a, n) for r, k, a, n in ROWS} for d in er.DOMAINS}
    table: dict[str, Any] = {}
    for held_out in er.DOMAINS:
        others = [d for d in er.DOMAINS if d != held_out]
        for name, by_seed in runs.items():
            cal = fit_on(by_seed[FIT_SEED], others)
            for row, *_ in ROWS:
                scored = score(by_seed[REPORT_SEED][held_out][row], cal)
                table.setdefault(held_out, {}).setdefault(row, {})[name] = {k: scored[k] for k in KEEP}
        for row, *_ in ROWS:
            a, b = table[held_out][row]["lite0"], table[held_out][row]["meta"]
            print(
                f"{held_out:20s} {row:14s} accuracy {100 * a['accuracy']:5.1f} -> {100 * b['accuracy']:5.1f}  "
                f"ECE {a['ece']:.3f} -> {b['ece']:.3f}  cover {100 * a['set_coverage']:.1f} -> {100 * b['set_coverage']:.1f}",
                flush=True,
            )
    out = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "git_sha": git_sha(),
        "protocol": f"calibration fitted on the other three domains (seed {FIT_SEED}) per backbone, scored on the held-out "
        f"domain (seed {REPORT_SEED}); meta: each domain run on its fold backbone (never trained on it)",
        "rows": {name: {"shots": k, "adapt": a, "episodes": n} for name, k, a, n in ROWS},
        "seconds": round(time.perf_counter() - start, 1),
        "table": table,
    }
    write_json(out, args.out, indent=1, allow_nan=False)
    return 0


def ship(args: argparse.Namespace) -> int:
    """The shipped calibration of raresight-meta-lite0: fitted on every domain's fold episodes (each domain seen
    by a backbone that never trained on it, as a clinician's new domain is), the rows of bench/lodo.py --ship."""
    eps = {d: {r: meta_episodes(args.data, args.records, d, FIT_SEED, k, a, n) for r, k, a, n in SHIP_ROWS} for d in er.DOMAINS}
    data = f"{', '.join(er.DOMAINS)}, each on the fold backbone that never trained on it: "
    return ship_calibration(eps, args.ship, "raresight-meta-lite0", data, "bench/lodo_metatrain_calibration.py --ship")


if __name__ == "__main__":
    sys.exit(main())
