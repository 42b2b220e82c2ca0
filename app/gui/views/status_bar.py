"""The status bar: the last result, mouse hint, loading progress, pixel under the cursor, research-use notice.

Progress and small confirmations are transient (``showMessage`` with a timeout); finished work
(where a file went) and errors stay in ``result`` until the next one replaces them.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar, QWidget

from app.gui.views.dialogs import RESEARCH_NOTICE
from app.gui.views.image_canvas import HINT

ERROR_COLOUR = QColor("#b00020")


class ElidedLabel(QLabel):
    """One line that is elided ('…') when space is short, instead of widening the window; the
    whole text is in the tooltip."""

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def shown_text(self) -> str:
        """The text as painted now (elided to the width)."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(self.contentsRect(), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.shown_text())


class StatusBar(QStatusBar):
    """Left: the last result and the mouse hint (or a transient message over both); right:
    progress, pixel value, notice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = ElidedLabel("", self)
        self.result.setVisible(False)
        self._plain = self.result.palette()
        self.hint = ElidedLabel(HINT, self)
        # The hint gives way to the result and may be elided; neither sets the window's minimum width.
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hint.setStyleSheet("color: #707070;")
        self.pixel = QLabel("", self)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.notice = QLabel(f"⚠ {RESEARCH_NOTICE}", self)
        self.notice.setObjectName("researchNotice")
        self.notice.setStyleSheet("QLabel#researchNotice { color: #b00020; font-weight: bold; padding: 0 6px; }")
        self.addWidget(self.result)
        self.addWidget(self.hint, 1)
        self.addPermanentWidget(self.pixel)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.notice)

    @Slot(str)
    def show_result(self, text: str, error: bool = False) -> None:
        """Keep ``text`` (finished work, an error) on show until the next result replaces it."""
        self.clearMessage()
        self.result.setText(text)
        palette = QPalette(self._plain)
        if error:
            palette.setColor(QPalette.ColorRole.WindowText, ERROR_COLOUR)
        self.result.setPalette(palette)
        self.result.setVisible(bool(text))

    @Slot(bool)
    def set_loading(self, loading: bool) -> None:
        self.progress.setVisible(loading)
        if loading:
            self.progress.setValue(0)

    @Slot(float, str)
    def set_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        self.showMessage(text, 3000)

    @Slot(str)
    def set_pixel(self, text: str) -> None:
        self.pixel.setText(text)
