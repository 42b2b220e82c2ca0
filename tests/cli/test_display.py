from __future__ import annotations

import sys

import pytest

from app.cli import main
from app.display import display_available


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="display detection only matters on Linux")
def test_no_display_is_a_clear_message_not_a_qt_abort(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert not display_available()
    assert main(["gui"]) == 2
    assert "no display" in capsys.readouterr().err


def test_offscreen_counts_as_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_available()
