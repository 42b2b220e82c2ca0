"""A widget that shows one image with zoom (wheel), pan and window/level drags.

Mouse: wheel zooms about the cursor; left or middle drag pans; right drag (or Shift + left drag)
is window/level and emits ``windowDragged(dx, dy)``; double-click fits the image to the widget.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui.qimage import from_qimage, to_qimage

MIN_ZOOM, MAX_ZOOM = 0.05, 64.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch
HINT = "Wheel: zoom · Left/middle drag: pan · Right drag (or Shift+left): window/level, → wider, ↓ higher level · Double-click: fit"


class ImageCanvas(QWidget):
    """Paints a QImage scaled by ``zoom`` at ``offset``; fits the widget until the user zooms or pans.

    Signals: ``windowDragged(dx, dy)`` (screen pixels since the last move),
    ``hovered(x, y)`` (image pixel under the cursor, -1, -1 outside), ``zoomChanged(zoom)``.
    """

    windowDragged = Signal(float, float)
    hovered = Signal(int, int)
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)
        self.setToolTip(HINT)
        self._image: QImage | None = None
        self._zoom = 1.0
        self._offset = QPointF()
        self._fit = True
        self._drag: str | None = None
        self._last = QPointF()
        self._placeholder = "Start with File › New project… (or open one), then import a folder of images"

    # -- what is shown ---------------------------------------------------------------------------
    def set_pixels(self, pixels: npt.NDArray[np.uint8], reset_view: bool = False) -> None:
        """Show uint8 (H, W) or (H, W, 3) pixels; ``reset_view`` fits the new image to the widget."""
        image = to_qimage(pixels)
        if reset_view or self._image is None or image.size() != self._image.size():
            self._fit = True
        self._image = image
        self._emit_zoom()
        self.update()

    def set_placeholder(self, text: str) -> None:
        """The text shown while there is no image (repainted only when it shows)."""
        self._placeholder = text
        if self._image is None:
            self.update()

    @property
    def placeholder(self) -> str:
        return self._placeholder

    def clear(self) -> None:
        self._image = None
        self.update()

    def shown_pixels(self) -> npt.NDArray[np.uint8] | None:
        """The pixels this widget paints (a copy of its QImage), or None when empty."""
        return None if self._image is None else from_qimage(self._image)

    @property
    def zoom(self) -> float:
        return self._view()[0]

    def fit(self) -> None:
        self._fit = True
        self._emit_zoom()
        self.update()

    def zoom_at(self, pos: QPointF, factor: float) -> None:
        """Zoom by ``factor`` keeping the image point under ``pos`` (widget coordinates) still."""
        zoom, offset = self._view()
        new_zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom * factor))
        anchor = (pos - offset) / zoom
        self._zoom, self._offset, self._fit = new_zoom, pos - anchor * new_zoom, False
        self._emit_zoom()
        self.update()

    def image_point(self, pos: QPointF) -> tuple[int, int]:
        """The image pixel (x, y) under a widget position, (-1, -1) outside the image."""
        if self._image is None:
            return -1, -1
        zoom, offset = self._view()
        point = (pos - offset) / zoom
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        inside = 0 <= x < self._image.width() and 0 <= y < self._image.height()
        return (x, y) if inside else (-1, -1)

    def _view(self) -> tuple[float, QPointF]:
        """(zoom, offset of the image's top-left corner) in widget pixels."""
        if self._image is None or not self._fit:
            return self._zoom, self._offset
        width, height = self._image.width(), self._image.height()
        zoom = min(self.width() / width, self.height() / height)
        return zoom, QPointF((self.width() - width * zoom) / 2, (self.height() - height * zoom) / 2)

    def _emit_zoom(self) -> None:
        self.zoomChanged.emit(self.zoom)

    # -- Qt events -------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
            return
        zoom, offset = self._view()
        # Nearest neighbour when enlarging: a radiologist wants to see the real pixels.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, zoom < 1.0)
        painter.translate(offset)
        painter.scale(zoom, zoom)
        painter.drawImage(QPointF(0, 0), self._image)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit:
            self._emit_zoom()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if self._image is not None and steps:
            self.zoom_at(event.position(), WHEEL_STEP**steps)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button, shift = event.button(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and shift):
            self._drag = "window"
            self.setCursor(Qt.CursorShape.SizeAllCursor)
        elif button in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._drag = "pan"
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        self._last = event.position()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        delta, self._last = pos - self._last, pos
        if self._drag == "pan" and self._image is not None:
            zoom, offset = self._view()
            self._zoom, self._offset, self._fit = zoom, offset + delta, False
            self.update()
        elif self._drag == "window" and (delta.x() or delta.y()):
            self.windowDragged.emit(delta.x(), delta.y())
        self.hovered.emit(*self.image_point(pos))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self.unsetCursor()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:
        self.hovered.emit(-1, -1)
