"""The window's prediction panel and ``raresight score`` give the same numbers for the same image."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.cli import main
from app.gui.main_window import MainWindow
from tests.app.clinic import CLASSES, TIMEOUT_MS, adapt, labelled_project, make_folder, select
from tests.core.embedding.tiny import register_tiny

pytestmark = pytest.mark.gui


def test_panel_and_cli_agree(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = MainWindow(backbone=register_tiny(), budget_s=0.5)
    qtbot.addWidget(window)
    window.show()
    folder = tmp_path / "cases"
    make_folder(folder)
    project = tmp_path / "study.raresight"
    images = labelled_project(qtbot, window, folder, project, {name: 3 for name in CLASSES})
    adapt(qtbot, window)
    queries = [paths[-1] for paths in images.values()]
    panel: dict[str, dict[str, float]] = {}
    for path in queries:
        with qtbot.waitSignal(window.prediction_model.explanationChanged, timeout=TIMEOUT_MS) as blocker:
            select(qtbot, window, [path])
        explanation = blocker.args[0]
        if explanation is None:  # a first signal clears the panel; the answer follows
            with qtbot.waitSignal(window.prediction_model.explanationChanged, timeout=TIMEOUT_MS) as blocker:
                pass
            explanation = blocker.args[0]
        panel[path.name] = explanation.probabilities
    window.close()

    # The CLI in a fresh embedding cache: it computes everything itself, in batches.
    monkeypatch.setenv("RARESIGHT_CACHE_DIR", str(tmp_path / "cli-cache"))
    out = tmp_path / "scores.csv"
    assert main(["score", str(project), str(folder), "--out", str(out)]) == 0
    rows = {Path(r["path"]).name: r for r in csv.DictReader(out.open(newline=""))}
    for name, probabilities in panel.items():
        for cls, value in probabilities.items():
            assert float(rows[name][f"p_{cls}"]) == pytest.approx(round(value, 6), abs=1e-6), (name, cls)
