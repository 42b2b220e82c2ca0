"""A horizontal bar chart of calibrated probabilities, one bar per class, in the class colours."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

ROW_HEIGHT = 22
LABEL_WIDTH = 120


class ProbabilityBars(QWidget):
    """Paints 'class  [bar]  82 %' rows; classes in the prediction set are drawn bold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float, QColor, bool]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_probabilities(self, probabilities: dict[str, float], colours: dict[str, str], in_set: tuple[str, ...]) -> None:
        """Show ``probabilities`` (class -> 0..1), most probable first."""
        ordered = sorted(probabilities.items(), key=lambda item: -item[1])
        self._rows = [(name, p, QColor(colours.get(name) or "#4a78c2"), name in in_set) for name, p in ordered]
        self.updateGeometry()
        self.update()

    def rows(self) -> list[tuple[str, float]]:
        """(class, probability) as shown, top to bottom."""
        return [(name, p) for name, p, _, _ in self._rows]

    def sizeHint(self) -> QSize:
        return QSize(280, max(1, len(self._rows)) * ROW_HEIGHT + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_colour = self.palette().windowText().color()
        value_width = painter.fontMetrics().horizontalAdvance("100 %") + 8
        label_width = min(LABEL_WIDTH, self.width() // 3)
        bar_space = max(10, self.width() - label_width - value_width - 8)
        for row, (name, probability, colour, bold) in enumerate(self._rows):
            top = 2 + row * ROW_HEIGHT
            font = painter.font()
            font.setBold(bold)
            painter.setFont(font)
            painter.setPen(text_colour)
            label = painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, label_width - 6)
            painter.drawText(
                QRectF(0, top, label_width - 6, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, label
            )
            track = QRectF(label_width, top + 4, bar_space, ROW_HEIGHT - 8)
            painter.fillRect(track, self.palette().alternateBase())
            painter.fillRect(QRectF(track.left(), track.top(), track.width() * max(0.0, min(1.0, probability)), track.height()), colour)
            painter.drawText(
                QRectF(track.right() + 6, top, value_width, ROW_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                f"{probability:.0%}".replace("%", " %"),
            )
        painter.end()
