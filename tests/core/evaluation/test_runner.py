"""The eval runner on a generated folder dataset with the tiny backbone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ProjectError
from core.evaluation import EvaluationInterrupted, evaluate, load_folder_dataset
from tests.core.embedding.tiny import COLOURS, make_dataset, make_image, register_tiny


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data", per_class=6, classes=("red", "green", "blue", "grey"))


def test_report_has_every_field_and_is_deterministic(dataset: Path) -> None:
    tiny = register_tiny()
    kwargs = dict(ways=3, shots=(1, 2), queries=3, episodes=6, seed=1, backbone=tiny, adapt="none", groups="manifest.csv:patient")
    report = evaluate(dataset, **kwargs).to_dict()  # type: ignore[arg-type]
    assert report["backbone"] == tiny and report["adapt"] == "none"
    assert [r["shots"] for r in report["results"]] == [1, 2]
    for r in report["results"]:
        assert r["ways"] == 3 and r["episodes"] == 6
        assert 0.0 <= r["accuracy"] <= 1.0 and r["accuracy_ci95"] >= 0
        assert 0.0 <= r["set_coverage"] <= 1.0 and 0.0 <= r["set_size"] <= 3
        assert 0.0 <= r["ece"] <= 1.0 and 0.0 <= r["ece_uncalibrated"] <= 1.0
        assert 0.0 <= r["open_set_auroc"] <= 1.0
        assert r["infer_seconds_per_image"] > 0
        # the app's estimate: mean confidence per episode; its signed error is estimate minus true accuracy
        assert 0.0 < r["estimated_accuracy"] <= 1.0
        assert r["estimate_signed_error"] == pytest.approx(r["estimated_accuracy"] - r["accuracy"])
        assert abs(r["estimate_signed_error"]) <= r["estimate_abs_error"] <= 1.0
    again = evaluate(dataset, **kwargs).to_dict()  # type: ignore[arg-type]
    strip = lambda rep: [{k: v for k, v in r.items() if "seconds" not in k} for r in rep["results"]]  # noqa: E731
    assert strip(again) == strip(report)


def test_adaptation_in_evaluation(dataset: Path) -> None:
    report = evaluate(dataset, ways=3, shots=(3,), queries=2, episodes=2, backbone=register_tiny(), adapt="always")
    assert report.results[0].adapt_seconds > 0


def test_groups_and_bad_dataset(dataset: Path, tmp_path: Path) -> None:
    ds = load_folder_dataset(dataset, "manifest.csv:patient")
    assert len(set(ds.groups.tolist())) == 4 * 3
    with pytest.raises(ProjectError, match="needs columns"):
        load_folder_dataset(dataset, "manifest.csv:nope")
    with pytest.raises(ProjectError, match=r"MANIFEST\.csv:COLUMN"):
        load_folder_dataset(dataset, "manifest.csv")
    with pytest.raises(ProjectError, match="no class folders"):
        load_folder_dataset(tmp_path / "data" / "red")
    with pytest.raises(ProjectError, match="not a folder"):
        load_folder_dataset(tmp_path / "missing")


def test_unreadable_and_conflicting_images_are_left_out(dataset: Path, caplog: pytest.LogCaptureFixture) -> None:
    (dataset / "red" / "broken.png").write_bytes(b"not a png")
    (dataset / "green" / "dup.png").write_bytes((dataset / "blue" / "img_00.png").read_bytes())
    (dataset / "blue" / "dup_same_class.png").write_bytes((dataset / "blue" / "img_01.png").read_bytes())
    report = evaluate(dataset, ways=3, shots=(1,), queries=2, episodes=4, backbone=register_tiny(), adapt="none")
    assert report.results[0].episodes == 4
    assert "broken.png" in caplog.text and "also in another class" in caplog.text


def test_interrupt_keeps_the_finished_shot_counts(dataset: Path) -> None:
    """Ctrl-C (a KeyboardInterrupt from the progress hook) during 2-shot episode 3: 1-shot kept, 2-shot partial."""

    def interrupt_at_episode_8(done: int, total: int, message: str) -> None:
        if done == 8:
            raise KeyboardInterrupt

    with pytest.raises(EvaluationInterrupted) as caught:
        evaluate(dataset, ways=3, shots=(1, 2), queries=2, episodes=5, backbone=register_tiny(), adapt="none",
                 episode_progress=interrupt_at_episode_8)  # fmt: skip
    assert isinstance(caught.value, KeyboardInterrupt)  # callers that know nothing of it still see Ctrl-C
    report = caught.value.report
    assert report.interrupted and [r.shots for r in report.results] == [1] and report.results[0].episodes == 5
    assert report.partial_result is not None and (report.partial_result.shots, report.partial_result.episodes) == (2, 3)
    out = report.to_dict()
    assert out["interrupted"] is True and out["finished_shots"] == [1] and out["partial_result"]["episodes"] == 3
    json.dumps(out, allow_nan=False)


def test_unmeasurable_metrics_are_null_with_a_reason(dataset: Path) -> None:
    """Four classes, four ways: no class is left out for the open-set AUROC; one episode: no interval."""
    report = evaluate(dataset, ways=4, shots=(1,), queries=2, episodes=1, backbone=register_tiny(), adapt="none").to_dict()
    text = json.dumps(report, allow_nan=False)  # raises on NaN anywhere
    result = json.loads(text)["results"][0]
    assert result["open_set_auroc"] is None and "no class left out" in result["open_set_auroc_reason"]
    assert result["accuracy_ci95"] is None and "one episode" in result["accuracy_ci95_reason"]
    assert [k for k, v in result.items() if v is None and f"{k}_reason" not in result] == []
    assert "accuracy_reason" not in result  # a measured metric has no reason


def test_every_dropped_class_is_named_with_why(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", per_class=4, classes=("red", "green", "blue"))
    make_image(data / "grey" / "only_two_a.png", COLOURS["grey"], seed=1)
    make_image(data / "grey" / "only_two_b.png", COLOURS["grey"], seed=2)
    (data / "empty").mkdir()
    (data / "empty" / "notes.txt").write_text("no images here\n", encoding="utf-8")
    report = evaluate(data, ways=3, shots=(1, 2), queries=1, episodes=2, backbone=register_tiny(), adapt="none")
    one, two = report.results
    assert one.dropped_classes == {"empty": "no image file in the folder"}
    assert two.dropped_classes == {
        "grey": "2 usable image(s); 2-shot episodes need 3 (2 support + 1 query)",
        "empty": "no image file in the folder",
    }
    grouped = evaluate(data, ways=3, shots=(1,), queries=1, episodes=2, backbone=register_tiny(), adapt="none",
                       groups="manifest.csv:patient")  # fmt: skip
    # grey's files are not in the manifest: each its own group, so it can still serve 1-shot
    assert set(grouped.results[0].dropped_classes) == {"empty"}
    assert grouped.to_dict()["results"][0]["dropped_classes"] == {"empty": "no image file in the folder"}


def test_too_few_classes_names_the_ones_left_out(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", per_class=2, classes=("red", "green"))
    make_image(data / "blue" / "single.png", COLOURS["blue"], seed=3)
    with pytest.raises(ProjectError, match=r"need two or more.*'red': 2 usable image\(s\); 2-shot episodes need 3"):
        evaluate(data, ways=2, shots=(1, 2), queries=1, episodes=1, backbone=register_tiny(), adapt="none")
