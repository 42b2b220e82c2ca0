"""PDF reports with ReportLab's layout engine (no hand-written PDF)."""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import CondPageBreak, Flowable, Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.fewshot.quality import LEAVE_ONE_OUT_CAVEAT, NO_ESTIMATE_ADVICE, NO_ESTIMATE_REASON
from core.reports.charts import probability_chart, reliability_diagram
from core.reports.content import CaseReport, ReportContent
from core.reports.html import pct, pct_range

_STYLES = getSampleStyleSheet()
_NOTICE = ParagraphStyle(
    "notice", parent=_STYLES["Normal"], backColor=colors.HexColor("#fff4e5"), borderPadding=4, fontName="Helvetica-Bold"
)
_SMALL = ParagraphStyle("small", parent=_STYLES["Normal"], fontSize=8, leading=10)
_SYNTHETIC = ParagraphStyle("synthetic", parent=_STYLES["Normal"], backColor=colors.HexColor("#eef3ff"), borderPadding=4)
_GRID = TableStyle(
    [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#d0d7de")), ("FONTSIZE", (0, 0), (-1, -1), 8), ("VALIGN", (0, 0), (-1, -1), "TOP")]
)


def _image(png: bytes, width_cm: float, max_height_cm: float | None = None) -> Image:
    """The PNG ``width_cm`` wide, or less when that would make it taller than ``max_height_cm``
    (a tall, narrow image must still fit a page: ReportLab cannot split an image)."""
    image = Image(io.BytesIO(png))
    scale = width_cm * cm / image.imageWidth
    if max_height_cm is not None:
        scale = min(scale, max_height_cm * cm / image.imageHeight)
    image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
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
            [_image(s.thumbnail_png, 2.0, 2.0) for s in case.support],
            [Paragraph(f"{_text(s.class_name)}<br/>{s.similarity:.2f}", _SMALL) for s in case.support],
        ]
        right.append(Table(cells, hAlign="LEFT"))
    left = [_image(case.image_png, 5.5, 12.0), Paragraph(_text(case.label), _SMALL)]
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
    if card.audit_head:  # the first 16 hex digits fit the cell; the HTML report and `project info` print it whole
        head = f"row {card.audit_row}, chain hash {card.audit_head[:16]}... (check with raresight project verify)"
        rows.append(["project audit log", _text(head)])
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
    notes = any(q.warning for q in content.quality)  # no empty column when no class needs a note
    header = ["class", "examples", "leave-one-out (optimistic)", "95% CI"] + (["note"] if notes else [])
    widths = [4 * cm, 2 * cm, 3.5 * cm, 3 * cm] + ([4.5 * cm] if notes else [])
    if estimate is not None:
        header[2:2] = ["expected on new images", "95% CI"]
        widths = [3.0 * cm, 1.8 * cm, 2.6 * cm, 1.8 * cm, 2.4 * cm, 1.8 * cm] + ([3.6 * cm] if notes else [])
    rows: list[list[object]] = [[Paragraph(h, _SMALL) for h in header]]
    for q in content.quality:
        accuracy = "-" if q.accuracy is None else pct(q.accuracy)
        row: list[object] = [Paragraph(_text(q.class_name), _SMALL), str(q.examples), accuracy, pct_range(q.ci_low, q.ci_high)]
        if estimate is not None:
            if q.expected is None or q.expected_low is None or q.expected_high is None:
                row[2:2] = [Paragraph("too few unlabelled images like it", _SMALL), ""]
            else:
                row[2:2] = [Paragraph(f"<b>{pct(q.expected)}</b>", _SMALL), pct_range(q.expected_low, q.expected_high)]
        rows.append([*row, Paragraph(_text(q.warning), _SMALL)] if notes else row)
    table = Table(rows, style=_GRID, colWidths=widths, repeatRows=1)
    return [Paragraph(headline, _STYLES["Normal"]), Paragraph(note.strip(), _SMALL), Spacer(1, 0.2 * cm), table]


def _batch(content: ReportContent) -> list[Flowable]:
    """The summary of the whole batch (every image, shown or not), before the cases."""
    batch = content.batch
    if batch is None:
        return []
    rows = [["predicted", "images", "share"], *[[_text(n), str(c), pct(c / batch.images)] for n, c in batch.counts]]
    return [KeepTogether([Paragraph(_text(batch.heading), _STYLES["Heading2"]), Table(rows, style=_GRID, hAlign="LEFT")])]


def _cases_intro(content: ReportContent) -> list[Flowable]:
    """The Cases heading, which cases are shown and how they are named, and how to read one."""
    batch = content.batch
    heading = "Cases" + (f": {batch.shown} of {batch.images} shown" if batch is not None and batch.shown < batch.images else "")
    lines = ([batch.selection] if batch is not None and batch.selection else []) + [content.case_naming, *content.guide]
    return [CondPageBreak(6 * cm), Paragraph(heading, _STYLES["Heading2"]), *[Paragraph(_text(line), _SMALL) for line in lines if line]]


def write_pdf(content: ReportContent, path: Path) -> Path:
    story = [
        Paragraph(_text(content.title), _STYLES["Title"]),
        Paragraph(f"Generated {_text(content.generated_at)} · model version {content.model_card.model_version}", _SMALL),
        Spacer(1, 0.2 * cm),
        Paragraph(_text(content.notice), _NOTICE),
        Spacer(1, 0.3 * cm),
    ]
    if content.synthetic_data:
        story += [Paragraph(_text(content.synthetic_notice), _SYNTHETIC), Spacer(1, 0.2 * cm)]
    story += _batch(content)
    story += _cases_intro(content)
    story += [_case(case, content.coverage) for case in content.cases]
    # each heading kept with what follows it, so none is left alone at a page foot
    quality = _quality(content)
    story += [KeepTogether([Paragraph("Support set quality", _STYLES["Heading2"]), *quality[:2]]), *quality[2:]]
    story.append(
        KeepTogether(
            [
                Paragraph("Calibration", _STYLES["Heading2"]),
                _image(reliability_diagram(content.reliability), 7),
                Paragraph(_text(content.model_card.reliability_source), _SMALL),
            ]
        )
    )
    story += [
        CondPageBreak(4 * cm),
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
