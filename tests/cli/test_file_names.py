"""Issue 17: any name a file system allows works end to end; FIFOs are skipped with the reason.

A name that is not UTF-8 (``bad\\xff\\xfe.png``) used to stop add, label, score and report with a
UnicodeEncodeError, and one FIFO in a folder blocked them forever.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from app.cli import main
from core.privacy.paths import from_stored
from core.store import Project
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny

BAD = b"bad\xff\xfe.png"  # not UTF-8: Python hands it over as 'bad\udcff\udcfe.png'
FORMULA = "=HYPERLINK(1)+1.png"


def named(folder: Path, raw: bytes, source: Path) -> str:
    target = os.fsdecode(os.fsencode(folder) + b"/" + raw)
    shutil.copy(source, target)
    return target


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """Support images with one oddly named red example; queries with an odd name, a formula name and a FIFO."""
    register_tiny()
    support, queries = tmp_path / "support", tmp_path / "queries"
    for ci, name in enumerate(("red", "green")):
        for i in range(2):
            make_image(support / f"{name}_{i}.png", COLOURS[name], seed=10 * ci + i)
        make_image(queries / f"{name}_q.png", COLOURS[name], seed=500 + ci)
    odd_support = named(support, BAD, make_image(tmp_path / "red_x.png", COLOURS["red"], seed=99))
    odd_query = named(queries, BAD, make_image(tmp_path / "red_y.png", COLOURS["red"], seed=98))
    shutil.copy(queries / "green_q.png", queries / FORMULA)
    os.mkfifo(queries / "pipe.png")  # reading it would block forever
    Path(os.fsdecode(os.fsencode(queries) + b"/broken\xff.png")).write_bytes(b"not an image")
    return support, queries, odd_support, odd_query


def test_odd_names_and_fifos_end_to_end(folders: tuple[Path, Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    support, queries, odd_support, odd_query = folders
    project = tmp_path / "p.raresight"
    assert main(["project", "create", str(project)]) == 0
    assert main(["project", "add", str(project), str(support)]) == 0
    out = capsys.readouterr().out
    assert "added 5 image(s)" in out
    assert main(["project", "add", str(project), str(queries)]) == 1  # the FIFO inside: reported, never opened
    out = capsys.readouterr().out
    assert "pipe.png: is a FIFO (named pipe), not an image file" in out and "added 3 image(s)" in out
    assert "FAIL  " + str(queries / "broken\ufffd.png: ") in out  # shown with a replacement character, not a traceback
    with Project.open(project, readonly=True) as opened:
        assert {odd_support, odd_query} <= {r.path for r in opened.images()}  # read back exactly
    reds = [odd_support, *map(str, sorted(support.glob("red_*.png")))]
    assert main(["project", "label", str(project), "--class", "red", *reds]) == 0
    assert main(["project", "label", str(project), "--class", "green", *map(str, sorted(support.glob("green_*.png")))]) == 0
    assert main(["adapt", str(project), "--backbone", "tiny-test", "--budget-s", "0.5"]) == 0
    capsys.readouterr()

    for suffix in ("csv", "jsonl", "parquet"):
        scores = tmp_path / f"s.{suffix}"
        assert main(["score", str(project), str(queries), "--out", str(scores)]) == 1
        out = capsys.readouterr().out
        assert "pipe.png: is a FIFO (named pipe)" in out and "broken\ufffd.png: " in out and "4 scored now" in out
        listed = {from_stored(r[0]) for r in _csv(tmp_path / f"s.{suffix}.errors.csv")[1:]}
        assert listed == {str(queries / "pipe.png"), os.fsdecode(os.fsencode(queries) + b"/broken\xff.png")}
        assert odd_query in _paths(scores) and str(queries / FORMULA) in _paths(scores)
        assert main(["score", str(project), str(queries), "--out", str(scores)]) == 1  # resumes: the odd name is found again
        assert "0 scored now, 4 already done, 2 unreadable" in capsys.readouterr().out

    _, *rows = _csv(tmp_path / "s.csv")
    assert f"'{queries / FORMULA}" not in {r[0] for r in rows}  # an absolute path starts with '/', not a formula
    assert main(["report", str(project), odd_query, "--out", str(tmp_path / "r.html"), "--identifiers"]) == 0
    assert "bad\ufffd\ufffd.png" in (tmp_path / "r.html").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["report", str(project), str(queries / "pipe.png"), "--out", str(tmp_path / "r2.html")]) == 2
    assert "is a FIFO (named pipe)" in capsys.readouterr().err


def test_a_relative_formula_name_is_neutralised_in_the_csv(
    folders: tuple[Path, Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    support, queries, _, _ = folders
    project = tmp_path / "p.raresight"
    assert main(["project", "create", str(project)]) == 0
    assert main(["project", "add", str(project), *map(str, support.glob("red_*.png")), "--class", "red"]) == 0
    assert main(["project", "add", str(project), *map(str, support.glob("green_*.png")), "--class", "green"]) == 0
    assert main(["adapt", str(project), "--backbone", "tiny-test", "--budget-s", "0.5"]) == 0
    monkeypatch.chdir(queries)
    assert main(["score", str(project), FORMULA, "--out", str(tmp_path / "s.csv")]) == 0
    assert _csv(tmp_path / "s.csv")[1][0] == f"'{FORMULA}"  # a spreadsheet shows it as text


def _csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:  # valid UTF-8 whatever the names
        return list(csv.reader(file))


def _paths(path: Path) -> set[str]:
    if path.suffix == ".parquet":
        return {from_stored(p) for p in pq.read_table(path).column("path").to_pylist()}
    if path.suffix == ".jsonl":
        return {from_stored(json.loads(line)["path"]) for line in path.read_text(encoding="utf-8").splitlines()}
    return {from_stored(r[0]) for r in _csv(path)[1:]}
