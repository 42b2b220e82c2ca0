"""A saved model predicts as it did, whatever the shipped calibration file says later."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import ModelError
from core.fewshot import PrototypicalClassifier
from core.fewshot.calibration import CALIBRATION_ENV, CALIBRATION_RESOURCE, Calibration, calibration_id, load_calibration
from core.fewshot.persistence import from_model_state, to_model_state
from core.store import Project
from tests.core.embedding.tiny import COLOURS, make_image

Data = tuple[list[Path], list[str]]


def write_calibration(path: Path, backbone: str, cal: Calibration) -> Path:
    """A copy of the shipped calibration file whose entry for ``backbone`` is ``cal``."""
    shipped = json.loads(resources.files("resources").joinpath(CALIBRATION_RESOURCE).read_text(encoding="utf-8"))
    shipped["backbones"][backbone] = cal.to_dict()
    path.write_text(json.dumps(shipped), encoding="utf-8")
    return path


def scaled(value: Any, factor: float) -> Any:
    """Every number in a JSON value multiplied by ``factor`` (whatever the temperature model's shape)."""
    if isinstance(value, dict):
        return {k: scaled(v, factor) for k, v in value.items()}
    if isinstance(value, list):
        return [scaled(v, factor) for v in value]
    return value * factor if isinstance(value, int | float) and not isinstance(value, bool) else value


def edited(cal: Calibration) -> Calibration:
    """Other temperatures, lower set thresholds and a far lower 'none of these' cut."""
    data = cal.to_dict()
    data["temperature"] = scaled(data["temperature"], 1.7)
    data["set_threshold"]["values"] = scaled(data["set_threshold"]["values"], 0.8)
    data["unknown_threshold"] = cal.unknown_threshold / 10
    data["adapted_unknown_threshold"] = cal.unknown_cut(True) / 10
    if "task_scale" in data:
        data["task_scale"] = scaled(data["task_scale"], 1.5)
    return Calibration.from_dict(data)


def predictions(clf: PrototypicalClassifier, images: list[Path]) -> tuple[Any, ...]:
    sets = {coverage: clf.predict_set(images, coverage) for coverage in (0.9, 0.8)}
    none_of_these = [not s for s in clf.predict_set(images, 0.9)]
    return clf.predict_proba(images), sets, none_of_these


@pytest.fixture
def images(tmp_path: Path, queries: Data) -> list[Path]:
    """The queries plus two grey images, unlike every class."""
    odd = [make_image(tmp_path / "odd" / f"grey{i}.png", COLOURS["grey"], seed=9000 + i) for i in range(2)]
    return queries[0] + odd


@pytest.fixture
def before(tmp_path: Path, tiny: str, support: Data, images: list[Path], monkeypatch: pytest.MonkeyPatch) -> Calibration:
    """A calibration for the tiny backbone whose cut flags some images 'none of these' and not others."""
    novelty = PrototypicalClassifier(tiny, adapt="none").fit(*support).novelty(images)
    cal = replace(
        Calibration(),
        set_coverages=(0.8, 0.9, 0.95),
        set_values=((0.7, 0.7), (0.85, 0.85), (0.93, 0.93)),
        unknown_threshold=float(np.median(novelty)),
        adapted_unknown_threshold=float(np.median(novelty)) * 2,
    )
    monkeypatch.setenv(CALIBRATION_ENV, str(write_calibration(tmp_path / "before.json", tiny, cal)))
    assert load_calibration(tiny) == cal
    return cal


def test_edited_calibration_file_does_not_move_a_saved_model(
    tmp_path: Path, tiny: str, support: Data, images: list[Path], before: Calibration, monkeypatch: pytest.MonkeyPatch
) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    proba, sets, none_of_these = predictions(clf, images)
    assert any(none_of_these) and not all(none_of_these)  # the cut matters for these images
    with Project.create(tmp_path / "p.raresight") as project:
        version = project.save_model_state(to_model_state(clf))

    after = edited(before)
    monkeypatch.setenv(CALIBRATION_ENV, str(write_calibration(tmp_path / "after.json", tiny, after)))
    assert load_calibration(tiny) == after
    with Project.open(tmp_path / "p.raresight") as project:
        state = project.model_state(version)
    assert state is not None and state.settings["calibration_id"] == calibration_id(before) != calibration_id(after)
    restored = from_model_state(state)
    restored_proba, restored_sets, restored_none = predictions(restored, images)
    np.testing.assert_array_equal(restored_proba, proba)
    assert restored_sets == sets and restored_none == none_of_these

    # Control: a model fitted now, under the edited file, does predict otherwise.
    fresh_proba, fresh_sets, fresh_none = predictions(PrototypicalClassifier(tiny, adapt="none").fit(*support), images)
    assert not np.allclose(fresh_proba, proba) and fresh_none != none_of_these and fresh_sets != sets


def test_adapted_model_stores_the_adapted_cut(tiny: str, support: Data, before: Calibration) -> None:
    clf = PrototypicalClassifier(tiny, adapt="always", adapt_seconds=0.3).fit(*support)
    assert clf.adapted_
    state = to_model_state(clf)
    assert state.thresholds["unknown_novelty"] == before.unknown_cut(True) != before.unknown_threshold
    assert from_model_state(state)._calibration.unknown_cut(True) == before.unknown_cut(True)


def test_state_saved_before_calibrations_were_stored_still_loads(
    tiny: str, support: Data, images: list[Path], before: Calibration, caplog: pytest.LogCaptureFixture
) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    state = to_model_state(clf)
    old = replace(state, settings={k: v for k, v in state.settings.items() if k not in ("calibration", "calibration_id")})
    with caplog.at_level(logging.WARNING):
        restored = from_model_state(old)
    assert "predates stored calibrations" in caplog.text
    assert restored._calibration == load_calibration(tiny)
    assert restored.predict_set(images, 0.9) == clf.predict_set(images, 0.9)


@pytest.mark.parametrize("stored", ["not a calibration", {"unknown_threshold": 2.0}, {"temperature": [], "set_threshold": 1}])
def test_malformed_stored_calibration_refused(tiny: str, support: Data, stored: Any) -> None:
    state = to_model_state(PrototypicalClassifier(tiny, adapt="none").fit(*support))
    broken = replace(state, settings={**state.settings, "calibration": stored})
    with pytest.raises(ModelError, match=r"malformed stored calibration.*adapt the project again"):
        from_model_state(broken)


def test_calibration_file_override_must_exist(tmp_path: Path, tiny: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALIBRATION_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(ModelError, match=CALIBRATION_ENV):
        load_calibration(tiny)
