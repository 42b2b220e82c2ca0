"""Screenshots of File > Import from PACS… against a real Orthanc, and of File > Export labelled cases….

Usage: python scripts/pacs_dialog_screenshots.py OUT_DIR

Starts Orthanc on a loopback port (``tests/orthanc.py``'s launcher; ``apt-get install orthanc
orthanc-dicomweb``), uploads a few of pydicom's bundled test files, opens the real main window
offscreen with a temporary project, and saves ``widget.grab()`` PNGs into OUT_DIR:

- ``pacs_search.png``: the import dialog with the studies found and the selected study's series;
- ``pacs_imported.png``: the dialog after importing every study (the last import's counts);
- ``main_after_import.png``: the main window, its library showing the imported images;
- ``export_done.png``: the export dialog after a de-identified export, with the check's counts.

Settings, logs, the project and Orthanc's storage live in a temporary folder, removed at the end.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "SC_rgb_rle_2frame.dcm", "examples_ybr_color.dcm", "rtdose.dcm")
CLASS = "bone lesion"
LABELS = {"NM": CLASS, "CT": "normal"}  # modality of a study -> the class its images are labelled as


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Run the event loop until ``condition()`` holds (the work happens in worker threads)."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def save(widget: object, path: Path) -> None:
    if not widget.grab().save(str(path)):  # type: ignore[attr-defined]
        raise OSError(f"could not write {path}")
    print(f"wrote {path}")


def bundled_files() -> list[Path]:
    import pydicom.data

    folder = Path(pydicom.data.__file__).parent / "test_files"  # bundled: no download
    return [folder / name for name in FILES if (folder / name).is_file()]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="pacs-shots-") as tmp:
        tmp_path = Path(tmp)
        for name in ("CONFIG", "LOG", "CACHE", "DATA"):
            os.environ[f"RARESIGHT_{name}_DIR"] = str(tmp_path / name.lower())
        from tests.orthanc import start_orthanc

        server = start_orthanc(tmp_path / "orthanc")
        try:
            server.upload(bundled_files())
            return shoot(server.url, tmp_path, out)
        finally:
            server.stop()


def shoot(url: str, tmp_path: Path, out: Path) -> int:
    from app.gui.main import application
    from app.gui.main_window import MainWindow

    application()
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    model = window.project_model
    model.new_project(tmp_path / "archive-cases.raresight")
    wait_until(lambda: model.task == "", "the new project")
    model.add_class(CLASS, "focal uptake or lytic lesion")
    model.add_class("normal", "")

    window.project_actions.import_pacs.trigger()  # File > Import from PACS…
    dialog = window.project_actions.pacs_dialog
    assert dialog is not None
    dialog.url.setText(url)
    dialog.search_button.click()
    wait_until(lambda: dialog.studies.rowCount() > 0 and not dialog.model.searching, "the search")
    wait_until(lambda: dialog.series.rowCount() > 0, "the first study's series")
    save(dialog, out / "pacs_search.png")

    for row in range(dialog.studies.rowCount()):
        dialog.studies.selectRow(row)
        wait_until(lambda: dialog.series.rowCount() > 0 and not dialog.model.searching, "the series")
        item = dialog.studies.item(row, 1)
        modality = item.text() if item is not None else ""
        dialog.class_box.setCurrentIndex(max(0, dialog.class_box.findText(LABELS.get(modality, ""))))  # 0: no class
        dialog.import_button.click()
        wait_until(lambda: not dialog.model.importer.running and model.task == "", "the import")
    save(dialog, out / "pacs_imported.png")
    dialog.close()
    wait_until(lambda: window.library.grid.model().rowCount() > 0, "the library")
    wait_until(lambda: model.task == "", "the project")
    save(window, out / "main_after_import.png")

    window.project_actions.export_cases.trigger()  # File > Export labelled cases…
    export = window.project_actions.export_dialog
    assert export is not None
    export.folder.setText(str(tmp_path / "for-collaborator"))
    export.export_button.click()
    wait_until(lambda: not export.task.running and model.task == "" and "written" in export.message.text(), "the export")
    save(export, out / "export_done.png")
    export.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
