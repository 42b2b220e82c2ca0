"""Support-set quality: the expected accuracy on new images (overall and per class, with its interval),
leave-one-out on the labelled examples as a secondary, optimistic figure, and warnings in words."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.gui.model_services import (
    LEAVE_ONE_OUT_CAVEAT,
    NO_ESTIMATE_ADVICE,
    NO_ESTIMATE_REASON,
    AccuracyEstimate,
    ClassQuality,
    pooled_leave_one_out,
)
from app.gui.viewmodels.prediction import PredictionViewModel

WARNING_COLOUR = "#b00020"
SECONDARY_COLOUR = "#57606a"
NO_MODEL_TEXT = "Adapt the model to see how well it is expected to do on new images."
NO_ESTIMATE_TEXT = "No estimate yet of the accuracy on new images"
NO_ESTIMATE_WHY = NO_ESTIMATE_REASON[0].upper() + NO_ESTIMATE_REASON[1:] + "."
EXPLAIN = (
    "Expected accuracy: how often the model should be right on new images like this project's unlabelled ones "
    "(per class: how often images of that class are recognised), from its calibrated probabilities; no labels needed."
)
EXPLAIN_NO_ESTIMATE = "Leave-one-out: how often each labelled example is recognised when it is left out of the model."
HEADERS = ("Class", "Expected on\nnew images", "95 % CI", "Leave-one-out\n(optimistic)")
EXPECTED_COLUMNS = (1, 2)
LOO_COLUMN = 3
TOO_FEW_TEXT = "too few images"
TOO_FEW_TIP = "Too few of the unlabelled images look like this class to estimate how often it is recognised."
OK_TEXT = "OK"


class QualityPanel(QWidget):
    """The expected accuracy on new images in a headline, leave-one-out under it, a table of
    :class:`ClassQuality` rows, and below it the advice per class (in dark red)."""

    def __init__(self, model: PredictionViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline = QLabel(NO_MODEL_TEXT, self)
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.leave_one_out = QLabel("", self)
        self.leave_one_out.setWordWrap(True)
        self.leave_one_out.setStyleSheet(f"color: {SECONDARY_COLOUR}")
        self.pool = QLabel("", self)  # what the model learned from the project's unlabelled images
        self.pool.setWordWrap(True)
        self.pool.setStyleSheet(f"color: {SECONDARY_COLOUR}")
        self._model = model
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.summary = QLabel(EXPLAIN, self)
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(f"color: {SECONDARY_COLOUR}")
        self.advice_label = QLabel("", self)
        self.advice_label.setWordWrap(True)
        self.advice_label.setTextFormat(Qt.TextFormat.RichText)
        self._advice: dict[str, str] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.headline)
        layout.addWidget(self.leave_one_out)
        layout.addWidget(self.pool)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addWidget(self.advice_label)
        layout.addStretch(1)
        model.qualityChanged.connect(self.show_quality)

    @Slot(list, object)
    def show_quality(self, rows: list[ClassQuality], estimate: AccuracyEstimate | None = None) -> None:
        self._show_overall(rows, estimate)
        self.pool.setText(pool_text(self._model.pool) if rows else "")
        self.pool.setVisible(bool(rows))
        for column in EXPECTED_COLUMNS:
            self.table.setColumnHidden(column, estimate is None)
        self.table.setRowCount(len(rows))
        self._advice = {q.class_name: q.warning or OK_TEXT for q in rows}
        for row, quality in enumerate(rows):
            if quality.expected is None or quality.expected_low is None or quality.expected_high is None:
                expected, interval = TOO_FEW_TEXT, ""
            else:
                expected, interval = _percent(quality.expected), _range(quality.expected_low, quality.expected_high)
            if quality.accuracy is None:
                loo, loo_tip = "n/a (1 example)", "One example: it cannot be left out."
            else:
                correct = round(quality.accuracy * quality.examples)
                loo = f"{_percent(quality.accuracy)} ({correct} of {quality.examples})"
                loo_tip = f"{correct} of {quality.examples} recognised when left out; 95 % CI {_range(quality.ci_low, quality.ci_high)}"
            for column, text in enumerate((quality.class_name, expected, interval, loo)):
                item = QTableWidgetItem(text)
                tip = self._advice[quality.class_name]
                if column == EXPECTED_COLUMNS[0] and text == TOO_FEW_TEXT:
                    tip = f"{TOO_FEW_TIP}\n{tip}"
                elif column == LOO_COLUMN:
                    tip = f"{loo_tip}\n{tip}"
                item.setToolTip(tip)
                if quality.warning:
                    item.setForeground(QColor(WARNING_COLOUR))
                elif column == LOO_COLUMN:
                    item.setForeground(QColor(SECONDARY_COLOUR))
                if column == EXPECTED_COLUMNS[0] and text != TOO_FEW_TEXT:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        self._fit_table()
        self.table.setVisible(bool(rows))
        self.summary.setVisible(bool(rows))
        warned = [f"<p><b>{escape(q.class_name)}</b>: {escape(q.warning)}</p>" for q in rows if q.warning]
        all_ok = "<p>No warnings: every class has enough varied examples.</p>" if rows else ""
        self.advice_label.setText(f"<div style='color:{WARNING_COLOUR}'>{''.join(warned)}</div>" if warned else all_ok)

    def _show_overall(self, rows: list[ClassQuality], estimate: AccuracyEstimate | None) -> None:
        if not rows:
            self.headline.setText(f"<p>{escape(NO_MODEL_TEXT)}</p>")
            self.leave_one_out.setText("")
            self.leave_one_out.setVisible(False)
            return
        if estimate is not None:
            figure = _keep_together(f"{_percent(estimate.accuracy)} (95 % CI {_range(estimate.ci_low, estimate.ci_high)})")
            self.headline.setText(
                f"<p style='font-size:large'><b>Expected accuracy on new images: {figure}</b></p>"
                f"<p>estimated from {estimate.images} unlabelled images of this project</p>"
            )
            self.summary.setText(EXPLAIN)
        else:
            self.headline.setText(
                f"<p style='font-size:large'><b>{escape(NO_ESTIMATE_TEXT)}</b></p>"
                f"<p>{escape(NO_ESTIMATE_WHY)} {escape(NO_ESTIMATE_ADVICE)}</p>"
            )
            self.summary.setText(EXPLAIN_NO_ESTIMATE)
        pooled = pooled_leave_one_out(rows)
        lead = "On the labelled examples themselves" if estimate is not None else "Until then, the only check is on the labelled examples"
        if pooled is None:
            self.leave_one_out.setText(f"{lead} (leave-one-out): not checked, every class has one example.")
        else:
            correct, examples, low, high = pooled
            self.leave_one_out.setText(
                f"{lead} (leave-one-out): {_keep_together(f'{_percent(correct / examples)} (95 % CI {_range(low, high)})')}, "
                f"{correct} of {examples}; {LEAVE_ONE_OUT_CAVEAT}."
            )
        self.leave_one_out.setVisible(True)

    def _fit_table(self) -> None:
        """As tall as its rows (and the horizontal scroll bar when the columns do not fit), so nothing scrolls."""
        rows = self.table.rowCount()
        height = self.table.horizontalHeader().height() + sum(self.table.rowHeight(r) for r in range(rows)) + 2 * self.table.frameWidth()
        if self.table.horizontalHeader().length() > self.table.viewport().width():  # the columns overflow: a scroll bar shows
            height += self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(max(height, 60))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_table()

    def advice(self) -> dict[str, str]:
        """Class -> its advice as shown ('OK' when none)."""
        return dict(self._advice)


def pool_text(pool: str) -> str:
    """The model's use of unlabelled images, as the panel says it (``pool`` from ``describe_pool``)."""
    if pool in ("", "none"):
        return "Learned from the labelled examples only: no unlabelled images were used (Model menu: Learn from unlabelled images)."
    return f"Also learned from {pool} of this project, without their labels."


def _percent(value: float) -> str:
    return f"{value:.0%}".replace("%", " %")


def _range(low: float, high: float) -> str:
    return f"{low * 100:.0f}–{high * 100:.0f} %"


def _keep_together(text: str) -> str:
    """``text`` with non-breaking spaces, so a figure and its interval do not wrap apart."""
    return text.replace(" ", "\u00a0")
