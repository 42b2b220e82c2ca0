"""Report content from a project's model and scored images: what both front-ends hand to a renderer."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from core.errors import ImageReadError
from core.fewshot.calibration import calibration_id
from core.fewshot.quality import ReliabilityBin, model_accuracy_estimate, support_quality, support_reliability
from core.imaging import load_image
from core.reports.content import CaseReport, ModelCard, ReportContent, SupportExample
from core.scoring.pipeline import ProjectModel
from core.scoring.records import ScoreRow


def image_png(path: str, max_side: int) -> bytes:
    """The image as a viewer displays it, downscaled, as PNG; a grey square when it is unreadable now."""
    try:
        display = load_image(path).display
    except ImageReadError:
        display = np.full((max_side, max_side), 128, np.uint8)
    image = Image.fromarray(display)
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


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
    }
    calibration = {
        "temperature": round(state.temperature, 4),
        "'none of these'": none_of_these(model),
        "fitted on": clf._calibration.extra.get("fitted_on", "shipped calibration"),
    }
    return ModelCard(state.backbone_id, state.backbone_weights_hash, model.version, by_class, adaptation, calibration, reliability_source)


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
    synthetic_data: bool = False,
    identifiers: bool = False,
) -> ReportContent:
    """Cases for ``rows`` with their images, probabilities, prediction sets and support examples.

    Cases are named by a content-hash prefix unless ``identifiers`` is True (then by file path).
    """
    thumbnails: dict[str, bytes] = {}

    def thumbnail(content_hash: str, path: str) -> bytes:
        if content_hash not in thumbnails:
            thumbnails[content_hash] = image_png(path or model.support_paths.get(content_hash, ""), 160)
        return thumbnails[content_hash]

    cases = []
    for row in rows:
        support = [
            SupportExample(name, near.content_hash, thumbnail(near.content_hash, near.path), near.similarity)
            for name, near in row.nearest_support.items()
        ]
        support.sort(key=lambda example: -example.similarity)
        label = row.path if identifiers else f"image {row.content_hash[:12]}"
        cases.append(CaseReport(row, label, image_png(row.path, 384), support))
    bins, source = reliability(model)
    card = model_card(model, source)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    estimate = model_accuracy_estimate(model.state.settings)
    quality = support_quality(model.classifier, estimate)
    return ReportContent(title, generated, coverage, card, quality, bins, cases, synthetic_data, accuracy_estimate=estimate)
