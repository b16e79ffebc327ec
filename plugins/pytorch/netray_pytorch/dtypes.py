"""PyTorch element types: storage class names and serialized scalar-type codes -> dtype names."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# torch.<Name>Storage, as written in pickles, -> netray dtype name.
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "QInt8Storage": "qint8",
    "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32",
    "UntypedStorage": "uint8",
}

# torch dtype attribute names (pickled as torch.float32 etc.) -> netray dtype name.
TORCH_DTYPE_NAMES: dict[str, str] = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32", "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8",
    "bool": "bool", "complex64": "complex64", "complex128": "complex128",
}

# torch._export.serde.schema.ScalarType codes -> netray dtype name.
SCALAR_TYPE_CODES: dict[int, str] = {
    1: "uint8", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "float16", 7: "float32", 8: "float64",
    9: "complex32", 10: "complex64", 11: "complex128", 12: "bool", 13: "bfloat16", 28: "uint16",
    29: "float8_e4m3fn", 30: "float8_e5m2", 31: "float8_e4m3fnuz", 32: "float8_e5m2fnuz",
    33: "float8_e8m0fnu", 34: "uint32", 35: "uint64",
}

_SCALAR_TYPE_NAMES: dict[str, str] = {
    "BYTE": "uint8", "CHAR": "int8", "SHORT": "int16", "INT": "int32", "LONG": "int64", "HALF": "float16",
    "FLOAT": "float32", "DOUBLE": "float64", "COMPLEXHALF": "complex32", "COMPLEXFLOAT": "complex64",
    "COMPLEXDOUBLE": "complex128", "BOOL": "bool", "BFLOAT16": "bfloat16", "UINT16": "uint16",
}


def scalar_type(code: object) -> str | None:
    """A serialized ScalarType (an int code; older files wrote the member name) -> dtype name."""
    if isinstance(code, int):
        return SCALAR_TYPE_CODES.get(code)
    if isinstance(code, str):
        return _SCALAR_TYPE_NAMES.get(code.upper())
    return None


# How each dtype's bytes are read with numpy; bfloat16 is read as its raw 16 bits.
_NUMPY: dict[str, str] = {
    "float32": "<f4", "float64": "<f8", "float16": "<f2", "bfloat16": "<u2", "int64": "<i8", "int32": "<i4",
    "int16": "<i2", "int8": "i1", "uint8": "u1", "uint16": "<u2", "uint32": "<u4", "uint64": "<u8", "bool": "?",
    "complex64": "<c8", "complex128": "<c16", "qint8": "i1", "quint8": "u1", "qint32": "<i4",
    "float8_e4m3fn": "u1", "float8_e5m2": "u1", "float8_e4m3fnuz": "u1", "float8_e5m2fnuz": "u1", "float8_e8m0fnu": "u1",
}


def numpy_dtype(dtype: str) -> np.dtype | None:
    """The numpy type that holds ``dtype``'s bytes, or None when numpy cannot."""
    code = _NUMPY.get(dtype)
    return np.dtype(code) if code else None


def itemsize(dtype: str) -> int | None:
    np_dtype = numpy_dtype(dtype)
    return np_dtype.itemsize if np_dtype is not None else None


def finish(dtype: str) -> Callable[[np.ndarray], np.ndarray]:
    """A converter from the raw array to the values the user sees (bfloat16 -> float32)."""
    if dtype == "bfloat16":
        return lambda raw: (raw.astype(np.uint32) << 16).view(np.float32)
    return lambda raw: raw
