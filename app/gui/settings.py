"""The GUI's persistent settings, in one place: a QSettings INI file under the config folder.

The folder is $RARESIGHT_CONFIG_DIR when set (tests isolate it there), else
``platformdirs.user_config_dir("RareSight")``. Nothing else in the GUI creates a ``QSettings``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

from core.defaults import DEFAULT_COVERAGE
from core.pacs.types import display_url

CONFIG_DIR_ENV = "RARESIGHT_CONFIG_DIR"
SETTINGS_FILE = "gui.ini"


def config_dir() -> Path:
    """$RARESIGHT_CONFIG_DIR if set, else the platform's user config folder for RareSight."""
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_config_dir("RareSight", appauthor=False))


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def _store() -> QSettings:
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


def _bytes(store: QSettings, key: str) -> QByteArray | None:
    value = store.value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def save_window(window: QMainWindow, splitters: dict[str, QSplitter] | None = None) -> None:
    """Remember the window's geometry and state, and the given splitters' positions."""
    store = _store()
    store.setValue("window/geometry", window.saveGeometry())
    store.setValue("window/state", window.saveState())
    for name, splitter in (splitters or {}).items():
        store.setValue(f"splitters/{name}", splitter.saveState())
    store.sync()


def restore_window(window: QMainWindow, splitters: dict[str, QSplitter] | None = None) -> bool:
    """Restore what :func:`save_window` stored; False when nothing was stored yet."""
    store = _store()
    geometry = _bytes(store, "window/geometry")
    if geometry is None:
        return False
    window.restoreGeometry(geometry)
    state = _bytes(store, "window/state")
    if state is not None:
        window.restoreState(state)
    for name, splitter in (splitters or {}).items():
        splitter_state = _bytes(store, f"splitters/{name}")
        if splitter_state is not None:
            splitter.restoreState(splitter_state)
    return True


def last_folder() -> str:
    """The folder the last open dialog was in ('' at first)."""
    value = _store().value("files/last_folder", "")
    return str(value) if value else ""


def set_last_folder(folder: str | os.PathLike[str]) -> None:
    store = _store()
    store.setValue("files/last_folder", str(folder))
    store.sync()


def output_folder() -> str:
    """The folder a report or an export was last written to ('' at first, or when it is gone)."""
    value = _store().value("files/output_folder", "")
    return str(value) if value and Path(str(value)).is_dir() else ""


def set_output_folder(folder: str | os.PathLike[str]) -> None:
    store = _store()
    store.setValue("files/output_folder", str(folder))
    store.sync()


MAX_RECENT = 8
COVERAGE_CHOICES = (0.8, 0.9, 0.95)


def recent_projects() -> list[str]:
    """Project files opened lately, newest first (those that no longer exist are left out)."""
    value = _store().value("projects/recent", [])
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else []
    return [str(p) for p in items if p and Path(str(p)).is_file()][:MAX_RECENT]


def add_recent_project(path: str | os.PathLike[str]) -> list[str]:
    """Put ``path`` first in the recent projects; returns the new list."""
    target = str(Path(path).resolve())
    items = [target] + [p for p in recent_projects() if p != target]
    store = _store()
    store.setValue("projects/recent", items[:MAX_RECENT])
    store.sync()
    return items[:MAX_RECENT]


def coverage() -> float:
    """The coverage of prediction sets the user chose (0.8, 0.9 or 0.95)."""
    try:
        value = float(_store().value("model/coverage", DEFAULT_COVERAGE))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_COVERAGE
    return value if value in COVERAGE_CHOICES else DEFAULT_COVERAGE


def set_coverage(value: float) -> None:
    store = _store()
    store.setValue("model/coverage", float(value))
    store.sync()


def use_unlabelled() -> bool:
    """Whether Adapt also learns from the project's unlabelled images (Model menu; on at first)."""
    value = _store().value("model/use_unlabelled", True)
    return value if isinstance(value, bool) else str(value).lower() != "false"


def set_use_unlabelled(value: bool) -> None:
    store = _store()
    store.setValue("model/use_unlabelled", bool(value))
    store.sync()


def pacs_server() -> tuple[str, str]:
    """(DICOMweb address, user name) of the PACS the import dialog used last; ('', '') at first."""
    store = _store()
    return str(store.value("pacs/url", "") or ""), str(store.value("pacs/username", "") or "")


def set_pacs_server(url: str, username: str) -> None:
    """Remember the PACS address and user name, never a password: any ``user:password@`` (and query)
    written into the address is dropped (``core.pacs.types.display_url``); secrets go to the OS keyring."""
    store = _store()
    store.setValue("pacs/url", display_url(url) if url.strip() else "")
    store.setValue("pacs/username", username)
    store.sync()
