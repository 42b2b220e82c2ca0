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


def test_other_backbone_weights_refused(tmp_path: Path, tiny: str, support: Data) -> None:
    from dataclasses import replace

    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    state = replace(to_model_state(clf), backbone_weights_hash="f" * 64)
    with pytest.raises(ModelError, match=r"other .* weights"):
        from_model_state(state)
