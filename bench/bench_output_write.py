"""Cost of writing scoring results, and of the label check when a project's model is loaded.

1. Output: N result rows appended to a CSV, JSON Lines and Parquet file in batches of 32 (as
   ``raresight score`` flushes them), then closed. Reported: total seconds, and the seconds of the
   first and of the last tenth of the rows; a last/first ratio well above 1 means the cost per row
   grows with the file (a rewrite of everything so far at each checkpoint).
2. ``load_project_model`` on a project of M images, L of them labelled: the check that the labels
   have not changed since the model was adapted (the saved model's fingerprint is made not to match,
   so the call stops right after the check; what is timed is the check).

Run it against other code by copying it into that checkout (it imports the checkout it lives in):

    .venv/bin/python bench/bench_output_write.py --rows 50000 --out bench/results/score-output-after.json
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import emit  # noqa: E402

import core.scoring.output as output_module  # noqa: E402
from core.evaluation.provenance import git_state  # noqa: E402
from core.scoring.output import open_sink  # noqa: E402
from core.scoring.records import NearestSupport, ScoreRow  # noqa: E402
from core.store import ImageRecord, ModelState, Project  # noqa: E402

CLASSES = ["discocyte", "elliptocyte", "target cell", "echinocyte"]
FLUSH_ROWS = 32


def make_row(index: int, rng: np.random.Generator) -> ScoreRow:
    p = rng.dirichlet(np.ones(len(CLASSES)))
    top = CLASSES[int(p.argmax())]
    return ScoreRow(
        path=f"/data/batch/img_{index:06d}.png",
        content_hash=f"{index:064x}",
        frame=0,
        predicted_class=top,
        probabilities={name: float(v) for name, v in zip(CLASSES, p, strict=True)},
        prediction_set=(top,),
        none_of_these=False,
        nearest_support={name: NearestSupport(f"{k:064x}", f"/s/{k}.png", float(rng.uniform(-1, 1))) for k, name in enumerate(CLASSES)},
        model_version=1,
    )


def write_output(path: Path, rows: list[ScoreRow]) -> dict[str, float]:
    tenth = len(rows) // 10
    marks: list[float] = []
    start = time.perf_counter()
    sink = open_sink(path, CLASSES)
    for begin in range(0, len(rows), FLUSH_ROWS):
        sink.append(rows[begin : begin + FLUSH_ROWS])
        written = begin + FLUSH_ROWS
        if written % tenth < FLUSH_ROWS:
            marks.append(time.perf_counter())
    before_close = time.perf_counter()
    sink.close()
    end = time.perf_counter()
    first, last = marks[0] - start, marks[-1] - marks[-2]
    return {
        "seconds": round(end - start, 2),
        "close_seconds": round(end - before_close, 3),
        "first_tenth_seconds": round(first, 3),
        "last_tenth_seconds": round(last, 3),
        "last_to_first_tenth": round(last / first, 2),
        "bytes": path.stat().st_size,
    }


def label_check(root: Path, images: int, labelled: int) -> dict[str, float]:
    from core.scoring.pipeline import ScoringError, load_project_model

    with Project.create(root / "labels.raresight") as project:
        records = [ImageRecord(content_hash=f"{i:064x}", path=f"/data/{i}.png", size_bytes=1) for i in range(images)]
        project.add_records(records)
        ids = [r.id for r in project.images() if r.id is not None]
        for k, name in enumerate(CLASSES):
            project.label(ids[k : labelled : len(CLASSES)], name)
        state = ModelState("bench", "0" * 64, np.zeros((len(CLASSES), 4), np.float32), tuple(CLASSES), settings={"labels_fingerprint": "x"})
        project.save_model_state(state)
        start = time.perf_counter()
        try:
            load_project_model(project)
        except ScoringError as exc:
            assert "labels changed" in str(exc), exc
        seconds = time.perf_counter() - start
    return {"images": images, "labelled": labelled, "seconds": round(seconds, 3)}


def git_sha() -> str:
    sha, dirty = git_state(REPO, untracked=False)
    return f"{sha}{'+uncommitted' if dirty else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--formats", nargs="+", default=[".csv", ".jsonl", ".parquet"])
    parser.add_argument("--project-images", type=int, default=5000)
    parser.add_argument("--labelled", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = [make_row(i, rng) for i in range(args.rows)]
    report: dict[str, object] = {
        "benchmark": "score-output",
        "code": str(REPO),
        "code_used": output_module.__file__,  # which checkout's core was imported
        "git": git_sha(),
        "python": platform.python_version(),
        "rows": args.rows,
        "classes": len(CLASSES),
        "flush_rows": FLUSH_ROWS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        report["output"] = {suffix: write_output(root / f"scores{suffix}", rows) for suffix in args.formats}
        report["label_check"] = label_check(root, args.project_images, args.labelled)
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
