"""Support-set quality: leave-one-out accuracy per class with its interval, and warnings in words."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.gui.model_services import ClassQuality
from app.gui.viewmodels.prediction import PredictionViewModel

WARNING_COLOUR = "#b00020"
EXPLAIN = (
    "How well each class's own examples are recognised when each is left out in turn (leave-one-out), "
    "with a 95 % interval. Few examples give wide intervals: treat them as rough."
)
HEADERS = ("Class", "Examples", "Accuracy", "95 % interval")
OK_TEXT = "OK"


class QualityPanel(QWidget):
    """A table of :class:`ClassQuality` rows, and below it the advice per class (in dark red)."""

    def __init__(self, model: PredictionViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel(EXPLAIN, self)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.advice_label = QLabel("", self)
        self.advice_label.setWordWrap(True)
        self.advice_label.setTextFormat(Qt.TextFormat.RichText)
        self._advice: dict[str, str] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.advice_label)
        layout.addStretch(1)
        model.qualityChanged.connect(self.show_quality)

    @Slot(list)
    def show_quality(self, rows: list[ClassQuality]) -> None:
        self.table.setRowCount(len(rows))
        self._advice = {q.class_name: q.warning or OK_TEXT for q in rows}
        for row, quality in enumerate(rows):
            correct = None if quality.accuracy is None else round(quality.accuracy * quality.examples)
            accuracy = "n/a" if quality.accuracy is None else f"{correct} of {quality.examples} ({_percent(quality.accuracy)})"
            interval = "n/a" if quality.accuracy is None else f"{_percent(quality.ci_low)} – {_percent(quality.ci_high)}"
            for column, text in enumerate((quality.class_name, str(quality.examples), accuracy, interval)):
                item = QTableWidgetItem(text)
                item.setToolTip(self._advice[quality.class_name])
                if quality.warning:
                    item.setForeground(QColor(WARNING_COLOUR))
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        height = self.table.horizontalHeader().height() + sum(self.table.rowHeight(r) for r in range(len(rows))) + 4
        self.table.setFixedHeight(max(height, 60))
        warned = [f"<p><b>{escape(q.class_name)}</b>: {escape(q.warning)}</p>" for q in rows if q.warning]
        all_ok = "<p>No warnings: every class has enough varied examples.</p>" if rows else ""
        self.advice_label.setText(f"<div style='color:{WARNING_COLOUR}'>{''.join(warned)}</div>" if warned else all_ok)
        if not rows:
            self.summary.setText(EXPLAIN + "\n\nAdapt the model to see how well the support examples hold up.")
        else:
            self.summary.setText(EXPLAIN)

    def advice(self) -> dict[str, str]:
        """Class -> its advice as shown ('OK' when none)."""
        return dict(self._advice)


def _percent(value: float) -> str:
    return f"{value:.0%}".replace("%", " %")
