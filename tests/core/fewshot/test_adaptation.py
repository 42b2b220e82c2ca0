"""On-device adaptation with the tiny backbone: bounded, reports progress, cancels, leaves the backbone alone."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from core.embedding import load_backbone
from core.errors import Cancelled
from core.fewshot import PrototypicalClassifier
from core.fewshot.adaptation import worth_adapting

Data = tuple[list[Path], list[str]]


def test_adapts_with_progress_and_leaves_the_shared_backbone_untouched(tiny: str, support: Data, queries: Data) -> None:
    before = [p.clone() for p in load_backbone(tiny).parameters()]
    seen: list[tuple[float, str]] = []
    clf = PrototypicalClassifier(tiny, adapt="always", adapt_seconds=5.0, progress=lambda f, m: seen.append((f, m))).fit(*support)
    assert clf.adapted_ and 0 < clf.adapt_seconds_ < 10
    assert any("adapting" in m for _, m in seen)
    assert all(0.0 <= f <= 1.0 for f, _ in seen)
    for a, b in zip(before, load_backbone(tiny).parameters(), strict=True):
        assert torch.equal(a, b)
    proba = clf.predict_proba(queries[0])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_cancel_stops_adaptation(tiny: str, support: Data) -> None:
    stop = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if "adapting" in message:
            stop.set()

    with pytest.raises(Cancelled):
        PrototypicalClassifier(tiny, adapt="always", progress=progress, cancel=stop).fit(*support)


def test_auto_decides_from_the_support_set() -> None:
    assert not worth_adapting(np.array([1, 1, 1]))
    assert not worth_adapting(np.array([5, 5, 2]))
    assert worth_adapting(np.array([5, 5, 5]))


def test_time_budget_is_respected(tiny: str, support: Data) -> None:
    clf = PrototypicalClassifier(tiny, adapt="always", adapt_seconds=0.3).fit(*support)
    assert clf.adapted_ and clf.adapt_seconds_ < 0.3 + 0.5  # at most the budget plus a step's slack
