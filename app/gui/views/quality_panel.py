"""Support-set quality: leave-one-out accuracy per class with its interval, and warnings in words."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.gui.model_services import ClassQuality
from app.gui.viewmodels.prediction import PredictionViewModel

EXPLAIN = (
    "How well each class's own examples are recognised when each is left out in turn (leave-one-out), "
    "with a 95 % interval. Few examples give wide intervals: treat them as rough."
)
HEADERS = ("Class", "Examples", "Accuracy", "95 % interval", "Advice")


class QualityPanel(QWidget):
    """A table of :class:`ClassQuality` rows; advice is shown in dark red."""

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
        for column in range(len(HEADERS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        model.qualityChanged.connect(self.show_quality)

    @Slot(list)
    def show_quality(self, rows: list[ClassQuality]) -> None:
        self.table.setRowCount(len(rows))
        for row, quality in enumerate(rows):
            accuracy = "n/a (one example)" if quality.accuracy is None else f"{quality.correct} of {quality.n} ({quality.accuracy:.0%})"
            low, high = quality.ci95
            interval = "n/a" if quality.accuracy is None else f"{low:.0%} – {high:.0%}"
            advice = " ".join(quality.warnings) or "OK"
            cells = (quality.name, str(quality.n), accuracy, interval, advice)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column == len(cells) - 1 and quality.warnings:
                    item.setForeground(QColor("#b00020"))
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        if not rows:
            self.summary.setText(EXPLAIN + "\n\nAdapt the model to see how well the support examples hold up.")
        else:
            self.summary.setText(EXPLAIN)

    def advice(self) -> dict[str, str]:
        """Class -> advice as shown (for tests)."""
        out = {}
        for row in range(self.table.rowCount()):
            name, advice = self.table.item(row, 0), self.table.item(row, len(HEADERS) - 1)
            if name is not None and advice is not None:
                out[name.text()] = advice.text()
        return out
