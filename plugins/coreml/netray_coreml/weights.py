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

from collections.abc import Sequence
from typing import Any

import numpy as np

from netray import Quantization, Tensor, dtypes
from netray_coreml.bits import as_dtype, define_dtypes, uint_dtype, unpack

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


def weight_tensor(name: str, weights: Any, shapes: Sequence[Sequence[int]], location: str) -> Tensor | None:
    """The tensor of one ``WeightParams``, or None when it stores no values.

    ``shapes`` are the shapes the layer implies, best first; the first whose element count
    matches the stored values is used.
    """
    metadata: dict[str, Any] = {"updatable": True} if weights.isUpdatable else {}
    if len(weights.floatValue):
        count = len(weights.floatValue)
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
    if len(weights.float16Value):
        data = weights.float16Value
        if len(data) % 2:
            return Tensor(
                name, "float16", None, None, len(data), location + " (odd float16 byte count)", metadata=metadata
            )
        shape = _shape_for(len(data) // 2, shapes)
        return Tensor(
            name,
            "float16",
            shape,
            lambda: np.frombuffer(data, dtype="<f2").astype(np.float16).reshape(shape),
            len(data),
            location,
            metadata=metadata,
        )
    if len(weights.int8RawValue):
        data = weights.int8RawValue
        _, quantization = _quantization(weights)
        shape = _shape_for(len(data), shapes)
        return Tensor(
            name,
            "int8",
            shape,
            lambda: np.frombuffer(data, dtype=np.int8).reshape(shape),
            len(data),
            location,
            metadata=metadata,
            quantization=quantization,
        )
    if len(weights.rawValue):
        return _raw_tensor(name, weights, shapes, location, metadata)
    return None


def _raw_tensor(
    name: str, weights: Any, shapes: Sequence[Sequence[int]], location: str, metadata: dict[str, Any]
) -> Tensor:
    data = weights.rawValue
    bits, quantization = _quantization(weights)
    if not 1 <= bits <= 8:
        metadata["numberOfBits"] = bits
        return Tensor(
            name,
            None,
            (len(data),),
            None,
            len(data),
            location + f" ({bits}-bit values are not readable)",
            metadata=metadata,
        )
    dtype = uint_dtype(bits)
    count = len(data) * 8 // bits
    shape: tuple[int, ...] = (count,)
    for candidate in shapes:  # packed: a shape fits when its values fill the bytes, padding < 1 byte
        if (
            candidate
            and all(int(d) > 0 for d in candidate)
            and dtypes.byte_size(dtype, _product(candidate)) == len(data)
        ):
            shape = tuple(int(d) for d in candidate)
            break
    elements = _product(shape)

    def load() -> np.ndarray:
        raw = np.frombuffer(data, dtype=np.uint8)
        return as_dtype(unpack(raw, bits, elements, lsb_first=False), dtype).reshape(shape)

    size = dtypes.byte_size(dtype, elements)
    return Tensor(name, dtype, shape, load, size, location, metadata=metadata, quantization=quantization)
