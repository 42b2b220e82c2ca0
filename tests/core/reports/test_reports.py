"""Reports: self-contained HTML and a real PDF, with the notice, numbers and examples."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.demo import render_cell
from core.reports import (
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
from core.scoring.records import NearestSupport, ScoreRow


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
