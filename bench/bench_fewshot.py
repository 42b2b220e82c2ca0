"""Few-shot engine vs easyfsl PrototypicalNetworks on the same episodes and the same frozen backbone.

    .venv/bin/python bench/bench_fewshot.py --out bench/results/fewshot.json               # both dev sets
    .venv/bin/python bench/bench_fewshot.py --shots 5 --episodes 100 --adapt auto --out ...
    .venv/bin/python bench/bench_fewshot.py --throughput 128 --out bench/results/throughput.json

easyfsl (1.5.0) is a bench-only dependency: ``pip install easyfsl==1.5.0``; without it the
comparison is skipped with a message. easyfsl gets the backbone's pooled head features (the
usual ImageNet embedding, no test-time flip) through ``nn.Identity``, which is exactly what
running the backbone inside it would give, once per image instead of once per episode.
Episodes come from the same sampler and seed as ``raresight eval``, so both see the same tasks.
Data: ../shared/data (never copied into the repository).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import write_json  # noqa: E402
from episode_records import easyfsl_episode  # noqa: E402

from core.embedding import DEFAULT_BACKBONE, Embedder, EmbeddingCache, load_backbone, to_model_input  # noqa: E402
from core.evaluation import (  # noqa: E402
    load_folder_dataset,
    run_episode,
    sample_episodes,
    summarise,
)
from core.evaluation.metrics import expected_calibration_error, mean_ci95  # noqa: E402
from core.fewshot import FeatureConfig, PrototypicalClassifier  # noqa: E402
from core.imaging import load_image  # noqa: E402

DATASETS = {"rbc-morphology": "manifest.csv:source_smear", "chest-xray-findings": "manifest.csv:patientid"}
log = logging.getLogger("bench_fewshot")


def easyfsl_episodes(features: np.ndarray, eps: list[Any]) -> dict[str, float] | None:
    """easyfsl PrototypicalNetworks over ``eps``; features (n, d) pooled head features."""
    try:
        import easyfsl  # noqa: F401
    except ImportError:
        log.warning("easyfsl is not installed (pip install easyfsl==1.5.0): baseline skipped")
        return None
    feats = torch.from_numpy(features).float()
    runs = [easyfsl_episode(feats, ep) for ep in eps]
    acc, ci = mean_ci95([a for a, _, _ in runs])
    conf, ok = np.concatenate([c for _, c, _ in runs]), np.concatenate([k for _, _, k in runs])
    return {"accuracy": acc, "accuracy_ci95": ci, "ece": expected_calibration_error(conf, ok)}


def compare(data: Path, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, groups in DATASETS.items():
        if args.datasets and name not in args.datasets:
            continue
        ds = load_folder_dataset(data / name, groups)
        embedder = Embedder(args.backbone, flip=FeatureConfig().flip, cache=EmbeddingCache())
        emb = embedder.embed(ds.files, activations=args.adapt != "none")
        head = emb.raw[:, 0, -load_backbone(args.backbone).layout[-1][1] :]
        out[name] = {}
        for shots in args.shots:
            ways, eps = sample_episodes(ds.labels, ds.groups, args.ways, shots, args.queries, args.episodes, args.seed)
            start = time.perf_counter()
            records = [
                run_episode(PrototypicalClassifier(args.backbone, adapt=args.adapt, random_state=args.seed * 100003 + i), emb, ds, ep, 0.9)
                for i, ep in enumerate(eps)
            ]
            ours = summarise(records, ways, shots, 0.0).__dict__
            ours["wall_seconds"] = time.perf_counter() - start
            base = easyfsl_episodes(head, eps)
            row: dict[str, Any] = {"ours": ours, "easyfsl_protonet": base}
            if base is not None:
                row["delta_points"] = 100 * (ours["accuracy"] - base["accuracy"])
            out[name][f"{ways}-way {shots}-shot"] = row
            print(json.dumps({name: {f"{shots}-shot": row}}), flush=True)
    return out


def throughput(data: Path, n: int, backbone: str) -> dict[str, float]:
    """Images per second: our embedder (decode + preprocess + model, no cache) vs the bare forward pass."""
    files = sorted((data / "chest-xray-findings").rglob("*.jpg"))[: n // 2] + sorted((data / "rbc-morphology").rglob("*.png"))[: n // 2]
    torch.set_num_threads(2)
    result: dict[str, float] = {"images": float(len(files)), "threads": 2.0}
    bb = load_backbone(backbone)
    x = torch.from_numpy(np.stack([to_model_input(load_image(f).display, bb.input_size) for f in files[:32]]))

    def bare_forward(batch: int, channels_last: bool) -> float:
        """Images/s of the model alone on pre-decoded tensors."""
        xb = x[:batch].contiguous(memory_format=torch.channels_last) if channels_last else x[:batch]
        rounds = max(1, len(files) // batch)
        with torch.inference_mode():
            bb.lower(xb)
            start = time.perf_counter()
            for _ in range(rounds):
                _, act = bb.lower(xb)
                bb.upper(act)
        return rounds * batch / (time.perf_counter() - start)

    # the naive call (batch 32, default layout) and the embedder's own batch size and layout
    result["bare_forward_batch32_images_per_s"] = bare_forward(32, channels_last=False)
    result["bare_forward_images_per_s"] = bare_forward(Embedder(bb).batch_size, channels_last=True)
    for flip in (False, True):
        start = time.perf_counter()
        Embedder(bb, flip=flip, cache=None).embed(files)
        result[f"embedder_{'flip' if flip else 'noflip'}_images_per_s"] = len(files) / (time.perf_counter() - start)
    return result


def adapt_timing(data: Path, backbone: str) -> dict[str, float]:
    """A 5-way 5-shot fit from image files with adaptation forced on: load, embed, adapt times and peak memory."""
    ds = load_folder_dataset(data / "rbc-morphology")
    rng = np.random.default_rng(0)
    classes = rng.choice(len(ds.classes), 5, replace=False)
    picks = [int(i) for c in classes for i in rng.choice(np.flatnonzero(ds.labels == c), 5, replace=False)]
    torch.set_num_threads(2)
    start = time.perf_counter()
    load_backbone(backbone)
    loaded = time.perf_counter()
    clf = PrototypicalClassifier(backbone, adapt="always", cache=False)
    clf.fit([ds.files[i] for i in picks], [ds.classes[ds.labels[i]] for i in picks])
    total = time.perf_counter() - loaded
    return {
        "model_load_seconds": loaded - start,
        "fit_seconds_without_model_load": total,
        "adapt_seconds": clf.adapt_seconds_,
        "embed_seconds": total - clf.adapt_seconds_,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="*", default=None, choices=list(DATASETS))
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--queries", type=int, default=15)
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapt", choices=["none", "auto", "always"], default="none")
    parser.add_argument("--throughput", type=int, default=0, metavar="N", help="also measure embedding throughput on N images")
    parser.add_argument("--out", type=Path, help="write the JSON results here")
    parser.add_argument("--adapt-timing", action="store_true", help="time one 5x5 fit with adaptation from image files")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not args.data.is_dir():
        print(f"bench_fewshot: skipped, no datasets at {args.data}", file=sys.stderr)
        return 0
    report: dict[str, Any] = {"backbone": args.backbone, "adapt": args.adapt, "seed": args.seed, "episodes": args.episodes}
    if args.adapt_timing:
        report["adapt_timing"] = adapt_timing(args.data, args.backbone)
        print(json.dumps(report["adapt_timing"]), flush=True)
    if args.throughput:
        report["throughput"] = throughput(args.data, args.throughput, args.backbone)
        print(json.dumps(report["throughput"]), flush=True)
    if args.episodes > 0:
        report["results"] = compare(args.data, args)
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_json(report, args.out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
