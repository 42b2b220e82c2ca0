"""bench/compare_evals.py: the paired gain of two eval runs over the same episodes, and only those."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench.scripts import load_script


def provenance(dataset: Path, /, **changes: Any) -> dict[str, Any]:
    prov = {
        "dataset": str(dataset),
        "seed": 0,
        "queries": 15,
        "ways": 5,
        "shots": [1],
        "episodes": 4,
        "groups": None,
        "coverage": 0.9,
        "backbone_id": "frozen",
        "backbone_weights_hash": "aaaa",
        "adapt": "none",
        "calibration_id": "cal-1",
        "raresight_version": "0.1.0",
        "git_sha": "1234abcd",
        "git_dirty": False,
    }
    return prov | changes


def report(dataset: Path, backbone: str, per_episode: list[float], /, **changes: Any) -> dict[str, Any]:
    result = {"ways": 5, "shots": 1, "episodes": len(per_episode), "accuracy": sum(per_episode) / len(per_episode), "ece": 0.05}
    return {
        "dataset": str(dataset),
        "backbone": backbone,
        "results": [result | {"episode_accuracy": per_episode}],
        "provenance": provenance(dataset, **changes),
    }


def write(path: Path, content: dict[str, Any]) -> str:
    path.write_text(json.dumps(content))
    return str(path)


def test_gain_is_paired_per_episode(tmp_path: Path) -> None:
    compare = load_script("compare_evals")
    base = report(tmp_path, "frozen", [0.2, 0.6, 0.4, 0.8])
    other = report(tmp_path, "meta", [0.3, 0.7, 0.5, 0.9], backbone_id="meta", backbone_weights_hash="bbbb")  # +0.1 on every episode
    (row,) = compare.paired_gains(base, other, vary=["backbone"])
    assert row["gain"] == pytest.approx(0.1) and row["gain_ci95"] == pytest.approx(0.0, abs=1e-12)
    argv = [write(tmp_path / "a.json", base), write(tmp_path / "b.json", other), "--out", str(tmp_path / "gains.json")]
    assert compare.main([*argv, "--vary", "backbone"]) == 0
    assert json.loads((tmp_path / "gains.json").read_text())[0]["backbone"] == "meta"


def test_identical_provenance_is_accepted(tmp_path: Path) -> None:
    compare = load_script("compare_evals")
    base = report(tmp_path, "frozen", [0.5, 0.5])
    (row,) = compare.paired_gains(base, report(tmp_path, "frozen", [0.5, 0.5]))
    assert row["gain"] == 0.0


def test_a_different_seed_is_refused_whatever_may_vary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare = load_script("compare_evals")
    base, other = report(tmp_path, "frozen", [0.5]), report(tmp_path, "frozen", [0.5], seed=1)
    with pytest.raises(ValueError, match=r"seed: 0 vs 1"):
        compare.paired_gains(base, other, vary=compare.VARY_CHOICES)
    out = tmp_path / "gains.json"
    assert compare.main([write(tmp_path / "a.json", base), write(tmp_path / "b.json", other), "--out", str(out)]) == 2
    assert "seed: 0 vs 1" in capsys.readouterr().err and not out.exists()


def test_a_different_backbone_needs_vary_backbone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare = load_script("compare_evals")
    base = report(tmp_path, "frozen", [0.5])
    other = report(tmp_path, "meta", [0.6], backbone_id="meta", backbone_weights_hash="bbbb")
    with pytest.raises(ValueError) as refused:
        compare.paired_gains(base, other)
    message = str(refused.value)
    assert "backbone_id: 'frozen' vs 'meta'" in message and "backbone_weights_hash: 'aaaa' vs 'bbbb'" in message
    assert "--vary backbone" in message
    with pytest.raises(ValueError, match="backbone_weights_hash"):  # same name, other weights
        compare.paired_gains(base, report(tmp_path, "frozen", [0.5], backbone_weights_hash="cccc"))
    with pytest.raises(ValueError, match="adapt: 'none' vs 'auto'"):  # --vary backbone lets only the backbone differ
        compare.paired_gains(base, other | {"provenance": other["provenance"] | {"adapt": "auto"}}, vary=["backbone"])
    argv = [write(tmp_path / "a.json", base), write(tmp_path / "b.json", other)]
    assert compare.main(argv) == 2
    assert "backbone_id" in capsys.readouterr().err
    assert compare.main([*argv, "--vary", "backbone"]) == 0


@pytest.mark.parametrize(
    ("change", "vary"),
    [
        ({"dataset": "elsewhere"}, None),
        ({"shots": [1, 5]}, None),
        ({"groups": "m.csv:patient"}, None),
        ({"coverage": 0.8}, None),
        ({"adapt": "auto"}, "adapt"),
        ({"git_sha": "5678"}, "git_sha"),
        ({"calibration_id": "cal-2"}, "calibration"),
    ],
)
def test_every_checked_field_is_compared(tmp_path: Path, change: dict[str, Any], vary: str | None) -> None:
    compare = load_script("compare_evals")
    base, other = report(tmp_path, "frozen", [0.5]), report(tmp_path, "frozen", [0.5], **change)
    (key,) = change
    with pytest.raises(ValueError, match=key):
        compare.paired_gains(base, other)
    if vary is not None:
        assert compare.paired_gains(base, other, vary=[vary])


def test_a_run_without_provenance_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare = load_script("compare_evals")
    base = report(tmp_path, "frozen", [0.5])
    old = {k: v for k, v in base.items() if k != "provenance"}
    with pytest.raises(ValueError, match=r"the other run has no provenance.*rerun `raresight eval --json`"):
        compare.paired_gains(base, old, vary=compare.VARY_CHOICES)
    assert compare.main([write(tmp_path / "old.json", old), write(tmp_path / "new.json", base)]) == 2
    assert "the base run has no provenance" in capsys.readouterr().err
