"""Episodes with a pool of unlabelled images: drawn apart from the episode, never read for labels."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from core.evaluation import evaluate, load_folder_dataset, run_episode, sample_episodes, sample_pools
from core.evaluation.runner import embed_dataset
from core.fewshot import PrototypicalClassifier
from tests.core.embedding.tiny import make_dataset, register_tiny


def _toy() -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(6), 20)
    groups = np.arange(120) // 4  # 5 groups of 4 per class
    return labels, groups


def test_a_pool_is_apart_from_support_queries_and_support_groups() -> None:
    labels, groups = _toy()
    _, eps = sample_episodes(labels, groups, 3, 2, 5, 40, seed=0)
    pools = sample_pools(labels, groups, eps, 30, seed=0)
    outside = 0
    for ep, pool in zip(eps, pools, strict=True):
        assert len(pool) == 30 and len(set(pool.tolist())) == 30
        assert not set(pool.tolist()) & set(np.concatenate([ep.support, ep.query, ep.unknown]).tolist())
        assert not set(groups[pool].tolist()) & set(groups[ep.support].tolist())
        outside += int((~np.isin(labels[pool], ep.classes)).sum())
    assert outside > 0  # pools hold images of classes the episode does not ask about
    counts = np.array([np.bincount(labels[p], minlength=6) for p in pools])
    assert (counts.max(axis=1) >= 2 * np.maximum(counts.min(axis=1), 1)).mean() > 0.5  # imbalanced, mostly
    again = sample_pools(labels, groups, eps, 30, seed=0)
    assert all((a == b).all() for a, b in zip(pools, again, strict=True))
    assert all(len(p) == 0 for p in sample_pools(labels, groups, eps, 0, seed=0))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data", per_class=8, classes=("red", "green", "blue", "grey"), groups=4)


KWARGS = dict(ways=2, shots=(1, 2), queries=2, episodes=5, seed=3, adapt="none", groups="manifest.csv:patient")


def test_unlabelled_zero_is_todays_run_and_a_pool_keeps_its_episodes(dataset: Path) -> None:
    tiny = register_tiny()
    before = evaluate(dataset, backbone=tiny, **KWARGS).to_dict()  # type: ignore[arg-type]
    zero = evaluate(dataset, backbone=tiny, unlabelled=0, **KWARGS).to_dict()  # type: ignore[arg-type]
    strip = lambda rep: [{k: v for k, v in r.items() if "seconds" not in k} for r in rep["results"]]  # noqa: E731
    assert strip(zero) == strip(before) and "with_pool" not in zero["results"][0]
    assert "unlabelled" not in zero["provenance"]
    pooled = evaluate(dataset, backbone=tiny, unlabelled=6, pool_method="soft-kmeans", **KWARGS)  # type: ignore[arg-type]
    text = json.dumps(pooled.to_dict(), allow_nan=False)  # strict JSON
    report = json.loads(text)
    for r, b in zip(report["results"], before["results"], strict=True):
        assert r["episode_accuracy"] == b["episode_accuracy"]  # the same episodes, without the pool
        p = r["with_pool"]
        assert (p["unlabelled"], p["method"], p["episodes"]) == (6, "soft-kmeans", 5)
        assert 0 < p["images_used"] <= 6
        assert p["gain"] == pytest.approx(np.mean(p["episode_accuracy"]) - np.mean(r["episode_accuracy"]), abs=1e-3)
        assert p["gain_ci95"] >= 0 and 0 <= p["set_coverage"] <= 1
    assert report["provenance"]["unlabelled"] == 6 and report["provenance"]["pool_method"] == "soft-kmeans"


def test_the_pool_labels_are_never_read(dataset: Path) -> None:
    """Shuffling the dataset's labels of the pool images changes nothing the engine produces."""
    tiny = register_tiny()
    ds = load_folder_dataset(dataset, "manifest.csv:patient")
    emb, _ = embed_dataset(ds, tiny, activations=False)
    _, eps = sample_episodes(ds.labels, ds.groups, 2, 2, 2, 4, seed=0)
    pools = sample_pools(ds.labels, ds.groups, eps, 8, seed=0)
    rng = np.random.default_rng(0)
    for method in ("centre", "soft-kmeans", "bd-cspn"):
        for ep, pool in zip(eps, pools, strict=True):
            labels = ds.labels.copy()
            labels[pool] = rng.permutation(len(ds.classes))[labels[pool]]  # every pool image's class renamed
            shuffled = dataclasses.replace(ds, labels=labels)
            a = run_episode(PrototypicalClassifier(tiny, adapt="none", pool_method=method), emb, ds, ep, 0.9, pool)
            b = run_episode(PrototypicalClassifier(tiny, adapt="none", pool_method=method), emb, shuffled, ep, 0.9, pool)
            np.testing.assert_array_equal(a.logits, b.logits)
            np.testing.assert_array_equal(a.novelty, b.novelty)
            assert a.temperature == b.temperature and a.sets == b.sets


def test_adapted_episodes_use_the_pool_in_the_adapted_embedding(dataset: Path) -> None:
    report = evaluate(
        dataset, ways=2, shots=(3,), queries=2, episodes=2, backbone=register_tiny(), adapt="always", unlabelled=4, pool_method="centre"
    )
    pool = report.results[0].pool
    assert pool is not None and pool.result.adapt_seconds > 0 and pool.images_used == 4
