"""PDF reports with ReportLab's layout engine (no hand-written PDF)."""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.reports.charts import probability_chart, reliability_diagram
from core.reports.content import CaseReport, ReportContent
from core.reports.html import batch_summary

_STYLES = getSampleStyleSheet()
_NOTICE = ParagraphStyle(
    "notice", parent=_STYLES["Normal"], backColor=colors.HexColor("#fff4e5"), borderPadding=4, fontName="Helvetica-Bold"
)
_SMALL = ParagraphStyle("small", parent=_STYLES["Normal"], fontSize=8, leading=10)
_GRID = TableStyle(
    [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#d0d7de")), ("FONTSIZE", (0, 0), (-1, -1), 8), ("VALIGN", (0, 0), (-1, -1), "TOP")]
)


def _image(png: bytes, width_cm: float) -> Image:
    image = Image(io.BytesIO(png))
    scale = width_cm * cm / image.imageWidth
    image.drawWidth, image.drawHeight = width_cm * cm, image.imageHeight * scale
    return image


def _text(value: object) -> str:
    return escape(str(value))


def _case(case: CaseReport, coverage: float) -> KeepTogether:
    row = case.row
    if row.none_of_these:
        closest = max(row.probabilities, key=row.probabilities.__getitem__)
        verdict = (
            "<b>None of these</b>: the image is unlike the examples of every class. "
            f"The closest class, for reference only, is {_text(closest)} ({row.probabilities[closest]:.0%})."
        )
    else:
        verdict = f"Prediction: <b>{_text(row.predicted_class)}</b> ({row.probabilities[str(row.predicted_class)]:.0%})"
    plausible = ", ".join(row.prediction_set) or "none"
    right = [
        Paragraph(verdict, _STYLES["Normal"]),
        Paragraph(f"Plausible diagnoses ({coverage:.0%} set): {_text(plausible)}", _STYLES["Normal"]),
        _image(probability_chart(row.probabilities, row.prediction_set), 8),
    ]
    if case.support:
        right.append(Paragraph("Support examples that drove it (nearest of each class, cosine similarity):", _SMALL))
        cells = [
            [_image(s.thumbnail_png, 2.0) for s in case.support],
            [Paragraph(f"{_text(s.class_name)}<br/>{s.similarity:.2f}", _SMALL) for s in case.support],
        ]
        right.append(Table(cells, hAlign="LEFT"))
    left = [_image(case.image_png, 5.5), Paragraph(_text(case.label), _SMALL)]
    return KeepTogether(
        [Table([[left, right]], colWidths=[6 * cm, 11 * cm], style=[("VALIGN", (0, 0), (-1, -1), "TOP")]), Spacer(1, 0.4 * cm)]
    )


def _model_card(content: ReportContent) -> Table:
    card = content.model_card
    support = "<br/>".join(f"<b>{_text(n)}</b>: " + " ".join(h[:12] for h in hashes) for n, hashes in card.support_hashes.items())
    rows = [
        ["backbone", _text(card.backbone)],
        ["backbone weights (sha256)", _text(card.backbone_hash)],
        ["model version", str(card.model_version)],
        ["adaptation", "<br/>".join(f"{_text(k)}: {_text(v)}" for k, v in card.adaptation.items())],
        ["calibration", "<br/>".join(f"{_text(k)}: {_text(v)}" for k, v in card.calibration.items())],
        ["support set (image sha256)", support],
    ]
    return Table([[Paragraph(a, _SMALL), Paragraph(b, _SMALL)] for a, b in rows], colWidths=[4.5 * cm, 12.5 * cm], style=_GRID)


def _quality(content: ReportContent) -> Table:
    rows = [["class", "examples", "leave-one-out accuracy", "95% interval", ""]]
    for q in content.quality:
        accuracy = "-" if q.accuracy is None else f"{q.accuracy:.0%}"
        rows.append(
            [_text(q.class_name), str(q.examples), accuracy, f"{q.ci_low:.0%}-{q.ci_high:.0%}", Paragraph(_text(q.warning), _SMALL)]
        )
    return Table(rows, style=_GRID, colWidths=[4 * cm, 2 * cm, 3.5 * cm, 3 * cm, 4.5 * cm], repeatRows=1)


def write_pdf(content: ReportContent, path: Path) -> Path:
    story = [
        Paragraph(_text(content.title), _STYLES["Title"]),
        Paragraph(f"Generated {_text(content.generated_at)} · model version {content.model_card.model_version}", _SMALL),
        Spacer(1, 0.2 * cm),
        Paragraph(_text(content.notice), _NOTICE),
        Spacer(1, 0.3 * cm),
    ]
    if content.synthetic_data:
        story += [Paragraph("The images in this report are synthetic, drawn by RareSight for its demo. They show no patient.", _SMALL)]
    story.append(Paragraph("Cases", _STYLES["Heading2"]))
    story += [_case(case, content.coverage) for case in content.cases]
    if len(content.cases) > 1:
        story += [
            Paragraph("Batch summary", _STYLES["Heading2"]),
            Table([["predicted", "images"], *[[n, str(c)] for n, c in batch_summary(content)]], style=_GRID),
        ]
    story += [Paragraph("Support set quality", _STYLES["Heading2"]), _quality(content)]
    story += [
        Paragraph("Calibration", _STYLES["Heading2"]),
        _image(reliability_diagram(content.reliability), 7),
        Paragraph(_text(content.model_card.reliability_source), _SMALL),
    ]
    story += [
        Paragraph("Model card", _STYLES["Heading2"]),
        _model_card(content),
        Spacer(1, 0.4 * cm),
        Paragraph(_text(content.notice), _NOTICE),
    ]
    document = SimpleDocTemplate(
        str(path), pagesize=A4, title=content.title, leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.8 * cm, bottomMargin=1.8 * cm
    )
    document.build(story)
    return path
