"""Schema version and migrations; arrays stored without pickle."""

from __future__ import annotations

import io
import json
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest

from core.errors import ProjectError
from core.store import Project, decode_npy, decode_safetensors, encode_npy, encode_safetensors, schema


def test_an_older_project_is_migrated_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.raresight"
    with Project.create(path) as project:
        project.add_class("a")

    def add_comments(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE comments (id INTEGER PRIMARY KEY, text TEXT)")

    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, add_comments)
    monkeypatch.setattr(schema, "TABLES", schema.TABLES | {"comments"})
    with pytest.raises(ProjectError, match="open it once for writing"):
        Project.open(path, readonly=True)
    with Project.open(path) as project:
        assert project.info().schema_version == current + 1
        assert project.audit_log("schema_migrated")[-1].details["from"] == current
        assert project.verify() == []
    copy = Path(f"{path}.schema{current}.bak")
    monkeypatch.undo()
    with Project.open(copy, readonly=True) as kept:
        assert kept.info().schema_version == current and kept.info().classes == {"a": 0}


def test_a_missing_migration_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.raresight"
    Project.create(path).close()
    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)  # and no MIGRATIONS[current]
    with pytest.raises(ProjectError, match=f"no migration from project schema {current}"):
        Project.open(path)
    monkeypatch.undo()
    with Project.open(path) as project:
        assert project.info().schema_version == current


def test_header_identifies_a_project(tmp_path: Path) -> None:
    path = tmp_path / "p.raresight"
    Project.create(path).close()
    header = schema.check_header(path)
    assert (header.application_id, header.user_version, header.wal) == (schema.APPLICATION_ID, schema.SCHEMA_VERSION, True)


def test_safetensors_layout_is_the_standard_one() -> None:
    tensors = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.array([1, 2], dtype=np.int64)}
    data = encode_safetensors(tensors, {"format": "np"})
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    assert size % 8 == 0
    assert header["a"] == {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}
    assert header["b"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [16, 40]}
    assert header["__metadata__"] == {"format": "np"}
    decoded = decode_safetensors(data)
    for name, array in tensors.items():
        np.testing.assert_array_equal(decoded[name], array)
        assert decoded[name].dtype == array.dtype


@pytest.mark.parametrize("data", [b"", b"\xff" * 8 + b"{}", struct.pack("<Q", 2) + b"[]", struct.pack("<Q", 4) + b'{"x"}'])
def test_malformed_safetensors_are_refused(data: bytes) -> None:
    with pytest.raises(ProjectError, match="not safetensors"):
        decode_safetensors(data)


def test_npy_never_unpickles() -> None:
    np.testing.assert_array_equal(decode_npy(encode_npy(np.eye(2, dtype=np.float32))), np.eye(2))
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ProjectError, match="could not be read"):
        decode_npy(buffer.getvalue())
