"""``raresight eval`` end to end: the tiny backbone for the plumbing, the real one once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.core.embedding.tiny import make_dataset, register_tiny

FIELDS = {
    "ways",
    "shots",
    "episodes",
    "accuracy",
    "accuracy_ci95",
    "ece",
    "ece_uncalibrated",
    "set_coverage",
    "set_size",
    "open_set_auroc",
    "adapt_seconds",
    "infer_seconds_per_image",
    "estimated_accuracy",
    "estimate_abs_error",
    "estimate_signed_error",
    "episode_accuracy",
}


def test_eval_writes_the_json_the_issue_specifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(tmp_path / "data", per_class=6, classes=("red", "green", "blue"))
    out = tmp_path / "eval.json"
    argv = ["eval", str(data), "--ways", "5", "--shots", "1", "2", "--queries", "3", "--episodes", "5", "--seed", "0"]
    argv += ["--backbone", register_tiny(), "--adapt", "none", "--groups", "manifest.csv:patient", "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text(), parse_constant=_refuse)  # strict JSON: no NaN
    assert set(report) == {"dataset", "backbone", "adapt", "results", "provenance"}
    assert [set(r) for r in report["results"]] == [FIELDS, FIELDS]
    assert report["results"][0]["ways"] == 3  # capped at the classes available
    assert report["results"][0]["open_set_auroc"] is None  # no class left over to hold out
    prov = report["provenance"]
    assert (prov["ways"], prov["shots"], prov["queries"], prov["episodes"], prov["seed"]) == (5, [1, 2], 3, 5, 0)
    assert (prov["groups"], prov["coverage"], prov["adapt"]) == ("manifest.csv:patient", 0.9, "none")
    assert prov["dataset"] == str(data.resolve()) and prov["backbone_id"] == "tiny-test"
    assert {"backbone_weights_hash", "git_sha", "git_dirty", "raresight_version"} <= set(prov)
    assert [len(r["episode_accuracy"]) for r in report["results"]] == [5, 5]
    assert "5-way" not in capsys.readouterr().out


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in the eval JSON")


def test_eval_bad_input_is_one_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "nowhere"), "--backbone", register_tiny()]) == 2
    err = capsys.readouterr().err
    assert "not a folder" in err and "Traceback" not in err
    one_class = make_dataset(tmp_path / "one", per_class=4, classes=("red",))
    assert main(["eval", str(one_class), "--backbone", register_tiny(), "--adapt", "none"]) == 2
    assert "need two or more" in capsys.readouterr().err
    assert main(["eval", str(one_class), "--backbone", "no-such-net"]) == 2
    assert "unknown backbone" in capsys.readouterr().err
    assert main(["eval", str(one_class), "--coverage", "1.5"]) == 2


@pytest.mark.slow
def test_eval_with_the_real_default_backbone(tmp_path: Path) -> None:
    """Generated images through EfficientNet-Lite0, adaptation on: it must separate colours almost perfectly."""
    data = make_dataset(tmp_path / "data", per_class=7, classes=("red", "green", "blue"), groups=7)
    out = tmp_path / "eval.json"
    argv = [
        "eval",
        str(data),
        "--ways",
        "3",
        "--shots",
        "1",
        "5",
        "--queries",
        "2",
        "--episodes",
        "1",
        "--adapt",
        "auto",
        "--json",
        str(out),
        "-q",
    ]
    assert main(argv) == 0
    results = json.loads(out.read_text())["results"]
    assert all(r["accuracy"] >= 0.9 for r in results)
    assert results[0]["adapt_seconds"] == 0  # 1 shot: auto does not adapt
    assert results[1]["adapt_seconds"] > 0  # 5 shots: it does
