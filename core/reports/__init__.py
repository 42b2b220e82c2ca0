"""Case and batch reports as self-contained HTML and as PDF."""

from core.reports.content import (
    NOTICE,
    AccuracyEstimate,
    CaseReport,
    ClassQuality,
    ModelCard,
    ReliabilityBin,
    ReportContent,
    SupportExample,
)
from core.reports.html import render_html, write_html
from core.reports.pdf import write_pdf

__all__ = [
    "NOTICE",
    "AccuracyEstimate",
    "CaseReport",
    "ClassQuality",
    "ModelCard",
    "ReliabilityBin",
    "ReportContent",
    "SupportExample",
    "render_html",
    "write_html",
    "write_pdf",
]
