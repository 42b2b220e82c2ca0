"""Leave-one-domain-out table of the engine with a pool of unlabelled images (issue 16).

    .venv/bin/python bench/lodo_pool.py --out bench/results/lodo-pool.json

Per development domain, seed and shot count: the episodes of ``raresight eval`` (same sampler, ways
min(5, classes - 1), 15 queries, chest grouped by patient and rbc by smear), each with a pool of
--pool unlabelled images drawn as ``raresight eval --unlabelled`` draws it (Dirichlet class
proportions over every class of the domain, so imbalanced and holding classes outside the episode;
none a support image, a query, or from a support image's group). Every candidate (method and
settings) runs on the same episodes and pools, frozen embedding; easyfsl 1.5.0 ProtoNet on frozen
Lite0 is the anchor. The candidate is chosen leave-one-domain-out: for each domain, the candidate
with the best mean paired gain over "none" on the other three domains' seed-1 episodes (1 and 5 shots
together; equal gains go to the lower worst ECE), reported on the held-out domain's seed-0 episodes. Data: ../shared/data; without it the
bench says so and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import episode_records as er  # noqa: E402
from bench_json import write_json  # noqa: E402
from lodo import git_sha  # noqa: E402

from core.embedding import load_backbone  # noqa: E402
from core.evaluation import load_folder_dataset  # noqa: E402
from core.evaluation.episodes import sample_episodes, sample_pools  # noqa: E402
from core.evaluation.metrics import mean_ci95  # noqa: E402
from core.evaluation.runner import embed_dataset, run_episode, summarise  # noqa: E402
from core.fewshot import PrototypicalClassifier  # noqa: E402
from core.fewshot.transductive import PoolSettings  # noqa: E402

log = logging.getLogger("lodo_pool")
FIT_SEED, REPORT_SEED = 1, 0
SHOTS = (1, 5)
COVERAGE = 0.9
# (name, method, settings): every candidate tried
CANDIDATES: tuple[tuple[str, str, PoolSettings], ...] = (
    ("none", "none", PoolSettings()),
    ("centre", "centre", PoolSettings(rescale_temperature=False)),
    ("centre rescaled", "centre", PoolSettings(rescale_temperature=True)),
    ("soft-kmeans w0.2", "soft-kmeans", PoolSettings(pool_weight=0.2)),
    ("soft-kmeans w0.5", "soft-kmeans", PoolSettings(pool_weight=0.5)),
    ("soft-kmeans w0.2 n0.5", "soft-kmeans", PoolSettings(pool_weight=0.2, novelty_factor=0.5)),
    ("soft-kmeans w0.2 support-centred", "soft-kmeans", PoolSettings(pool_weight=0.2, centre=False)),
    *((f"soft-kmeans w{w} c0.9", "soft-kmeans", PoolSettings(pool_weight=w, min_confidence=0.9)) for w in (0.2, 0.5, 1.0)),
    ("soft-kmeans w0.5 n0.5 c0.9", "soft-kmeans", PoolSettings(pool_weight=0.5, novelty_factor=0.5, min_confidence=0.9)),
    ("bd-cspn", "bd-cspn", PoolSettings()),
    ("bd-cspn c0.9", "bd-cspn", PoolSettings(min_confidence=0.9)),
)


def run_domain(
    data: Path, domain: str, seed: int, shots: int, episodes: int, pool: int, candidates: list[tuple[str, str, PoolSettings]]
) -> dict[str, Any]:
    """Every candidate's summary and per-episode accuracy on one domain's episodes, and easyfsl's."""
    ds = load_folder_dataset(data / domain, er.DOMAINS[domain])
    emb, _ = embed_dataset(ds, "efficientnet-lite0", activations=False)
    head = torch.from_numpy(emb.raw[:, 0, -load_backbone("efficientnet-lite0").layout[-1][1] :]).float()
    ways, eps = sample_episodes(ds.labels, ds.groups, er.ways_for(ds, 5), shots, 15, episodes, seed)
    pools = sample_pools(ds.labels, ds.groups, eps, pool, seed)
    baseline = np.array([er.easyfsl_episode(head, ep)[0] for ep in eps])
    out: dict[str, Any] = {"ways": ways, "easyfsl_accuracy": baseline.tolist(), "pool_classes": len(np.unique(ds.labels)), "candidates": {}}
    for name, method, settings in candidates:
        records, used = [], []
        for i, (ep, p) in enumerate(zip(eps, pools, strict=True)):
            clf = PrototypicalClassifier("efficientnet-lite0", adapt="none", pool_method=method, pool_settings=settings, random_state=i)
            records.append(run_episode(clf, emb, ds, ep, COVERAGE, p))
            used.append(clf.pool_used_.get("refined_with", clf.pool_used_["images"]))
        r = summarise(records, ways, shots, 0.0)
        out["candidates"][name] = {
            "accuracy": r.episode_accuracy,
            "ece": r.ece,
            "set_coverage": r.set_coverage,
            "open_set_auroc": r.open_set_auroc,
            "pool_images_used": float(np.mean(used)),  # that refined the prototypes (all of them for "centre")
        }
    return out


