"""The viewer: the image canvas with a window preset box, W/L readout and a frame slider."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from app.gui import services
from app.gui.viewmodels.viewer import ViewerViewModel
from app.gui.views.image_canvas import ImageCanvas
from core.imaging import MedicalImage, Window


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
        self.presets.setToolTip("Window presets: the file's own windows, CT presets for CT, full range")
        self.window_label = QLabel(services.describe_window(None), self)
        self.frame_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.frame_slider.setToolTip("Frame of a multi-frame file")
        self.frame_label = QLabel("", self)
        self._layout()
        self._set_frames(None)
        self.presets.setEnabled(False)
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

    @Slot(object, bool)
    def _on_image(self, image: MedicalImage, new_file: bool) -> None:
        frames = f" · frame {image.frame + 1} of {image.n_frames}" if image.n_frames > 1 else ""
        kind = image.metadata.get("modality") or image.metadata.get("format") or "image"
        self.title.setText(f"{Path(image.path).name} · {kind} {image.width} × {image.height}{frames}")
        self.presets.blockSignals(True)
        self.presets.clear()
        for preset in self._model.presets:
            self.presets.addItem(f"{preset.name} ({services.describe_window(preset)})")
        self.presets.blockSignals(False)
        self.presets.setEnabled(not image.is_color and bool(self._model.presets))
        self.presets.setPlaceholderText("None: colour image" if image.is_color else "Custom window")
        self._set_frames(image)
        if new_file:
            self.canvas.fit()  # the pixels follow with windowChanged

    @Slot(object)
    def _on_window(self, window: Window | None) -> None:
        self.window_label.setText(services.describe_window(window))
        self.presets.blockSignals(True)
        self.presets.setCurrentIndex(self._model.preset_index())
        self.presets.blockSignals(False)
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
            self.canvas.clear("Loading…")

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
