"""Screenshots of the clinician's window in its main states, with synthetic cell images.

Usage: python scripts/screenshot_states.py OUT_DIR [--backbone NAME]

Writes empty.png (no project), project_no_images.png and project_no_selection.png (the viewer's
placeholder with a project open), labelled.png (classes and labelled thumbnails),
thumbnail_names.png (the grid: long, similar file names), predictions.png (a prediction with its
reasons), none_of_these.png (an image unlike every class), quality.png (support-set quality),
new_project_cleared.png (another project: nothing of the old one on show),
folder_import_question.png and folder_import_done.png (a folder-per-class archive imported
labelled), classes_six.png (six classes in the list), window_box_colour.png and window_box_ct.png
(the window preset box), unreadable.png (short reasons for files that could not be read) and
error.png (a core error in a dialog). Runs offscreen;
settings, logs, caches and the project live in a temporary folder. The model is the real one
(EfficientNet-Lite0) unless --backbone says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLASSES = ("discocyte", "sickle cell", "target cell")
SHOTS = 5


def wait_until(condition: Callable[[], bool], timeout: float = 180.0) -> None:
    """Run the event loop until ``condition()`` holds (the work happens in worker threads)."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def save(widget: object, out: Path, name: str, overlay: object = None) -> None:
    """``widget.grab()`` (with ``overlay`` painted centred on it, e.g. a dialog) as OUT/name."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtGui import QColor, QPainter

    loop = QEventLoop()  # let pending layout requests run first (a result just shown, a dialog just opened)
    QTimer.singleShot(50, loop.quit)
    loop.exec()
    picture = widget.grab()  # type: ignore[attr-defined]
    if overlay is not None:
        top = overlay.grab()  # type: ignore[attr-defined]
        painter = QPainter(picture)
        painter.fillRect(picture.rect(), QColor(0, 0, 0, 70))
        painter.drawPixmap((picture.width() - top.width()) // 2, (picture.height() - top.height()) // 3, top)
        painter.end()
    path = out / name
    if not picture.save(str(path)):
        raise OSError(f"could not write {path}")
    print(path)


def select(window: object, path: Path) -> None:
    """Select the thumbnail of ``path`` and wait for its image and its prediction."""
    model = window.project_model  # type: ignore[attr-defined]
    record = next(r for r in model.snapshot.images if Path(r.path).name == path.name)
    window.library.select_ids([int(record.id)])  # type: ignore[attr-defined]
    viewer = window.viewer_model  # type: ignore[attr-defined]
    wait_until(lambda: viewer.image is not None and Path(viewer.image.path).name == path.name and not viewer.loading)


def _confidence(prediction: object) -> float:
    """A prediction's confidence, or -1 for "none of these" and for no prediction."""
    if prediction is None or getattr(prediction, "top_class", None) is None:
        return -1.0
    return float(getattr(prediction, "confidence", 0.0))


def run(out: Path, backbone: str | None) -> None:
    from app.gui import model_services
    from app.gui.main import application
    from app.gui.main_window import MainWindow
    from core.demo import write_demo_images
    from core.embedding import DEFAULT_BACKBONE

    work = Path(os.environ["RARESIGHT_CONFIG_DIR"]).parent
    cells = write_demo_images(work / "cells", per_class=9, seed=3)
    application()
    model_services.warm_up()
    window = MainWindow(backbone=backbone or DEFAULT_BACKBONE, budget_s=10)
    window.resize(1400, 860)
    window.show()
    window.status.clearMessage()
    save(window, out, "empty.png")
    ids = labelled_state(window, out, work, cells)
    prediction_states(window, out, cells, ids)
    folder_per_class_states(window, out, work)
    scan_states(window, out, work)
    error_state(window, out, work)
    window.close()


def labelled_state(window: Any, out: Path, work: Path, cells: dict[str, list[Path]]) -> dict[str, int]:
    """A new project with the cells imported, three classes and SHOTS labels each; returns ids by file name."""
    model = window.project_model
    model.new_project(work / "study.raresight")
    wait_until(lambda: model.task == "")
    save(window, out, "project_no_images.png")
    model.import_paths([work / "cells"])  # what "Import unlabelled" does: the labels come below, by hand
    wait_until(lambda: model.task == "" and model.snapshot is not None and len(model.snapshot.images) == 45)
    save(window, out, "project_no_selection.png")
    for name in CLASSES:
        model.add_class(name, f"synthetic {name}s")
    ids = {Path(r.path).name: int(r.id or 0) for r in model.snapshot.images}
    for name in CLASSES:
        model.label([ids[p.name] for p in cells[name][:SHOTS]], name)
    select(window, cells["sickle cell"][0])
    window.status.clearMessage()
    save(window, out, "labelled.png")
    save(window.library, out, "thumbnail_names.png")
    return ids


