"""The built-in demo: synthetic cell images the project draws itself (no copied data)."""

from core.demo.synthetic import DEMO_CLASSES, render_cell, write_demo_images

__all__ = ["DEMO_CLASSES", "render_cell", "write_demo_images"]