def paired(a: list[float], b: list[float] | np.ndarray) -> tuple[float, float]:
    return mean_ci95(np.asarray(a) - np.asarray(b))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="processes (default: %(default)s)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these candidates (default: all)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not args.data.is_dir():
        print(f"lodo_pool: skipped, no development data at {args.data}", file=sys.stderr)
        return 0
    start = time.perf_counter()
    tried = [c for c in CANDIDATES if c[0] == "none" or not args.only or c[0] in args.only]
    keys = [(d, seed, k) for d in er.DOMAINS for seed in (FIT_SEED, REPORT_SEED) for k in SHOTS]
    with multiprocessing.Pool(args.workers) as workers:  # episodes are independent: one domain run per core
        done = workers.starmap(run_domain, [(args.data, d, seed, k, args.episodes, args.pool, tried) for d, seed, k in keys])
    runs = dict(zip(keys, done, strict=True))
    names = [name for name, *_ in tried]

    def gain_over_none(d: str, seed: int, name: str) -> float:
        """Paired gain over "none", mean of the shot counts."""
        cands = [runs[d, seed, k]["candidates"] for k in SHOTS]
        return float(np.mean([paired(c[name]["accuracy"], c["none"]["accuracy"])[0] for c in cands]))

    def merit(name: str, domains: list[str]) -> tuple[float, float]:
        """Mean paired gain over "none" on ``domains`` (seed 1); equal gains (methods that differ only in their
        temperature) go to the lower worst ECE there."""
        gain = float(np.mean([gain_over_none(d, FIT_SEED, name) for d in domains]))
        worst_ece = max(runs[d, FIT_SEED, k]["candidates"][name]["ece"] for d in domains for k in SHOTS)
        return round(gain, 6), -worst_ece

    table: dict[str, Any] = {}
    for held_out in er.DOMAINS:
        others = [d for d in er.DOMAINS if d != held_out]
        chosen = max(names, key=lambda n: merit(n, others))
        table[held_out] = {"chosen_on_other_domains": chosen}
        for k in SHOTS:
            run = runs[held_out, REPORT_SEED, k]
            none = run["candidates"]["none"]["accuracy"]
            row: dict[str, Any] = {"ways": run["ways"], "episodes": len(none), "easyfsl_accuracy": float(np.mean(run["easyfsl_accuracy"]))}
            for name in names:
                c = run["candidates"][name]
                gain, gain_ci = paired(c["accuracy"], none)
                over, over_ci = paired(c["accuracy"], run["easyfsl_accuracy"])
                row[name] = {
                    "accuracy": float(np.mean(c["accuracy"])),
                    "gain_over_no_pool": gain,
                    "gain_over_no_pool_ci95": gain_ci,
                    "gain_over_easyfsl": over,
                    "gain_over_easyfsl_ci95": over_ci,
                    **{m: c[m] for m in ("ece", "set_coverage", "open_set_auroc", "pool_images_used")},
                }
            row["lodo_chosen"] = row[chosen]
            table[held_out][f"{k}-shot"] = row
            print(line(held_out, k, row, chosen), flush=True)
    overall = max(names, key=lambda n: merit(n, list(er.DOMAINS)))
    out = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "git_sha": git_sha(),
        "protocol": f"candidate chosen on the other three domains, seed {FIT_SEED}; reported on seed {REPORT_SEED}; frozen Lite0",
        "pool": args.pool,
        "pool_draw": "Dirichlet(1) class proportions over every class of the domain; no support image, query, or support group",
        "candidates": {name: {"method": m, "settings": vars(s)} for name, m, s in tried},
        "chosen_on_all_four_seed1": overall,
        "seconds": round(time.perf_counter() - start, 1),
        "episodes_per_domain_seed_shot": args.episodes,
        "table": table,
        "seed1_gain_over_none": {n: {d: gain_over_none(d, FIT_SEED, n) for d in er.DOMAINS} for n in names},
        "seed1_ece": {n: {f"{d} {k}-shot": runs[d, FIT_SEED, k]["candidates"][n]["ece"] for d in er.DOMAINS for k in SHOTS} for n in names},
    }
    write_json(out, args.out, indent=1, allow_nan=False)
    return 0


def line(domain: str, shots: int, row: dict[str, Any], chosen: str) -> str:
    c, n = row["lodo_chosen"], row["none"]
    return (
        f"{domain:20s} {shots}-shot {row['ways']}-way easyfsl {100 * row['easyfsl_accuracy']:5.1f}  no pool {100 * n['accuracy']:5.1f} "
        f"({100 * n['gain_over_easyfsl']:+.1f})  {chosen}: {100 * c['accuracy']:5.1f} pool gain {100 * c['gain_over_no_pool']:+.1f}"
        f"+-{100 * c['gain_over_no_pool_ci95']:.1f}  over easyfsl {100 * c['gain_over_easyfsl']:+.1f}"
        f"+-{100 * c['gain_over_easyfsl_ci95']:.1f}  "
        f"ECE {c['ece']:.3f} cover {100 * c['set_coverage']:.1f}  used {c['pool_images_used']:.0f}"
    )


if __name__ == "__main__":
    sys.exit(main())
