"""The status bar: mouse hint, loading progress, pixel under the cursor, research-use notice."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar, QWidget

from app.gui.views.dialogs import RESEARCH_NOTICE
from app.gui.views.image_canvas import HINT


class StatusBar(QStatusBar):
    """Left: the mouse hint (or a transient message); right: progress, pixel value, notice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = QLabel(HINT, self)
        self.hint.setToolTip(HINT)
        # The hint may be clipped on a narrow window; it must not set the window's minimum width.
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hint.setMinimumWidth(0)
        self.pixel = QLabel("", self)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.notice = QLabel(f"⚠ {RESEARCH_NOTICE}", self)
        self.notice.setObjectName("researchNotice")
        self.notice.setStyleSheet("QLabel#researchNotice { color: #b00020; font-weight: bold; padding: 0 6px; }")
        self.addWidget(self.hint, 1)
        self.addPermanentWidget(self.pixel)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.notice)

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
