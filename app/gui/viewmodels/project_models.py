"""Item models of a project: its images (grid, with label and prediction), a filter, its classes.

Images are dragged from the grid as ``IMAGE_IDS_MIME`` (comma-separated ids) and dropped on a
class, which asks for them to be labelled with it (``ClassListModel.labelDropped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap

from app.gui.project_services import UNCERTAIN_BELOW, usefulness
from app.gui.qimage import to_qimage
from app.gui.viewmodels.file_models import PATH_ROLE
from core.store import ClassInfo, ImageRecord, PredictionRecord

IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 2
CLASS_ROLE = Qt.ItemDataRole.UserRole + 3
PREDICTED_ROLE = Qt.ItemDataRole.UserRole + 4
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 5
USEFULNESS_ROLE = Qt.ItemDataRole.UserRole + 6
CLASS_COLOUR_ROLE = Qt.ItemDataRole.UserRole + 7
IMAGE_IDS_MIME = "application/x-raresight-image-ids"

_Index = QModelIndex | QPersistentModelIndex


def encode_ids(ids: Sequence[int]) -> QMimeData:
    mime = QMimeData()
    mime.setData(IMAGE_IDS_MIME, QByteArray(",".join(str(i) for i in ids).encode()))
    return mime


def decode_ids(mime: QMimeData) -> list[int]:
    if not mime.hasFormat(IMAGE_IDS_MIME):
        return []
    text = bytes(mime.data(IMAGE_IDS_MIME).data()).decode()
    return [int(part) for part in text.split(",") if part.strip().isdigit()]


def describe_prediction(prediction: PredictionRecord | None) -> str:
    """One short line for a thumbnail: 'Model: X 82 %', 'Model: none of these' or ''."""
    if prediction is None:
        return ""
    if prediction.top_class is None:
        return "Model: none of these"
    return f"Model: {prediction.top_class} {prediction.confidence:.0%}"


class ImageItemModel(QAbstractListModel):
    """One row per project image: name and label or prediction (text), thumbnail, tooltip, roles."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._images: list[ImageRecord] = []
        self._icons: dict[int, QIcon] = {}
        self._thumbnails: dict[int, npt.NDArray[np.uint8]] = {}
        self._labels: dict[int, str] = {}
        self._predictions: dict[int, PredictionRecord] = {}
        self._colours: dict[str, QColor] = {}

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 -- Qt's signature
        return 0 if parent.isValid() else len(self._images)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._images):
            return None
        record = self._images[index.row()]
        image_id = int(record.id or 0)
        label, prediction = self._labels.get(image_id), self._predictions.get(image_id)
        if role == Qt.ItemDataRole.DisplayRole:
            second = label if label is not None else describe_prediction(prediction)
            return f"{Path(record.path).name}\n{second}" if second else Path(record.path).name
        if role == Qt.ItemDataRole.DecorationRole:
            return self.icon(image_id)
        if role == Qt.ItemDataRole.BackgroundRole and label is not None and label in self._colours:
            colour = QColor(self._colours[label])
            colour.setAlpha(70)
            return QBrush(colour)
        if role == Qt.ItemDataRole.ToolTipRole:
            state = f"Labelled: {label}" if label is not None else describe_prediction(prediction) or "Not labelled"
            return f"{record.path}\n{record.modality or record.format or 'image'}\n{state}"
        return self._role(role, record, image_id, label, prediction)

    def _role(self, role: int, record: ImageRecord, image_id: int, label: str | None, prediction: PredictionRecord | None) -> Any:
        if role == PATH_ROLE:
            return record.path
        if role == IMAGE_ID_ROLE:
            return image_id
        if role == CLASS_ROLE:
            return label
        if role == PREDICTED_ROLE:
            return None if prediction is None or label is not None else (prediction.top_class or "")
        if role == CONFIDENCE_ROLE:
            return None if prediction is None or label is not None else prediction.confidence
        if role == USEFULNESS_ROLE:
            return None if label is not None else usefulness(prediction)
        if role == CLASS_COLOUR_ROLE:
            return None if label is None or label not in self._colours else self._colours[label].name()
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [IMAGE_IDS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        ids = sorted({int(i.data(IMAGE_ID_ROLE)) for i in indexes if i.isValid()})
        return encode_ids(ids)

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def reset(self, images: Sequence[ImageRecord], thumbnails: dict[int, npt.NDArray[np.uint8]]) -> None:
        """New images; their thumbnails (uint8 arrays) become icons when first shown."""
        self.beginResetModel()
        self._images = list(images)
        self._thumbnails = dict(thumbnails)
        self._icons = {}
        self.endResetModel()

    def set_state(self, labels: dict[int, str], predictions: dict[int, PredictionRecord], classes: Sequence[ClassInfo]) -> None:
        """New labels, predictions or class colours: every row's text and roles may change."""
        self._labels, self._predictions = dict(labels), dict(predictions)
        self._colours = {c.name: QColor(c.colour) for c in classes if c.colour}
        if self._images:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._images) - 1, 0))

    def row_state(self, row: int) -> tuple[str | None, str | None, float | None]:
        """(label, prediction, confidence) of a row, as the filter needs them.

        prediction: the predicted class, '' for "none of these", None when labelled or not predicted.
        """
        image_id = int(self._images[row].id or 0)
        label = self._labels.get(image_id)
        prediction = self._predictions.get(image_id)
        if label is not None or prediction is None:
            return label, None, None
        return None, prediction.top_class or "", prediction.confidence

    def row_of_id(self, image_id: int) -> int:
        for row, record in enumerate(self._images):
            if record.id == image_id:
                return row
        return -1

    def path_of(self, image_id: int) -> str | None:
        row = self.row_of_id(image_id)
        return None if row < 0 else self._images[row].path

    def icon(self, image_id: int) -> QIcon | None:
        """The thumbnail as an icon, made on first use (a large import costs nothing up front)."""
        icon = self._icons.get(image_id)
        pixels = self._thumbnails.get(image_id)
        if icon is None and pixels is not None:
            pixmap = QPixmap.fromImage(to_qimage(pixels))
            icon = QIcon(pixmap)
            icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over a medical image
            self._icons[image_id] = icon
        return icon


