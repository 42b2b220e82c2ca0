"""Reports: self-contained HTML and a real PDF, with the notice, numbers and examples."""

from __future__ import annotations

import base64
import io
import re
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.demo import render_cell
from core.fewshot import PrototypicalClassifier
from core.fewshot.calibration import calibration_id
from core.fewshot.persistence import from_model_state, to_model_state
from core.fewshot.quality import NO_ESTIMATE_ADVICE, estimate_accuracy
from core.reports import (
    AccuracyEstimate,
    CaseReport,
    ClassQuality,
    ModelCard,
    ReliabilityBin,
    ReportContent,
    SupportExample,
    render_html,
    write_html,
    write_pdf,
)
from core.reports.build import build_report
from core.scoring.pipeline import ProjectModel
from core.scoring.records import NearestSupport, ScoreRow
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny


def png(kind: str, seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(render_cell(kind, np.random.default_rng(seed))).save(buffer, format="PNG")
    return buffer.getvalue()


def content(classes: tuple[str, ...] = ("sickle cell", "target cell")) -> ReportContent:
    rows = [
        ScoreRow(
            "/x/a.png",
            "a" * 64,
            0,
            classes[0],
            {classes[0]: 0.83, classes[1]: 0.17},
            (classes[0],),
            False,
            {classes[0]: NearestSupport("c" * 64, "", 0.91)},
            2,
        ),
        ScoreRow("/x/b.png", "b" * 64, 0, None, {classes[0]: 0.55, classes[1]: 0.45}, (), True, {}, 2),
    ]
    cases = [
        CaseReport(
            row,
            row.content_hash[:12],
            png("sickle cell", i),
            [SupportExample(c, "c" * 64, png("discocyte", j), 0.91 - 0.2 * j) for j, c in enumerate(classes)],
        )
        for i, row in enumerate(rows)
    ]
    card = ModelCard("efficientnet_lite0", "f" * 64, 2, {c: ["c" * 64, "d" * 64] for c in classes}, {"mode": "auto"}, {"temperature": 12.5})
    quality = [ClassQuality(classes[0], 5, 0.8, 0.38, 0.96), ClassQuality(classes[1], 1, None, 0.0, 1.0, "only one example: add more")]
    bins = [ReliabilityBin(0.3, 0.25, 40), ReliabilityBin(0.6, 0.62, 50), ReliabilityBin(0.9, 0.88, 60)]
    return ReportContent("RareSight report", "2026-11-26 10:00 UTC", 0.9, card, quality, bins, cases, synthetic_data=True)


def test_html_is_self_contained_and_complete(tmp_path: Path) -> None:
    path = write_html(content(), tmp_path / "report.html")
    html = path.read_text()
    assert "Research use only, not for clinical diagnosis." in html
    assert "83%" in html and "None of these" in html and "synthetic" in html
    assert "only one example" in html and "efficientnet_lite0" in html
    # Everything inline: no file or network references.
    sources = re.findall(r'src="([^"]+)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in html and "https://" not in html


def test_html_escapes_user_text() -> None:
    html = render_html(content(classes=("<script>alert(1)</script>", "b&c")))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_pdf_is_a_pdf_with_pages(tmp_path: Path) -> None:
    path = write_pdf(content(), tmp_path / "report.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 1


def test_pdf_text_holds_the_notice(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: PDF text not checked")
    path = write_pdf(content(), tmp_path / "report.pdf")
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Research use only" in text and "sickle cell" in text and "83%" in text


def test_model_card_names_the_none_of_these_cut_used(tmp_path: Path) -> None:
    paths = [make_image(tmp_path / f"{name}{i}.png", COLOURS[name], seed=10 * i) for name in ("red", "blue") for i in range(2)]
    clf = PrototypicalClassifier(register_tiny(), adapt="none").fit(paths, ["red", "red", "blue", "blue"])
    state = to_model_state(clf)
    cut, cal_id = state.thresholds["unknown_novelty"], state.settings["calibration_id"]
    html = render_html(build_report(ProjectModel(from_model_state(state), state, {}), [], coverage=0.9))
    assert f"more than {cut:.2f}x as far from every class as the examples are from their own" in html
    assert f"calibration {cal_id}" in html

    # A state saved before calibrations were stored: the card names the calibration it predicts with now.
    old = replace(state, settings={k: v for k, v in state.settings.items() if k not in ("calibration", "calibration_id")})
    restored = from_model_state(old)
    html = render_html(build_report(ProjectModel(restored, old, {}), [], coverage=0.9))
    assert f"calibration {calibration_id(restored._calibration)}" in html


def pdf_text(data: bytes) -> str:
    """The text ReportLab drew, from its ASCII85 + Flate content streams (no poppler needed), words joined by spaces."""
    strings = []
    for stream in re.findall(rb"stream\r?\n(.*?)~>\s*endstream", data, re.S):
        try:
            content = zlib.decompress(base64.a85decode(stream))
        except (ValueError, zlib.error):
            continue  # an image, or not a content stream
        for text in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", content):
            unescaped = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m[1], 8)]) if m[1].isdigit() else m[1], text)
            strings.append(unescaped.decode("cp1252"))
    return " ".join(" ".join(strings).split())


