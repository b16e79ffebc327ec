"""Lazy loaders for safetensors tensors: a memory-mapped slice of the file, read on request.

A loader holds the path, the slice and the type only (a small object with slots: a model
has hundreds of thousands of them); the file is opened, bounds checked against its size
at that moment, and mapped when ``Tensor.numpy()`` calls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from netray import FormatError, dtypes, file_slice_loader
from netray_safetensors.dtype_table import BY_CODE
from netray_safetensors.formats import FORMAT
from netray_safetensors.header import Entry, quoted


def _numpy_dtype(path: Path, name: str) -> np.dtype[Any]:
    """The array type of netray's dtype ``name``, little-endian as the format stores it: numpy's own,
    or ml_dtypes' for bfloat16, float8 and float4 (``netray.dtypes`` imports ml_dtypes for those)."""
    found = dtypes.numpy_dtype(name)
    if found is None:
        raise FormatError(path, FORMAT, f"reading {name} values needs the ml_dtypes package (pip install ml_dtypes)")
    return np.dtype(found).newbyteorder("<")


class SliceLoader:
    """Reads one tensor's bytes as an array of its shape (``Tensor.loader``)."""

    __slots__ = ("path", "begin", "length", "code", "dtype", "shape", "name")

    def __init__(self, path: Path, entry: Entry) -> None:
        self.path = path
        self.begin = entry.begin
        self.length = entry.length
        self.code = entry.code
        self.dtype = entry.dtype
        self.shape = entry.shape
        self.name = entry.name

    def __call__(self) -> np.ndarray:
        known = BY_CODE.get(self.code)
        if known is None:
            raise FormatError(
                self.path, FORMAT, f"tensor {quoted(self.name)} has dtype {self.code!r}, which safetensors does not define: its values cannot be read"
            )
        if known.packing == "bits6":
            # The reference implementation counts 6 bits an element but documents no bit order for
            # packing four of them into three bytes, so there is no right way to unpack them yet.
            raise FormatError(
                self.path, FORMAT, f"tensor {quoted(self.name)} is {self.code}: safetensors does not document how 6-bit values are packed, so netray does not guess them"
            )
        if known.packing == "nibbles":
            return self._nibbles(known.name)
        return file_slice_loader(self.path, self.begin, self.length, _numpy_dtype(self.path, known.name), self.shape, FORMAT)()

    def _nibbles(self, name: str) -> np.ndarray:
        """Two 4-bit values a byte, the first in the low nibble (torch's float4_e2m1fn_x2, as ONNX and
        NVIDIA's FP4 pack them); ml_dtypes' 4-bit types take one byte an element, value in the low bits."""
        packed = file_slice_loader(self.path, self.begin, self.length, "uint8", (self.length,), FORMAT)()
        out = np.empty(2 * self.length, dtype=np.uint8)
        out[0::2] = packed & 0x0F
        out[1::2] = packed >> 4
        return out.view(_numpy_dtype(self.path, name)).reshape(self.shape)
