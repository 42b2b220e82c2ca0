from __future__ import annotations

import io

from app.terminal_progress import TerminalProgress


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_in_a_pipe() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream=stream)
    progress(5, 10)
    progress.finish()
    assert stream.getvalue() == ""


def test_rate_and_eta_on_a_terminal() -> None:
    stream = FakeTty()
    progress = TerminalProgress(stream=stream)
    progress(0, 100)
    line = progress.line(50, 100, "scoring", now=progress._start + 10.0)
    assert "50/100 images" in line and "5.0/s" in line and "ETA 00:10" in line
    progress(100, 100)
    progress.finish()
    assert "100/100" in stream.getvalue() and stream.getvalue().endswith("\n")
