"""Scoring output: durable, resumable, identical whether interrupted or not."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.scoring.output import OutputError, ScoreError, errors_path, open_sink, write_errors
from core.scoring.records import NearestSupport, ScoreRow

CLASSES = ["sickle cell", "target cell"]


def row(index: int) -> ScoreRow:
    p = round(0.1 + index * 0.07, 6)
    return ScoreRow(
        path=f"/data/img_{index}.png",
        content_hash=f"{index:064x}",
        frame=0,
        predicted_class="target cell" if p > 0.5 else None,
        probabilities={"sickle cell": round(1 - p, 6), "target cell": p},
        prediction_set=("target cell",) if p > 0.5 else (),
        none_of_these=p <= 0.5,
        nearest_support={"target cell": NearestSupport("ab" * 32, "/s/t.png", 0.75)},
        model_version=3,
    )


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path: Path, suffix: str) -> None:
    rows = [row(i) for i in range(10)]
    whole = tmp_path / f"whole{suffix}"
    sink = open_sink(whole, CLASSES)
    sink.append(rows[:5])
    sink.append(rows[5:])
    sink.close()

    parts = tmp_path / f"parts{suffix}"
    first = open_sink(parts, CLASSES)
    first.append(rows[:4])  # then the process dies: no close()
    second = open_sink(parts, CLASSES)
    done = second.done_keys()
    assert done == {r.key for r in rows[:4]}
    second.append([r for r in rows if r.key not in done])
    second.close()
    if suffix == ".parquet":
        assert pq.read_table(parts).equals(pq.read_table(whole))
        assert not parts.with_name(parts.name + ".partial.jsonl").exists()
    else:
        assert parts.read_bytes() == whole.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_half_written_last_line_is_cut_on_resume(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    sink = open_sink(path, CLASSES)
    sink.append([row(0), row(1)])
    sink.close()
    with path.open("a", encoding="utf-8") as file:
        file.write('/data/img_2.png,"00')  # killed in the middle of a line
    resumed = open_sink(path, CLASSES)
    assert resumed.done_keys() == {row(0).key, row(1).key}
    resumed.append([row(2)])
    resumed.close()
    assert path.read_text().count("img_2") == 1


def test_other_classes_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    open_sink(path, CLASSES).close()
    with pytest.raises(OutputError, match="other columns"):
        open_sink(path, ["platelet"])


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"\.csv, \.jsonl or \.parquet"):
        open_sink(tmp_path / "out.xlsx", CLASSES)


def test_jsonl_round_trip(tmp_path: Path) -> None:
    import json

    path = tmp_path / "out.jsonl"
    sink = open_sink(path, CLASSES)
    sink.append([row(8)])
    sink.close()
    assert ScoreRow.from_json(json.loads(path.read_text())) == row(8)


def test_errors_file(tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    written = write_errors(out, [ScoreError("/x/bad.dcm", "/x/bad.dcm: file is empty (0 bytes); export it again")])
    assert written == errors_path(out) and "bad.dcm" in written.read_text()
