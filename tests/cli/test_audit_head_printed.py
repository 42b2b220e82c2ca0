"""The project's audit chain head is printed where users keep evidence: ``project info``, reports and score outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from app.cli import main
from app.gui.project_services import export_predictions
from core.scoring.pipeline import AUDIT_HEAD_KEY
from core.store import AuditHead, Project
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """An adapted project with two labelled images of each of two colour classes, and a folder to score."""
    register_tiny()
    support, queries = tmp_path / "support", tmp_path / "queries"
    for ci, name in enumerate(("red", "blue")):
        for i in range(2):
            make_image(support / f"{name}_{i}.png", COLOURS[name], seed=10 * ci + i)
            make_image(queries / f"{name}_{i}.png", COLOURS[name], seed=500 + 10 * ci + i)
    path = tmp_path / "p.raresight"
    assert main(["project", "create", str(path)]) == 0
    for name in ("red", "blue"):
        assert main(["project", "add", str(path), *map(str, sorted(support.glob(f"{name}_*.png"))), "--class", name]) == 0
    assert main(["adapt", str(path), "--backbone", "tiny-test", "--budget-s", "0.2"]) == 0
    return path, queries


def head_of(path: Path) -> AuditHead:
    with Project.open(path, readonly=True) as opened:
        return opened.audit_head()


def test_info_prints_the_head_and_json_holds_it(project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = project
    head = head_of(path)
    assert head.row_id > 0 and len(head.hash) == 64
    capsys.readouterr()
    assert main(["project", "info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["audit_head"] == {"row": head.row_id, "hash": head.hash}
    assert main(["project", "info", str(path)]) == 0
    assert f"audit head     row {head.row_id}, hash {head.hash}" in capsys.readouterr().out


def test_reports_print_the_head(project: tuple[Path, Path], tmp_path: Path) -> None:
    path, queries = project
    head = head_of(path)
    image = str(queries / "red_0.png")
    assert main(["report", str(path), image, "--out", str(tmp_path / "case.html")]) == 0
    html = (tmp_path / "case.html").read_text()
    assert f"row {head.row_id}, chain hash <code>{head.hash}</code> (check with raresight project verify)" in html
    assert main(["report", str(path), image, "--out", str(tmp_path / "case.pdf")]) == 0  # the short form fits its table
    assert (tmp_path / "case.pdf").read_bytes().startswith(b"%PDF")


def test_parquet_output_holds_the_head_in_its_metadata(
    project: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, queries = project
    head = head_of(path)
    out = tmp_path / "scores.parquet"
    capsys.readouterr()
    assert main(["score", str(path), str(queries), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"project audit head: row {head.row_id}, chain hash {head.hash}" in printed
    metadata = pq.read_schema(out).metadata
    assert json.loads(metadata[AUDIT_HEAD_KEY.encode()]) == {"row": head.row_id, "hash": head.hash}
    assert pq.read_table(out).num_rows == 4
    assert not out.with_name(out.name + ".tmp").exists()
    assert main(["score", str(path), str(queries), "--out", str(out)]) == 0  # resumed: rows kept, still stamped
    assert pq.read_table(out).num_rows == 4
    assert AUDIT_HEAD_KEY.encode() in pq.read_schema(out).metadata


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_text_outputs_keep_their_rows_and_the_head_is_printed(
    project: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    path, queries = project
    head = head_of(path)
    out = tmp_path / f"scores{suffix}"
    capsys.readouterr()
    assert main(["score", str(path), str(queries), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"project audit head: row {head.row_id}, chain hash {head.hash}" in printed
    assert "metadata" not in printed
    first = out.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("path,") if suffix == ".csv" else "content_hash" in json.loads(first)
    assert head.hash not in out.read_text(encoding="utf-8")


def test_window_parquet_export_holds_the_head(project: tuple[Path, Path], tmp_path: Path) -> None:
    path, _ = project
    out = tmp_path / "export.parquet"
    with Project.open(path) as opened:
        head = opened.audit_head()
        assert export_predictions(opened, out) == 4
    metadata = pq.read_schema(out).metadata
    assert json.loads(metadata[AUDIT_HEAD_KEY.encode()]) == {"row": head.row_id, "hash": head.hash}
