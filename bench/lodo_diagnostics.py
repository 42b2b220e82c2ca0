"""Why the calibration misses on held-out domains, from the saved leave-one-domain-out episodes.

    .venv/bin/python bench/lodo_diagnostics.py --records /tmp/rec --out bench/results/lodo-diagnostics.json
    .venv/bin/python bench/lodo_diagnostics.py --demo raresight-demo --out bench/results/demo-check.json

Per domain and row (seed-1 episodes): the NLL-optimal temperature over all queries; how the
per-episode optimal log T correlates with the support set's statistics; the 95th and 98th
percentiles of the known queries' novelty as the classifier judges it (frozen embedding) and as it
was judged in the adapted embedding (-max logit / spread); the open-set AUROC of other novelty scores.
With --demo, the demo's predictions.csv against the truth its folders give.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import episode_records as er  # noqa: E402
import lodo  # noqa: E402

from core.evaluation.metrics import auroc  # noqa: E402
from core.fewshot.calibration import fit_temperature, softmax  # noqa: E402


def domain_row(eps: er.Episodes) -> dict[str, Any]:
    best = np.array([fit_temperature(lg, t) for lg, t in zip(eps.logits, eps.targets, strict=True)])
    stats = {
        "support_scale": [s.support_scale for s in eps.stats],
        "spread": [s.spread for s in eps.stats],
        "prototype_gap": [s.prototype_gap for s in eps.stats],
    }
    known = np.concatenate(eps.novelty)
    adapted_space = np.concatenate([-lg.max(1) / sp for lg, sp in zip(eps.logits, eps.spread, strict=True)])
    scores = {
        "novelty": [auroc(n, u) for n, u in zip(eps.novelty, eps.unknown_novelty, strict=True) if len(u)],
        "raw_distance": [auroc(-lg.max(1), -u.max(1)) for lg, u in zip(eps.logits, eps.unknown_logits, strict=True) if len(u)],
        "max_softmax": [
            auroc(-softmax(lg / 0.3).max(1), -softmax(u / 0.3).max(1))
            for lg, u in zip(eps.logits, eps.unknown_logits, strict=True)
            if len(u)
        ],
    }
    return {
        "nll_optimal_temperature": fit_temperature(np.concatenate(eps.logits), np.concatenate(eps.targets)),
        "corr_episode_log_t": {k: float(np.corrcoef(np.log(best), np.log(v))[0, 1]) for k, v in stats.items()},
        "novelty_q95_q98": [float(q) for q in np.quantile(known, [0.95, 0.98])],
        "task_embedding_novelty_q95_q98": [float(q) for q in np.quantile(adapted_space, [0.95, 0.98])],
        "open_set_auroc_by_score": {k: float(np.mean(v)) for k, v in scores.items()},
    }


def demo_check(folder: Path) -> dict[str, Any]:
    rows = list(csv.DictReader((folder / "predictions.csv").open(encoding="utf-8")))
    classes = [k[2:] for k in rows[0] if k.startswith("p_")]

    def truth(row: dict[str, str]) -> str:
        return Path(row["path"]).parent.name.replace("_", " ")

    known = [r for r in rows if truth(r) in classes]
    unknown = [r for r in rows if truth(r) not in classes]
    top = [max(classes, key=lambda c: float(r["p_" + c])) for r in known]
    conf = np.array([float(r["p_" + c]) for r, c in zip(known, top, strict=True)])
    right = np.array([c == truth(r) for r, c in zip(known, top, strict=True)])
    sizes = np.array([len([s for s in r["prediction_set"].split(";") if s]) for r in known])
    return {
        "known_images": len(known),
        "correct": int(right.sum()),
        "correct_with_probability_at_least_0.9": float((conf[right] >= 0.9).mean()),
        "median_top_probability": float(np.median(conf)),
        "sets_of_one_class": float((sizes == 1).mean()),
        "known_flagged_none": float(np.mean([r["none_of_these"] == "True" for r in known])),
        "unknown_flagged_none": float(np.mean([r["none_of_these"] == "True" for r in unknown])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, help="folder of episodes saved by bench/lodo.py")
    parser.add_argument("--demo", type=Path, help="a folder made by 'raresight demo' (reads its predictions.csv)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out: dict[str, Any] = {"command": " ".join(["bench/lodo_diagnostics.py", *sys.argv[1:]]), "git_sha": lodo.git_sha()}
    if args.records:
        out["domains"] = {
            d: {name: domain_row(er.load(lodo.record_file(args.records, d, lodo.FIT_SEED, k, a, n))) for name, k, a, n in lodo.ROWS}
            for d in er.DOMAINS
        }
    if args.demo:
        out["demo"] = demo_check(args.demo)
    text = json.dumps(out, indent=1, allow_nan=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
