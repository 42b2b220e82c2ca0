"""``raresight score --engine ray``: a real Ray instance on loopback, the real default backbone, a real
project; the shards hold the local engine's rows, the errors file its errors, and a rerun does only the rest.

One Ray instance serves the module (started here, joined by each run with ``--address``, ended at the
end); one project and one folder of 200 generated images (and one unreadable file) serve every test.
Each Ray run is the real command in its own process, as users run it (one Ray driver per process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Ray's single-machine mode (its default on macOS and Windows): every node and driver on 127.0.0.1, so the
# instance listens on loopback only. Read when ray is imported, so set before the import below.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="the [cluster] extra (ray[data]) is not installed")

import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from app.cli import main  # noqa: E402
from core.demo import write_demo_images  # noqa: E402
from core.scoring.output import flat_columns  # noqa: E402
from core.scoring.pipeline import AUDIT_HEAD_KEY  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RARESIGHT = Path(sys.executable).parent / "raresight"
BROKEN = "zz_not_an_image.png"
CHUNK = 64  # 201 files: shards of 64, 64, 64 and 9


@dataclass(frozen=True)
class Workspace:
    root: Path
    project: Path
    images: Path
    address: str
    local: Path  # the local engine's Parquet output for the images, the reference every test compares to
    threads: int  # torch threads of the local run: one ray worker with as many gives the same floats
    ray_session: Path  # the instance's session folder (its logs)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from ray.cluster_utils import Cluster

    root = tmp_path_factory.mktemp("ray")
    with pytest.MonkeyPatch.context() as env:
        for name in ("RARESIGHT_CACHE_DIR", "RARESIGHT_DATA_DIR", "RARESIGHT_LOG_DIR", "RARESIGHT_CONFIG_DIR"):
            env.setenv(name, str(root / "home" / name.lower()))  # the workers inherit these, not the user's folders
        images = write_demo_images(root / "images", per_class=40)  # 5 classes x 40 PNGs
        (root / "images" / "discocyte" / BROKEN).write_bytes(b"\x89PNG\r\n\x1a\n broken")
        project = root / "p.raresight"
        assert main(["project", "create", str(project)]) == 0
        for kind, paths in images.items():
            assert main(["project", "add", str(project), *map(str, paths[:6]), "--class", kind]) == 0
        assert main(["adapt", str(project), "--budget-s", "1"]) == 0
        # The reference run is a fresh process with an empty embedding cache, as every worker is: features
        # cached by the adapt above, or torch threads left changed in this process by earlier tests, would
        # give the same rows to the 6th decimal only (a full-suite run in a fresh clone showed 11 such rows).
        env.setenv("RARESIGHT_CACHE_DIR", str(root / "home" / "empty-cache"))
        local = root / "local.parquet"
        done = cli("score", str(project), str(root / "images"), "-r", "--out", str(local))
        assert done.returncode == 1, done.stderr  # 1: the broken file
        threads = int(cli_python("import torch; print(torch.get_num_threads())").stdout)
        cluster = Cluster(
            initialize_head=True,
            shutdown_at_exit=True,
            head_node_args={
                "num_cpus": threads,
                "node_ip_address": "127.0.0.1",
                "include_dashboard": False,
                "object_store_memory": 200 * 1024**2,
            },
        )
        try:
            session = Path(cluster.head_node.get_session_dir_path())
            yield Workspace(root, project, root / "images", str(cluster.address), local, threads, session)
        finally:
            cluster.shutdown()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``raresight ARGS`` in a fresh process, with this test's environment (its isolated user folders)."""
    return subprocess.run([str(RARESIGHT), *args], capture_output=True, text=True, timeout=600, check=False)


def cli_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)


