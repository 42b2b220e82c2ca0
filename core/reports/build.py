"""Report content from a project's model and scored images: what both front-ends hand to a renderer."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.errors import ImageReadError
from core.fewshot.calibration import calibration_id
from core.fewshot.quality import ReliabilityBin, model_accuracy_estimate, support_quality, support_reliability
from core.imaging import load_image
from core.privacy.paths import path_for_display
from core.reports.content import NONE_OF_THESE, BatchSummary, CaseReport, ModelCard, ReportContent, SupportExample
from core.scoring.embedded import load_copy
from core.scoring.pipeline import ProjectModel
from core.scoring.pool_record import describe_pool
from core.scoring.records import ScoreRow


def display_png(display: npt.NDArray[np.uint8], max_side: int) -> bytes:
    image = Image.fromarray(display)
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_png(path: str, max_side: int, copy: bytes | None = None, content_hash: str = "") -> bytes:
    """The image as a viewer displays it, downscaled, as PNG: from its file, else from the project's copy
    of it (``copy``, its bytes), else a grey square."""
    try:
        if copy is not None and not Path(path).is_file():
            return display_png(load_copy(copy, path or "image", content_hash).display, max_side)
        return display_png(load_image(path).display, max_side)
    except ImageReadError:
        return display_png(np.full((max_side, max_side), 128, np.uint8), max_side)


def model_card(model: ProjectModel, reliability_source: str = "") -> ModelCard:
    clf, state = model.classifier, model.state
    by_class: dict[str, list[str]] = {str(name): [] for name in clf.classes_}
    for code, content_hash in zip(clf.support_labels_, clf.support_hashes_, strict=True):
        by_class[str(clf.classes_[code])].append(content_hash)
    settings = state.settings
    adaptation = {
        "mode": settings.get("adapt_mode", ""),
        "adapted": settings.get("adapted", False),
        "seconds": settings.get("adapt_seconds", 0.0),
        "budget (s)": settings.get("budget_s", ""),
        "features": ", ".join(settings.get("features", {}).get("blocks", [])),
        "learned from unlabelled images": describe_pool(settings),
    }
    calibration = {
        "temperature": round(state.temperature, 4),
        "'none of these'": none_of_these(model),
        "fitted on": clf._calibration.extra.get("fitted_on", "shipped calibration"),
    }
    head = model.audit_head
    return ModelCard(
        state.backbone_id,
        state.backbone_weights_hash,
        model.version,
        by_class,
        adaptation,
        calibration,
        reliability_source,
        audit_head=head.hash if head is not None else "",
        audit_row=head.row_id if head is not None else 0,
    )


def none_of_these(model: ProjectModel) -> str:
    """When the model answers 'none of these', in a clinician's words, with the cut and calibration it used."""
    clf, state = model.classifier, model.state
    cut = state.thresholds.get("unknown_novelty")
    cal_id = state.settings.get("calibration_id")
    if cut is None or cal_id is None:
        # saved before the state froze its calibration: it predicts with the one installed now
        cut, cal_id = clf._calibration.unknown_cut(clf.adapted_), calibration_id(clf._calibration)
    fitted = "cut fitted on development data" if "fitted_on" in clf._calibration.extra else "default cut, not fitted on data"
    return (
        f"when an image is more than {cut:.2f}x as far from every class as the examples are from their own "
        f"(squared distance; {fitted}; calibration {cal_id})"
    )


def reliability(model: ProjectModel) -> tuple[list[ReliabilityBin], str]:
    """Reliability bins shipped with the calibration, else the support set's own (leave-one-out)."""
    shipped = model.classifier._calibration.extra.get("reliability")
    if shipped:
        bins = [ReliabilityBin(float(b["confidence"]), float(b["accuracy"]), int(b["count"])) for b in shipped]
        return bins, "Reliability on held-out development tasks, from the shipped calibration."
    return support_reliability(model.classifier), "Reliability on this support set, leave-one-out (few points: read it as a rough check)."


