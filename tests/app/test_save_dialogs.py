"""Save dialogs: a name typed without a suffix gets the one of the format chosen in the dialog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from app.gui.views import dialogs


@pytest.mark.parametrize(
    ("ask", "chosen", "typed", "expected"),
    [
        (dialogs.choose_export, "CSV (*.csv)", "preds", "preds.csv"),
        (dialogs.choose_export, "JSON Lines (*.jsonl)", "preds", "preds.jsonl"),
        (dialogs.choose_export, "Parquet (*.parquet)", "preds", "preds.parquet"),
        (dialogs.choose_export, "Parquet (*.parquet)", "preds.csv", "preds.csv"),  # a typed suffix wins
        (dialogs.choose_report, "PDF (*.pdf)", "case", "case.pdf"),
        (dialogs.choose_report, "HTML (*.html)", "case", "case.html"),
        (dialogs.choose_export, "", "", ""),  # cancelled
    ],
)
def test_suffix_follows_the_chosen_format(
    qtbot: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ask: Callable[[None, str], str], chosen: str, typed: str, expected: str
) -> None:
    answer = str(tmp_path / typed) if typed else ""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (answer, chosen))  # the native dialog can't be driven offscreen
    got = ask(None, "suggested")
    assert got == (str(tmp_path / expected) if expected else "")
