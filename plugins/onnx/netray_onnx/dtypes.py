"""ONNX element types as netray dtype names and numpy dtypes (little-endian, as ONNX stores them)."""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import numpy as np

from netray import dtypes

# ONNX TensorProto.DataType -> (netray dtype name (netray.dtypes), bits per element, numpy's code or
# None). Types numpy lacks (bfloat16, float8, 4- and 2-bit) come from ml_dtypes, imported only when
# such a tensor is read: `import ml_dtypes` 0.7 takes most of a second.
DTYPES: Final[dict[int, tuple[str, int, str | None]]] = {
    1: ("float32", 32, "<f4"),
    2: ("uint8", 8, "u1"),
    3: ("int8", 8, "i1"),
    4: ("uint16", 16, "<u2"),
    5: ("int16", 16, "<i2"),
    6: ("int32", 32, "<i4"),
    7: ("int64", 64, "<i8"),
    8: ("string", 0, None),
    9: ("bool", 8, "?"),
    10: ("float16", 16, "<f2"),
    11: ("float64", 64, "<f8"),
    12: ("uint32", 32, "<u4"),
    13: ("uint64", 64, "<u8"),
    14: ("complex64", 64, "<c8"),
    15: ("complex128", 128, "<c16"),
    16: ("bfloat16", 16, None),
    17: ("float8_e4m3fn", 8, None),
    18: ("float8_e4m3fnuz", 8, None),
    19: ("float8_e5m2", 8, None),
    20: ("float8_e5m2fnuz", 8, None),
    21: ("uint4", 4, None),
    22: ("int4", 4, None),
    23: ("float4_e2m1fn", 4, None),
    24: ("float8_e8m0fnu", 8, None),
    25: ("uint2", 2, None),
    26: ("int2", 2, None),
}


@cache
def element_dtype(data_type: int) -> np.dtype[Any] | None:
    """The numpy dtype of an ONNX element type (ml_dtypes' for what numpy lacks); None for strings and unknown types."""
    entry = DTYPES.get(data_type)
    if entry is None or entry[1] == 0:
        return None
    name, _, code = entry
    return np.dtype(code) if code is not None else dtypes.numpy_dtype(name)


def dtype_name(data_type: int) -> str | None:
    """netray's name for an ONNX element type; None for UNDEFINED."""
    if data_type == 0:
        return None
    entry = DTYPES.get(data_type)
    return entry[0] if entry else f"dtype{data_type}"


def byte_size(data_type: int, count: int | None) -> int | None:
    """Bytes that ``count`` elements take in raw_data (sub-byte types packed), or None if unknown."""
    entry = DTYPES.get(data_type)
    if entry is None or count is None or entry[1] == 0:
        return None
    return (count * entry[1] + 7) // 8


def unpack_bits(packed: np.ndarray, data_type: int, shape: tuple[int, ...]) -> np.ndarray:
    """Sub-byte elements (4 or 2 bits, lowest bits first) -> one element per byte of the ml_dtypes type."""
    bits = DTYPES[data_type][1]
    np_dtype = element_dtype(data_type)
    count = int(np.prod(shape, dtype=np.int64))
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    parts = [(packed >> (bits * k)) & mask for k in range(per_byte)]
    values = np.stack(parts, axis=-1).reshape(-1)[:count]
    if data_type in (22, 26):  # signed: sign-extend
        values = values.astype(np.int8)
        values = np.where(values >= (1 << (bits - 1)), values - (1 << bits), values).astype(np.int8)
    if np_dtype is None:
        return values.reshape(shape)
    if data_type == 23:  # float4: the bit pattern sits in the low nibble of each byte
        return values.astype(np.uint8).view(np_dtype).reshape(shape)
    return values.astype(np_dtype).reshape(shape)
