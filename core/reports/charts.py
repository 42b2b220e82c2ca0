"""Charts for reports as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

# The object API, not pyplot: no global state, so reports can be drawn in worker threads.
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from core.reports.content import ReliabilityBin

IN_SET, OUT_OF_SET = "#1f6fb2", "#a9b7c6"  # blue: in the prediction set; grey: outside it


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    return buffer.getvalue()


def probability_chart(probabilities: dict[str, float], prediction_set: Sequence[str]) -> bytes:
    """Horizontal bars of the calibrated probability per class; the prediction set highlighted (legend below)."""
    names = list(probabilities)
    values = [probabilities[name] for name in names]
    figure = Figure(figsize=(4.2, 0.35 * len(names) + 1.0))
    axes = figure.add_subplot()
    colours = [IN_SET if name in prediction_set else OUT_OF_SET for name in names]
    axes.barh(names, values, color=colours)
    axes.set_xlim(0, 1)
    axes.invert_yaxis()
    axes.set_xlabel("calibrated probability")
    for index, value in enumerate(values):
        axes.text(min(value + 0.02, 0.9), index, f"{value:.0%}", va="center", fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    legend = [Patch(color=IN_SET, label="in the prediction set"), Patch(color=OUT_OF_SET, label="not in the set")]
    axes.legend(
        handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.45 if len(names) < 4 else -0.25), ncol=2, fontsize=7, frameon=False
    )
    return _png(figure)


def reliability_diagram(bins: Sequence[ReliabilityBin]) -> bytes:
    """Confidence against observed accuracy as PNG; the diagonal is perfect calibration."""
    return _png(reliability_figure(bins))


def reliability_figure(bins: Sequence[ReliabilityBin]) -> Figure:
    figure = Figure(figsize=(3.4, 3.2))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#888888", linewidth=1, label="perfect calibration")
    if bins:
        confidence, accuracy = [b.confidence for b in bins], [b.accuracy for b in bins]
        axes.plot(confidence, accuracy, marker="o", color=IN_SET, label="observed", clip_on=False)
    else:
        axes.text(0.5, 0.5, "no calibration data", ha="center", va="center")
    # a margin around the unit square, so points at 0 or 1 show whole
    axes.set_xlim(-0.03, 1.03)
    axes.set_ylim(-0.03, 1.05)
    axes.set_xlabel("predicted probability")
    axes.set_ylabel("observed accuracy")
    axes.legend(loc="upper left", fontsize=7, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return figure