FILTERS = ("All images", "Not labelled", "Labelled as…", "Predicted as…", "Uncertain", "None of these", "Label next")


class ImageFilter(QSortFilterProxyModel):
    """Which images the grid shows (``FILTERS``; the class ones use ``class_name``), and their order.

    "Label next" shows the unlabelled images whose label would help most, most useful first.
    Sorting by confidence puts the least confident predictions first.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.kind = FILTERS[0]
        self.class_name = ""
        self.by_confidence = False
        self.setDynamicSortFilter(True)

    def set_filter(self, kind: str, class_name: str = "") -> None:
        self.beginFilterChange()
        self.kind, self.class_name = kind, class_name
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self._resort()

    def set_sort_by_confidence(self, on: bool) -> None:
        self.by_confidence = on
        self._resort()

    def _resort(self) -> None:
        self.invalidate()
        self.sort(0 if self.kind == "Label next" or self.by_confidence else -1, Qt.SortOrder.AscendingOrder)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        kind = self.kind
        if kind == FILTERS[0]:
            return True
        source = self.sourceModel()
        assert isinstance(source, ImageItemModel)
        label, predicted, confidence = source.row_state(source_row)  # one call, not three data() lookups
        if kind == "Not labelled" or kind == "Label next":
            return label is None
        if kind == "Labelled as…":
            return label is not None and (not self.class_name or label == self.class_name)
        if kind == "Predicted as…":
            return bool(predicted) and (not self.class_name or predicted == self.class_name)
        if kind == "Uncertain":
            return predicted is not None and (predicted == "" or (confidence is not None and confidence < UNCERTAIN_BELOW))
        if kind == "None of these":
            return bool(predicted == "")
        return True

    def lessThan(self, left: _Index, right: _Index) -> bool:
        if self.kind == "Label next":
            return float(left.data(USEFULNESS_ROLE) or 0.0) > float(right.data(USEFULNESS_ROLE) or 0.0)
        a, b = left.data(CONFIDENCE_ROLE), right.data(CONFIDENCE_ROLE)
        a = 2.0 if a is None else float(a)  # labelled or not yet predicted: after the predictions
        b = 2.0 if b is None else float(b)
        return a < b if a != b else left.row() < right.row()


class ClassListModel(QAbstractListModel):
    """One row per class: 'key  name (count)', colour swatch, description as tooltip; a drop target.

    Signal: ``labelDropped(image_ids, class_name)`` when images are dropped on a class.
    """

    labelDropped = Signal(list, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._classes: list[ClassInfo] = []
        self._counts: dict[str, int] = {}

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 -- Qt's signature
        return 0 if parent.isValid() else len(self._classes)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._classes):
            return None
        info = self._classes[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            key = f"{index.row() + 1}  " if index.row() < 9 else "    "
            return f"{key}{info.name} ({self._counts.get(info.name, 0)})"
        if role == Qt.ItemDataRole.DecorationRole and info.colour:
            swatch = QPixmap(14, 14)
            swatch.fill(QColor(info.colour))
            return QIcon(swatch)
        if role == Qt.ItemDataRole.ToolTipRole:
            key = f"Key {index.row() + 1} labels the selected images. " if index.row() < 9 else ""
            return f"{info.description or info.name}\n{key}Drop thumbnails here to label them."
        if role == CLASS_ROLE:
            return info.name
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDropEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [IMAGE_IDS_MIME]

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: _Index) -> bool:
        return parent.isValid() and bool(decode_ids(data))

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: _Index) -> bool:
        ids = decode_ids(data)
        if not parent.isValid() or not ids:
            return False
        self.labelDropped.emit(ids, self._classes[parent.row()].name)
        return False  # nothing is inserted into this model: the label is the effect

    def reset(self, classes: Sequence[ClassInfo], labels: dict[int, str]) -> None:
        self.beginResetModel()
        self._classes = list(classes)
        self._counts = {}
        for name in labels.values():
            self._counts[name] = self._counts.get(name, 0) + 1
        self.endResetModel()

    def names(self) -> list[str]:
        return [c.name for c in self._classes]

    def info(self, row: int) -> ClassInfo:
        return self._classes[row]
