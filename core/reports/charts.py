"""Charts for reports as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

# The object API, not pyplot: no global state, so reports can be drawn in worker threads.
from matplotlib.figure import Figure

from core.reports.content import ReliabilityBin


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    return buffer.getvalue()


def probability_chart(probabilities: dict[str, float], prediction_set: Sequence[str]) -> bytes:
    """Horizontal bars of the calibrated probability per class; the prediction set highlighted."""
    names = list(probabilities)
    values = [probabilities[name] for name in names]
    figure = Figure(figsize=(4.2, 0.35 * len(names) + 0.7))
    axes = figure.add_subplot()
    colours = ["#1f6fb2" if name in prediction_set else "#a9b7c6" for name in names]
    axes.barh(names, values, color=colours)
    axes.set_xlim(0, 1)
    axes.invert_yaxis()
    axes.set_xlabel("calibrated probability")
    for index, value in enumerate(values):
        axes.text(min(value + 0.02, 0.9), index, f"{value:.0%}", va="center", fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def reliability_diagram(bins: Sequence[ReliabilityBin]) -> bytes:
    """Confidence against observed accuracy; the diagonal is perfect calibration."""
    figure = Figure(figsize=(3.4, 3.2))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#888888", linewidth=1, label="perfect calibration")
    if bins:
        axes.plot([b.confidence for b in bins], [b.accuracy for b in bins], marker="o", color="#1f6fb2", label="observed")
    else:
        axes.text(0.5, 0.5, "no calibration data", ha="center", va="center")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("predicted probability")
    axes.set_ylabel("observed accuracy")
    axes.legend(loc="upper left", fontsize=7, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)
