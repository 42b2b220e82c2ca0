"""Screenshots of the clinician's window in its main states, with synthetic cell images.

Usage: python scripts/screenshot_states.py OUT_DIR [--backbone NAME]

Writes empty.png (no project), labelled.png (classes and labelled thumbnails),
predictions.png (a prediction with its reasons), none_of_these.png (an image unlike every
class), quality.png (support-set quality) and error.png (a core error in a dialog). Runs offscreen;
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
    from PySide6.QtGui import QColor, QPainter

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

    model = window.project_model
    model.new_project(work / "study.raresight")
    wait_until(lambda: model.task == "")
    window.open_paths([work / "cells"])
    wait_until(lambda: model.task == "" and model.snapshot is not None and len(model.snapshot.images) == 45)
    for name in CLASSES:
        model.add_class(name, f"synthetic {name}s")
    ids = {Path(r.path).name: int(r.id or 0) for r in model.snapshot.images}
    for name in CLASSES:
        model.label([ids[p.name] for p in cells[name][:SHOTS]], name)
    select(window, cells["sickle cell"][0])
    window.status.clearMessage()
    save(window, out, "labelled.png")

    model.adapt()
    wait_until(lambda: model.task == "" and model.model_version is not None)
    prediction = window.prediction_model
    # the most confident prediction among the unlabelled images of a class the project has
    candidates = [p for name in CLASSES for p in cells[name][SHOTS:]]
    confident = max(candidates, key=lambda p: _confidence(model.predictions.get(ids[p.name])))
    select(window, confident)
    wait_until(lambda: prediction.explanation is not None and Path(prediction.explanation.path).name == confident.name)
    window.status.clearMessage()
    save(window, out, "predictions.png")

    unlike = next(
        (p for p in cells["echinocyte"] if model.predictions.get(ids[p.name]) and model.predictions[ids[p.name]].top_class is None), None
    )
    select(window, unlike or cells["echinocyte"][0])
    wait_until(lambda: prediction.explanation is not None and Path(prediction.explanation.path).parent.name == "echinocyte")
    save(window, out, "none_of_these.png")

    window.tabs.setCurrentWidget(window.quality)
    wait_until(lambda: window.quality.table.rowCount() == len(CLASSES))
    save(window, out, "quality.png")
    window.tabs.setCurrentWidget(window.prediction)

    (work / "notes.raresight").write_text("not a project")
    from tests.app.helpers import message_boxes

    model.open_project(work / "notes.raresight")
    wait_until(lambda: bool(message_boxes()))
    save(window, out, "error.png", overlay=message_boxes()[0])
    message_boxes()[0].reject()
    window.close()


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
