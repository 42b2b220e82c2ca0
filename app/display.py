"""Whether a window can be shown here, asked before Qt is loaded (Qt aborts the process otherwise)."""

from __future__ import annotations

import os
import sys


def display_available() -> bool:
    """False on a Linux machine with no X11 or Wayland display and no Qt platform chosen."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


NO_DISPLAY = "no display to open the window on (no DISPLAY or WAYLAND_DISPLAY); use a desktop session, or QT_QPA_PLATFORM=offscreen"
