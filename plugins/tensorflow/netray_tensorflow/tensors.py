"""TensorFlow dtypes, shapes and TensorProtos as netray types and lazy Tensors.

A Const's TensorProto is decoded only when its values are asked for. Its shape
may claim any size; decoding checks the stored bytes against it, and a short
value list that TensorFlow would repeat to fill the shape is expanded only up to
:data:`MAX_FILL_BYTES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from netray import FormatError, Shape, Tensor

# DataType enum value -> dtype name (numpy's where it has one).
DTYPE_NAMES: dict[int, str] = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    7: "string",
    8: "complex64",
    9: "int64",
    10: "bool",
    11: "qint8",
    12: "quint8",
    13: "qint32",
    14: "bfloat16",
    15: "qint16",
    16: "quint16",
    17: "uint16",
    18: "complex128",
    19: "float16",
    20: "resource",
    21: "variant",
    22: "uint32",
    23: "uint64",
    24: "float8_e5m2",
    25: "float8_e4m3fn",
    29: "int4",
    30: "uint4",
}
REF_OFFSET = 100  # DT_FLOAT_REF = 101: a reference to a variable's float32 buffer

# dtype name -> (numpy dtype of the raw bytes, TensorProto field holding short value lists)
STORAGE: dict[str, tuple[str, str]] = {
    "float32": ("float32", "float_val"),
    "float64": ("float64", "double_val"),
    "int32": ("int32", "int_val"),
    "uint8": ("uint8", "int_val"),
    "int16": ("int16", "int_val"),
    "int8": ("int8", "int_val"),
    "int64": ("int64", "int64_val"),
    "bool": ("bool", "bool_val"),
    "qint8": ("int8", "int_val"),
    "quint8": ("uint8", "int_val"),
    "qint32": ("int32", "int_val"),
    "qint16": ("int16", "int_val"),
    "quint16": ("uint16", "int_val"),
    "uint16": ("uint16", "int_val"),
    "float16": ("float16", "half_val"),
    "bfloat16": ("uint16", "half_val"),  # raw bit patterns: numpy has no bfloat16
    "uint32": ("uint32", "uint32_val"),
    "uint64": ("uint64", "uint64_val"),
    "complex64": ("complex64", "scomplex_val"),
    "complex128": ("complex128", "dcomplex_val"),
}
MAX_FILL_BYTES = 256 * 1024 * 1024


def dtype_name(enum_value: int) -> str:
    """``1`` -> ``"float32"``; reference types get a ``_ref`` suffix."""
    if enum_value > REF_OFFSET:
        return dtype_name(enum_value - REF_OFFSET) + "_ref"
    if enum_value == 0:
        return "unknown"
    return DTYPE_NAMES.get(enum_value, f"dtype{enum_value}")


def shape_of(proto: Any) -> Shape | None:
    """A TensorShapeProto as a Shape: unknown rank -> None, size -1 -> the dim's name or None."""
    if proto.unknown_rank:
        return None
    return tuple((d.size if d.size >= 0 else (d.name or None)) for d in proto.dim)


def element_count(shape: Shape | None) -> int | None:
    if shape is None:
        return None
    n = 1
    for d in shape:
        if not isinstance(d, int):
            return None
        n *= d
    return n


def tensor_from_proto(proto: Any, name: str, path: Path, format: str) -> Tensor:
    """A netray Tensor whose loader decodes ``proto`` on request."""
    dtype = dtype_name(proto.dtype)
    shape = shape_of(proto.tensor_shape)
    storage = STORAGE.get(dtype)
    count = element_count(shape)
    if proto.tensor_content:
        byte_size: int | None = len(proto.tensor_content)
    elif storage is not None and count is not None:
        byte_size = count * np.dtype(storage[0]).itemsize
    else:
        byte_size = None
    location = f"{path.name}: TensorProto of {name}"

    def load() -> np.ndarray:
        return decode(proto, dtype, shape, path, format, name)

    return Tensor(name, dtype, shape, loader=load, byte_size=byte_size, location=location)


def decode(proto: Any, dtype: str, shape: Shape | None, path: Path, format: str, name: str) -> np.ndarray:
    """TensorProto -> array, following TensorFlow's rules for short value lists."""
    count = element_count(shape)
    if count is None or shape is None:
        raise FormatError(path, format, f"tensor {name!r} has no complete shape")
    dims = tuple(int(d) for d in shape if isinstance(d, int))
    if dtype == "string":
        values = list(proto.string_val)
        if len(values) not in (count, 1) and count:
            raise FormatError(path, format, f"tensor {name!r} holds {len(values)} strings for {count} elements")
        if count > MAX_FILL_BYTES // 8:
            raise FormatError(path, format, f"tensor {name!r} claims {count} strings")
        array = np.empty(count, dtype=object)
        array[:] = values if len(values) == count else (values * count)
        return array.reshape(dims)
    storage = STORAGE.get(dtype)
    if storage is None:
        raise FormatError(path, format, f"tensor {name!r} has dtype {dtype}, which netray cannot decode")
    np_dtype = np.dtype(storage[0])
    if proto.tensor_content:
        content = proto.tensor_content
        if len(content) != count * np_dtype.itemsize:
            raise FormatError(
                path,
                format,
                f"tensor {name!r} of shape {dims} needs {count * np_dtype.itemsize} bytes, holds {len(content)}",
            )
        return np.frombuffer(content, dtype=np_dtype).reshape(dims)
    listed = np.asarray(_listed_values(proto, storage[1]))
    if listed.size > count:
        raise FormatError(path, format, f"tensor {name!r} lists {listed.size} values for {count} elements")
    if count * np_dtype.itemsize > MAX_FILL_BYTES:
        raise FormatError(
            path, format, f"tensor {name!r} of shape {dims} would need {count * np_dtype.itemsize} bytes to expand"
        )
    array = np.zeros(count, dtype=np_dtype)
    if listed.size:
        if storage[1] == "half_val":
            listed = listed.astype(np.uint16).view(np_dtype) if dtype == "float16" else listed.astype(np.uint16)
        array[: listed.size] = listed.astype(np_dtype)
        array[listed.size :] = array[listed.size - 1]  # TensorFlow repeats the last value
    return array.reshape(dims)


def _listed_values(proto: Any, field: str) -> list[Any]:
    listed = list(getattr(proto, field))
    if field in ("scomplex_val", "dcomplex_val"):  # stored as (real, imag) pairs
        return [complex(r, i) for r, i in zip(listed[::2], listed[1::2], strict=False)]
    return listed