def with_estimate(report: ReportContent) -> ReportContent:
    first, second = report.classes
    estimate = AccuracyEstimate(0.72, 0.61, 0.82, 80, {first: (0.81, 0.7, 0.9), second: (float("nan"), 0.0, 1.0)})
    quality = [replace(report.quality[0], expected=0.81, expected_low=0.7, expected_high=0.9), report.quality[1]]
    return replace(report, quality=quality, accuracy_estimate=estimate)


def test_support_quality_leads_with_the_expected_accuracy_on_new_images(tmp_path: Path) -> None:
    report = with_estimate(content())
    html = render_html(report)
    section = html[html.index("<h2>Support set quality</h2>") : html.index("<h2>Calibration</h2>")]
    headline = "Expected accuracy on new images: 72% (95% CI 61–82%), estimated from 80 unlabelled images"
    assert headline in section and "<b>81%</b></td><td>70–90%</td>" in section
    assert "too few unlabelled images like it" in section  # the class no unlabelled image looks like
    assert section.index(headline) < section.index("leave-one-out")  # leave-one-out second, marked optimistic
    assert "On the labelled examples themselves (leave-one-out): 80%, 4 of 5 (95% CI 38–96%); optimistic" in section
    assert "adapt again" not in section
    text = pdf_text(write_pdf(report, tmp_path / "report.pdf").read_bytes())
    assert "Expected accuracy on new images: 72% (95% CI 61–82%), estimated from 80 unlabelled images" in text
    assert "On the labelled examples themselves (leave-one-out): 80%, 4 of 5" in text and "81%" in text and "70–90%" in text


def test_without_an_estimate_the_report_says_how_to_get_one(tmp_path: Path) -> None:
    report = content()
    html = render_html(report)
    section = html[html.index("<h2>Support set quality</h2>") : html.index("<h2>Calibration</h2>")]
    assert "No estimate of accuracy on new images" in section and NO_ESTIMATE_ADVICE in section
    assert "expected on new images" not in section and "leave-one-out (optimistic)" in section
    text = pdf_text(write_pdf(report, tmp_path / "report.pdf").read_bytes())
    assert "No estimate of accuracy on new images" in text and NO_ESTIMATE_ADVICE in text and "optimistic" in text


def test_build_report_uses_the_estimate_stored_with_the_model(tmp_path: Path) -> None:
    paths = [make_image(tmp_path / f"{name}{i}.png", COLOURS[name], seed=10 * i) for name in ("red", "blue") for i in range(2)]
    clf = PrototypicalClassifier(register_tiny(), adapt="none").fit(paths, ["red", "red", "blue", "blue"])
    estimate = estimate_accuracy(np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), [str(c) for c in clf.classes_])
    assert estimate is not None
    state = to_model_state(clf, {"accuracy_estimate": estimate.to_dict()})
    report = build_report(ProjectModel(from_model_state(state), state, {}), [], coverage=0.9)
    assert report.accuracy_estimate == estimate
    assert {q.class_name: q.expected for q in report.quality} == {n: v[0] for n, v in estimate.per_class.items()}
    assert f"Expected accuracy on new images: {estimate.accuracy * 100:.0f}%" in render_html(report)
