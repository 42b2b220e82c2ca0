"""Scoring output as CSV, JSON Lines or Parquet, durable row by row and resumable.

Rows are appended in input order and synced to disk after each batch, so Ctrl-C, a crash or
SIGKILL leaves a valid partial file; the next run with the same output skips the images already
there. A half-written last line is cut off on resume.

Parquet cannot be appended to. Its rows are synced to a JSON Lines journal beside it
(``FILE.partial.jsonl``, what a crash leaves) and streamed in row groups into ``FILE.tmp``, which
replaces ``FILE`` on close (Ctrl-C closes it too). ``FILE`` is only ever replaced whole, so it
always holds a complete result; writing is linear in the rows, with no rewrite at checkpoints.

Every format holds any file name exactly (``core.privacy.paths.to_stored``: a name that is not
UTF-8 becomes ``file:`` + its bytes percent-encoded). CSV cells a spreadsheet would run as a formula
are neutralised with a leading quote (``core.scoring.cells``); JSON Lines and Parquet keep them raw.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from core.errors import RareSightError
from core.privacy.paths import from_stored, path_for_display, to_stored
from core.scoring.cells import neutralise, neutralise_row, restore, restore_row
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
        "path": to_stored(row.path),
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
        path=from_stored(str(flat["path"])),
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
        return {unflatten(restore_row(r), self.classes).key for r in reader}

    def _write_header(self) -> None:
        csv.writer(self._file).writerow(flat_columns(self.classes))
        _sync(self._file)

    def _lines(self, rows: Sequence[ScoreRow]) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=flat_columns(self.classes))
        for row in rows:
            writer.writerow(neutralise_row(flatten(row, self.classes)))
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


def arrow_schema(classes: Sequence[str]) -> Any:
    """The Parquet schema of the flat table (explicit, so every row group has the same types)."""
    import pyarrow as pa

    types = {"path": pa.string(), "content_hash": pa.string(), "frame": pa.int64(), "predicted_class": pa.string()}
    types |= {"none_of_these": pa.bool_(), "prediction_set": pa.string(), "model_version": pa.int64()}
    for name in classes:
        types |= {f"p_{name}": pa.float64(), f"nearest_{name}": pa.string(), f"similarity_{name}": pa.float64()}
    return pa.schema([(column, types[column]) for column in flat_columns(classes)])


class ParquetSink:
    """Rows journalled as JSON Lines beside the file and streamed into a temporary Parquet file."""

    def __init__(self, path: Path, classes: Sequence[str], row_group_rows: int = 8192) -> None:
        import pyarrow.parquet as pq

        self.path, self.classes, self.row_group_rows = path, list(classes), row_group_rows
        self.journal_path = path.with_name(path.name + ".partial.jsonl")
        self.temporary = path.with_name(path.name + ".tmp")
        self._schema = arrow_schema(classes)
        self._buffer: list[dict[str, Any]] = []
        self._journal = JsonLinesSink(self.journal_path, classes)  # rows of an interrupted run, not in FILE yet
        try:
            self._writer = pq.ParquetWriter(self.temporary, self._schema)
        except OSError as exc:
            raise OutputError(f"{self.temporary}: cannot be written ({exc}); choose another --out") from exc
        copied = False
        try:
            self._done = self._copy_finished_rows()
            copied = True
        finally:
            if not copied:  # e.g. FILE holds other columns: leave no temporary file behind
                self._writer.close()
                self.temporary.unlink(missing_ok=True)

    def _copy_finished_rows(self) -> set[str]:
        """Rows already in FILE, then the journal's others, into the new file; returns their keys."""
        done: set[str] = set()
        if self.path.exists():
            for table in self._existing_tables():
                done.update(from_stored(str(p)) for p in table.column("path").to_pylist())
                self._writer.write_table(table)
        with self.journal_path.open(encoding="utf-8") as journal:
            for line in journal:
                row = ScoreRow.from_json(json.loads(line))
                if row.key not in done:  # a crash between replacing FILE and removing the journal
                    self._buffer.append(flatten(row, self.classes))
                    done.add(row.key)
                    self._flush(self.row_group_rows)
        return done  # every journal row's key is in it now

    def _existing_tables(self) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            source = pq.ParquetFile(self.path)
            if source.schema_arrow.names != flat_columns(self.classes):
                raise OutputError(f"{self.path}: holds results with other columns; choose another --out or remove it")
            for batch in source.iter_batches(batch_size=self.row_group_rows):
                yield pa.Table.from_batches([batch]).cast(self._schema)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise OutputError(f"{self.path}: is not a readable Parquet file of results; choose another --out or remove it") from exc

    def _flush(self, at_least: int = 1) -> None:
        import pyarrow as pa

        if len(self._buffer) >= at_least:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=self._schema), row_group_size=self.row_group_rows)
            self._buffer = []

    def done_keys(self) -> set[str]:
        return set(self._done)

    def append(self, rows: Sequence[ScoreRow]) -> None:
        self._journal.append(rows)
        self._buffer += [flatten(row, self.classes) for row in rows]
        self._done.update(row.key for row in rows)
        self._flush(self.row_group_rows)

    def close(self) -> None:
        self._journal.close()
        self._flush()
        self._writer.close()
        with self.temporary.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(self.temporary, self.path)
        self.journal_path.unlink()


