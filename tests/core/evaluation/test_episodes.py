from __future__ import annotations

import numpy as np
import pytest

from core.errors import ProjectError
from core.evaluation import eligible_classes, sample_episodes


def _toy() -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(6), 12)
    groups = np.arange(72) // 3  # 4 groups of 3 per class
    return labels, groups


def test_support_and_queries_never_share_a_group() -> None:
    labels, groups = _toy()
    ways, eps = sample_episodes(labels, groups, 5, 2, 15, 50, seed=0)
    assert ways == 5
    for ep in eps:
        assert not set(groups[ep.support]) & set(groups[ep.query])
        assert not set(groups[ep.support]) & set(groups[ep.unknown])
        assert len(ep.support) == 10 and (np.bincount(ep.support_labels)[ep.classes] == 2).all()
        assert ep.unknown_class not in ep.classes and len(ep.unknown) > 0
        assert (labels[ep.query] == ep.query_labels).all()
        assert len(ep.query) <= 5 * 15


def test_deterministic_for_a_seed() -> None:
    labels, groups = _toy()
    a = sample_episodes(labels, groups, 3, 1, 4, 5, seed=3)[1]
    b = sample_episodes(labels, groups, 3, 1, 4, 5, seed=3)[1]
    c = sample_episodes(labels, groups, 3, 1, 4, 5, seed=4)[1]
    assert all((x.support == y.support).all() and (x.query == y.query).all() for x, y in zip(a, b, strict=True))
    assert any((x.support != y.support).any() for x, y in zip(a, c, strict=True))


def test_ways_capped_and_ineligible_classes_left_out() -> None:
    labels = np.array([0] * 10 + [1] * 10 + [2] * 3)
    groups = np.concatenate([np.arange(10) % 2, 10 + np.arange(10) % 2, [20, 20, 20]])  # class 2: one group
    assert eligible_classes(labels, groups, 1) == [0, 1]
    ways, eps = sample_episodes(labels, groups, 5, 1, 3, 4, seed=0)
    assert ways == 2 and all(set(ep.classes) == {0, 1} for ep in eps)
    with pytest.raises(ProjectError, match="need two or more"):
        sample_episodes(labels, groups, 5, 9, 3, 4, seed=0)
