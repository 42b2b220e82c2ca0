"""Report layout: what a reader sees on the page (headings with their charts, columns, names, legends)."""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from core.fewshot import PrototypicalClassifier
from core.fewshot.persistence import from_model_state, to_model_state
from core.reports import ReliabilityBin, render_html, write_pdf
from core.reports.build import build_batch_report, build_report
from core.reports.charts import reliability_figure
from core.scoring.pipeline import ProjectModel
from core.scoring.records import NearestSupport, ScoreRow
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny
from tests.core.reports.test_reports import content, pdf_text

CAPTION = "Reliability on held-out development tasks, from the shipped calibration."


def page_texts(data: bytes) -> list[str]:
    """The text of each page's content stream, in page order (image streams hold no text and drop out)."""
    pages = []
    for stream in re.findall(rb"stream\r?\n(.*?)~>\s*endstream", data, re.S):
        try:
            decoded = zlib.decompress(base64.a85decode(stream))
        except (ValueError, zlib.error):
            continue
        words = [t.decode("cp1252") for t in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", decoded)]
        if words:
            pages.append(" ".join(" ".join(words).split()))
    return pages


# layouts where the heading used to be left alone at a page foot (and two where it was not)
@pytest.mark.parametrize(("cases", "more_classes"), [(0, 0), (0, 15), (1, 5), (2, 25), (3, 5)])
def test_calibration_heading_shares_its_page_with_the_chart(tmp_path: Path, cases: int, more_classes: int) -> None:
    base = content()
    quality = base.quality + [replace(base.quality[0], class_name=f"class {k}") for k in range(more_classes)]
    card = replace(base.model_card, reliability_source=CAPTION)
    report = replace(base, cases=(base.cases * 4)[:cases], quality=quality, model_card=card)
    pages = page_texts(write_pdf(report, tmp_path / "r.pdf").read_bytes())
    [page] = [text for text in pages if re.search(r"(^| )Calibration( |$)", text)]
    # the chart is drawn between the heading and its caption: both on one page, so the chart is too
    assert CAPTION in page.split("Calibration", 1)[1]


def test_reliability_point_at_one_is_drawn_whole() -> None:
    figure = reliability_figure([ReliabilityBin(0.5, 0.45, 10), ReliabilityBin(1.0, 1.0, 40)])
    figure.canvas.draw()  # lay it out (Agg, no display)
    axes = figure.axes[0]
    observed = next(line for line in axes.get_lines() if line.get_label() == "observed")
    radius = observed.get_markersize() / 2 * figure.dpi / 72  # points -> pixels
    x, y = axes.transData.transform((1.0, 1.0))
    box = axes.get_window_extent()
    assert y + radius <= box.y1 and x + radius <= box.x1  # inside the plot area, not cut by its edge


def test_quality_table_has_a_note_column_only_when_a_class_has_a_note(tmp_path: Path) -> None:
    with_note = content()
    without = replace(with_note, quality=[replace(q, warning="") for q in with_note.quality])
    for report, expected in ((with_note, 1), (without, 0)):
        html = render_html(report)
        section = html[html.index("<h2>Support set quality</h2>") : html.index("<h2>Calibration</h2>")]
        header = re.search(r"<table><tr>(.*?)</tr>", section, re.S)
        assert header is not None
        cells = re.findall(r"<th>(.*?)</th>", header.group(1))
        assert "" not in cells and cells.count("note") == expected
    text = pdf_text(write_pdf(without, tmp_path / "r.pdf").read_bytes())
    assert "95% CI" in text and " note " not in f" {text} "


@pytest.fixture
def model(tmp_path: Path) -> ProjectModel:
    paths = [make_image(tmp_path / f"{name}{i}.png", COLOURS[name], seed=10 * i) for name in ("red", "blue", "green") for i in range(2)]
    clf = PrototypicalClassifier(register_tiny(), adapt="none").fit(paths, ["red", "red", "blue", "blue", "green", "green"])
    state = to_model_state(clf)
    return ProjectModel(from_model_state(state), state, {})


def score_row(path: str, top: str, p: float, none: bool = False) -> ScoreRow:
    others = [c for c in ("red", "blue", "green") if c != top]
    probabilities = {top: p, others[0]: (1 - p) / 2, others[1]: (1 - p) / 2}
    near = {c: NearestSupport("e" * 64, "", -0.35 if c != top else 0.8) for c in probabilities}
    return ScoreRow(path, "d" * 64, 0, None if none else top, probabilities, () if none else (top,), none, near, 1)


def test_cases_are_numbered_unless_identifiers_are_allowed(model: ProjectModel, tmp_path: Path) -> None:
    image = str(make_image(tmp_path / "patient_smith_0042.png", COLOURS["red"], seed=1))
    rows = [score_row(image, "red", 0.9), score_row(image, "blue", 0.6)]
    html = render_html(build_report(model, rows, coverage=0.9))
    assert re.findall(r"<code>([^<]+)</code>", html)[:2] == ["Case 1", "Case 2"]
    assert "patient_smith" not in html and "d" * 12 not in html  # neither the file name nor a hash
    assert 'alt="Case 1"' in html and 'alt="image ' not in html
    named = render_html(build_report(model, rows, coverage=0.9, identifiers=True))
    assert "<code>patient_smith_0042.png</code>" in named and str(tmp_path) not in named


def test_legend_explains_bars_and_negative_similarity(model: ProjectModel, tmp_path: Path) -> None:
    image = str(make_image(tmp_path / "a.png", COLOURS["red"], seed=1))
    report = build_report(model, [score_row(image, "red", 0.9)], coverage=0.8)
    html = render_html(report)
    assert "Blue bars are the classes in the prediction set (the plausible diagnoses at 80% coverage)" in html
    assert "grey bars are the classes outside it" in html
    assert "a negative value is less alike than average" in html and "-0.35" in html
    text = pdf_text(write_pdf(report, tmp_path / "r.pdf").read_bytes())
    assert "Blue bars are the classes in the prediction set" in text and "a negative value is less alike than average" in text


def test_batch_summary_counts_rows_not_shown(model: ProjectModel, tmp_path: Path) -> None:
    image = str(make_image(tmp_path / "a.png", COLOURS["red"], seed=1))
    rows = [
        score_row(image, "red", 0.5),
        score_row(image, "blue", 0.99),
        score_row(image, "red", 0.4),
        score_row(image, "red", 0.45, none=True),
    ]
    report = build_batch_report(model, rows, coverage=0.9, source="scores.csv", shown=2)
    assert report.batch is not None and report.batch.images == 4 and report.batch.shown == 2
    assert dict(report.batch.counts) == {"red": 2, "none of these": 1, "blue": 1, "green": 0}
    assert [case.label for case in report.cases] == ["Case 4", "Case 3"]  # "none of these" first, then least certain
    assert report.title == "RareSight batch report (4 images; 2 least certain shown)"
    html = render_html(report)
    assert "Batch summary: all 4 images in scores.csv" in html and "Cases: 2 of 4 shown" in html and "row numbers in scores.csv" in html
    text = pdf_text(write_pdf(report, tmp_path / "b.pdf").read_bytes())
    assert "Batch summary: all 4 images in scores.csv" in text and "Cases: 2 of 4 shown" in text
    several = render_html(build_report(model, rows[:2], coverage=0.9))  # `raresight report` of two images: all shown
    assert "Summary of the 2 cases" in several and "Batch summary" not in several and " shown" not in several
