"""How an image looks in the grid: thumbnail, its label (class colour) or the model's guess, file name.

File names get two lines, broken at a separator and elided in the middle, so that
``synthetic_sickle_cell_003.png`` and ``synthetic_discocyte_003.png`` still look different.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.gui.viewmodels.file_models import PATH_ROLE
from app.gui.viewmodels.project_models import CLASS_COLOUR_ROLE, CLASS_ROLE, CONFIDENCE_ROLE, PREDICTED_ROLE

NONE_COLOUR = QColor("#9a6700")
GUESS_COLOUR = QColor("#555555")
NAME_LINES = 2
SEPARATORS = "_- ."


def name_lines(name: str, metrics: QFontMetrics, width: int) -> list[str]:
    """``name`` in at most two lines of ``width`` pixels, whole when it fits in two: broken after
    a separator if the rest then fits, else where the first line is full; a rest still too long
    is elided in the middle (its end, often a number, stays readable)."""
    if metrics.horizontalAdvance(name) <= width:
        return [name]
    cut = 1
    while cut < len(name) and metrics.horizontalAdvance(name[: cut + 1]) <= width:
        cut += 1
    separator = max(name.rfind(c, 0, cut) for c in SEPARATORS)
    if separator > 0 and metrics.horizontalAdvance(name[separator + 1 :]) <= width:
        cut = separator + 1
    return [name[:cut], metrics.elidedText(name[cut:], Qt.TextElideMode.ElideMiddle, width)]


def file_name(path: object) -> str:
    return str(path or "").replace("\\", "/").rsplit("/", 1)[-1]


def status_text(label: str | None, predicted: str | None, confidence: float | None) -> str:
    """'sickle cell' (labelled: drawn bold), 'sickle cell 82 %' or 'none of these' (the model's, italic), or ''."""
    if label is not None:
        return label
    if predicted == "":
        return "none of these"
    if predicted is not None and confidence is not None:
        return f"{predicted} {confidence:.0%}".replace("%", " %")
    return ""


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints the thumbnail (with a class-coloured frame when labelled), the label or the model's
    guess (``show_status``: project images), then the file name in up to two lines."""

    def __init__(self, icon_size: int, parent: QWidget | None = None, show_status: bool = True) -> None:
        super().__init__(parent)
        self._icon = icon_size
        self._status = show_status
        self._lines: dict[tuple[str, int, str], list[str]] = {}  # name layout by (name, width, font): painted often, measured once

    def text_lines(self) -> int:
        return NAME_LINES + (1 if self._status else 0)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(self._icon + 24, self._icon + self.text_lines() * option.fontMetrics.height() + 14)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        rect: QRect = option.rect  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        palette = option.palette  # type: ignore[attr-defined]
        if selected:
            painter.fillRect(rect, palette.highlight())
        label, colour = index.data(CLASS_ROLE), index.data(CLASS_COLOUR_ROLE)
        icon_rect = QRect(rect.left() + (rect.width() - self._icon) // 2, rect.top() + 4, self._icon, self._icon)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(icon, QIcon):
            icon.paint(painter, icon_rect)
        if label is not None and colour:
            painter.setPen(QPen(QColor(colour), 4))
            painter.drawRect(icon_rect.adjusted(-2, -2, 2, 2))
        line = option.fontMetrics.height()  # type: ignore[attr-defined]
        text_rect = QRect(rect.left() + 2, icon_rect.bottom() + 5, rect.width() - 4, line)
        if self._status:
            self._paint_status(painter, option, index, text_rect, label, colour)
            text_rect = text_rect.translated(0, line)
        painter.setFont(option.font)  # type: ignore[attr-defined]
        painter.setPen(palette.highlightedText().color() if selected else palette.text().color())
        for text in self._name_lines(file_name(index.data(PATH_ROLE)), painter, text_rect.width()):
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter, text)
            text_rect = text_rect.translated(0, line)
        painter.restore()

    def _name_lines(self, name: str, painter: QPainter, width: int) -> list[str]:
        key = (name, width, painter.font().key())
        lines = self._lines.get(key)
        if lines is None:
            if len(self._lines) > 10_000:  # a big project scrolled through: start again rather than grow
                self._lines.clear()
            lines = self._lines[key] = name_lines(name, painter.fontMetrics(), width)
        return lines

    def _paint_status(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
        text_rect: QRect,
        label: str | None,
        colour: str | None,
    ) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        palette = option.palette  # type: ignore[attr-defined]
        status = status_text(label, index.data(PREDICTED_ROLE), index.data(CONFIDENCE_ROLE))
        font = QFont(option.font)  # type: ignore[attr-defined]
        font.setBold(label is not None)
        font.setItalic(label is None)
        painter.setFont(font)
        if selected:
            painter.setPen(palette.highlightedText().color())
        elif label is not None and colour:
            painter.setPen(QColor(colour).darker(130))
        else:
            painter.setPen(NONE_COLOUR if index.data(PREDICTED_ROLE) == "" else GUESS_COLOUR)
        metrics = painter.fontMetrics()
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignHCenter, metrics.elidedText(status, Qt.TextElideMode.ElideRight, text_rect.width())
        )
