"""A classifier saved in a project and restored predicts exactly as the one that was fitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from core.fewshot import PrototypicalClassifier
from core.fewshot.persistence import from_model_state, to_model_state
from core.store import Project

Data = tuple[list[Path], list[str]]


@pytest.mark.parametrize("adapt", ["none", "always"])
def test_round_trip_through_a_project_file(tmp_path: Path, tiny: str, support: Data, queries: Data, adapt: str) -> None:
    clf = PrototypicalClassifier(tiny, adapt=adapt, adapt_seconds=1.0).fit(*support)  # type: ignore[arg-type]
    assert clf.adapted_ == (adapt == "always")
    with Project.create(tmp_path / "p.raresight") as project:
        version = project.save_model_state(to_model_state(clf, {"budget_s": 1.0}))
    with Project.open(tmp_path / "p.raresight") as project:
        state = project.model_state(version)
    assert state is not None and state.settings["support_hashes"] == clf.support_hashes_ and state.settings["budget_s"] == 1.0
    restored = from_model_state(state)
    np.testing.assert_array_equal(restored.predict_proba(queries[0]), clf.predict_proba(queries[0]))
    assert restored.predict_set(queries[0], 0.9) == clf.predict_set(queries[0], 0.9)
    assert restored.explain(queries[0]) == clf.explain(queries[0])
    assert restored.support_accuracy() == clf.support_accuracy()
    np.testing.assert_array_equal(restored.novelty(queries[0]), clf.novelty(queries[0]))


def test_none_of_these_is_judged_in_the_frozen_embedding_even_when_adapted(tiny: str, support: Data, queries: Data) -> None:
    """Adaptation draws the support set tight around itself; novelty must not depend on how tight."""
    adapted = PrototypicalClassifier(tiny, adapt="always", adapt_seconds=1.0).fit(*support)
    frozen = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    assert adapted.adapted_
    assert not np.allclose(adapted.decision_function(queries[0]), frozen.decision_function(queries[0]))  # adaptation did act
    np.testing.assert_allclose(adapted.novelty(queries[0]), frozen.novelty(queries[0]), rtol=1e-5)


def test_a_state_saved_before_frozen_novelty_keeps_its_own(tiny: str, support: Data, queries: Data) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    state = to_model_state(clf)
    state.settings["novelty_spread"] = None  # as states written before novelty moved to the frozen embedding
    restored = from_model_state(state)
    assert restored._frozen_mean is None
    expected = -restored.decision_function(queries[0]).max(axis=1) / restored._spread
    np.testing.assert_allclose(restored.novelty(queries[0]), expected)


def test_other_backbone_weights_refused(tmp_path: Path, tiny: str, support: Data) -> None:
    from dataclasses import replace

    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    state = replace(to_model_state(clf), backbone_weights_hash="f" * 64)
    with pytest.raises(ModelError, match=r"other .* weights"):
        from_model_state(state)
