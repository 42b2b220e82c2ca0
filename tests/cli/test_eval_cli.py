"""``raresight eval`` end to end: the tiny backbone for the plumbing, the real one once."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser, main
from tests.core.embedding.tiny import COLOURS, make_dataset, make_image, register_tiny

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
    "dropped_classes",
}
REPO = Path(__file__).resolve().parents[2]


def _ctrl_c_on() -> None:
    """The child's SIGINT as a terminal gives it: a shell starts background jobs (a CI script's, say) with
    SIGINT ignored, which the child would inherit, and then no Ctrl-C could reach it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_eval_writes_the_json_the_issue_specifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(tmp_path / "data", per_class=6, classes=("red", "green", "blue"))
    out = tmp_path / "eval.json"
    argv = ["eval", str(data), "--ways", "5", "--shots", "1", "2", "--queries", "3", "--episodes", "5", "--seed", "0"]
    argv += ["--backbone", register_tiny(), "--adapt", "none", "--groups", "manifest.csv:patient", "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text(), parse_constant=_refuse)  # strict JSON: no NaN
    assert set(report) == {"dataset", "backbone", "adapt", "interrupted", "finished_shots", "results", "partial_result", "provenance"}
    assert (report["interrupted"], report["finished_shots"], report["partial_result"]) == (False, [1, 2], None)
    assert [set(r) for r in report["results"]] == [FIELDS | {"open_set_auroc_reason"}] * 2
    assert report["results"][0]["ways"] == 3  # capped at the classes available
    assert report["results"][0]["open_set_auroc"] is None  # no class left over to hold out
    assert "no class left out" in report["results"][0]["open_set_auroc_reason"]
    prov = report["provenance"]
    assert (prov["ways"], prov["shots"], prov["queries"], prov["episodes"], prov["seed"]) == (5, [1, 2], 3, 5, 0)
    assert (prov["groups"], prov["coverage"], prov["adapt"]) == ("manifest.csv:patient", 0.9, "none")
    assert prov["dataset"] == str(data.resolve()) and prov["backbone_id"] == "tiny-test"
    assert {"backbone_weights_hash", "git_sha", "git_dirty", "raresight_version"} <= set(prov)
    assert [len(r["episode_accuracy"]) for r in report["results"]] == [5, 5]
    assert "5-way" not in capsys.readouterr().out


def test_eval_with_a_pool_reports_both_and_the_paired_gain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(tmp_path / "data", per_class=6, classes=("red", "green", "blue", "grey"))
    out = tmp_path / "eval.json"
    argv = ["eval", str(data), "--ways", "2", "--shots", "1", "--queries", "2", "--episodes", "4", "--backbone", register_tiny()]
    argv += ["--adapt", "none", "--unlabelled", "5", "--pool-method", "centre", "--json", str(out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2-way 1-shot, 4 episodes: accuracy")
    assert lines[1].startswith("  with a pool of 5 unlabelled (centre, 5 used): accuracy") and "points (paired)" in lines[1]
    report = json.loads(out.read_text(), parse_constant=_refuse)  # strict JSON: no NaN
    pool = report["results"][0]["with_pool"]
    assert {"unlabelled", "method", "images_used", "gain", "gain_ci95"} | FIELDS <= set(pool)
    assert (pool["unlabelled"], pool["method"], pool["images_used"]) == (5, "centre", 5)
    assert (report["provenance"]["unlabelled"], report["provenance"]["pool_method"]) == (5, "centre")
    assert main([*argv[:-6], "--pool-method", "centre"]) == 2
    assert "--pool-method needs --unlabelled" in capsys.readouterr().err


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


def test_eval_names_each_dropped_class_on_stderr_and_in_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(tmp_path / "data", per_class=4, classes=("red", "green", "blue"))
    make_image(data / "grey" / "the_only_one.png", COLOURS["grey"], seed=5)
    out = tmp_path / "eval.json"
    argv = ["eval", str(data), "--shots", "1", "3", "--queries", "1", "--episodes", "2", "--backbone", register_tiny(), "--json", str(out)]
    assert main([*argv, "-q"]) == 0
    err = capsys.readouterr().err
    assert "class 'grey' left out of the 1-shot episodes: 1 usable image(s); 1-shot episodes need 2 (1 support + 1 query)" in err
    assert "class 'grey' left out of the 3-shot episodes: 1 usable image(s); 3-shot episodes need 4" in err
    results = json.loads(out.read_text())["results"]
    assert [list(r["dropped_classes"]) for r in results] == [["grey"], ["grey"]]


def test_eval_progress_lines_in_a_pipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """stderr is not a terminal here: with --progress-every 0 a log line per episode, with rate and ETA."""
    data = make_dataset(tmp_path / "data", per_class=4, classes=("red", "green", "blue"))
    argv = ["eval", str(data), "--shots", "1", "2", "--queries", "1", "--episodes", "3", "--backbone", register_tiny()]
    assert main([*argv, "--progress-every", "0"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if " episodes " in line]
    assert len(lines) == 1 + 2 * 3  # before the first episode, then one per episode
    assert "6/6 episodes" in lines[-1] and "2-shot episode 3 of 3" in lines[-1] and "ETA" in lines[-1]
    assert all("\r" not in line for line in lines)
    assert main([*argv, "--quiet"]) == 0
    assert "episodes" not in capsys.readouterr().err


def test_ctrl_c_keeps_the_finished_shot_counts(tmp_path: Path) -> None:
    """A real SIGINT to a real run, sent during its 2-shot episodes: 1-shot and the finished 2-shot episodes are kept."""
    data = make_dataset(tmp_path / "data", per_class=4, classes=("red", "green", "blue"))
    out = tmp_path / "eval.json"
    driver = "import sys; from tests.core.embedding.tiny import register_tiny; register_tiny(); from app.cli import main; "
    driver += "sys.exit(main(sys.argv[1:]))"
    argv = ["eval", str(data), "--shots", "1", "2", "--queries", "1", "--episodes", "2000", "--backbone", "tiny-test"]
    argv += ["--progress-every", "0", "--json", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-c", driver, *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_on
    )
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if "2-shot episode 5 of 2000" in line:
                proc.send_signal(signal.SIGINT)
                break
        stdout, rest = proc.communicate(timeout=300)
    finally:
        proc.kill()  # no-op once it has exited
    err = "".join(seen) + rest
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted; finished: 1-shot" in err and "Traceback" not in err
    report = json.loads(out.read_text(), parse_constant=_refuse)
    assert report["interrupted"] is True and report["finished_shots"] == [1]
    assert report["results"][0]["episodes"] == 2000
    partial = report["partial_result"]
    assert partial["shots"] == 2 and 5 <= partial["episodes"] < 2000
    assert f"2-shot partial ({partial['episodes']} of 2000 episodes)" in err
    assert "3-way 1-shot, 2000 episodes" in stdout
    assert f"3-way 2-shot, {partial['episodes']} episodes" in stdout and "[partial: interrupted after" in stdout


@pytest.mark.parametrize("command", ["eval", "meta-train"])
def test_help_shows_every_default(command: str) -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    for action in sub._actions:
        if action.option_strings and action.dest != "help" and not action.required:
            assert action.help and "default" in action.help, f"{command} {action.option_strings[0]}: no default in its help"
