"""bench/compare_evals.py: the paired gain of two eval runs over the same episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.scripts import load_script


def report(dataset: str, backbone: str, per_episode: list[float]) -> dict[str, object]:
    result = {"ways": 5, "shots": 1, "episodes": len(per_episode), "accuracy": sum(per_episode) / len(per_episode), "ece": 0.05}
    return {"dataset": dataset, "backbone": backbone, "results": [result | {"episode_accuracy": per_episode}]}


def test_gain_is_paired_per_episode(tmp_path: Path) -> None:
    compare = load_script("compare_evals")
    base = report(str(tmp_path), "frozen", [0.2, 0.6, 0.4, 0.8])
    other = report(str(tmp_path), "meta", [0.3, 0.7, 0.5, 0.9])  # +0.1 on every episode
    (row,) = compare.paired_gains(base, other)
    assert row["gain"] == pytest.approx(0.1) and row["gain_ci95"] == pytest.approx(0.0, abs=1e-12)
    files = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, content in zip(files, (base, other), strict=True):
        path.write_text(json.dumps(content))
    assert compare.main([str(files[0]), str(files[1]), "--out", str(tmp_path / "gains.json")]) == 0
    assert json.loads((tmp_path / "gains.json").read_text())[0]["backbone"] == "meta"


def test_runs_on_different_datasets_are_refused(tmp_path: Path) -> None:
    compare = load_script("compare_evals")
    with pytest.raises(ValueError, match="different datasets"):
        compare.paired_gains(report(str(tmp_path / "a"), "x", [0.5]), report(str(tmp_path / "b"), "y", [0.5]))
