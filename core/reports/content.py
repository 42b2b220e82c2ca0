"""What a report shows, as plain values; the HTML and PDF renderers only lay it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.fewshot.quality import AccuracyEstimate, ClassQuality, ReliabilityBin, pooled_leave_one_out
from core.scoring.records import ScoreRow

__all__ = [
    "AccuracyEstimate",
    "BatchSummary",
    "CaseReport",
    "ClassQuality",
    "ModelCard",
    "ReliabilityBin",
    "ReportContent",
    "SupportExample",
]

NOTICE = "Research use only, not for clinical diagnosis."
SYNTHETIC_NOTICE = "The images in this report are synthetic, drawn by RareSight for its demo. They show no patient."
NONE_OF_THESE = "none of these"


def reading_guide(coverage: float) -> list[str]:
    """How to read a case: the bars' colours and the similarity numbers (negative ones included)."""
    return [
        f"Bars: the calibrated probability of each class. Blue bars are the classes in the prediction set "
        f"(the plausible diagnoses at {coverage:.0%} coverage); grey bars are the classes outside it.",
        "Similarity under each support example: cosine similarity between the case and that example in the model's "
        "feature space, measured from the average of all support examples: 1 is the same direction, 0 is no more alike "
        "than the average example, and a negative value is less alike than average, which is usual for the classes "
        "the case does not belong to.",
    ]


@dataclass(frozen=True)
class SupportExample:
    """A labelled image that drove a prediction: the nearest of its class to the case."""

    class_name: str
    content_hash: str
    thumbnail_png: bytes
    similarity: float


@dataclass(frozen=True)
class ModelCard:
    """The model behind a report. ``audit_head``: the project's audit chain hash (SHA-256 hex) at its
    row ``audit_row`` when the report was built ("" when unknown), so a later rewrite of the log shows."""

    backbone: str
    backbone_hash: str
    model_version: int
    support_hashes: dict[str, list[str]]
    adaptation: dict[str, Any]
    calibration: dict[str, Any]
    reliability_source: str = ""
    audit_head: str = ""
    audit_row: int = 0


@dataclass(frozen=True)
class CaseReport:
    """One image: how it was displayed, what the model said, and the examples behind it.

    ``label`` names the case in the report: "Case 3" by default, never a patient identifier; the
    file name only when the user asked for identifiers.
    """

    row: ScoreRow
    label: str
    image_png: bytes
    support: list[SupportExample] = field(default_factory=list)


@dataclass(frozen=True)
class BatchSummary:
    """What the model said about every image of a batch, shown or not.

    ``counts``: (predicted class or "none of these", images), every class listed, largest first.
    ``shown``: how many of the ``images`` appear as cases; ``selection`` says which, when not all.
    ``source``: the results file the batch was read from ("" when the cases are the whole batch).
    """

    images: int
    counts: list[tuple[str, int]]
    shown: int
    selection: str = ""
    source: str = ""

    @property
    def heading(self) -> str:
        return f"Batch summary: all {self.images} images in {self.source}" if self.source else f"Summary of the {self.images} cases"


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
    batch: BatchSummary | None = None
    case_naming: str = ""  # how cases are named (numbers, or file names with --identifiers)

    @property
    def synthetic_notice(self) -> str:
        return SYNTHETIC_NOTICE if self.synthetic_data else ""

    @property
    def guide(self) -> list[str]:
        return reading_guide(self.coverage)

    @property
    def leave_one_out(self) -> tuple[int, int, float, float] | None:
        """Leave-one-out over the whole support set: (correct, examples, 95 % low, high); optimistic."""
        return pooled_leave_one_out(self.quality)

    @property
    def classes(self) -> list[str]:
        return list(self.model_card.support_hashes)
