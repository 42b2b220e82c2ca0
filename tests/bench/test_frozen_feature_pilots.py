"""bench/frozen_feature_pilots.py: its baseline must be the engine itself, or its paired gains mean nothing."""

from __future__ import annotations

import numpy as np
import pytest

from core.embedding import EmbeddingResult, load_backbone, subset
from core.evaluation import Episode
from core.fewshot import PrototypicalClassifier
from core.fewshot.features import FeatureConfig, transform
from tests.bench.scripts import load_script


@pytest.mark.parametrize("shots", [1, 3])
def test_default_accuracy_is_the_engines(shots: int) -> None:
    pilots = load_script("frozen_feature_pilots")
    layout = load_backbone("efficientnet-lite0").layout
    rng = np.random.default_rng(shots)
    ways, queries = 4, 6
    centres = rng.normal(size=(ways, sum(w for _, w in layout)))
    labels = np.repeat(np.arange(ways), shots + queries)
    raw = np.abs(centres[labels] + 1.5 * rng.normal(size=(len(labels), centres.shape[1]))).astype(np.float32)[:, None]
    emb = EmbeddingResult(raw, None, [f"img{i}" for i in range(len(labels))], [f"{i:064x}" for i in range(len(labels))])
    index = np.arange(len(labels)).reshape(ways, shots + queries)
    ep = Episode(
        classes=np.arange(ways),
        support=index[:, :shots].ravel(),
        support_labels=np.repeat(np.arange(ways), shots),
        query=index[:, shots:].ravel(),
        query_labels=np.repeat(np.arange(ways), queries),
        unknown=np.zeros(0, dtype=np.int64),
        unknown_class=-1,
    )
    clf = PrototypicalClassifier("efficientnet-lite0", adapt="none").fit(subset(emb, ep.support), [str(c) for c in ep.support_labels])
    engine = float((clf.predict(subset(emb, ep.query)) == ep.query_labels.astype(str)).mean())

    assert 0.0 < engine < 1.0  # a task hard enough for the comparison to mean something
    assert pilots.accuracy(transform(emb.raw, layout, FeatureConfig()), ep) == pytest.approx(engine)


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown variant"):
        load_script("frozen_feature_pilots").variant_features("blur-3", None, None)
