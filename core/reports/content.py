"""What a report shows, as plain values; the HTML and PDF renderers only lay it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.fewshot.quality import AccuracyEstimate, ClassQuality, ReliabilityBin, pooled_leave_one_out
from core.scoring.records import ScoreRow

__all__ = ["AccuracyEstimate", "CaseReport", "ClassQuality", "ModelCard", "ReliabilityBin", "ReportContent", "SupportExample"]

NOTICE = "Research use only, not for clinical diagnosis."


@dataclass(frozen=True)
class SupportExample:
    """A labelled image that drove a prediction: the nearest of its class to the case."""

    class_name: str
    content_hash: str
    thumbnail_png: bytes
    similarity: float


@dataclass(frozen=True)
class ModelCard:
    backbone: str
    backbone_hash: str
    model_version: int
    support_hashes: dict[str, list[str]]
    adaptation: dict[str, Any]
    calibration: dict[str, Any]
    reliability_source: str = ""


@dataclass(frozen=True)
class CaseReport:
    """One image: how it was displayed, what the model said, and the examples behind it.

    ``label`` names the case in the report: a hash prefix by default, never a patient identifier
    unless the user asked for identifiers.
    """

    row: ScoreRow
    label: str
    image_png: bytes
    support: list[SupportExample] = field(default_factory=list)


@dataclass(frozen=True)
class ReportContent:
    """``accuracy_estimate``: the model's expected accuracy on new images, estimated when it was adapted
    from the project's unlabelled images; None when it had none (the report says how to get one)."""

    title: str
    generated_at: str
    coverage: float
    model_card: ModelCard
    quality: list[ClassQuality]
    reliability: list[ReliabilityBin]
    cases: list[CaseReport]
    synthetic_data: bool = False
    notice: str = NOTICE
    accuracy_estimate: AccuracyEstimate | None = None

    @property
    def leave_one_out(self) -> tuple[int, int, float, float] | None:
        """Leave-one-out over the whole support set: (correct, examples, 95 % low, high); optimistic."""
        return pooled_leave_one_out(self.quality)

    @property
    def classes(self) -> list[str]:
        return list(self.model_card.support_hashes)
