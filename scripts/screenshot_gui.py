"""Save a screenshot of the main window with pydicom's CT_small.dcm shown.

Usage: python scripts/screenshot_gui.py OUT.png

Runs offscreen: copies a few of pydicom's bundled test files (a CT, an MR, a multi-frame dose
grid, a colour ultrasound) and one broken file into a temporary folder, opens it, selects the CT
and saves ``window.grab()``. Settings and logs go to the temporary folder too.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "examples_ybr_color.dcm", "JPEG2000.dcm", "SC_rgb_rle_2frame.dcm")


def prepare(folder: Path) -> Path:
    """Copy the test files into ``folder`` (and a truncated DICOM); returns the CT's path."""
    import pydicom.data

    # The bundled files only: get_testdata_file() would try to download the others.
    bundled = Path(pydicom.data.__file__).parent / "test_files"
    for name in FILES:
        if (bundled / name).is_file():
            shutil.copy(bundled / name, folder / name)
    (folder / "truncated.dcm").write_bytes((folder / "CT_small.dcm").read_bytes()[:20000])
    return folder / "CT_small.dcm"


def wait_until(app: object, condition: object, timeout: float = 20.0) -> None:
    """Run the event loop until ``condition()`` holds (the loading happens in worker threads)."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not finish loading in time")
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["RARESIGHT_CONFIG_DIR"] = str(tmp_path / "config")
        os.environ["RARESIGHT_LOG_DIR"] = str(tmp_path / "logs")
        data = tmp_path / "images"
        data.mkdir()
        ct = prepare(data)

        from app.gui.main import application
        from app.gui.main_window import MainWindow

        app = application()
        window = MainWindow()
        window.resize(1280, 800)
        window.show()
        window.open_paths([data])
        wait_until(app, lambda: window.library_model.thumbnails.rowCount() > 0 and not window.library_model.loading)
        window.library.select_path(str(ct))
        wait_until(app, lambda: window.viewer_model.image is not None and Path(window.viewer_model.image.path).name == ct.name)
        wait_until(app, lambda: not window.viewer_model.loading)
        window.status.clearMessage()  # show the mouse hint rather than the "Read 6 images" message
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            print(f"could not write {out}", file=sys.stderr)
            return 1
        window.close()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
