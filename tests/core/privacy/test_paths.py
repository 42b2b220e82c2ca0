"""File names with any bytes: stored exactly, shown safely; special files recognised without opening them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from core.privacy.paths import STORED_PREFIX, from_stored, path_for_display, special_file_kind, special_file_message, to_stored

NAMES = [b"/data/plain.png", b"/data/bad\xff\xfe.png", b"/data/latin-1 caf\xe9.dcm", b"rel/=cmd|' /C calc'!A0.png", b"file:/x\x80"]


@pytest.mark.parametrize("raw", NAMES)
def test_any_name_round_trips_byte_for_byte_through_valid_utf8(raw: bytes) -> None:
    path = os.fsdecode(raw)
    stored = to_stored(path)
    stored.encode("utf-8")  # what SQLite TEXT, a CSV and a terminal can take
    assert os.fsencode(from_stored(stored)) == raw


def test_plain_names_are_stored_as_they_are_so_older_projects_read_unchanged() -> None:
    assert to_stored("/data/Ünïcode ok.png") == "/data/Ünïcode ok.png" == from_stored("/data/Ünïcode ok.png")
    assert to_stored(Path("/data/a.png")) == "/data/a.png"


def test_a_name_that_looks_stored_is_encoded_too() -> None:
    tricky = f"{STORED_PREFIX}/data/%FF.png"  # a real, valid name: must not be read back as the byte 0xFF
    assert to_stored(tricky) != tricky and from_stored(to_stored(tricky)) == tricky


def test_display_replaces_undecodable_bytes_and_control_characters() -> None:
    assert path_for_display(os.fsdecode(b"/d/bad\xff\xfe.png")) == "/d/bad\ufffd\ufffd.png"
    assert path_for_display(b"/d/x\xff.png") == "/d/x\ufffd.png"
    assert path_for_display("/d/two\nlines\x1b[2J.png") == "/d/two\ufffdlines\ufffd[2J.png"  # no forged line, no escape
    assert path_for_display("/d/caf\u00e9.png") == "/d/caf\u00e9.png"


def test_special_files_are_named_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it to read would block: stat must not
    assert special_file_kind(fifo) == "a FIFO (named pipe)"
    assert "pipe.png: is a FIFO (named pipe), not an image file; skipped" in special_file_message(fifo, "a FIFO (named pipe)")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s.dcm"))
        assert special_file_kind(tmp_path / "s.dcm") == "a socket"
    assert special_file_kind("/dev/null") == "a character device"
    regular = tmp_path / "a.png"
    regular.write_bytes(b"x")
    assert special_file_kind(regular) is None and special_file_kind(tmp_path) is None and special_file_kind(tmp_path / "gone") is None
