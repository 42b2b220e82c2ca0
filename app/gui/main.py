"""Start the GUI: QApplication, logging, the excepthook, the main window, the event loop."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from PySide6.QtCore import QMessageLogContext, QThread, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QWidget

from app.gui import model_services
from app.gui.main_window import MainWindow
from app.gui.views import dialogs
from app.logging_setup import configure_logging, log_file

log = logging.getLogger(__name__)

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}
_showing_crash = False


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Log an unexpected exception and, on the GUI thread, show a dialog naming the log file."""
    global _showing_crash
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.critical("Unexpected error", exc_info=(exc_type, exc, tb))
    app = QApplication.instance()
    if app is None or QThread.currentThread() is not app.thread() or _showing_crash:
        return
    _showing_crash = True
    try:
        summary = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        written = log_file() if log_file().is_file() else None
        box = dialogs.show_crash(_active_window(), summary, written)
        box.finished.connect(_crash_dialog_closed)
    except Exception:  # the hook itself must never raise
        log.exception("could not show the error dialog")
        _showing_crash = False


def _crash_dialog_closed(*args: object) -> None:
    global _showing_crash
    _showing_crash = False


def _active_window() -> QWidget | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, MainWindow) and widget.isVisible():
            return widget
    return None


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    """Plain Python threads: log only (no widgets off the GUI thread)."""
    name = getattr(args.thread, "name", "?")
    if args.exc_value is None:
        log.critical("Unexpected %s in thread %s", args.exc_type.__name__, name)
        return
    log.critical("Unexpected error in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def _qt_message_handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Route Qt's own messages to logging."""
    logging.getLogger("qt").log(_QT_LEVELS.get(mode, logging.WARNING), "%s", message)


@contextmanager
def installed_hooks() -> Iterator[None]:
    """Our excepthooks and Qt message handler while the window runs; the previous ones after."""
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook
    sys.excepthook, threading.excepthook = excepthook, _thread_excepthook
    previous_qt = qInstallMessageHandler(_qt_message_handler)
    try:
        yield
    finally:
        sys.excepthook, threading.excepthook = previous_hook, previous_thread_hook
        qInstallMessageHandler(previous_qt)


def application() -> QApplication:
    """The QApplication (created once)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication(sys.argv[:1])
    app.setApplicationName("RareSight")
    app.setOrganizationName("RareSight")
    return app


def run(paths: list[str]) -> int:
    """Open the main window, load ``paths`` (files or folders) if any, and run the event loop."""
    app = application()
    log_path = configure_logging()
    log.info("GUI starting; log file %s", log_path)
    with installed_hooks():
        log.info("model libraries ready in %.1f s", model_services.warm_up())
        window = MainWindow()
        window.show()
        if paths:
            window.open_paths(paths)
        code = int(app.exec())
        window.shutdown_workers()  # in case the loop ended without closing the window
    log.info("GUI closed (exit code %d)", code)
    return code
