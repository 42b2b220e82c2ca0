"""Paired accuracy of frozen-feature variants against the engine's own features, on the same episodes.

    .venv/bin/python bench/frozen_feature_pilots.py --shots 1 5 --episodes 300 \\
        --variants head-gem2 head-gem3 head-max size-192 size-160 pca-8 pca-16 pca-32

Variants (everything else as the engine: blocks s16b, s32b, head, signed square root, L2, centred on
the support mean, nearest prototype):
- ``head-gem2`` / ``head-gem3`` / ``head-max``: the head pooled by generalised mean (p = 2, 3) or
  max instead of the average, recomputed from the cached stride-32 activations;
- ``size-N``: the letterboxed input N px square instead of 224;
- ``backbone-NAME`` / ``backbone-NAME@N``: the engine's features from another registry backbone
  (e.g. ``backbone-efficientnet-lite2``), at its native input size or N px;
- ``pca-K``: project on the top K principal directions of the support plus a 50-image unlabelled
  pool drawn per episode from images outside its support and queries.

Prints one JSON line per dataset, shots and variant: accuracy and the paired gain with its 95 %
interval. Data: ../shared/data (never copied into the repository); skipped with a message without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.embedding import Embedder, EmbeddingCache, EmbeddingResult, load_backbone  # noqa: E402
from core.embedding.backbones import EfficientNetLite0Features  # noqa: E402
from core.evaluation import Episode, FolderDataset, load_folder_dataset, sample_episodes  # noqa: E402
from core.evaluation.runner import _remap, embed_dataset  # noqa: E402
from core.fewshot.features import FeatureConfig, block_slices, centre, l2, transform  # noqa: E402

DATASETS = {"rbc-morphology": "manifest.csv:source_smear", "chest-xray-findings": "manifest.csv:patientid"}
POOL = 50


def _block(x: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    return l2(np.sign(x) * np.sqrt(np.abs(x)))


def head_pooled(emb: EmbeddingResult, pool: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:  # type: ignore[type-arg]
    """The engine's features with the head pooled by ``pool`` (n, c, h, w) -> (n, c)."""
    top: Any = load_backbone("efficientnet-lite0").upper_module()  # block 15 and the head (see core.embedding.backbones)
    act = np.nan_to_num(emb.activations[:, 0].astype(np.float32))  # type: ignore[index]
    heads = []
    with torch.no_grad():
        for i in range(0, len(act), 128):
            s7 = top.block(torch.from_numpy(act[i : i + 128]))
            heads.append(pool(F.relu6(top.bn_head(top.conv_head(s7)))).numpy())
    slices = block_slices(load_backbone("efficientnet-lite0").layout)
    raw = emb.raw[:, 0]
    z = np.concatenate([_block(raw[:, slices["s16b"]]), _block(raw[:, slices["s32b"]]), _block(np.concatenate(heads))], axis=1)
    return np.asarray(z / np.sqrt(3))


def gem(p: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda h: h.clamp(min=1e-6).pow(p).mean((2, 3)).pow(1 / p)


def at_size(ds: FolderDataset, size: int) -> np.ndarray:  # type: ignore[type-arg]
    backbone = EfficientNetLite0Features()
    backbone.input_size = size  # the cache key carries the size, so entries of other sizes stay apart
    emb = Embedder(backbone, cache=EmbeddingCache()).embed(ds.files)
    return transform(emb.raw, backbone.layout, FeatureConfig())


def other_backbone(ds: FolderDataset, spec: str) -> np.ndarray:  # type: ignore[type-arg]
    name, _, size = spec.partition("@")
    backbone = type(load_backbone(name))()  # a fresh instance: the size change must not reach the shared one
    backbone.input_size = int(size or backbone.input_size)
    emb = Embedder(backbone, cache=EmbeddingCache()).embed(ds.files)
    return transform(emb.raw, backbone.layout, FeatureConfig())


def variant_features(variant: str, ds: FolderDataset, emb: EmbeddingResult) -> np.ndarray:  # type: ignore[type-arg]
    kind, _, value = variant.partition("-")
    if kind == "backbone":
        return other_backbone(ds, value)
    if kind == "size":
        return at_size(ds, int(value))
    if kind == "head":
        return head_pooled(emb, (lambda h: h.amax((2, 3))) if value == "max" else gem(float(value.removeprefix("gem"))))
    raise SystemExit(f"frozen_feature_pilots: unknown variant {variant!r} (head-gemP, head-max, size-N, backbone-NAME[@N], pca-K)")


def accuracy(z: np.ndarray, ep: Episode, project: int = 0, pool: np.ndarray | None = None) -> float:  # type: ignore[type-arg]
    zs, zq = z[ep.support], z[ep.query]
    if project:
        x = np.concatenate([z[pool], zs])  # type: ignore[index]
        mu = x.mean(axis=0, keepdims=True)
        basis = np.linalg.svd(x - mu, full_matrices=False)[2][:project].T
        zs, zq = (zs - mu) @ basis, (zq - mu) @ basis
    es, eq = centre(zs, zq)
    classes = np.unique(ep.support_labels)
    protos = np.stack([es[ep.support_labels == c].mean(axis=0) for c in classes])
    pred = classes[((eq[:, None] - protos[None]) ** 2).sum(-1).argmin(axis=1)]
    return float((pred == ep.query_labels).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--shots", type=int, nargs="+", default=[1])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=["head-gem3", "size-192", "pca-16"])
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"frozen_feature_pilots: skipped, no datasets at {args.data}", file=sys.stderr)
        return 0
    for name, groups in DATASETS.items():
        ds = load_folder_dataset(args.data / name, groups)
        emb, _ = embed_dataset(ds, "efficientnet-lite0", activations=any(v.startswith("head-") for v in args.variants))
        base = transform(emb.raw, load_backbone("efficientnet-lite0").layout, FeatureConfig())
        readable = np.flatnonzero(emb.ok)
        features = {v: variant_features(v, ds, emb) for v in args.variants if not v.startswith("pca-")}
        for shots in args.shots:
            _, eps = sample_episodes(ds.labels[readable], ds.groups[readable], 5, shots, 15, args.episodes, args.seed)
            eps = [_remap(ep, readable) for ep in eps]
            default = np.array([accuracy(base, ep) for ep in eps])
            print(json.dumps({"dataset": name, "shots": shots, "variant": "default", "accuracy": float(default.mean())}), flush=True)
            rng = np.random.default_rng(args.seed)
            for variant in args.variants:
                if variant.startswith("pca-"):
                    pools = [rng.choice(np.setdiff1d(readable, np.concatenate([ep.support, ep.query])), POOL, replace=False) for ep in eps]
                    acc = np.array([accuracy(base, ep, int(variant[4:]), pool) for ep, pool in zip(eps, pools, strict=True)])
                else:
                    acc = np.array([accuracy(features[variant], ep) for ep in eps])
                gain = acc - default
                row = {"dataset": name, "shots": shots, "variant": variant, "accuracy": float(acc.mean()), "gain": float(gain.mean())}
                print(json.dumps(row | {"gain_ci95": float(1.96 * gain.std() / np.sqrt(len(gain)))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
