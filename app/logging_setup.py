"""Where the application's log goes: a rotating file under the user's log folder.

Front-ends call :func:`configure_logging` once; core only uses ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

import platformdirs

LOG_DIR_ENV = "RARESIGHT_LOG_DIR"


def log_dir() -> Path:
    """The log folder: $RARESIGHT_LOG_DIR if set (tests), else the platform's user log folder."""
    override = os.environ.get(LOG_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_log_dir("RareSight", appauthor=False))


def log_file() -> Path:
    return log_dir() / "raresight.log"


def configure_logging(level: int = logging.INFO) -> Path | None:
    """Send our records to the log file; returns its path, or None when it cannot be written."""
    root = logging.getLogger()
    if any(getattr(handler, "_raresight", False) for handler in root.handlers):
        return log_file()
    # Third-party libraries that quote file contents in their messages stay out of the file.
    logging.getLogger("pydicom").propagate = False
    logging.captureWarnings(True)
    root.setLevel(level)
    try:
        log_dir().mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(log_file(), maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._raresight = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    return log_file()
