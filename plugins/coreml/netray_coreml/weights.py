"""NeuralNetwork ``WeightParams`` as lazy netray tensors.

A ``WeightParams`` stores its values in one of ``floatValue`` (float32), ``float16Value``
(little-endian half floats), ``rawValue`` (unsigned integers of ``quantization.numberOfBits``
bits, packed, most significant bit first) or ``int8RawValue`` (int8 with one linear scale).
``quantization`` says how the integers stand for reals: linear (``w = q * scale + bias``, per
output channel or one for all) or a look-up table of ``2**bits`` floats.

The bytes are inside the protobuf, already in memory once the model is parsed; the loader turns
them into an array only when asked. Shapes come from the layer (weights.py's caller passes the
shape its parameters imply); where the stored count disagrees, the tensor is 1-D.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from netray import Quantization, Tensor, dtypes, file_slice_loader
from netray_coreml.bits import as_dtype, define_dtypes, uint_dtype, unpack
from netray_coreml.lazy import Slice, markers

define_dtypes()


def _product(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _float_values(weights: Any) -> np.ndarray:
    """``floatValue`` as float32 without iterating in Python: its packed bytes lead the serialization."""
    count = len(weights.floatValue)
    data = weights.SerializeToString(deterministic=True)
    if data[:1] == b"\x0a":  # field 1, length-delimited (packed): read the varint length
        length, shift, pos = 0, 0, 1
        while pos < len(data) and pos < 11:
            byte = data[pos]
            length |= (byte & 0x7F) << shift
            pos += 1
            shift += 7
            if byte < 0x80:
                break
        if length == 4 * count and pos + length <= len(data):
            return np.frombuffer(data, dtype="<f4", count=count, offset=pos).astype(np.float32)
    return np.array(weights.floatValue, dtype=np.float32)


def _quantization(weights: Any) -> tuple[int, Quantization | None]:
    """The integer width and how the integers map to reals."""
    if not weights.HasField("quantization"):
        return 8, None
    params = weights.quantization
    bits = int(params.numberOfBits) or 8
    kind = params.WhichOneof("QuantizationType")
    if kind == "linearQuantization":
        linear = params.linearQuantization
        scale = [float(s) for s in linear.scale]
        details: dict[str, Any] = {"formula": "w = q * scale + bias"}
        if len(linear.bias):
            details["bias"] = [float(b) for b in linear.bias]
        return bits, Quantization(scale=scale, axis=0 if len(scale) > 1 else None, scheme="linear", details=details)
    if kind == "lookupTableQuantization":
        table = [float(v) for v in params.lookupTableQuantization.floatValue]
        return bits, Quantization(scheme="lut", details={"lookup table": table, "formula": "w = table[q]"})
    return bits, None


def _shape_for(count: int, shapes: Sequence[Sequence[int]]) -> tuple[int, ...]:
    for shape in shapes:
        if shape and all(int(d) > 0 for d in shape) and _product(shape) == count:
            return tuple(int(d) for d in shape)
    return (count,)


@dataclass(frozen=True)
class WeightSource:
    """The model file, and where lazy.py found the weight bytes it left out of the parse."""

    path: Path
    format: str
    slices: Sequence[Slice]


# Whole-byte storage of the weight fields: netray dtype, numpy storage, bytes per value.
_STORAGE = {
    "floatValue": ("float32", "<f4", 4),
    "float16Value": ("float16", "<f2", 2),
    "int8RawValue": ("int8", "i1", 1),
}


def weight_tensor(
    name: str, weights: Any, shapes: Sequence[Sequence[int]], location: str, source: WeightSource | None = None
) -> Tensor | None:
    """The tensor of one ``WeightParams``, or None when it stores no values.

    ``shapes`` are the shapes the layer implies, best first; the first whose element count
    matches the stored values is used. With a ``source``, weights whose bytes lazy.py left in
    the file are read from there when asked; others come from the parsed message.
    """
    metadata: dict[str, Any] = {"updatable": True} if weights.isUpdatable else {}
    if source is not None and source.slices:
        for field, index in markers(weights).items():
            if 0 <= index < len(source.slices):
                return _file_tensor(name, weights, field, source.slices[index], shapes, source, metadata)
    # The set fields, each read once: reading a bytes field copies it.
    present = {field.name: value for field, value in weights.ListFields()}
    if "floatValue" in present:
        count = len(present["floatValue"])
        shape = _shape_for(count, shapes)
        return Tensor(
            name,
            "float32",
            shape,
            lambda: _float_values(weights).reshape(shape),
            4 * count,
            location,
            metadata=metadata,
        )
    for field in ("float16Value", "int8RawValue"):
        if field in present:
            data = present[field]
            dtype, storage, itemsize = _STORAGE[field]
            quantization = _quantization(weights)[1] if field == "int8RawValue" else None
            if len(data) % itemsize:
                note = f" ({len(data)} bytes is no whole number of {dtype} values)"
                return Tensor(name, dtype, None, None, len(data), location + note, metadata=metadata)
            shape = _shape_for(len(data) // itemsize, shapes)
            return Tensor(
                name, dtype, shape, _bytes_loader(data, storage, dtype, shape), len(data), location,
                metadata=metadata, quantization=quantization,
            )  # fmt: skip
    if "rawValue" in present:
        data = present["rawValue"]
        bits, quantization = _quantization(weights)
        return _packed(
            name, bits, len(data), shapes, location, metadata, quantization, lambda: np.frombuffer(data, np.uint8)
        )
    return None


def _bytes_loader(data: bytes, storage: str, dtype: str, shape: tuple[int, ...]) -> Callable[[], np.ndarray]:
    return lambda: np.frombuffer(data, dtype=storage).astype(dtype).reshape(shape)


def _file_tensor(
    name: str,
    weights: Any,
    field: str,
    where: Slice,
    shapes: Sequence[Sequence[int]],
    source: WeightSource,
    metadata: dict[str, Any],
) -> Tensor:
    """A weight whose bytes stayed in the file: a loader of that slice (bounds-checked when read)."""
    location = f"{source.path.name} @ {where.offset}, {where.length:,} bytes"
    if field == "rawValue":
        bits, quantization = _quantization(weights)
        raw = file_slice_loader(source.path, where.offset, where.length, "u1", (where.length,), source.format)
        return _packed(name, bits, where.length, shapes, location, metadata, quantization, raw)
    dtype, storage, itemsize = _STORAGE[field]
    quantization = _quantization(weights)[1] if field == "int8RawValue" else None
    if where.length % itemsize:
        note = f" ({where.length} bytes is no whole number of {dtype} values)"
        return Tensor(name, dtype, None, None, where.length, location + note, metadata=metadata)
    shape = _shape_for(where.length // itemsize, shapes)
    slice_loader = file_slice_loader(source.path, where.offset, where.length, storage, shape, source.format)
    return Tensor(
        name, dtype, shape, lambda: slice_loader().astype(dtype, copy=False), where.length, location,
        metadata=metadata, quantization=quantization,
    )  # fmt: skip


def _packed(
    name: str,
    bits: int,
    length: int,
    shapes: Sequence[Sequence[int]],
    location: str,
    metadata: dict[str, Any],
    quantization: Quantization | None,
    raw: Callable[[], np.ndarray],
) -> Tensor:
    """``rawValue``: ``bits``-bit unsigned integers packed most significant bit first."""
    if not 1 <= bits <= 8:
        metadata["numberOfBits"] = bits
        note = f" ({bits}-bit values are not readable)"
        return Tensor(name, None, (length,), None, length, location + note, metadata=metadata)
    dtype = uint_dtype(bits)
    count = length * 8 // bits
    shape: tuple[int, ...] = (count,)
    for candidate in shapes:  # packed: a shape fits when its values fill the bytes, padding < 1 byte
        if candidate and all(int(d) > 0 for d in candidate) and dtypes.byte_size(dtype, _product(candidate)) == length:
            shape = tuple(int(d) for d in candidate)
            break
    elements = _product(shape)

    def load() -> np.ndarray:
        return as_dtype(unpack(raw(), bits, elements, lsb_first=False), dtype).reshape(shape)

    return Tensor(
        name,
        dtype,
        shape,
        load,
        dtypes.byte_size(dtype, elements),
        location,
        metadata=metadata,
        quantization=quantization,
    )
