"""SIGKILL in the middle of ``raresight score``, then the same command: complete, no duplicates, identical.

Uses the real default backbone in real processes. The interrupted and the uninterrupted runs use
separate embedding caches, so the resumed run computes its own embeddings rather than reading the
reference run's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.demo import write_demo_images

RARESIGHT = Path(sys.executable).parent / "raresight"


def run(args: list[str], cache: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RARESIGHT_CACHE_DIR": str(cache)}
    return subprocess.run([str(RARESIGHT), *args], capture_output=True, text=True, timeout=600, env=env, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def adapted_project(tmp_path: Path) -> tuple[Path, Path]:
    """A project adapted to three examples of each demo class, and the folder of 80 demo images."""
    images = write_demo_images(tmp_path / "images", per_class=16)
    project = tmp_path / "p.raresight"
    assert run(["project", "create", str(project)], tmp_path / "cache0").returncode == 0
    for kind, paths in images.items():
        assert run(["project", "add", str(project), *map(str, paths[:3]), "--class", kind], tmp_path / "cache0").returncode == 0
    adapted = run(["adapt", str(project), "--budget-s", "2"], tmp_path / "cache0")
    assert adapted.returncode == 0, adapted.stderr
    return project, tmp_path / "images"


@pytest.mark.slow
def _ctrl_c_on() -> None:
    """The child's SIGINT as a terminal gives it: a shell starts background jobs (a CI script's, say) with
    SIGINT ignored, which the child would inherit, and then no Ctrl-C could reach it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_killed_run_resumes_to_the_uninterrupted_output(tmp_path: Path) -> None:
    project, queries = adapted_project(tmp_path)

    reference = tmp_path / "reference.csv"
    whole = run(["score", str(project), str(queries), "-r", "--out", str(reference)], tmp_path / "cache1")
    assert whole.returncode == 0, whole.stderr

    resumed = tmp_path / "resumed.csv"
    command = [str(RARESIGHT), "score", str(project), str(queries), "-r", "--out", str(resumed)]
    env = {**os.environ, "RARESIGHT_CACHE_DIR": str(tmp_path / "cache2")}
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not resumed.exists() or resumed.read_text().count("\n") < 2 + 32):
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    partial_rows = resumed.read_text().count("\n") - 1
    assert 0 < partial_rows < 80, "the kill should land in the middle of the run"

    again = run(["score", str(project), str(queries), "-r", "--out", str(resumed)], tmp_path / "cache2")
    assert again.returncode == 0, again.stderr
    assert f"{partial_rows} already done" in again.stdout
    lines = resumed.read_text().splitlines()
    assert len(lines) == len(set(lines)) == 81  # header + 80 images, no duplicates
    assert resumed.read_bytes() == reference.read_bytes()


@pytest.mark.slow
def test_ctrl_c_leaves_a_complete_parquet_file_and_the_same_command_resumes(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    project, queries = adapted_project(tmp_path)
    reference = tmp_path / "reference.parquet"
    assert run(["score", str(project), str(queries), "-r", "--out", str(reference)], tmp_path / "cache1").returncode == 0

    out = tmp_path / "resumed.parquet"
    journal = tmp_path / "resumed.parquet.partial.jsonl"
    command = [str(RARESIGHT), "score", str(project), str(queries), "-r", "--out", str(out)]
    env = {**os.environ, "RARESIGHT_CACHE_DIR": str(tmp_path / "cache2")}
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_on)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not journal.exists() or journal.read_text().count("\n") < 32):
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stderr
    partial = pq.read_table(out)  # a complete, readable Parquet file of the finished rows
    assert 0 < partial.num_rows < 80 and not journal.exists()
    assert f"interrupted: {partial.num_rows} row(s) are in {out}" in stderr

    again = run(["score", str(project), str(queries), "-r", "--out", str(out)], tmp_path / "cache2")
    assert again.returncode == 0, again.stderr
    assert f"{partial.num_rows} already done" in again.stdout
    assert pq.read_table(out).equals(pq.read_table(reference))
