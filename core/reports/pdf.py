"""PDF reports with ReportLab's layout engine (no hand-written PDF)."""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.fewshot.quality import LEAVE_ONE_OUT_CAVEAT, NO_ESTIMATE_ADVICE, NO_ESTIMATE_REASON
from core.reports.charts import probability_chart, reliability_diagram
from core.reports.content import CaseReport, ReportContent
from core.reports.html import batch_summary, pct, pct_range

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


def _quality(content: ReportContent) -> list[Flowable]:
    """The expected accuracy on new images (or how to get it), leave-one-out below it, then per class."""
    estimate, loo = content.accuracy_estimate, content.leave_one_out
    if estimate is not None:
        headline = (
            f"<b>Expected accuracy on new images: {pct(estimate.accuracy)} (95% CI {pct_range(estimate.ci_low, estimate.ci_high)}), "
            f"estimated from {estimate.images} unlabelled images of this project.</b>"
        )
        note = (
            "Estimated when the model was adapted, from its calibrated probabilities on those images (no labels needed). "
            "Per class: how often images of that class are expected to be recognised."
        )
    else:
        headline = f"<b>No estimate of accuracy on new images: {_text(NO_ESTIMATE_REASON)}. {_text(NO_ESTIMATE_ADVICE)}</b>"
        note = ""
    if loo is not None:
        note += (
            f" On the labelled examples themselves (leave-one-out): {pct(loo[0] / loo[1])}, {loo[0]} of {loo[1]} "
            f"(95% CI {pct_range(loo[2], loo[3])}); {_text(LEAVE_ONE_OUT_CAVEAT)}."
        )
    header = ["class", "examples", "leave-one-out (optimistic)", "95% CI", ""]
    widths = [4 * cm, 2 * cm, 3.5 * cm, 3 * cm, 4.5 * cm]
    if estimate is not None:
        header[2:2] = ["expected on new images", "95% CI"]
        widths = [3.0 * cm, 1.8 * cm, 2.6 * cm, 1.8 * cm, 2.4 * cm, 1.8 * cm, 3.6 * cm]
    rows: list[list[object]] = [[Paragraph(h, _SMALL) for h in header]]
    for q in content.quality:
        accuracy = "-" if q.accuracy is None else pct(q.accuracy)
        row: list[object] = [Paragraph(_text(q.class_name), _SMALL), str(q.examples), accuracy, pct_range(q.ci_low, q.ci_high)]
        if estimate is not None:
            if q.expected is None or q.expected_low is None or q.expected_high is None:
                row[2:2] = [Paragraph("too few unlabelled images like it", _SMALL), ""]
            else:
                row[2:2] = [Paragraph(f"<b>{pct(q.expected)}</b>", _SMALL), pct_range(q.expected_low, q.expected_high)]
        rows.append([*row, Paragraph(_text(q.warning), _SMALL)])
    table = Table(rows, style=_GRID, colWidths=widths, repeatRows=1)
    return [Paragraph(headline, _STYLES["Normal"]), Paragraph(note.strip(), _SMALL), Spacer(1, 0.2 * cm), table]


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
    story += [Paragraph("Support set quality", _STYLES["Heading2"]), *_quality(content)]
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
