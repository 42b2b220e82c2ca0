"""Scoring output: durable, resumable, identical whether interrupted or not."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.scoring.output import OutputError, ParquetSink, ScoreError, errors_path, open_sink, update_errors
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


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"the folder .*nowhere does not exist; create it first"):
        open_sink(tmp_path / "nowhere" / "out.parquet", CLASSES)


def test_jsonl_round_trip(tmp_path: Path) -> None:
    import json

    path = tmp_path / "out.jsonl"
    sink = open_sink(path, CLASSES)
    sink.append([row(8)])
    sink.close()
    assert ScoreRow.from_json(json.loads(path.read_text())) == row(8)


def test_errors_file_is_named_after_the_whole_output_name(tmp_path: Path) -> None:
    assert errors_path(tmp_path / "scores.csv") == tmp_path / "scores.csv.errors.csv"
    assert errors_path(tmp_path / "scores.parquet") == tmp_path / "scores.parquet.errors.csv"  # a Parquet run keeps the CSV run's list
    written = update_errors(tmp_path / "scores.csv", [], [ScoreError("/x/bad.dcm", "/x/bad.dcm: file is empty (0 bytes); export it again")])
    assert written == errors_path(tmp_path / "scores.csv") and "bad.dcm" in written.read_text()


def test_no_errors_no_errors_file(tmp_path: Path) -> None:
    assert update_errors(tmp_path / "scores.csv", ["/x/a.png", "/x/b.png"], []) is None
    assert list(tmp_path.iterdir()) == []


def test_errors_of_earlier_runs_are_kept_until_their_file_is_tried_again(tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"

    def listed() -> dict[str, str]:
        lines = errors_path(out).read_text().splitlines()[1:]
        return dict(line.split(",", 1) for line in lines)

    update_errors(out, ["/x/a.png", "/x/b.png"], [ScoreError("/x/a.png", "a: bad"), ScoreError("/x/b.png", "b: bad")])
    # a resumed run, or one over another folder into the same output: b scored now, c newly unreadable
    update_errors(out, ["/x/b.png", "/x/c.png"], [ScoreError("/x/c.png", "c: bad")])
    assert listed() == {"/x/a.png": "a: bad", "/x/c.png": "c: bad"}
    update_errors(out, ["/x/a.png"], [ScoreError("/x/a.png", "a: still bad")])
    assert listed() == {"/x/c.png": "c: bad", "/x/a.png": "a: still bad"}
    assert update_errors(out, ["/x/a.png", "/x/c.png"], []) is None  # all scored at last: no stale list left
    assert not errors_path(out).exists()


def test_a_foreign_errors_file_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    errors_path(out).write_text("patient,notes\n")
    with pytest.raises(OutputError, match="not a RareSight errors file"):
        update_errors(out, [], [ScoreError("/x/a.png", "a: bad")])
    assert errors_path(out).read_text() == "patient,notes\n"


def test_parquet_streams_row_groups_and_resumes_a_finished_file(tmp_path: Path) -> None:
    rows = [row(i) for i in range(10)]
    whole = tmp_path / "whole.parquet"
    sink = ParquetSink(whole, CLASSES, row_group_rows=3)
    sink.append(rows)
    sink.close()
    assert pq.ParquetFile(whole).num_row_groups == 4  # written in groups, not rewritten whole
    parts = tmp_path / "parts.parquet"
    first = ParquetSink(parts, CLASSES, row_group_rows=3)
    first.append(rows[:5])
    first.close()  # Ctrl-C: a complete file of the finished rows
    assert pq.read_table(parts).num_rows == 5 and not parts.with_name("parts.parquet.partial.jsonl").exists()
    second = ParquetSink(parts, CLASSES, row_group_rows=3)
    assert second.done_keys() == {r.key for r in rows[:5]}
    second.append(rows[5:8])  # then killed: FILE still holds the 5 rows, the journal the 3 new ones
    assert pq.read_table(parts).num_rows == 5
    third = ParquetSink(parts, CLASSES, row_group_rows=3)
    assert third.done_keys() == {r.key for r in rows[:8]}
    third.append(rows[8:])
    third.close()
    assert pq.read_table(parts).equals(pq.read_table(whole))


def test_parquet_crash_after_replacing_the_file_duplicates_nothing(tmp_path: Path) -> None:
    rows = [row(i) for i in range(6)]
    path = tmp_path / "out.parquet"
    sink = ParquetSink(path, CLASSES)
    sink.append(rows[:4])
    journal = sink.journal_path.read_bytes()
    sink.close()
    sink.journal_path.write_bytes(journal)  # as if killed after the replace, before the journal was removed
    resumed = ParquetSink(path, CLASSES)
    resumed.append(rows[4:])
    resumed.close()
    assert pq.read_table(path).column("path").to_pylist() == [r.path for r in rows]


def test_parquet_of_other_columns_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    sink = open_sink(path, CLASSES)
    sink.append([row(0)])
    sink.close()
    before = path.read_bytes()
    with pytest.raises(OutputError, match="other columns"):
        open_sink(path, ["platelet"])
    assert path.read_bytes() == before and not path.with_name("out.parquet.tmp").exists()
