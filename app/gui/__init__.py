"""The PySide6 front-end: main.py starts it, main_window.py assembles views and view-models."""
