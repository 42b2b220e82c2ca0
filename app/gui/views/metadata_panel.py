"""A small table of the image's metadata (core's dict holds no patient identifiers)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from core.imaging import MedicalImage

LABELS = {
    "format": "Format",
    "modality": "Modality",
    "body_part": "Body part",
    "rows": "Rows",
    "columns": "Columns",
    "frames": "Frames",
    "photometric_interpretation": "Photometric",
    "bits_stored": "Bits stored",
    "samples_per_pixel": "Samples / pixel",
    "transfer_syntax": "Transfer syntax",
    "sop_class": "SOP class",
    "pixel_spacing_mm": "Pixel spacing (mm)",
    "mode": "Pixel mode",
    "study_uid_hash": "Study UID (hashed)",
    "series_uid_hash": "Series UID (hashed)",
    "instance_uid_hash": "Instance UID (hashed)",
}


class MetadataPanel(QTableWidget):
    """Two columns, Field and Value, filled from ``MedicalImage.metadata`` only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Field", "Value"])
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(True)

    @Slot(object)
    def show_image(self, image: MedicalImage | None, *args: object) -> None:
        """List the image's metadata plus its frame (nothing for None)."""
        rows: list[tuple[str, str]] = []
        if image is not None:
            rows = [(LABELS.get(key, key.replace("_", " ").capitalize()), _text(value)) for key, value in image.metadata.items()]
            rows.append(("Frame shown", f"{image.frame + 1} of {image.n_frames}"))
        self.setRowCount(len(rows))
        for row, (field, value) in enumerate(rows):
            self.setItem(row, 0, QTableWidgetItem(field))
            self.setItem(row, 1, QTableWidgetItem(value))
        self.resizeRowsToContents()

    def values(self) -> dict[str, str]:
        """Field -> value as shown (for tests and copy)."""
        cells = [(self.item(row, 0), self.item(row, 1)) for row in range(self.rowCount())]
        return {field.text(): value.text() for field, value in cells if field is not None and value is not None}


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return " × ".join(_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