def score_ray(ws: Workspace, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("score", str(ws.project), str(ws.images), "-r", "--out", str(out), "--engine", "ray", "--address", ws.address, *extra)


def by_path(table: object) -> dict[str, dict[str, object]]:
    rows = table.to_pylist()  # type: ignore[attr-defined]
    keyed = {str(row["path"]): row for row in rows}
    assert len(keyed) == len(rows), "a path is in the output twice"
    return keyed


def shards(out: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}


def test_rows_and_errors_are_the_local_engines(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    out = tmp_path / "shards"
    done = score_ray(ws, out, "--workers", "1", "--batch-size", str(CHUNK))
    assert done.returncode == 1, done.stderr  # 1: the unreadable file, as locally
    assert f"201 file(s): 200 scored now, 0 already done, 1 unreadable (see {out / '_scores.errors.csv'})" in done.stdout
    assert f"FAIL  {ws.images / 'discocyte' / BROKEN}: " in done.stdout
    assert "1 worker(s)" in done.stderr and "peak memory per worker" in done.stderr

    assert len(shards(out)) == 4  # ceil(200 readable / 64): one shard per chunk
    table = ds.dataset(out, format="parquet").to_table()  # the errors file beside the shards is not read as data
    assert table.column_names == pq.read_schema(ws.local).names == flat_columns(_classes(ws))
    local, ray_rows = by_path(pq.read_table(ws.local)), by_path(table)
    assert len(ray_rows) == 200 and ray_rows == local  # every column, per path, bit for bit
    assert (out / "_scores.errors.csv").read_bytes() == (ws.root / "local.parquet.errors.csv").read_bytes()
    head = pq.read_schema(next(out.glob("part-*.parquet"))).metadata
    assert AUDIT_HEAD_KEY.encode() in head  # the project's audit head, as a local Parquet output carries it
    # no file name in anything Ray logged for the run (file names can name patients)
    logs = [p for p in ws.ray_session.rglob("*") if p.is_file() and "logs" in p.parts]
    assert logs, f"no Ray logs found under {ws.ray_session}"
    named = [p.name for p in logs if b"synthetic_" in p.read_bytes() or BROKEN.encode() in p.read_bytes()]
    assert not named, f"image file names in Ray's logs: {named[:3]}"


def assert_same_rows(ray_rows: dict[str, dict[str, object]], local: dict[str, dict[str, object]]) -> None:
    """The same paths, every column equal, floats (probabilities, similarities) to 1e-4."""
    assert ray_rows.keys() == local.keys()
    for path, row in ray_rows.items():
        for column, value in row.items():
            if isinstance(value, float):
                assert value == pytest.approx(local[path][column], abs=1e-4), (path, column)
            else:
                assert value == local[path][column], (path, column)


def _classes(ws: Workspace) -> list[str]:
    return [name[2:] for name in pq.read_schema(ws.local).names if name.startswith("p_")]


def test_two_workers_on_a_local_instance_agree_with_local_to_float_rounding(workspace: Workspace, tmp_path: Path) -> None:
    """Without --address the command starts (and ends) its own Ray instance. Two actors share the CPUs, so
    torch runs with fewer threads than the local run and sums are taken in another order: probabilities and
    similarities agree to 1e-4 (measured: 1.3e-5 at most), everything else exactly."""
    ws = workspace
    out = tmp_path / "shards"
    done = cli(
        "score", str(ws.project), str(ws.images), "-r", "--out", str(out), "--engine", "ray", "--workers", "2", "--batch-size", str(CHUNK)
    )
    assert done.returncode == 1, done.stderr
    assert "started a local Ray instance" in done.stderr and "2 worker(s)" in done.stderr
    assert_same_rows(by_path(ds.dataset(out, format="parquet").to_table()), by_path(pq.read_table(ws.local)))


def test_rerun_scores_only_the_missing_shards(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    out = tmp_path / "shards"
    assert score_ray(ws, out, "--workers", "1", "--batch-size", str(CHUNK)).returncode == 1
    before = shards(out)
    gone = sorted(before)[:2]
    rows_gone = sum(pq.read_metadata(out / name).num_rows for name in gone)
    for name in gone:  # as if the run had been killed before these two chunks were written:
        (out / name).unlink()
    (out / f".{gone[0]}.tmp").write_bytes(b"PAR1 half a shard")  # a crash mid-write leaves only a hidden temporary file
    again = score_ray(ws, out, "--workers", "1", "--batch-size", str(CHUNK))
    assert again.returncode == 1, again.stderr
    assert f"resuming: {200 - rows_gone} image(s) already in {out}" in again.stderr
    assert f"201 file(s): {rows_gone} scored now, {200 - rows_gone} already done, 1 unreadable" in again.stdout
    after = shards(out)
    kept = set(before) - set(gone)
    assert all(after[name] == before[name] for name in kept)  # finished shards untouched
    assert not list(out.glob(".*.tmp"))
    # no image twice; the rerun embeds the missing images in other batches than the local run did, and a
    # batch's make-up can change the last bits of a float (one row of 200 in one full-suite run)
    assert_same_rows(by_path(ds.dataset(out, format="parquet").to_table()), by_path(pq.read_table(ws.local)))

    # every image done: the unreadable file is tried again, as locally, and still listed; no shard is written
    last = score_ray(ws, out, "--batch-size", str(CHUNK))
    assert last.returncode == 1, last.stderr
    assert "201 file(s): 0 scored now, 200 already done, 1 unreadable" in last.stdout
    assert (out / "_scores.errors.csv").read_bytes() == (ws.root / "local.parquet.errors.csv").read_bytes()
    assert shards(out) == after
    # mended, it is scored into a shard of its own and leaves the errors file
    broken = ws.images / "discocyte" / BROKEN
    original = broken.read_bytes()
    shutil.copy(next((ws.images / "discocyte").glob("*_039.png")), broken)
    try:
        mended = score_ray(ws, out, "--batch-size", str(CHUNK))
    finally:
        broken.write_bytes(original)
    assert mended.returncode == 0, mended.stderr
    assert "201 file(s): 1 scored now, 200 already done, 0 unreadable" in mended.stdout
    assert not (out / "_scores.errors.csv").exists()
    assert len(shards(out)) == len(after) + 1 and len(by_path(ds.dataset(out, format="parquet").to_table())) == 201


def test_labels_changed_since_adapt_is_refused(workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = workspace
    project = tmp_path / "changed.raresight"
    shutil.copy(ws.project, project)
    extra = next((ws.images / "sickle_cell").glob("*_039.png"))
    assert main(["project", "add", str(project), str(extra), "--class", "sickle cell"]) == 0
    capsys.readouterr()
    args = [str(project), str(ws.images), "-r", "--engine", "ray", "--address", ws.address]
    assert main(["score", *args, "--out", str(tmp_path / "shards")]) == 2
    assert f"labels changed since model version 1 was adapted; run 'raresight adapt {project}'" in capsys.readouterr().err
    assert not list((tmp_path).glob("shards/part-*"))


def test_out_must_be_a_folder_and_cluster_flags_need_the_ray_engine(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace
    afile = tmp_path / "scores.csv"
    afile.write_text("x")
    assert main(["score", str(ws.project), str(ws.images), "-r", "--out", str(afile), "--engine", "ray"]) == 2
    assert "is a file; --engine ray writes a folder of Parquet shards" in capsys.readouterr().err
    assert main(["score", str(ws.project), str(ws.images), "-r", "--out", str(tmp_path / "s.csv"), "--workers", "2"]) == 2
    assert "--workers: only with --engine ray" in capsys.readouterr().err


def test_without_ray_the_engine_says_how_to_install_it(tmp_path: Path) -> None:
    """The real failed import: a ``ray`` module first on the path that raises ImportError, in a fresh interpreter."""
    fake = tmp_path / "no_ray"
    fake.mkdir()
    (fake / "ray.py").write_text("raise ImportError('No module named ray (test stand-in)')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(REPO)])}
    command = "from app.cli import main; raise SystemExit(main(__import__('sys').argv[1:]))"
    args = ["score", str(tmp_path / "p.raresight"), str(tmp_path), "--out", str(tmp_path / "out"), "--engine", "ray"]
    done = subprocess.run([sys.executable, "-c", command, *args], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 2, done.stderr
    assert "pip install 'raresight[cluster]'" in done.stderr
    assert not (tmp_path / "out").exists()