def prediction_states(window: Any, out: Path, cells: dict[str, list[Path]], ids: dict[str, int]) -> None:
    """Adapt; the most confident prediction, an image unlike every class, and support quality."""
    model, prediction = window.project_model, window.prediction_model
    model.adapt()
    wait_until(lambda: model.task == "" and model.model_version is not None)
    candidates = [p for name in CLASSES for p in cells[name][SHOTS:]]
    confident = max(candidates, key=lambda p: _confidence(model.predictions.get(ids[p.name])))
    select(window, confident)
    wait_until(lambda: prediction.explanation is not None and Path(prediction.explanation.path).name == confident.name)
    window.status.clearMessage()
    save(window, out, "predictions.png")
    unlike = [p for p in cells["echinocyte"] if _confidence(model.predictions.get(ids[p.name])) < 0]
    chosen = (unlike or cells["echinocyte"])[0]
    select(window, chosen)
    wait_until(lambda: prediction.explanation is not None and Path(prediction.explanation.path).name == chosen.name)
    save(window, out, "none_of_these.png")
    save(window.viewer, out, "window_box_colour.png")
    window.tabs.setCurrentWidget(window.quality)
    wait_until(lambda: window.quality.table.rowCount() == len(CLASSES))
    save(window, out, "quality.png")
    window.tabs.setCurrentWidget(window.prediction)


def folder_per_class_states(window: Any, out: Path, work: Path) -> None:
    """Another project (the old image goes), then the cells folder imported labelled by subfolder; six classes."""
    from app.gui.views import dialogs

    model = window.project_model
    model.new_project(work / "archive.raresight")
    wait_until(lambda: model.task == "")
    save(window, out, "new_project_cleared.png")
    window.open_paths([work / "cells"])
    wait_until(lambda: bool(_boxes()))
    box = _boxes()[0]
    save(window, out, "folder_import_question.png", overlay=box)
    next(b for b in box.buttons() if b.text() == dialogs.LABELLED_IMPORT).click()
    wait_until(lambda: model.task == "" and model.snapshot is not None and len(model.snapshot.images) == 45)
    window.status.clearMessage()
    save(window, out, "folder_import_done.png")
    model.add_class("spherocyte", "small dense round cells")
    save(window, out, "classes_six.png")


def scan_states(window: Any, out: Path, work: Path) -> None:
    """A project of CT files, some broken: the window box of a CT, and why files could not be read."""
    from pydicom.data import get_testdata_file

    scans = work / "scans"
    scans.mkdir()
    ct = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    (scans / "CT_small.dcm").write_bytes(ct)
    (scans / "CT_small_cut_short.dcm").write_bytes(ct[:20000])
    (scans / "empty_transfer.dcm").write_bytes(b"")
    (scans / "not_really.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    model = window.project_model
    model.new_project(work / "scans.raresight")
    wait_until(lambda: model.task == "")
    window.open_paths([scans])
    wait_until(lambda: model.task == "" and model.snapshot is not None and len(model.snapshot.images) == 1)
    select(window, scans / "CT_small.dcm")
    window.status.clearMessage()
    save(window.viewer, out, "window_box_ct.png")
    save(window.library, out, "unreadable.png")
    save(window, out, "scans.png")


def _boxes() -> list[Any]:
    from PySide6.QtWidgets import QApplication, QMessageBox

    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def error_state(window: Any, out: Path, work: Path) -> None:
    """Opening a file that is not a project: core's message in a dialog over the window."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    def boxes() -> list[QMessageBox]:
        return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]

    (work / "notes.raresight").write_text("not a project")
    window.project_model.open_project(work / "notes.raresight")
    wait_until(lambda: bool(boxes()))
    save(window, out, "error.png", overlay=boxes()[0])
    boxes()[0].reject()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--backbone", default=None, help="e.g. tiny-test (the test backbone) for a quick run")
    args = parser.parse_args(argv[1:])
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for key, sub in (("RARESIGHT_CONFIG_DIR", "config"), ("RARESIGHT_LOG_DIR", "logs"), ("RARESIGHT_CACHE_DIR", "cache")):
            os.environ[key] = str(Path(tmp) / sub)
        if args.backbone == "tiny-test":
            from tests.core.embedding.tiny import register_tiny

            register_tiny()
        run(out, args.backbone)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
