"""The PySide6 front-end: main.py starts it, main_window.py assembles views and view-models."""

from app.gui import pyside_fixes

pyside_fixes.apply()
