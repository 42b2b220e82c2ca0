"""The eval runner on a generated folder dataset with the tiny backbone."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ProjectError
from core.evaluation import evaluate, load_folder_dataset
from tests.core.embedding.tiny import make_dataset, register_tiny


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
