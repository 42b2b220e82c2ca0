"""Prototypes refined with a pool of unlabelled images: where it helps, where it must not move them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from core.embedding import EmbeddingResult
from core.fewshot import PrototypicalClassifier
from core.fewshot.features import l2
from core.fewshot.persistence import from_model_state, to_model_state
from core.fewshot.transductive import POOL_METHODS, PoolSettings, refine_prototypes

Data = tuple[list[Path], list[str]]


def _clusters(rng: np.random.Generator, centres: np.ndarray, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    codes = np.repeat(np.arange(len(centres)), n)
    return l2(centres[codes] + rng.normal(0, noise, (len(codes), centres.shape[1]))), codes


@pytest.mark.parametrize("method", ["soft-kmeans", "bd-cspn"])
def test_a_pool_pulls_off_centre_prototypes_to_their_clusters(method: str) -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3, 32, dtype=np.float32) * 3
    # one support example per class, far off its cluster's centre toward another class (a bad shot)
    support = l2(centres + 0.7 * np.roll(centres, 1, axis=0) + rng.normal(0, 0.2, centres.shape)).astype(np.float32)
    codes = np.arange(3)
    pool, _ = _clusters(rng, centres, 40, 0.3)
    queries, truth = _clusters(rng, centres, 100, 0.8)
    before = support.copy()
    after = refine_prototypes(method, support, codes, before, pool, temperature=0.1, settings=PoolSettings(pool_weight=1.0))
    unit = l2(centres)
    assert (np.linalg.norm(l2(after) - unit, axis=1) < np.linalg.norm(l2(before) - unit, axis=1)).all()

    def accuracy(protos: np.ndarray) -> float:
        d = ((queries[:, None] - protos[None]) ** 2).sum(-1)
        return float((d.argmin(1) == truth).mean())

    assert accuracy(after) > accuracy(before) + 0.05


def test_none_and_an_empty_pool_leave_prototypes_as_they_are() -> None:
    rng = np.random.default_rng(1)
    support, codes = _clusters(rng, np.eye(2, 8, dtype=np.float32), 3, 0.1)
    protos = np.stack([support[codes == c].mean(0) for c in range(2)])
    pool = rng.normal(size=(10, 8)).astype(np.float32)
    assert refine_prototypes("none", support, codes, protos, pool, 0.1) is protos
    assert refine_prototypes("soft-kmeans", support, codes, protos, pool[:0], 0.1) is protos
    with pytest.raises(ValueError, match="unknown pool method"):
        refine_prototypes("magic", support, codes, protos, pool, 0.1)


def _embedded(rows: np.ndarray, tag: str) -> EmbeddingResult:
    """Raw pooled features (n, 24) of the tiny backbone's layout as an embedding result."""
    raw = rows.astype(np.float32)[:, None, :]
    names = [f"{tag}{i}" for i in range(len(rows))]
    return EmbeddingResult(raw=raw, activations=None, names=names, content_hashes=[f"h-{n}" for n in names])


def _pattern(rng: np.random.Generator, centre: np.ndarray, n: int) -> np.ndarray:
    return np.abs(centre[None] + rng.normal(0, 0.05, (n, len(centre))))


def test_pool_images_of_an_unknown_class_do_not_drag_prototypes(tiny: str) -> None:
    rng = np.random.default_rng(2)
    a, b, unknown = (np.abs(rng.normal(size=24)) for _ in range(3))
    support = _embedded(np.concatenate([_pattern(rng, a, 3), _pattern(rng, b, 3)]), "s")
    labels = ["a"] * 3 + ["b"] * 3
    pool = _embedded(_pattern(rng, unknown, 30), "p")
    settings = PoolSettings(pool_weight=1.0, centre=False)  # refinement alone: centring moves the origin by design
    alone = PrototypicalClassifier(tiny, adapt="none").fit(support, labels)
    for method in ("soft-kmeans", "bd-cspn"):
        clf = PrototypicalClassifier(tiny, adapt="none", pool_method=method, pool_settings=settings).fit(support, labels, unlabelled=pool)
        assert clf.pool_used_["refined_with"] == 0
        np.testing.assert_array_equal(clf.prototypes_, alone.prototypes_)
    # pool images of the known classes do refine them; the unknown ones among them still do not count
    mixed = _embedded(np.concatenate([_pattern(rng, a, 10), _pattern(rng, unknown, 30)]), "m")
    clf = PrototypicalClassifier(tiny, adapt="none", pool_method="soft-kmeans", pool_settings=settings)
    clf.fit(support, labels, unlabelled=mixed)
    assert 5 <= clf.pool_used_["refined_with"] == clf.pool_used_["images"] <= 10
    assert not np.allclose(clf.prototypes_[0], alone.prototypes_[0])


@pytest.mark.parametrize("method", POOL_METHODS)
def test_without_a_pool_every_method_is_todays_classifier(tiny: str, support: Data, queries: Data, method: str) -> None:
    base = PrototypicalClassifier(tiny, adapt="none", pool_method="none").fit(*support)
    for unlabelled in (None, []):
        clf = PrototypicalClassifier(tiny, adapt="none", pool_method=method).fit(*support, unlabelled=unlabelled)
        assert clf.pool_used_ == {"images": 0, "method": "none"}
        np.testing.assert_array_equal(clf.predict_proba(queries[0]), base.predict_proba(queries[0]))


def test_pool_method_none_ignores_the_pool(tiny: str, support: Data, queries: Data) -> None:
    base = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    clf = PrototypicalClassifier(tiny, adapt="none", pool_method="none").fit(*support, unlabelled=queries[0])
    assert clf.pool_used_ == {"images": 0, "method": "none"}
    np.testing.assert_array_equal(clf.predict_proba(queries[0]), base.predict_proba(queries[0]))
    with pytest.raises(ValueError, match="unknown pool_method"):
        PrototypicalClassifier(tiny, pool_method="magic").fit(*support)


@pytest.mark.parametrize("method", ["centre", "soft-kmeans"])
def test_a_restored_model_predicts_as_fitted_with_its_pool_and_says_so(tiny: str, support: Data, queries: Data, method: str) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none", pool_method=method).fit(*support, unlabelled=queries[0])
    assert clf.pool_used_["images"] == len(queries[0]) and clf.pool_used_["method"] == method
    state = to_model_state(clf)
    assert state.settings["pool_used"] == clf.pool_used_
    restored = from_model_state(state)
    assert restored.pool_used_ == clf.pool_used_
    np.testing.assert_allclose(restored.predict_proba(queries[0]), clf.predict_proba(queries[0]), rtol=1e-6)
    np.testing.assert_allclose(restored.novelty(queries[0]), clf.novelty(queries[0]), rtol=1e-6)


def test_an_adapted_model_uses_a_pool_only_through_its_adapted_layers(tiny: str, support: Data, queries: Data) -> None:
    from core.embedding import Embedder

    with_activations = Embedder(tiny).embed(queries[0], activations=True)
    clf = PrototypicalClassifier(tiny, adapt="always", pool_method="soft-kmeans").fit(*support, unlabelled=with_activations)
    assert clf.adapted_ and clf.pool_used_["images"] == len(queries[0])
    without = dataclasses.replace(with_activations, activations=None)  # as cached for frozen use only
    clf = PrototypicalClassifier(tiny, adapt="always", pool_method="soft-kmeans").fit(*support, unlabelled=without)
    assert clf.adapted_ and clf.pool_used_ == {"images": 0, "method": "none"}
