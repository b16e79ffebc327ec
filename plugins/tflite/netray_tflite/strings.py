"""TFLite string tensors: a buffer of ``int32 count, int32 offsets[count + 1], bytes``.

The offsets count from the buffer's start; string i is ``bytes[offsets[i]:offsets[i + 1]]``
(TensorFlow Lite's ``string_util``). ``numpy()`` gives an object array of ``str``
(``bytes`` where a string is not UTF-8) in the tensor's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from netray import FormatError, file_slice_loader


def string_loader(path: Path, offset: int, length: int, shape: tuple[int, ...], format: str) -> Callable[[], np.ndarray]:
    raw = file_slice_loader(path, offset, length, "u1", (length,), format)

    def load() -> np.ndarray:
        data = bytes(raw())
        if len(data) < 4:
            raise FormatError(path, format, f"string tensor at {offset}: {len(data)} bytes, too short for its count")
        count = int(np.frombuffer(data, "<i4", 1)[0])
        if count < 0 or 4 * (count + 2) > len(data):
            raise FormatError(path, format, f"string tensor at {offset}: count {count} does not fit its {len(data)} bytes")
        offsets = np.frombuffer(data, "<i4", count + 1, 4).astype(np.int64)
        if np.any(np.diff(offsets) < 0) or offsets[0] < 4 * (count + 2) or offsets[-1] > len(data):
            raise FormatError(path, format, f"string tensor at {offset}: offsets out of order or past its end")
        items: list[object] = []
        for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
            chunk = data[start:end]
            try:
                items.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                items.append(chunk)
        array = np.empty(count, dtype=object)
        array[:] = items
        size = int(np.prod(shape)) if shape else 1
        return array.reshape(shape) if size == count else array

    return load
