"""The built-in demo end to end: synthetic images -> project -> labels -> adapt -> scores -> report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.demo.synthetic import DEMO_CLASSES, write_demo_images
from core.embedding import DEFAULT_BACKBONE
from core.reports import write_html, write_pdf
from core.reports.build import build_report
from core.scoring.output import open_sink
from core.scoring.pipeline import DEFAULT_COVERAGE, adapt_project, load_project_model, score_images
from core.scoring.records import ScoreRow
from core.store import Project
from core.store.meta import mark_synthetic

SHOTS = 5
UNLABELLED_CLASS = "sickle cell"  # never labelled: the demo shows what "none of these" is for


@dataclass(frozen=True)
class DemoResult:
    project: Path
    predictions: Path
    report_html: Path
    report_pdf: Path
    model_version: int
    correct: int
    known_queries: int
    unknown_flagged: int
    unknown_queries: int


def _fresh_project(path: Path) -> Project:
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    return Project.create(path)


def run_demo(
    out: Path,
    *,
    per_class: int = 12,
    budget_s: float = 20.0,
    backbone: str = DEFAULT_BACKBONE,
    progress: Callable[[float, str], None] | None = None,
) -> DemoResult:
    """Build the demo in ``out`` (its images, project, predictions.csv, report.html/.pdf)."""
    say = progress or (lambda fraction, message: None)
    say(0.0, "drawing synthetic demo images")
    images = write_demo_images(out / "images", per_class=per_class)
    project_path = out / "demo.raresight"
    with _fresh_project(project_path) as project:
        # every report of this project says its images are synthetic, however it is exported
        mark_synthetic(project, "images drawn by 'raresight demo' (synthetic cells, no patient)")
        project.add_images([out / "images"], recursive=True)
        for kind in DEMO_CLASSES:
            if kind != UNLABELLED_CLASS:
                ids, _ = project.find_images(images[kind][:SHOTS])
                project.label([i for found in ids.values() for i in found], kind)
        say(0.1, "adapting to the labelled examples")
        adapt_project(project, budget_s=budget_s, backbone=backbone, progress=lambda f, m: say(0.1 + 0.7 * f, m))
        model = load_project_model(project)
    truth = {str(path): kind for kind, paths in images.items() for path in paths[SHOTS if kind != UNLABELLED_CLASS else 0 :]}
    say(0.8, "scoring the demo queries")
    rows = [item for item in score_images(model, list(truth)) if isinstance(item, ScoreRow)]
    predictions = out / "predictions.csv"
    predictions.unlink(missing_ok=True)
    sink = open_sink(predictions, model.classes)
    sink.append(rows)
    sink.close()
    say(0.9, "writing the report")
    # the synthetic file names say each case's true class, and carry no identifier
    content = build_report(model, _showcase(rows, truth), coverage=DEFAULT_COVERAGE, title="RareSight demo report", identifiers=True)
    html, pdf = write_html(content, out / "report.html"), write_pdf(content, out / "report.pdf")
    known = [r for r in rows if truth[r.path] != UNLABELLED_CLASS]
    unknown = [r for r in rows if truth[r.path] == UNLABELLED_CLASS]
    say(1.0, "done")
    return DemoResult(
        project_path,
        predictions,
        html,
        pdf,
        model.version,
        sum(r.predicted_class == truth[r.path] for r in known),
        len(known),
        sum(r.none_of_these for r in unknown),
        len(unknown),
    )


def _showcase(rows: list[ScoreRow], truth: dict[str, str]) -> list[ScoreRow]:
    """One case per true class: the report shows each kind of answer once."""
    chosen: dict[str, ScoreRow] = {}
    for row in rows:
        chosen.setdefault(truth[row.path], row)
    return list(chosen.values())
