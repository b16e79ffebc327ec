"""Builtin options of a TFLite operator -> typed attributes, read generically.

Each builtin operator carries a union table (``builtin_options`` or
``builtin_options_2``). The ``tflite`` package generates a class per table with
one getter per field; we call every getter, so new fields appear without code
changes. Enum-valued fields are shown by name (the table below says which enum).
Fields naming a subgraph (``*SubgraphIndex``) are returned separately so the
reader can attach the subgraph to the node.
"""

from __future__ import annotations

import inspect
import re
from functools import cache
from typing import Any

import flatbuffers
import tflite
from flatbuffers import flexbuffers

from netray import Attribute, AttrKind

# Getter name -> enum class whose member names describe the value.
ENUM_FIELDS: dict[str, str] = {
    "FusedActivationFunction": "ActivationFunctionType",
    "Padding": "Padding",
    "WeightsFormat": "FullyConnectedOptionsWeightsFormat",
    "KernelType": "LSTMKernelType",
    "Type": "LSHProjectionType",
    "Combiner": "CombinerType",
    "Mode": "MirrorPadMode",
    "QuantizedBiasType": "TensorType",
    "OutType": "TensorType",
    "OutputType": "TensorType",
    "IdxOutType": "TensorType",
    "KeyDtype": "TensorType",
    "ValueDtype": "TensorType",
    "InDataType": "TensorType",
    "OutDataType": "TensorType",
    "ReduceFunction": "ReduceWindowFunction",
    "ComparisonDirection": "StablehloComparisonDirection",
    "CompareType": "StablehloComparisonType",
    "Algorithm": "RngAlgorithm",
    "PrecisionConfig": "StablehloPrecisionConfig",
    "CompositeAttributesFormat": "CustomOptionsFormat",
}

# Getters whose value is raw bytes in flexbuffer encoding.
FLEXBUFFER_FIELDS = {"CompositeAttributes", "CustomAttributes"}

_SKIP_SUFFIXES = ("AsNumpy", "Length", "IsNone", "BufferHasIdentifier")


@cache
def snake_case(name: str) -> str:
    """``FusedActivationFunction`` -> ``fused_activation_function``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@cache
def enum_names(enum_class: str) -> dict[int, str]:
    """Value -> member name of a generated enum class of the ``tflite`` package."""
    cls = getattr(tflite, enum_class, None)
    if cls is None:
        return {}
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


@cache
def getters(options_class: type) -> tuple[tuple[str, bool], ...]:
    """(field getter name, is_vector) of a generated options class, in declaration order."""
    found = []
    for name, func in vars(options_class).items():
        if not callable(func) or not name[:1].isupper() or name.startswith(("GetRoot", "Init")):
            continue
        if name.endswith(_SKIP_SUFFIXES):
            continue
        params = list(inspect.signature(func).parameters)
        found.append((name, params == ["self", "j"]))
    return tuple(found)


def options_class(union_enum: str, type_code: int) -> type | None:
    """The generated table class for a union member (``BuiltinOptions`` or ``BuiltinOptions2``)."""
    name = enum_names(union_enum).get(type_code)
    if not name or name == "NONE":
        return None
    cls = getattr(tflite, name, None)
    return cls if isinstance(cls, type) else None


def decode_flexbuffer(data: bytes) -> Any:
    """Decode flexbuffer bytes to Python values; None when they are not a valid flexbuffer."""
    try:
        return flexbuffers.Loads(data)
    except Exception:  # arbitrary bytes: decoding is best effort, the raw size is shown instead
        return None


def attribute_from_value(name: str, value: Any) -> Attribute:
    """A typed Attribute for a plain Python value read from a flatbuffer or flexbuffer."""
    plain = Attribute.of(name, value)
    if plain is not None:
        return plain
    return Attribute(name, AttrKind.OTHER, value)


def read_options(table: flatbuffers.table.Table, cls: type, limit: int) -> tuple[list[Attribute], dict[str, int]]:
    """Attributes of an options table, and its subgraph references (field name -> index).

    ``limit`` bounds every vector's length (the file size), so a hostile length
    fails fast instead of looping.
    """
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    attributes: list[Attribute] = []
    subgraphs: dict[str, int] = {}
    for getter, is_vector in getters(cls):
        field = snake_case(getter)
        if is_vector:
            length = getattr(obj, getter + "Length")()
            if length > limit:
                raise ValueError(f"{cls.__name__}.{field} claims {length} elements, more than the file holds")
            as_numpy = getattr(obj, getter + "AsNumpy", None)
            if as_numpy is not None and length:
                values = as_numpy().tolist()  # one read for numeric vectors
            else:
                values = [getattr(obj, getter)(j) for j in range(length)]
            if getter in FLEXBUFFER_FIELDS:
                attributes.append(flexbuffer_attribute(field, bytes(values)))
                continue
            if getter in ENUM_FIELDS:
                names = enum_names(ENUM_FIELDS[getter])
                attributes.append(Attribute(field, AttrKind.STRINGS, [names.get(v, str(v)) for v in values]))
                continue
            attributes.append(attribute_from_value(field, [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]))
            continue
        value = getattr(obj, getter)()
        if getter.endswith("SubgraphIndex") or getter == "Subgraph":
            subgraphs[field] = int(value)
            continue
        if getter in ENUM_FIELDS and isinstance(value, int):
            names = enum_names(ENUM_FIELDS[getter])
            attributes.append(Attribute(field, AttrKind.STRING, names.get(value, str(value))))
            continue
        if value is None or isinstance(value, (bool, int, float, bytes, str)):
            if value is not None:
                attributes.append(attribute_from_value(field, value))
            continue
        # A nested table (rare): shown by its type name rather than recursing into hostile depth.
        attributes.append(Attribute(field, AttrKind.OTHER, type(value).__name__))
    return attributes, subgraphs


def flexbuffer_attribute(name: str, data: bytes) -> Attribute:
    """Flexbuffer-encoded bytes as an attribute: the decoded map when possible, else their size."""
    decoded = decode_flexbuffer(data) if data else None
    if isinstance(decoded, dict):
        return Attribute(name, AttrKind.OTHER, {str(k): _plain(v) for k, v in decoded.items()})
    if decoded is not None:
        return attribute_from_value(name, _plain(decoded))
    return Attribute(name, AttrKind.STRING, f"<{len(data)} bytes>")


def _plain(value: Any) -> Any:
    """Flexbuffer values as JSON-like Python values (bytes become text or a size)."""
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
