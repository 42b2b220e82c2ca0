"""Issue 16 must-show: a clinician's project of breast-ultrasound images, 5 labelled per class, the rest
unlabelled; Adapt in the real window (offscreen) with "Learn from unlabelled images" off, then on.

Usage: .venv/bin/python scripts/pool_clinician_run.py OUT_DIR [--method centre]
Writes before_quality.png, before_prediction.png, after_quality.png, after_prediction.png and figures.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))
DATA = REPO.parent / "shared" / "data" / "breast-ultrasound"
CLASSES = ("benign", "malignant", "normal")
SHOTS = 5


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--method", default="", help="pool method (default: the classifier's default)")
    parser.add_argument("--unlabelled", type=int, default=0, help="0: all the rest")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if not DATA.is_dir():
        print(f"skipped: {DATA} does not exist")
        return 0
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for key, sub in (("RARESIGHT_CONFIG_DIR", "config"), ("RARESIGHT_LOG_DIR", "logs"), ("RARESIGHT_CACHE_DIR", "cache")):
            os.environ[key] = str(Path(tmp) / sub)
        figures = run(out, Path(tmp), args.method, args.unlabelled)
    (out / "figures.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures, indent=1))
    return 0


def run(out: Path, work: Path, method: str, n_unlabelled: int) -> dict[str, object]:
    from screenshot_states import save, select, wait_until

    import core.scoring.pipeline
    from app.gui import model_services
    from app.gui.main import application
    from app.gui.main_window import MainWindow

    if method:
        core.scoring.pipeline.DEFAULT_POOL_METHOD = method  # what the window's Adapt passes when nothing is named
    rng = random.Random(0)
    files = {c: sorted((DATA / c).glob("*.jpg")) + sorted((DATA / c).glob("*.png")) for c in CLASSES}
    labelled = {c: rng.sample(fs, SHOTS) for c, fs in files.items()}
    rest = [p for c, fs in files.items() for p in fs if p not in labelled[c]]
    if n_unlabelled:
        rest = rng.sample(rest, n_unlabelled)
    # the project's images: a flat folder of copies with neutral names (the dataset's names hold the class),
    # as a clinician's export would be; the class is kept aside for the accuracy check only
    import shutil

    flat = work / "images"
    flat.mkdir()
    truth, name_of = {}, {}
    everything = [(c, p) for c in CLASSES for p in labelled[c] + [q for q in rest if q.parent.name == c]]
    random.Random(1).shuffle(everything)
    for n, (c, p) in enumerate(everything):
        copy = flat / f"us_{n:04d}{p.suffix}"
        shutil.copyfile(p, copy)
        truth[copy.name], name_of[p] = c, copy.name
    application()
    model_services.warm_up()
    window = MainWindow(budget_s=20)
    window.resize(1400, 860)
    window.show()
    model = window.project_model
    model.new_project(work / "breast.raresight")
    wait_until(lambda: model.task == "")
    model.import_paths([flat])
    wait_until(lambda: model.task == "" and model.snapshot is not None and len(model.snapshot.images) == len(truth), timeout=600)
    for c in CLASSES:
        model.add_class(c)
    ids = {Path(r.path).name: int(r.id or 0) for r in model.snapshot.images}
    for c in CLASSES:
        model.label([ids[name_of[p]] for p in labelled[c]], c)
    unlabelled = {name: i for name, i in ids.items() if i not in model.labels}
    shown = flat / sorted(n for n in unlabelled if truth[n] == "malignant")[0]
    figures: dict[str, object] = {"labelled_per_class": SHOTS, "unlabelled": len(unlabelled), "shown_image_class": truth[shown.name]}
    option = window.project_actions.use_unlabelled
    explained = window.prediction_model
    for version, (phase, on) in enumerate((("before", False), ("after", True)), start=1):
        if option.isChecked() != on:
            option.trigger()  # Model menu > Learn from unlabelled images
        start = time.perf_counter()
        model.adapt()
        wait_until(lambda v=version: model.task == "" and model.model_version == v, timeout=900)
        seconds = time.perf_counter() - start
        top = {i: p.top_class for i, p in model.predictions.items()}
        correct = sum(top.get(i) == truth[name] for name, i in unlabelled.items())
        per_class = {
            c: round(sum(top.get(i) == c for n, i in unlabelled.items() if truth[n] == c) / sum(truth[n] == c for n in unlabelled), 3)
            for c in CLASSES
        }
        window.tabs.setCurrentWidget(window.quality)
        wait_until(lambda: window.quality.table.rowCount() == len(CLASSES) and window.quality.pool.text() != "")
        save(window, out, f"{phase}_quality.png")
        window.tabs.setCurrentWidget(window.prediction)
        select(window, shown)
        wait_until(lambda: explained.explanation is not None and explained.explanation.model_version == model.model_version)
        save(window, out, f"{phase}_prediction.png")
        figures[phase] = {
            "learn_from_unlabelled": on,
            "adapt_seconds_wall": round(seconds, 1),
            "status": window.status.result.text(),
            "pool_text": window.quality.pool.text(),
            "true_accuracy_on_unlabelled": round(correct / len(unlabelled), 4),
            "correct": correct,
            "recall_per_class": per_class,
            "shown_image_prediction": top.get(unlabelled[shown.name]),
        }
    window.close()
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
