"""Provenance of an evaluation run: what it ran on, in strict JSON, and no crash without git."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from core.embedding import load_backbone
from core.evaluation import evaluate, provenance, run_provenance
from core.fewshot import calibration
from core.fewshot.persistence import backbone_fingerprint
from tests.conftest import REPO
from tests.core.embedding.tiny import make_dataset, register_tiny


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in the eval JSON")


def _head(root: Path) -> tuple[str | None, bool | None]:
    """What git itself says about ``root``, for comparison; (None, None) where it is no checkout."""
    if shutil.which("git") is None:
        return None, None
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode != 0:
        return None, None
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True, check=True)
    return head.stdout.strip(), bool(status.stdout.strip())


def test_eval_json_carries_the_provenance_and_no_nan(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", per_class=5, classes=("red", "green", "blue"))
    tiny = register_tiny()
    kwargs = dict(ways=4, shots=(1, 2), queries=2, episodes=3, seed=7, backbone=tiny, adapt="none", coverage=0.8)
    report = evaluate(data, groups="manifest.csv:patient", **kwargs).to_dict()  # type: ignore[arg-type]
    text = json.dumps(report, allow_nan=False)  # three classes, four ways: none held out, so no open-set AUROC
    assert json.loads(text, parse_constant=_refuse)["results"][0]["open_set_auroc"] is None
    prov = report["provenance"]
    sha, dirty = _head(REPO)
    expected = {
        "dataset": str(data.resolve()),
        "seed": 7,
        "queries": 2,
        "ways": 4,  # as requested, not as capped
        "shots": [1, 2],
        "episodes": 3,
        "groups": "manifest.csv:patient",
        "coverage": 0.8,
        "backbone_id": load_backbone(tiny).backbone_id,
        "backbone_weights_hash": backbone_fingerprint(tiny),
        "adapt": "none",
        "raresight_version": metadata.version("raresight"),
        "git_sha": sha,
        "git_dirty": dirty,
    }
    if hasattr(calibration, "calibration_id"):
        expected["calibration_id"] = str(calibration.calibration_id(calibration.load_calibration(tiny)))
    assert prov == expected


def test_calibration_id_is_recorded_where_the_calibration_module_offers_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = dict(seed=0, queries=1, ways=2, shots=[1], episodes=1, groups=None, coverage=0.9, backbone=register_tiny(), adapt="none")
    monkeypatch.setattr(calibration, "calibration_id", lambda cal: "cal-42", raising=False)
    assert run_provenance(tmp_path, **kwargs)["calibration_id"] == "cal-42"  # type: ignore[arg-type]
    monkeypatch.delattr(calibration, "calibration_id")
    assert "calibration_id" not in run_provenance(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_no_checkout_or_no_git_gives_none_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert provenance.git_state(tmp_path) == (None, None)  # a folder outside any repository
    if shutil.which("git") is not None:
        # installed into a virtual environment inside some other project's repository: not our commit
        subprocess.run(["git", "init", "-q", str(tmp_path / "project")], check=True)
        site = tmp_path / "project" / ".venv" / "site-packages"
        site.mkdir(parents=True)
        assert provenance.git_state(site) == (None, None)
        assert provenance.git_state(tmp_path / "project") == (None, None)  # a repository with no commit yet
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable at all
    assert provenance.git_state(REPO) == (None, None)
    monkeypatch.setattr(provenance, "SOURCE_ROOT", tmp_path)
    prov = run_provenance(
        tmp_path, seed=0, queries=1, ways=2, shots=[1], episodes=1, groups=None, coverage=0.9, backbone=register_tiny(), adapt="none"
    )
    assert prov["git_sha"] is None and prov["git_dirty"] is None


def test_a_hanging_git_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="git", timeout=provenance.GIT_TIMEOUT_S)

    monkeypatch.setattr(provenance.subprocess, "run", hang)
    assert provenance.git_state(REPO) == (None, None)
