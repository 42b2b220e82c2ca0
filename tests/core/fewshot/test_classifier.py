"""PrototypicalClassifier with the tiny backbone: estimator shape, outputs, explanations, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from core.errors import NotFittedError, RareSightError
from core.fewshot import PrototypicalClassifier, SupportSetError, SupportSetWarning

Data = tuple[list[Path], list[str]]


def test_init_only_stores_parameters(tiny: str) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none", adapt_seconds=3.0)
    assert clf.backbone == tiny and clf.adapt == "none" and clf.adapt_seconds == 3.0
    assert not hasattr(clf, "classes_")


def test_not_fitted(tiny: str, queries: Data) -> None:
    clf = PrototypicalClassifier(tiny)
    for method in (clf.predict, clf.predict_proba, clf.predict_set, clf.explain):
        with pytest.raises(NotFittedError, match="fit"):
            method(queries[0])
    with pytest.raises(NotFittedError):
        clf.support_accuracy()


def test_fit_predict_with_string_labels_and_unequal_shots(tiny: str, support: Data, queries: Data) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none")
    assert clf.fit(*support) is clf
    assert list(clf.classes_) == ["class blue", "class green", "class red"]
    assert list(clf.shots_) == [1, 2, 3]
    proba = clf.predict_proba(queries[0])
    assert proba.shape == (9, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = clf.predict(queries[0])
    assert (pred == np.array(queries[1], dtype=object)).mean() >= 0.8
    assert clf.prototypes_.shape[0] == 3


def test_prediction_sets_and_none_of_these(tiny: str, support: Data, queries: Data) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    sets = clf.predict_set(queries[0], coverage=0.9)
    assert len(sets) == 9
    assert all(set(s) <= set(clf.classes_) for s in sets)
    assert sum(t in s for t, s in zip(queries[1], sets, strict=True)) >= 7
    wide = clf.predict_set(queries[0], coverage=0.99, allow_none=False)
    assert all(len(w) >= len(s) for w, s in zip(wide, sets, strict=True))
    assert clf.novelty(queries[0]).shape == (9,)


def test_explain_names_nearest_support_examples(tiny: str, support: Data, queries: Data) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    why = clf.explain(queries[0][:1], k=2)[0]
    assert why.prediction == "class red"
    assert set(why.nearest) == set(clf.classes_)
    assert len(why.nearest["class red"]) == 2 and len(why.nearest["class blue"]) == 1
    top = why.nearest["class red"][0]
    assert top.name.startswith("red") and -1.0 <= top.similarity <= 1.0
    assert abs(sum(why.probabilities.values()) - 1) < 1e-6


def test_support_accuracy_leave_one_out(tiny: str, support: Data) -> None:
    acc = {a.label: a for a in PrototypicalClassifier(tiny, adapt="none").fit(*support).support_accuracy()}
    assert acc["class blue"].accuracy is None  # one shot: nothing to leave out
    red = acc["class red"]
    assert red.n == 3 and red.accuracy == red.correct / 3
    assert 0.0 <= red.ci95[0] <= red.accuracy <= red.ci95[1] <= 1.0


def test_one_shot_everywhere(tiny: str, support: Data, queries: Data) -> None:
    paths, labels = support
    one = [0, 3, 5]
    clf = PrototypicalClassifier(tiny, adapt="auto").fit([paths[i] for i in one], [labels[i] for i in one])
    assert not clf.adapted_
    assert clf.predict_proba(queries[0]).shape == (9, 3)


def test_bad_input_is_a_clear_error(tiny: str, support: Data, tmp_path: Path) -> None:
    paths, labels = support
    clf = PrototypicalClassifier(tiny, adapt="none")
    with pytest.raises(SupportSetError, match="no support examples"):
        clf.fit([], [])
    with pytest.raises(SupportSetError, match="only one class"):
        clf.fit(paths[:3], labels[:3])
    with pytest.raises(SupportSetError, match="no support examples: 'empty'"):
        clf.fit_classes({"red": paths[:3], "empty": []})
    with pytest.raises(SupportSetError, match="one class label per example"):
        clf.fit(paths, labels[:-1])
    with pytest.raises(SupportSetError, match="same image"):
        clf.fit([paths[0], paths[0], paths[3]], ["a", "b", "b"])
    assert issubclass(SupportSetError, RareSightError)


def test_unreadable_support_image_warns_or_errors(tiny: str, support: Data, tmp_path: Path) -> None:
    paths, labels = support
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"not an image")
    with pytest.warns(SupportSetWarning, match="broken.dcm"):
        clf = PrototypicalClassifier(tiny, adapt="none").fit([*paths, broken], [*labels, "class red"])
    assert list(clf.shots_) == [1, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SupportSetWarning)
        with pytest.raises(SupportSetError, match="no readable support example"):
            PrototypicalClassifier(tiny, adapt="none").fit([*paths[:5], broken], [*labels[:5], "lonely"])


def test_explain_with_coverage_gives_the_prediction_sets_in_one_pass(tiny: str, support: Data, queries: Data) -> None:
    clf = PrototypicalClassifier(tiny, adapt="none").fit(*support)
    explained = clf.explain(queries[0], k=1, coverage=0.9)
    assert [list(e.prediction_set or ()) for e in explained] == clf.predict_set(queries[0], coverage=0.9)
    assert all(e.prediction_set is None for e in clf.explain(queries[0], k=1))
