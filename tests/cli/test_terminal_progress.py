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


def test_log_lines_in_a_pipe_first_last_and_every_interval() -> None:
    """``log_every`` (eval): whole lines, no carriage returns; an hour's interval leaves only the first and the last."""
    stream = io.StringIO()
    progress = TerminalProgress(unit="episodes", stream=stream, log_every=3600)
    for done in range(11):
        progress(done, 10, f"episode {done}")
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue() and stream.getvalue().endswith("\n")
    assert "0/10 episodes" in lines[0] and "10/10 episodes" in lines[1] and "episode 10" in lines[1] and "ETA" in lines[1]
    every = io.StringIO()
    progress = TerminalProgress(unit="episodes", stream=every, log_every=0)
    for done in range(11):
        progress(done, 10)
    assert len(every.getvalue().splitlines()) == 11


def test_log_lines_off_when_disabled_and_on_a_terminal() -> None:
    stream = io.StringIO()
    TerminalProgress(stream=stream, enabled=False, log_every=0)(1, 2)
    assert stream.getvalue() == ""
    tty = FakeTty()
    progress = TerminalProgress(stream=tty, log_every=0)  # a terminal gets the redrawn line, not log lines
    progress(1, 2)
    progress.finish()
    progress.finish()
    assert tty.getvalue().startswith("\r[") and tty.getvalue().count("\n") == 1


def test_slow_steps_are_counted_per_minute() -> None:
    progress = TerminalProgress(unit="episodes", stream=FakeTty())
    progress(0, 300)
    line = progress.line(2, 300, "", now=progress._start + 12.0)  # 6 s an adapted episode
    assert "10.0/min" in line and "ETA 29:48" in line  # 298 left at 6 s
