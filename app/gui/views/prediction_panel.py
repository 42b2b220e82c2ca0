"""The prediction panel: calibrated probabilities, the prediction set, and the reasons.

For the selected image: a bar per class, the plausible classes at the chosen coverage (or a clear
"none of these"), and per class the nearest support examples as thumbnails with their similarity.
Confirm accepts the prediction as the label; Override labels it as another class (both audited).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.gui import settings
from app.gui.model_services import ImageExplanation
from app.gui.viewmodels.prediction import PredictionViewModel
from app.gui.viewmodels.project import ProjectViewModel
from app.gui.views.probability_bars import ProbabilityBars

SUPPORT_ICON = 64
NONE_STYLE = "background: #fff3cd; color: #664d03; border: 1px solid #e0c36b; border-radius: 3px; padding: 6px;"


class PredictionPanel(QWidget):
    """Binds :class:`PredictionViewModel`; Confirm/Override go to :class:`ProjectViewModel`."""

    def __init__(self, model: PredictionViewModel, project: ProjectViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model, self._project = model, project
        self.title = QLabel("<b>Prediction</b>", self)
        self.title.setWordWrap(True)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.none_banner = QLabel("None of these: the image is unlike the support examples of every class.", self)
        self.none_banner.setWordWrap(True)
        self.none_banner.setStyleSheet(NONE_STYLE)
        self.bars = ProbabilityBars(self)
        self.prediction_set = QLabel("", self)
        self.prediction_set.setWordWrap(True)
        self.coverage = QComboBox(self)
        for value in settings.COVERAGE_CHOICES:
            self.coverage.addItem(f"{value:.0%}".replace("%", " %"), value)
        self.coverage.setToolTip("How often the set of plausible classes should contain the right one")
        self.confirm_button = QPushButton("Confirm", self)
        self.confirm_button.setToolTip("Label the image as the predicted class (recorded in the audit log)")
        self.override_box = QComboBox(self)
        self.override_button = QPushButton("Override", self)
        self.override_button.setToolTip("Label the image as the chosen class instead (recorded as an override)")
        self.reasons_title = QLabel("<b>Why: the most similar support examples</b> (similarity: 1 = identical)", self)
        self.reasons_title.setWordWrap(True)
        self.reasons = QWidget(self)
        self.reasons_layout = QGridLayout(self.reasons)
        self.reasons_layout.setContentsMargins(0, 0, 0, 0)
        self.support_labels: list[QLabel] = []  # similarity captions of the support examples shown
        self.support_cells: list[QLabel] = []  # their thumbnails
        self._layout()
        self.coverage.currentIndexChanged.connect(self._on_coverage)
        self.confirm_button.clicked.connect(self._confirm)
        self.override_button.clicked.connect(self._override)
        model.explanationChanged.connect(self._show)
        model.loadingChanged.connect(self._on_loading)
        model.coverageChanged.connect(self._sync_coverage)
        project.stateChanged.connect(self._sync_classes)
        self._sync_coverage(model.coverage)
        self._show(None, "")

    def _layout(self) -> None:
        self.controls = QWidget(self)  # coverage, Confirm, Override: only with a prediction
        coverage_row = QHBoxLayout()
        coverage_row.addWidget(QLabel("Coverage:", self.controls))
        coverage_row.addWidget(self.coverage)
        coverage_row.addStretch(1)
        actions = QHBoxLayout()
        actions.addWidget(self.confirm_button)
        actions.addStretch(1)
        actions.addWidget(self.override_box, 1)
        actions.addWidget(self.override_button)
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addLayout(coverage_row)
        controls.addLayout(actions)
        line = QFrame(self.controls)
        line.setFrameShape(QFrame.Shape.HLine)
        controls.addWidget(line)
        body = QWidget(self)
        column = QVBoxLayout(body)
        for widget in (self.title, self.status, self.none_banner, self.bars, self.prediction_set, self.controls):
            column.addWidget(widget)
        column.addWidget(self.reasons_title)
        column.addWidget(self.reasons)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    @Slot(object, str)
    def _show(self, explanation: ImageExplanation | None, message: str) -> None:
        has = explanation is not None
        for widget in (self.bars, self.prediction_set, self.controls, self.reasons_title):
            widget.setVisible(has)
        self.none_banner.setVisible(has and explanation is not None and explanation.none_of_these)
        self.reasons.hide()  # rebuilt hidden, then shown at once with its new children
        self._clear_reasons()
        if explanation is None:
            self.title.setText("<b>Prediction</b>")
            self.status.setText(message or "Select an image to see the model's prediction and its reasons.")
            self._sync_buttons(None)
            return
        model = f"model version {explanation.model_version}, backbone {explanation.backbone}"
        self.title.setText(f"<b>Prediction</b> for {Path(explanation.path).name} ({model})")
        stale = "Labels changed since this model was adapted: press Adapt to use them. " if self._model.stale else ""
        image_id = self._model.image_id
        label = None if image_id is None else self._project.labels.get(image_id)
        labelled = f"You labelled this image {label}. " if label else ""
        self.status.setText(labelled + stale + "Calibrated probabilities; plausible classes in bold.")
        colours = {c.name: c.colour for c in self._project.class_infos()}
        self.bars.set_probabilities(explanation.probabilities, colours, explanation.prediction_set)
        self.prediction_set.setText(_describe_set(explanation))
        self._show_reasons(explanation)
        self.reasons.show()
        ranked = sorted(explanation.probabilities, key=lambda name: -explanation.probabilities[name])
        if len(ranked) > 1:  # the likeliest alternative is what an override most often picks
            self.override_box.setCurrentText(ranked[0] if explanation.none_of_these else ranked[1])
        self._sync_buttons(explanation)

    def _show_reasons(self, explanation: ImageExplanation) -> None:
        order = sorted(explanation.probabilities, key=lambda name: -explanation.probabilities[name])
        for row, name in enumerate(order):
            heading = QLabel(f"<b>{name}</b>", self.reasons)
            heading.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.reasons_layout.addWidget(heading, row, 0)
            for column, example in enumerate(explanation.nearest.get(name, [])):
                cell = QLabel(self.reasons)
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setToolTip(f"{example.path}\nsimilarity {example.similarity:.2f} (1 = identical)")
                icon = self._project.support_icon(example.content_hash)
                if icon is not None:
                    cell.setPixmap(icon.pixmap(SUPPORT_ICON, SUPPORT_ICON))
                caption = QLabel(f"{example.similarity:.2f}", self.reasons)
                caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
                box = QVBoxLayout()
                box.addWidget(cell)
                box.addWidget(caption)
                self.reasons_layout.addLayout(box, row, column + 1)
                self.support_labels.append(caption)
                self.support_cells.append(cell)
        self.reasons_layout.setColumnStretch(4, 1)

    def _clear_reasons(self) -> None:
        self.support_labels.clear()
        self.support_cells.clear()
        while self.reasons_layout.count():
            item = self.reasons_layout.takeAt(0)
            if item is None:
                break
            _delete_item(item)

    def _sync_buttons(self, explanation: ImageExplanation | None) -> None:
        image_id = self._model.image_id
        prediction = None if image_id is None else self._project.predictions.get(image_id)
        labelled = image_id is not None and image_id in self._project.labels
        self.confirm_button.setEnabled(prediction is not None and prediction.top_class is not None and not labelled)
        self.override_box.setEnabled(image_id is not None)
        self.override_button.setEnabled(image_id is not None and self.override_box.count() > 0)

    @Slot()
    def _sync_classes(self) -> None:
        current = self.override_box.currentText()
        self.override_box.blockSignals(True)
        self.override_box.clear()
        self.override_box.addItems(self._project.classes.names())
        if current:
            self.override_box.setCurrentText(current)
        self.override_box.blockSignals(False)
        self._sync_buttons(self._model.explanation)

    @Slot(float)
    def _sync_coverage(self, value: float) -> None:
        index = self.coverage.findData(value)
        self.coverage.blockSignals(True)
        self.coverage.setCurrentIndex(max(index, 0))
        self.coverage.blockSignals(False)

    @Slot(int)
    def _on_coverage(self, index: int) -> None:
        self._model.set_coverage(float(self.coverage.itemData(index)))

    @Slot(bool)
    def _on_loading(self, loading: bool) -> None:
        if loading and self._model.explanation is None and self._model.image_id is not None:
            self.status.setText("Working out the prediction…")

    @Slot()
    def _confirm(self) -> None:
        if self._model.image_id is not None:
            self._project.confirm(self._model.image_id)

    @Slot()
    def _override(self) -> None:
        if self._model.image_id is not None and self.override_box.currentText():
            self._project.override(self._model.image_id, self.override_box.currentText())


def _describe_set(explanation: ImageExplanation) -> str:
    coverage = f"{explanation.coverage:.0%}".replace("%", " %")
    if explanation.none_of_these:
        return f"<b>None of these</b> (at {coverage} coverage): consider a class not in this project, or label it."
    names = ", ".join(explanation.prediction_set)
    if len(explanation.prediction_set) == 1:
        return f"Prediction: <b>{names}</b> (the only plausible class at {coverage} coverage)"
    return f"Plausible at {coverage} coverage: <b>{names}</b>: the model cannot tell these apart"


def _delete_item(item: object) -> None:
    from PySide6.QtWidgets import QLayout, QLayoutItem

    assert isinstance(item, QLayoutItem)
    widget = item.widget()
    if widget is not None:
        widget.hide()  # at once: deleteLater only acts when the event loop gets back to it
        widget.deleteLater()
    layout = item.layout()
    if isinstance(layout, QLayout):
        while layout.count():
            child = layout.takeAt(0)
            if child is None:
                break
            _delete_item(child)
