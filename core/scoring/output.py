"""Scoring output as CSV, JSON Lines or Parquet, durable row by row and resumable.

Rows are appended in input order and synced to disk after each batch, so Ctrl-C, a crash or
SIGKILL leaves a valid partial file; the next run with the same output skips the images already
there. A half-written last line is cut off on resume. Parquet cannot be appended to, so its rows
go to a JSON Lines journal beside it, and the Parquet file is rewritten atomically at checkpoints.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from core.errors import RareSightError
from core.scoring.records import NearestSupport, ScoreError, ScoreRow

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


class OutputError(RareSightError):
    """The output file cannot be written or does not belong to this run."""


class ResultSink(Protocol):
    def done_keys(self) -> set[str]: ...
    def append(self, rows: Sequence[ScoreRow]) -> None: ...
    def close(self) -> None: ...


def flat_columns(classes: Sequence[str]) -> list[str]:
    """The flat table's columns: one probability, nearest example and similarity per class."""
    columns = ["path", "content_hash", "frame", "predicted_class", "none_of_these", "prediction_set"]
    columns += [f"p_{name}" for name in classes]
    columns += [f"nearest_{name}" for name in classes]
    columns += [f"similarity_{name}" for name in classes]
    return [*columns, "model_version"]


def flatten(row: ScoreRow, classes: Sequence[str]) -> dict[str, Any]:
    flat: dict[str, Any] = {
        "path": row.path,
        "content_hash": row.content_hash,
        "frame": row.frame,
        "predicted_class": row.predicted_class or "",
        "none_of_these": row.none_of_these,
        "prediction_set": ";".join(row.prediction_set),
        "model_version": row.model_version,
    }
    for name in classes:
        near = row.nearest_support.get(name)
        flat[f"p_{name}"] = round(row.probabilities.get(name, 0.0), 6)
        flat[f"nearest_{name}"] = near.content_hash if near else ""
        flat[f"similarity_{name}"] = round(near.similarity, 6) if near else None
    return flat


def unflatten(flat: dict[str, Any], classes: Sequence[str]) -> ScoreRow:
    def as_bool(value: Any) -> bool:
        return value if isinstance(value, bool) else str(value).lower() == "true"

    nearest = {
        name: NearestSupport(str(flat[f"nearest_{name}"]), "", float(flat[f"similarity_{name}"]))
        for name in classes
        if flat.get(f"nearest_{name}") not in (None, "")
    }
    prediction_set = str(flat.get("prediction_set") or "")
    return ScoreRow(
        path=str(flat["path"]),
        content_hash=str(flat["content_hash"]),
        frame=int(flat["frame"]),
        predicted_class=str(flat["predicted_class"]) or None,
        probabilities={name: float(flat[f"p_{name}"]) for name in classes},
        prediction_set=tuple(c for c in prediction_set.split(";") if c),
        none_of_these=as_bool(flat["none_of_these"]),
        nearest_support=nearest,
        model_version=int(flat["model_version"]),
    )