def build_report(
    model: ProjectModel,
    rows: Sequence[ScoreRow],
    *,
    coverage: float,
    title: str = "RareSight report",
    identifiers: bool = False,
    case_numbers: Sequence[int] | None = None,
    batch: BatchSummary | None = None,
    case_naming: str = "",
) -> ReportContent:
    """Cases for ``rows`` with their images, probabilities, prediction sets and support examples.

    Cases are named "Case 1", "Case 2", ... (``case_numbers`` when given, else their order) unless
    ``identifiers`` is True: then by file name. ``batch`` summarises the whole batch when the cases
    are only part of it; otherwise several cases are summarised themselves. A project marked as
    synthetic (the demo's) gets the synthetic-images notice whoever builds its report.
    """
    thumbnails: dict[str, bytes] = {}

    def thumbnail(content_hash: str, path: str) -> bytes:
        if content_hash not in thumbnails:
            where = path or model.support_paths.get(content_hash, "")
            thumbnails[content_hash] = image_png(where, 160, model.support_copies.get(content_hash), content_hash)
        return thumbnails[content_hash]

    numbers = list(case_numbers) if case_numbers is not None else list(range(1, len(rows) + 1))
    cases = []
    for row, number in zip(rows, numbers, strict=True):
        support = [
            SupportExample(name, near.content_hash, thumbnail(near.content_hash, near.path), near.similarity)
            for name, near in row.nearest_support.items()
        ]
        support.sort(key=lambda example: -example.similarity)
        label = path_for_display(Path(row.path).name) if identifiers else f"Case {number}"
        cases.append(CaseReport(row, label, image_png(row.path, 384), support))
    if batch is None and len(rows) > 1:
        batch = summarise(rows, model.classes, len(rows))
    if not case_naming:
        case_naming = "Cases are named by file name." if identifiers else "Cases are numbered in the order the images were given."
    bins, source = reliability(model)
    card = model_card(model, source)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    estimate = model_accuracy_estimate(model.state.settings)
    quality = support_quality(model.classifier, estimate)
    return ReportContent(
        title,
        generated,
        coverage,
        card,
        quality,
        bins,
        cases,
        model.synthetic_images,
        accuracy_estimate=estimate,
        batch=batch,
        case_naming=case_naming,
    )


def summarise(rows: Sequence[ScoreRow], classes: Sequence[str], shown: int, selection: str = "", source: str = "") -> BatchSummary:
    """Images per predicted class (every class listed, "none of these" included) over all ``rows``."""
    counts = Counter(NONE_OF_THESE if row.none_of_these else str(row.predicted_class) for row in rows)
    names = [*classes, NONE_OF_THESE, *sorted(set(counts) - {*classes, NONE_OF_THESE})]
    ordered = sorted(((name, counts.get(name, 0)) for name in names), key=lambda item: (-item[1], names.index(item[0])))
    return BatchSummary(len(rows), ordered, shown, selection, source)


def least_certain_first(rows: Sequence[ScoreRow]) -> list[int]:
    """Positions of ``rows``, every "none of these" first, then by the top probability, lowest first."""
    return sorted(range(len(rows)), key=lambda i: (not rows[i].none_of_these, max(rows[i].probabilities.values()), i))


def build_batch_report(
    model: ProjectModel, rows: Sequence[ScoreRow], *, coverage: float, source: str, shown: int = 50, identifiers: bool = False
) -> ReportContent:
    """A report on a scored batch: the summary counts every row of ``source`` (the results file, in
    file order); the cases are the ``shown`` least certain, numbered by their row in that file."""
    source = path_for_display(source)
    picked = least_certain_first(rows)[:shown]
    selection = (
        ""
        if len(picked) == len(rows)
        else f"The cases below are the {len(picked)} least certain of the {len(rows)} images: every 'none of these' first, "
        f"then by the lowest top probability. {source} holds every image's result."
    )
    batch = summarise(rows, model.classes, len(picked), selection, source)
    naming = (
        "Cases are named by file name."
        if identifiers
        else f"Case numbers are row numbers in {source} (its first data row is 1), where each image's path is; the report names no file."
    )
    title = f"RareSight batch report ({len(rows)} images" + (f"; {len(picked)} least certain shown)" if len(picked) < len(rows) else ")")
    return build_report(
        model,
        [rows[i] for i in picked],
        coverage=coverage,
        title=title,
        identifiers=identifiers,
        case_numbers=[i + 1 for i in picked],
        batch=batch,
        case_naming=naming,
    )
