"""Paired gain of one ``raresight eval`` JSON over another, run on the same episodes.

    .venv/bin/python bench/compare_evals.py frozen.json meta.json [more.json ...] --vary backbone [--out gains.json]

Two runs of ``raresight eval`` with the same dataset, seed, ways, shots, queries and episodes draw
the same episodes, so the per-episode accuracies (``episode_accuracy``) pair up: the gain's 95 %
interval is that of the per-episode differences, far narrower than comparing the two intervals.
Prints a line per file and shot count, and writes them as JSON with --out.

Runs are paired only when their provenance (written by ``raresight eval --json``) agrees on
everything that decides the episodes and the model; the refusal names each difference and the
script exits 2. ``--vary`` names what the comparison is about and so may differ: ``backbone``
(its id and weights), ``adapt``, ``git_sha`` (code version) or ``calibration``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from core.evaluation import mean_ci95  # noqa: E402

# provenance fields that must agree, and the --vary choice that lets each differ (None: never)
CHECKED = {
    "dataset": None,
    "seed": None,
    "queries": None,
    "ways": None,
    "shots": None,
    "episodes": None,
    "groups": None,
    "coverage": None,
    "backbone_id": "backbone",
    "backbone_weights_hash": "backbone",
    "adapt": "adapt",
    "git_sha": "git_sha",
    "calibration_id": "calibration",
}
VARY_CHOICES = ("backbone", "adapt", "git_sha", "calibration")


def provenance_differences(base: dict[str, Any], other: dict[str, Any], vary: Collection[str] = ()) -> list[str]:
    """'field: base value vs other value' for each checked provenance field the two runs disagree on."""
    for name, run in (("the base run", base), ("the other run", other)):
        if not run.get("provenance"):
            raise ValueError(f"{name} has no provenance (written by an older raresight): rerun `raresight eval --json`")
    mine, theirs = base["provenance"], other["provenance"]
    problems = []
    for key, choice in CHECKED.items():
        a, b = mine.get(key), theirs.get(key)
        if key == "dataset" and a is not None and b is not None:
            a, b = str(Path(a).resolve()), str(Path(b).resolve())
        if a != b and (choice is None or choice not in vary):
            problems.append(f"{key}: {a!r} vs {b!r}" + (f" (--vary {choice} allows it)" if choice else ""))
    return problems


def paired_gains(base: dict[str, Any], other: dict[str, Any], vary: Collection[str] = ()) -> list[dict[str, Any]]:
    """One row per shot count both runs share; refuses runs whose episodes or model may differ beyond ``vary``."""
    problems = provenance_differences(base, other, vary)
    if problems:
        raise ValueError("runs differ in " + "; ".join(problems))
    theirs = {(r["ways"], r["shots"], r["episodes"]): r for r in other["results"]}
    rows = []
    for mine in base["results"]:
        match = theirs.get((mine["ways"], mine["shots"], mine["episodes"]))
        if match is None:
            continue
        a, b = np.array(mine["episode_accuracy"]), np.array(match["episode_accuracy"])
        gain, ci = mean_ci95(b - a)
        rows.append(
            {
                "dataset": base["dataset"],
                "ways": mine["ways"],
                "shots": mine["shots"],
                "episodes": mine["episodes"],
                "base_backbone": base["backbone"],
                "backbone": other["backbone"],
                "base_accuracy": mine["accuracy"],
                "accuracy": match["accuracy"],
                "gain": gain,
                "gain_ci95": ci,
                "ece": match["ece"],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base", type=Path, help="eval JSON of the reference run")
    parser.add_argument("others", type=Path, nargs="+", help="eval JSONs of the runs to compare with it")
    parser.add_argument("--out", type=Path, help="write the rows as JSON")
    parser.add_argument(
        "--vary", nargs="+", default=[], choices=VARY_CHOICES, metavar="FIELD", help=f"what may differ: {', '.join(VARY_CHOICES)}"
    )
    args = parser.parse_args(argv)
    base = json.loads(args.base.read_text())
    rows = []
    for path in args.others:
        try:
            gains = paired_gains(base, json.loads(path.read_text()), args.vary)
        except ValueError as exc:
            print(f"compare_evals: {args.base.name} and {path.name}: {exc}", file=sys.stderr)
            return 2
        for row in gains:
            rows.append(row | {"file": str(path)})
            print(
                f"{path.name}: {row['ways']}-way {row['shots']}-shot {100 * row['base_accuracy']:.1f} -> "
                f"{100 * row['accuracy']:.1f} %, gain {100 * row['gain']:+.1f} +- {100 * row['gain_ci95']:.1f}"
            )
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
