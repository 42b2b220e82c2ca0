"""Schema 2 adds the table of PACS instances; a schema-1 project is read as it is and upgraded when opened for writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.store import Project, schema


def _schema_1(path: Path) -> None:
    """A project as RareSight wrote it before schema 2: no pacs_instances table, user_version 1."""
    with Project.create(path) as project:
        project.add_class("a")
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE pacs_instances")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_schema_1_project_gets_the_pacs_table(tmp_path: Path) -> None:
    assert schema.SCHEMA_VERSION == 2 and "pacs_instances" in schema.TABLES
    path = tmp_path / "old.raresight"
    _schema_1(path)
    with Project.open(path, readonly=True) as old:  # project info, verify and scoring read it without upgrading it
        assert old.info().schema_version == 1 and old.info().classes == {"a": 0}
        assert old.verify() == []
    with Project.open(path) as project:
        assert project.info().schema_version == 2
        assert project.audit_log("schema_migrated")[-1].details["to"] == 2
        assert project.pacs_known("0" * 64, ["1" * 64]) == set()
        assert project.verify() == []
    kept = sqlite3.connect(f"file:{path}.schema1.bak?mode=ro", uri=True)  # the copy kept before the upgrade, as it was
    try:
        assert kept.execute("PRAGMA user_version").fetchone()[0] == 1
        assert kept.execute("SELECT name FROM classes").fetchall() == [("a",)]
        assert kept.execute("SELECT name FROM sqlite_master WHERE name = 'pacs_instances'").fetchall() == []
    finally:
        kept.close()


def test_a_damaged_schema_1_project_is_still_reported(tmp_path: Path) -> None:
    path = tmp_path / "old.raresight"
    _schema_1(path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE thumbnails")
    conn.commit()
    conn.close()
    with Project.open(path, readonly=True) as old:
        assert [f.message for f in old.verify() if f.kind == "schema"] == ["missing tables: thumbnails"]


def test_hashes_must_be_sha256_hex(tmp_path: Path) -> None:
    path = tmp_path / "p.raresight"
    Project.create(path).close()
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO pacs_instances VALUES ('raw-url', 'raw-uid', 1, 'now')")
    conn.close()
