"""The viewer's state: which image and frame is shown, through which window.

Images are read by path; a project image whose file is absent (imported from a PACS, or added with
``--embed`` and moved since) is read from the project's stored copy (``project_services.read_image``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, Signal, Slot

from app.gui import project_services, services
from app.gui.workers import JobContext, JobRunner
from core.imaging import MedicalImage, Window
from core.imaging.medical_image import full_range_window
from core.store import Project


class ViewerViewModel(QObject):
    """Loads one image (or one frame of it) off the GUI thread and holds its window/level.

    A window the user chose (drag or preset) is kept when the frame changes; a new file starts
    from its own default window.

    Signals: ``imageChanged(image or None, new_file)``, ``windowChanged(window or None)``,
    ``loadingChanged(bool)``, ``errorOccurred(message)`` (core's message).
    """

    imageChanged = Signal(object, bool)
    windowChanged = Signal(object)
    loadingChanged = Signal(bool)
    errorOccurred = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._image: MedicalImage | None = None
        self._window: Window | None = None
        self._user_window = False
        self._presets: list[Window] = []
        self._rendered: npt.NDArray[np.uint8] | None = None
        self._requested_path: str | None = None
        self._project: Project | None = None
        self._runner = JobRunner("viewer-loader", self)
        self._runner.result.connect(self._on_loaded)
        self._runner.error.connect(self._on_error)
        self._runner.busyChanged.connect(self.loadingChanged)

    @property
    def runner(self) -> JobRunner:
        return self._runner

    @property
    def image(self) -> MedicalImage | None:
        return self._image

    @property
    def window(self) -> Window | None:
        """The window the display uses; None for colour images and non-linear VOI LUTs."""
        return self._window

    @property
    def presets(self) -> list[Window]:
        return list(self._presets)

    @property
    def loading(self) -> bool:
        return self._runner.busy

    def set_project(self, project: Project | None) -> None:
        """The open project (None: browsing files), whose stored copies stand in for absent files.

        Shows nothing until the next :meth:`open`: nothing of the previous project stays on show.
        """
        self.clear()
        self._project = project

    def open(self, path: str) -> None:
        """Show ``path`` (its default frame); cancels an image or frame still loading."""
        self._requested_path = path
        project = self._project

        def job(ctx: JobContext) -> tuple[MedicalImage, bool]:
            return project_services.read_image(project, path), True

        self._runner.start(job)

    def clear(self) -> None:
        """Show nothing (another project was opened): cancels loading, drops the image and window."""
        self._runner.cancel()
        self._requested_path = None
        self._image, self._window, self._user_window, self._presets, self._rendered = None, None, False, [], None
        self.imageChanged.emit(None, True)
        self.windowChanged.emit(None)

    def set_frame(self, frame: int) -> None:
        """Show another frame of the current file (loaded off the GUI thread)."""
        image = self._image
        if image is None or image.path != self._requested_path or not 0 <= frame < image.n_frames:
            return
        path, project = image.path, self._project

        def job(ctx: JobContext) -> tuple[MedicalImage, bool]:
            return project_services.read_image(project, path, frame), False

        self._runner.start(job)

    def set_window(self, window: Window) -> None:
        """Display the greyscale image through ``window`` (ignored for colour images)."""
        if self._image is None or self._image.is_color:
            return
        self._window = Window(float(window.center), max(1.0, float(window.width)), window.name)
        self._user_window = True
        self._rendered = None
        self.windowChanged.emit(self._window)

    def apply_preset(self, index: int) -> None:
        if 0 <= index < len(self._presets):
            self.set_window(self._presets[index])

    def preset_index(self) -> int:
        """The preset the current window equals, or -1 (a custom window)."""
        for index, preset in enumerate(self._presets):
            if self._window is not None and (preset.center, preset.width) == (self._window.center, self._window.width):
                return index
        return -1

    def drag_window(self, dx: float, dy: float) -> None:
        """Window/level drag of (dx, dy) screen pixels: right widens, down raises the level."""
        image = self._image
        if image is None or image.is_color:
            return
        base = self._window or full_range_window(image.pixels, image.padding_mask)
        low, high = image.value_range
        self.set_window(services.dragged_window(base, dx, dy, high - low))

    def rendered(self) -> npt.NDArray[np.uint8] | None:
        """The uint8 pixels to show: ``image.render(window)``, or the display when there is no window."""
        if self._image is None:
            return None
        if self._rendered is None:
            self._rendered = self._image.display if self._window is None else self._image.render(self._window)
        return self._rendered

    def describe_pixel(self, x: int, y: int) -> str:
        """'x 12, y 40: -850 HU' for the pixel under the cursor ('' outside the image)."""
        image = self._image
        if image is None or not (0 <= x < image.width and 0 <= y < image.height):
            return ""
        value = image.pixels[y, x]
        if image.is_color:
            return f"x {x}, y {y}: RGB {tuple(int(v) for v in value)}"
        unit = " HU" if str(image.metadata.get("modality", "")).upper() == "CT" else ""
        return f"x {x}, y {y}: {services.format_value(float(value))}{unit}"

    def shutdown(self, msecs: int = -1) -> bool:
        return self._runner.shutdown(msecs)

    @Slot(object)
    def _on_loaded(self, loaded: object) -> None:
        if not isinstance(loaded, tuple) or not isinstance(loaded[0], MedicalImage):
            return
        image: MedicalImage = loaded[0]
        new_file = bool(loaded[1])
        self._image = image
        self._presets = services.window_presets(image)
        if new_file or not self._user_window or image.is_color:
            self._window = image.default_window
            self._user_window = False
        self._rendered = None
        self.imageChanged.emit(image, new_file)
        self.windowChanged.emit(self._window)

    @Slot(object)
    def _on_error(self, exc: object) -> None:
        self.errorOccurred.emit(str(exc))