def _cut_partial_last_line(path: Path) -> bytes:
    """The file's complete lines; a half-written last line (no newline) is removed from disk."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with path.open("r+b") as file:
            file.truncate(end)
    return data[:end]


def _sync(file: io.TextIOBase) -> None:
    file.flush()
    os.fsync(file.fileno())


class _LineSink:
    """Shared by CSV and JSON Lines: append lines, fsync per batch, resume from complete lines."""

    def __init__(self, path: Path, classes: Sequence[str]) -> None:
        self.path, self.classes = path, list(classes)
        self._done: set[str] = set()
        existing = _cut_partial_last_line(path) if path.exists() else b""
        if existing:
            self._done = self._read_keys(existing.decode("utf-8"))
        try:
            self._file = path.open("a", encoding="utf-8", newline="")
        except OSError as exc:
            raise OutputError(f"{path}: cannot be written ({exc.strerror}); choose another --out") from exc
        if not existing:
            self._write_header()

    def _read_keys(self, text: str) -> set[str]:
        raise NotImplementedError

    def _write_header(self) -> None:
        pass

    def _lines(self, rows: Sequence[ScoreRow]) -> str:
        raise NotImplementedError

    def done_keys(self) -> set[str]:
        return set(self._done)

    def append(self, rows: Sequence[ScoreRow]) -> None:
        if not rows:
            return
        try:
            self._file.write(self._lines(rows))
            _sync(self._file)
        except OSError as exc:
            advice = "free some space and run the same command again to resume"
            raise OutputError(f"{self.path}: writing failed ({exc.strerror}); {advice}") from exc
        self._done.update(row.key for row in rows)

    def close(self) -> None:
        self._file.close()


class CsvSink(_LineSink):
    def _read_keys(self, text: str) -> set[str]:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames != flat_columns(self.classes):
            raise OutputError(
                f"{self.path}: holds results with other columns (another project or other classes); choose another --out or remove it"
            )
        return {unflatten(r, self.classes).key for r in reader}

    def _write_header(self) -> None:
        csv.writer(self._file).writerow(flat_columns(self.classes))
        _sync(self._file)

    def _lines(self, rows: Sequence[ScoreRow]) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=flat_columns(self.classes))
        for row in rows:
            writer.writerow(flatten(row, self.classes))
        return buffer.getvalue()


class JsonLinesSink(_LineSink):
    def _read_keys(self, text: str) -> set[str]:
        keys = set()
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                keys.add(ScoreRow.from_json(json.loads(line)).key)
            except (ValueError, KeyError, TypeError) as exc:
                raise OutputError(f"{self.path}: line {number} is not a RareSight result; choose another --out or remove it") from exc
        return keys

    def _lines(self, rows: Sequence[ScoreRow]) -> str:
        return "".join(json.dumps(row.to_json(), ensure_ascii=False) + "\n" for row in rows)


class ParquetSink:
    """Rows journalled as JSON Lines beside the file; the Parquet file rewritten atomically."""

    def __init__(self, path: Path, classes: Sequence[str], checkpoint_rows: int = 500) -> None:
        self.path, self.classes, self.checkpoint_rows = path, list(classes), checkpoint_rows
        self.journal_path = path.with_name(path.name + ".partial.jsonl")
        if path.exists() and not self.journal_path.exists():
            self._journal_from_parquet()
        self._journal = JsonLinesSink(self.journal_path, classes)
        self._since_checkpoint = 0

    def _journal_from_parquet(self) -> None:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(self.path)
        except (OSError, ValueError) as exc:
            raise OutputError(f"{self.path}: is not a readable Parquet file; choose another --out or remove it") from exc
        if table.column_names != flat_columns(self.classes):
            raise OutputError(f"{self.path}: holds results with other columns; choose another --out or remove it")
        rows = [unflatten(flat, self.classes) for flat in table.to_pylist()]
        self.journal_path.write_text("".join(json.dumps(r.to_json()) + "\n" for r in rows), encoding="utf-8")

    def done_keys(self) -> set[str]:
        return self._journal.done_keys()

    def append(self, rows: Sequence[ScoreRow]) -> None:
        self._journal.append(rows)
        self._since_checkpoint += len(rows)
        if self._since_checkpoint >= self.checkpoint_rows:
            self._write_parquet()

    def _write_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [ScoreRow.from_json(json.loads(line)) for line in self.journal_path.read_text(encoding="utf-8").splitlines()]
        columns = flat_columns(self.classes)
        table = pa.Table.from_pylist([flatten(r, self.classes) for r in rows], schema=None) if rows else pa.table({c: [] for c in columns})
        temporary = self.path.with_name(self.path.name + ".tmp")
        pq.write_table(table.select(columns), temporary)
        os.replace(temporary, self.path)
        self._since_checkpoint = 0

    def close(self) -> None:
        self._journal.close()
        self._write_parquet()
        self.journal_path.unlink()


def open_sink(path: Path, classes: Sequence[str]) -> ResultSink:
    """A sink for ``path``, chosen by its extension; resumes what is already there."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise OutputError(f"{path}: unknown output type; end the file name in .csv, .jsonl or .parquet")
    if kind == "csv":
        return CsvSink(path, classes)
    if kind == "jsonl":
        return JsonLinesSink(path, classes)
    return ParquetSink(path, classes)


def errors_path(output: Path) -> Path:
    return output.with_name(output.stem + ".errors.csv")


def write_errors(output: Path, errors: Iterable[ScoreError]) -> Path:
    """Unreadable images of this run, one per line with the reason (rewritten each run)."""
    path = errors_path(output)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "error"])
        for error in errors:
            writer.writerow([error.path, error.error])
    return path


def read_rows(path: Path, classes: Sequence[str]) -> list[ScoreRow]:
    """Every complete row of an output file (CSV, JSON Lines or Parquet), in file order."""
    kind = FORMATS.get(path.suffix.lower())
    if kind == "parquet":
        import pyarrow.parquet as pq

        return [unflatten(flat, classes) for flat in pq.read_table(path).to_pylist()]
    text = path.read_text(encoding="utf-8")
    text = text[: text.rfind("\n") + 1]
    if kind == "csv":
        return [unflatten(flat, classes) for flat in csv.DictReader(io.StringIO(text))]
    return [ScoreRow.from_json(json.loads(line)) for line in text.splitlines()]
