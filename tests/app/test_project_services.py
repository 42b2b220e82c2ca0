"""The window's Qt-free services: which images to label next, class colours, the grid's status line."""

from __future__ import annotations

from app.gui.project_services import CLASS_COLOURS, label_next, next_colour, usefulness
from app.gui.views.thumbnail_delegate import status_text
from core.store import ClassInfo, ImageRecord, PredictionRecord


def _prediction(image_id: int, top: str | None, confidence: float, plausible: tuple[str, ...] = ()) -> PredictionRecord:
    return PredictionRecord(image_id, {"a": confidence, "b": 1 - confidence}, plausible or ((top,) if top else ()), top, confidence, 1)


def test_label_next_puts_unlike_then_least_confident_first() -> None:
    images = [ImageRecord(f"h{i}", f"/x/{i}.png", 1, id=i) for i in range(1, 7)]
    predictions = {
        2: _prediction(2, "a", 0.99),
        3: _prediction(3, None, 0.90),  # unlike every class
        4: _prediction(4, "a", 0.55, ("a", "b")),  # uncertain, two plausible classes
        5: _prediction(5, "b", 0.80),
    }
    assert label_next(images, {1: "a"}, predictions) == [3, 4, 6, 5, 2]  # 6: not predicted yet, 1: labelled
    assert label_next(images, {1: "a"}, predictions, n=2) == [3, 4]
    assert usefulness(None) == 0.5 and usefulness(predictions[3]) == 2.0


def test_new_classes_get_unused_colours() -> None:
    assert next_colour([]) == CLASS_COLOURS[0]
    taken = [ClassInfo(1, "a", colour=CLASS_COLOURS[0]), ClassInfo(2, "b", colour=CLASS_COLOURS[2])]
    assert next_colour(taken) == CLASS_COLOURS[1]


def test_grid_status_line() -> None:
    assert status_text("sickle cell", "a", 0.9) == "sickle cell"  # the label wins over the model's guess
    assert status_text(None, "sickle cell", 0.824) == "sickle cell 82 %"
    assert status_text(None, "", 0.9) == "none of these"
    assert status_text(None, None, None) == ""


def test_a_stored_thumbnail_is_decoded_only_when_small_and_sound() -> None:
    import io
    import struct
    import zlib

    import numpy as np
    from PIL import Image

    from app.gui.project_services import decode_png

    buffer = io.BytesIO()
    Image.fromarray(np.full((12, 20), 90, np.uint8)).save(buffer, format="PNG")
    assert decode_png(buffer.getvalue()).shape == (12, 20)  # type: ignore[union-attr]
    ihdr = struct.pack(">IIBBBBB", 13000, 13000, 8, 0, 0, 0, 0)  # a crafted project: 13000 x 13000 declared
    bomb = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    assert decode_png(bomb) is None
    assert decode_png(b"\x89PNG\r\n\x1a\n" + b"\0" * 40) is None  # not decodable: no thumbnail, no traceback
