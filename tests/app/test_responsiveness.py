"""The window keeps responding while it imports and adapts (the model work runs in the worker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.gui import model_services
from app.gui.heartbeat import Heartbeat
from app.gui.main_window import MainWindow
from core.demo import write_demo_images
from tests.app.clinic import TIMEOUT_MS, wait_idle
from tests.core.embedding.tiny import register_tiny

pytestmark = pytest.mark.gui

#: bench/bench_gui_responsiveness.py measures the 100 ms goal with the real backbone; on a shared
#: CI machine a test can only catch model work on the GUI thread (which takes seconds), so it is lenient.
LENIENT_MS = 250.0


def test_heartbeat_never_stalls_while_importing_and_adapting(qtbot: QtBot, tmp_path: Path) -> None:
    cells = write_demo_images(tmp_path / "cells", per_class=30, seed=2)
    model_services.warm_up()  # as app.gui.main.run() does before the window is shown
    window = MainWindow(backbone=register_tiny(), budget_s=1.0)
    qtbot.addWidget(window)
    window.show()
    model = window.project_model
    model.new_project(tmp_path / "study.raresight")
    wait_idle(qtbot, window)
    beat = Heartbeat(10)

    beat.start("import")
    with qtbot.waitSignal(model.importFinished, timeout=TIMEOUT_MS):
        model.import_paths([tmp_path / "cells"])  # unlabelled: the labels come below, as a clinician's
    imported = beat.stop()
    wait_idle(qtbot, window)
    ids = {Path(r.path).name: int(r.id or 0) for r in model.snapshot.images}  # type: ignore[union-attr]
    for name in ("discocyte", "sickle cell", "target cell"):
        model.add_class(name)
        model.label([ids[p.name] for p in cells[name][:5]], name)

    beat.start("adapt")
    with qtbot.waitSignal(model.adaptFinished, timeout=TIMEOUT_MS):
        window.project_actions.adapt.trigger()
    adapted = beat.stop()

    assert len(imported.gaps_ms) > 5 and len(adapted.gaps_ms) > 5  # the timer kept beating throughout
    assert imported.worst_ms < LENIENT_MS, imported.to_json()
    assert adapted.worst_ms < LENIENT_MS, adapted.to_json()
