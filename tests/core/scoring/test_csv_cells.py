"""CSV formula injection (OWASP): neutralised in every CSV written, kept raw in JSON Lines and Parquet,
and undone exactly when a run resumes."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.scoring.cells import FORMULA_STARTS, neutralise, restore
from core.scoring.output import errors_path, open_sink, read_rows, update_errors
from core.scoring.records import NearestSupport, ScoreError, ScoreRow

CLASSES = ["=evil", "plain"]
NAMES = ['=HYPERLINK("http://x")+1.png', "+1.png", "-2.png", "@SUM(A1).png", "\tTAB.png", "\rCR.png", "'quoted.png", "ok.png"]


def row(path: str) -> ScoreRow:
    return ScoreRow(
        path=path,
        content_hash="ab" * 32,
        frame=0,
        predicted_class="=evil",
        probabilities={"=evil": 0.9, "plain": 0.1},
        prediction_set=("=evil",),
        none_of_these=False,
        nearest_support={"plain": NearestSupport("cd" * 32, "/s/=x.png", -0.25)},  # a negative number stays a number
        model_version=1,
    )


@pytest.mark.parametrize("value", NAMES)
def test_neutralise_then_restore_is_exact(value: str) -> None:
    cell = neutralise(value)
    assert not str(cell).startswith(FORMULA_STARTS)
    assert restore(str(cell)) == value
    assert neutralise(-0.25) == -0.25 and neutralise(3) == 3


def test_csv_cells_are_neutralised_and_read_back_raw(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    sink = open_sink(out, CLASSES)
    sink.append([row(f"/d/{n}") for n in NAMES[:1]] + [row(n) for n in NAMES[1:]])
    sink.close()
    with out.open(newline="", encoding="utf-8") as file:
        cells = [cell for line in list(csv.reader(file))[1:] for cell in line]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS) and not c.lstrip("-").replace(".", "").isdigit()]
    assert "'=evil" in cells and "-0.25" in cells
    assert [r.path for r in read_rows(out, CLASSES)] == [f"/d/{NAMES[0]}", *NAMES[1:]]
    assert open_sink(out, CLASSES).done_keys() == {f"/d/{NAMES[0]}", *NAMES[1:]}  # resume skips them all


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_jsonl_and_parquet_keep_the_raw_value(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"s{suffix}"
    sink = open_sink(out, CLASSES)
    sink.append([row(n) for n in NAMES])
    sink.close()
    if suffix == ".jsonl":
        paths = [json.loads(line)["path"] for line in out.read_text(encoding="utf-8").splitlines()]
    else:
        paths = pq.read_table(out).column("path").to_pylist()
    assert paths == NAMES


def test_errors_file_is_neutralised_and_merged_by_the_raw_path(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    bad = os.fsdecode(b"=bad\xff.png")
    update_errors(out, [], [ScoreError("=cmd.png", "=cmd.png: not an image"), ScoreError(bad, f"{bad}: not an image")])
    text = errors_path(out).read_text(encoding="utf-8")  # valid UTF-8 although a name is not
    assert "'=cmd.png,'=cmd.png: not an image" in text and "=bad\ufffd.png: not an image" in text
    update_errors(out, ["=cmd.png"], [])  # scored now: its entry goes, the other stays
    with errors_path(out).open(newline="", encoding="utf-8") as file:
        assert [r[0] for r in csv.reader(file)][1:] == ["file:%3Dbad%FF.png"]
    assert update_errors(out, [bad], []) is None