def open_sink(path: Path, classes: Sequence[str]) -> ResultSink:
    """A sink for ``path``, chosen by its extension; resumes what is already there."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise OutputError(f"{path}: unknown output type; end the file name in .csv, .jsonl or .parquet")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: the folder {path.parent} does not exist; create it first, or choose another --out")
    if kind == "csv":
        return CsvSink(path, classes)
    if kind == "jsonl":
        return JsonLinesSink(path, classes)
    return ParquetSink(path, classes)


def errors_path(output: Path) -> Path:
    """``scores.csv`` -> ``scores.csv.errors.csv``: after the whole name, so a CSV and a Parquet run keep their own."""
    return output.with_name(output.name + ".errors.csv")


def update_errors(output: Path, attempted: Iterable[str], errors: Sequence[ScoreError]) -> Path | None:
    """Merge this run's unreadable files into the output's errors file; the file, or None when none is left.

    Errors of earlier runs are kept unless this run tried the file again (it was scored, or failed
    anew), so a resumed run or a run over other folders into the same output loses none. The file is
    not made when there is no error, and removed when the last one is gone.
    """
    path = errors_path(output)
    tried = set(attempted) | {error.path for error in errors}
    kept = [row for row in _read_errors(path) if row[0] not in tried]
    rows = kept + [[error.path, path_for_display(error.error)] for error in errors]
    if not rows:
        path.unlink(missing_ok=True)
        return None
    temporary = path.with_name(path.name + ".tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["path", "error"])
            writer.writerows([neutralise(to_stored(path)), neutralise(error)] for path, error in rows)
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(f"{path}: the list of unreadable files cannot be written ({exc.strerror}); free some space") from exc
    return path


def _read_errors(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    if not rows or rows[0] != ["path", "error"]:
        raise OutputError(f"{path}: is not a RareSight errors file; move it away and run the command again")
    return [[from_stored(restore(row[0])), restore(row[1])] for row in rows[1:] if len(row) == 2]


def read_rows(path: Path, classes: Sequence[str]) -> list[ScoreRow]:
    """Every complete row of an output file (CSV, JSON Lines or Parquet), in file order."""
    kind = FORMATS.get(path.suffix.lower())
    if kind == "parquet":
        import pyarrow.parquet as pq

        return [unflatten(flat, classes) for flat in pq.read_table(path).to_pylist()]
    text = path.read_bytes().decode("utf-8")  # not read_text: it would turn a CR inside a quoted cell into LF
    text = text[: text.rfind("\n") + 1]
    if kind == "csv":
        return [unflatten(restore_row(flat), classes) for flat in csv.DictReader(io.StringIO(text))]
    return [ScoreRow.from_json(json.loads(line)) for line in text.splitlines()]
