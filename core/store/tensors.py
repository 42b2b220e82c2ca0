"""Arrays as bytes without pickle: the safetensors format and NumPy ``.npy`` (``allow_pickle=False``).

safetensors (https://github.com/huggingface/safetensors) is an 8-byte little-endian header length,
a JSON header ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``
and the raw little-endian data. It is simple enough to write and read here with NumPy, so the project
needs no extra dependency; files written here load with ``safetensors.numpy.load`` and vice versa.
"""

from __future__ import annotations

import functools
import io
import json
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy loads when arrays are encoded or decoded, not whenever a project opens
    import numpy as np
    import numpy.typing as npt

from core.errors import ProjectError

_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


@functools.cache
def _names() -> dict[np.dtype[Any], str]:
    import numpy as np

    return {np.dtype(v): k for k, v in _DTYPES.items()}


_MAX_HEADER = 100 * 1024 * 1024


def encode_safetensors(tensors: Mapping[str, npt.NDArray[Any]], metadata: Mapping[str, str] | None = None) -> bytes:
    """Arrays by name -> safetensors bytes (data in name order, 8-byte aligned header)."""
    import numpy as np

    header: dict[str, Any] = {}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if np.dtype(dtype) not in _names():
            raise ProjectError(f"tensor {name!r}: dtype {array.dtype} cannot be stored; use float32")
        data = np.ascontiguousarray(array, dtype=dtype).tobytes()
        header[name] = {"dtype": _names()[np.dtype(dtype)], "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(chunks)


def _header(data: bytes) -> tuple[dict[str, Any], int]:
    if len(data) < 8:
        raise ProjectError("adapted weights: not safetensors data (shorter than its header)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(_MAX_HEADER, len(data) - 8):
        raise ProjectError("adapted weights: not safetensors data (header length out of range)")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError("adapted weights: not safetensors data (header is not JSON)") from exc
    if not isinstance(header, dict):
        raise ProjectError("adapted weights: not safetensors data (header is not an object)")
    return header, 8 + size


def safetensors_metadata(data: bytes) -> dict[str, Any]:
    """The ``__metadata__`` of safetensors bytes (empty when none). Raises ProjectError when malformed."""
    metadata = _header(data)[0].get("__metadata__", {})
    return metadata if isinstance(metadata, dict) else {}


def decode_safetensors(data: bytes) -> dict[str, npt.NDArray[Any]]:
    """safetensors bytes -> arrays by name (copies, writable). Raises ProjectError when malformed."""
    import numpy as np

    header, start = _header(data)
    out: dict[str, npt.NDArray[Any]] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(_DTYPES[spec["dtype"]])
            begin, end = (int(v) for v in spec["data_offsets"])
            shape = tuple(int(v) for v in spec["shape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProjectError(f"adapted weights: tensor {name!r} has a malformed entry") from exc
        count = int(np.prod(shape)) if shape else 1
        if not 0 <= begin <= end <= len(data) - start or end - begin != count * dtype.itemsize:
            raise ProjectError(f"adapted weights: tensor {name!r} does not fit its data")
        out[name] = np.frombuffer(data, dtype=dtype, count=count, offset=start + begin).reshape(shape).copy()
    return out


def validate_safetensors(data: bytes) -> None:
    """Raise ProjectError unless ``data`` decodes as safetensors."""
    decode_safetensors(data)


def encode_npy(array: npt.NDArray[Any]) -> bytes:
    """One array -> ``.npy`` bytes, never pickled."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode_npy(data: bytes) -> npt.NDArray[Any]:
    """``.npy`` bytes -> array; object arrays (pickles) are refused."""
    import numpy as np

    try:
        return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))
    except ValueError as exc:
        raise ProjectError(f"stored array could not be read ({exc})") from exc
