"""ONNX element types as netray dtype names and numpy dtypes (little-endian, as ONNX stores them)."""

from __future__ import annotations

from typing import Any, Final

import ml_dtypes  # numpy types for bfloat16, float8 and the 4/2-bit types (onnx depends on it)
import numpy as np


def _ml(name: str) -> np.dtype[Any] | None:
    kind = getattr(ml_dtypes, name, None)  # older ml_dtypes lack the newest types
    return np.dtype(kind) if kind is not None else None


# ONNX TensorProto.DataType -> (netray dtype name (netray.dtypes), numpy dtype or None, bits per element)
DTYPES: Final[dict[int, tuple[str, np.dtype[Any] | None, int]]] = {
    1: ("float32", np.dtype("<f4"), 32),
    2: ("uint8", np.dtype("u1"), 8),
    3: ("int8", np.dtype("i1"), 8),
    4: ("uint16", np.dtype("<u2"), 16),
    5: ("int16", np.dtype("<i2"), 16),
    6: ("int32", np.dtype("<i4"), 32),
    7: ("int64", np.dtype("<i8"), 64),
    8: ("string", None, 0),
    9: ("bool", np.dtype("?"), 8),
    10: ("float16", np.dtype("<f2"), 16),
    11: ("float64", np.dtype("<f8"), 64),
    12: ("uint32", np.dtype("<u4"), 32),
    13: ("uint64", np.dtype("<u8"), 64),
    14: ("complex64", np.dtype("<c8"), 64),
    15: ("complex128", np.dtype("<c16"), 128),
    16: ("bfloat16", _ml("bfloat16"), 16),
    17: ("float8_e4m3fn", _ml("float8_e4m3fn"), 8),
    18: ("float8_e4m3fnuz", _ml("float8_e4m3fnuz"), 8),
    19: ("float8_e5m2", _ml("float8_e5m2"), 8),
    20: ("float8_e5m2fnuz", _ml("float8_e5m2fnuz"), 8),
    21: ("uint4", _ml("uint4"), 4),
    22: ("int4", _ml("int4"), 4),
    23: ("float4_e2m1fn", _ml("float4_e2m1fn"), 4),
    24: ("float8_e8m0fnu", _ml("float8_e8m0fnu"), 8),
    25: ("uint2", _ml("uint2"), 2),
    26: ("int2", _ml("int2"), 2),
}


def dtype_name(data_type: int) -> str | None:
    """netray's name for an ONNX element type; None for UNDEFINED."""
    if data_type == 0:
        return None
    entry = DTYPES.get(data_type)
    return entry[0] if entry else f"dtype{data_type}"


def byte_size(data_type: int, count: int | None) -> int | None:
    """Bytes that ``count`` elements take in raw_data (sub-byte types packed), or None if unknown."""
    entry = DTYPES.get(data_type)
    if entry is None or count is None or entry[2] == 0:
        return None
    return (count * entry[2] + 7) // 8


def unpack_bits(packed: np.ndarray, data_type: int, shape: tuple[int, ...]) -> np.ndarray:
    """Sub-byte elements (4 or 2 bits, lowest bits first) -> one element per byte of the ml_dtypes type."""
    _, np_dtype, bits = DTYPES[data_type]
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
