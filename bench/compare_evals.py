"""Paired gain of one ``raresight eval`` JSON over another, run on the same episodes.

    .venv/bin/python bench/compare_evals.py frozen.json meta.json [more.json ...] [--out gains.json]

Two runs of ``raresight eval`` with the same dataset, seed, ways, shots, queries and episodes draw
the same episodes, so the per-episode accuracies (``episode_accuracy``) pair up: the gain's 95 %
interval is that of the per-episode differences, far narrower than comparing the two intervals.
Prints a line per file and shot count, and writes them as JSON with --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from core.evaluation import mean_ci95  # noqa: E402


def paired_gains(base: dict[str, Any], other: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per shot count both runs share; refuses runs whose episodes cannot be the same."""
    if Path(base["dataset"]).resolve() != Path(other["dataset"]).resolve():
        raise ValueError(f"different datasets: {base['dataset']} and {other['dataset']}")
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
    args = parser.parse_args(argv)
    base = json.loads(args.base.read_text())
    rows = []
    for path in args.others:
        for row in paired_gains(base, json.loads(path.read_text())):
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
