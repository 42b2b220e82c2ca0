"""The viewer: the image canvas with a window preset box, W/L readout and a frame slider."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QStyleOptionComboBox, QVBoxLayout, QWidget

from app.gui import services
from app.gui.viewmodels.viewer import ViewerViewModel
from app.gui.views.image_canvas import ImageCanvas
from core.imaging import MedicalImage, Window

PRESETS_TIP = "Window presets: the file's own windows, CT presets for CT, full range. Right drag on the image sets any window."
COLOUR_PLACEHOLDER = "n/a: colour image"


def placeholder_text(project_open: bool, images: int) -> str:
    """What the empty viewer says, for the state the window is in (``images``: thumbnails in the grid)."""
    if images > 0:
        return "Select a thumbnail on the left to view it"
    if project_open:
        return "This project has no images yet: use File › Import folder… (or drop files or a folder here)"
    return "Start with File › New project… (or open one), then import a folder of images.\nTo only look at images, use File › Open folder…"


class ViewerPanel(QWidget):
    """Binds :class:`ViewerViewModel` to the canvas, the preset box and the frame slider."""

    def __init__(self, model: ViewerViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.canvas = ImageCanvas(self)
        self.title = QLabel("No image", self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.presets = QComboBox(self)
        self.presets.setPlaceholderText("Custom window")
        self.presets.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.presets.setToolTip(PRESETS_TIP)
        self.window_label = QLabel(services.describe_window(None), self)
        self.frame_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.frame_slider.setToolTip("Frame of a multi-frame file")
        self.frame_label = QLabel("", self)
        self._layout()
        self._set_frames(None)
        self.presets.setEnabled(False)
        self._fit_presets()
        self.set_context(False, 0)
        self.canvas.windowDragged.connect(model.drag_window)
        self.presets.currentIndexChanged.connect(self._on_preset_chosen)
        self.frame_slider.valueChanged.connect(self._on_frame_moved)
        model.imageChanged.connect(self._on_image)
        model.windowChanged.connect(self._on_window)
        model.loadingChanged.connect(self._on_loading)

    def _layout(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Window:", self))
        controls.addWidget(self.presets)
        controls.addWidget(self.window_label)
        controls.addStretch(1)
        frames = QHBoxLayout()
        frames.addWidget(self.frame_slider, 1)
        frames.addWidget(self.frame_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(frames)

    def set_context(self, project_open: bool, images: int) -> None:
        """Say what to do next on the empty canvas (see :func:`placeholder_text`)."""
        self._context = (project_open, images)
        self.canvas.set_placeholder(placeholder_text(project_open, images))

    def _fit_presets(self) -> None:
        """Make the preset box wide enough for its longest text, the placeholder included."""
        box = self.presets
        texts = [box.itemText(i) for i in range(box.count())] + [box.placeholderText()]
        metrics = box.fontMetrics()
        option = QStyleOptionComboBox()
        box.initStyleOption(option)
        contents = QSize(max(metrics.horizontalAdvance(t) for t in texts), metrics.height())
        box.setMinimumWidth(box.style().sizeFromContents(QStyle.ContentsType.CT_ComboBox, option, contents, box).width() + 8)
        self._update_presets_tip()

    def _update_presets_tip(self) -> None:
        """The tooltip names the current choice (the box's texts, and so its width, change only with the image)."""
        self.presets.setToolTip(f"{self.presets.currentText() or self.presets.placeholderText()}\n{PRESETS_TIP}")

    @Slot(object, bool)
    def _on_image(self, image: MedicalImage | None, new_file: bool) -> None:
        if image is None:
            self.title.setText("No image")
            self.presets.clear()
            self.presets.setEnabled(False)
            self.presets.setPlaceholderText("Custom window")
            self._fit_presets()
            self._set_frames(None)
            self.canvas.clear()
            return
        frames = f" · frame {image.frame + 1} of {image.n_frames}" if image.n_frames > 1 else ""
        kind = image.metadata.get("modality") or image.metadata.get("format") or "image"
        self.title.setText(f"{Path(image.path).name} · {kind} {image.width} × {image.height}{frames}")
        self.presets.blockSignals(True)
        self.presets.clear()
        for preset in self._model.presets:
            self.presets.addItem(f"{preset.name} ({services.describe_window(preset)})")
        self.presets.blockSignals(False)
        self.presets.setEnabled(not image.is_color and bool(self._model.presets))
        self.presets.setPlaceholderText(COLOUR_PLACEHOLDER if image.is_color else "Custom window")
        self._fit_presets()
        self._set_frames(image)
        if new_file:
            self.canvas.fit()  # the pixels follow with windowChanged

    @Slot(object)
    def _on_window(self, window: Window | None) -> None:
        self.window_label.setText(services.describe_window(window))
        self.presets.blockSignals(True)
        self.presets.setCurrentIndex(self._model.preset_index())
        self.presets.blockSignals(False)
        self._update_presets_tip()
        pixels = self._model.rendered()
        if pixels is not None:
            self.canvas.set_pixels(pixels)

    @Slot(int)
    def _on_preset_chosen(self, index: int) -> None:
        self._model.apply_preset(index)

    @Slot(int)
    def _on_frame_moved(self, value: int) -> None:
        image = self._model.image
        if image is not None:
            self.frame_label.setText(f"Frame {value + 1} / {image.n_frames}")
        self._model.set_frame(value)

    @Slot(bool)
    def _on_loading(self, loading: bool) -> None:
        if loading and self._model.image is None:
            self.canvas.set_placeholder("Loading…")
        elif not loading:
            self.set_context(*self._context)

    def _set_frames(self, image: MedicalImage | None) -> None:
        multi = image is not None and image.n_frames > 1
        self.frame_slider.setVisible(multi)
        self.frame_label.setVisible(multi)
        if image is None or not multi:
            return
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, image.n_frames - 1)
        if not self.frame_slider.isSliderDown():
            self.frame_slider.setValue(image.frame)
        self.frame_slider.blockSignals(False)
        self.frame_label.setText(f"Frame {image.frame + 1} / {image.n_frames}")
