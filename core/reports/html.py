"""Self-contained HTML reports: one file, images inlined, rendered with Jinja2 (autoescaped)."""

from __future__ import annotations

import base64
from importlib import resources
from pathlib import Path

import jinja2

from core.fewshot.quality import LEAVE_ONE_OUT_CAVEAT, NO_ESTIMATE_ADVICE, NO_ESTIMATE_REASON
from core.reports.charts import probability_chart, reliability_diagram
from core.reports.content import ReportContent


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _template() -> jinja2.Template:
    text = resources.files("resources").joinpath("report.html.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(text)


def pct(value: float) -> str:
    """0.72 -> '72%'."""
    return f"{value * 100:.0f}%"


def pct_range(low: float, high: float) -> str:
    """(0.61, 0.82) -> '61–82%'."""
    return f"{low * 100:.0f}–{high * 100:.0f}%"


def render_html(content: ReportContent) -> str:
    cases = [
        {
            "row": case.row,
            "label": case.label,
            "image": data_uri(case.image_png),
            "chart": data_uri(probability_chart(case.row.probabilities, case.row.prediction_set)),
            "support": [{"class_name": s.class_name, "similarity": s.similarity, "image": data_uri(s.thumbnail_png)} for s in case.support],
        }
        for case in content.cases
    ]
    return _template().render(
        content=content,
        cases=cases,
        notes=any(q.warning for q in content.quality),
        reliability=data_uri(reliability_diagram(content.reliability)),
        pct=pct,
        pct_range=pct_range,
        no_estimate_reason=NO_ESTIMATE_REASON,
        no_estimate_advice=NO_ESTIMATE_ADVICE,
        loo_caveat=LEAVE_ONE_OUT_CAVEAT,
    )


def write_html(content: ReportContent, path: Path) -> Path:
    path.write_text(render_html(content), encoding="utf-8")
    return path
