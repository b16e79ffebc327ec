"""Core ML feature descriptions (a model's inputs and outputs) as netray types.

``FeatureType`` is a oneof: ``multiArrayType`` (shape, dtype, flexible shapes), ``imageType``
(width, height, colour space), ``int64Type``, ``doubleType``, ``stringType``, ``dictionaryType``,
``sequenceType`` and ``stateType``. Images are shown as ``uint8[C x H x W]`` (float16 for
``GRAYSCALE_FLOAT16``) with the colour space in the type's denotation.
"""

from __future__ import annotations

from typing import Any

from netray import Graph, Metadata, TensorType, Value

ARRAY_DTYPES = {"FLOAT32": "float32", "DOUBLE": "float64", "INT32": "int32", "INT8": "int8", "FLOAT16": "float16"}
_CHANNELS = {"GRAYSCALE": 1, "RGB": 3, "BGR": 3, "GRAYSCALE_FLOAT16": 1}


def _enum_name(message: Any, field: str) -> str:
    value = getattr(message, field)
    enum = message.DESCRIPTOR.fields_by_name[field].enum_type
    item = enum.values_by_number.get(value)
    return item.name if item is not None else str(value)


def _range(size_range: Any) -> str:
    upper = size_range.upperBound
    return f"{size_range.lowerBound}..{upper if upper >= 0 else ''}"


def _array(array: Any) -> tuple[TensorType, Metadata]:
    facts: Metadata = {}
    shape: tuple[int | str | None, ...] | None = tuple(int(d) for d in array.shape) if len(array.shape) else None
    flexibility = array.WhichOneof("ShapeFlexibility")
    if flexibility == "shapeRange":
        ranges = list(array.shapeRange.sizeRanges)
        facts["shape range"] = [_range(r) for r in ranges]
        # A dimension whose range is one size is that size; the others are named by their range.
        shape = tuple(int(r.lowerBound) if r.upperBound == r.lowerBound else _range(r) for r in ranges) or shape
    elif flexibility == "enumeratedShapes":
        facts["enumerated shapes"] = ["x".join(str(d) for d in s.shape) for s in array.enumeratedShapes.shapes]
    default = array.WhichOneof("defaultOptionalValue")
    if default:
        facts["default value"] = getattr(array, default)
    dtype = ARRAY_DTYPES.get(_enum_name(array, "dataType"))
    return TensorType(dtype, shape), facts


def _image(image: Any) -> tuple[TensorType, Metadata]:
    space = _enum_name(image, "colorSpace")
    facts: Metadata = {"width": int(image.width), "height": int(image.height), "color space": space}
    height: int | str = int(image.height)
    width: int | str = int(image.width)
    flexibility = image.WhichOneof("SizeFlexibility")
    if flexibility == "imageSizeRange":
        size_range = image.imageSizeRange
        height, width = _range(size_range.heightRange), _range(size_range.widthRange)
        facts["size range"] = f"{width} x {height}"
    elif flexibility == "enumeratedSizes":
        facts["enumerated sizes"] = [f"{s.width}x{s.height}" for s in image.enumeratedSizes.sizes]
    dtype = "float16" if space == "GRAYSCALE_FLOAT16" else "uint8"
    channels = _CHANNELS.get(space)
    return TensorType(dtype, (channels, height, width), denotation=f"image {space}"), facts


def feature_type(feature_type: Any) -> tuple[TensorType, Metadata]:
    """The netray type of a ``FeatureType`` and the facts a type cannot hold (ranges, defaults)."""
    kind = feature_type.WhichOneof("Type")
    facts: Metadata = {}
    if kind == "multiArrayType":
        result, facts = _array(feature_type.multiArrayType)
    elif kind == "imageType":
        result, facts = _image(feature_type.imageType)
    elif kind == "int64Type":
        result = TensorType("int64", ())
    elif kind == "doubleType":
        result = TensorType("float64", ())
    elif kind == "stringType":
        result = TensorType("string", ())
    elif kind == "dictionaryType":
        key = "int64" if feature_type.dictionaryType.WhichOneof("KeyType") == "int64KeyType" else "string"
        result = TensorType(None, None, denotation=f"dictionary<{key}, double>")
    elif kind == "sequenceType":
        sequence = feature_type.sequenceType
        element = "int64" if sequence.WhichOneof("Type") == "int64Type" else "string"
        length = _range(sequence.sizeRange) if sequence.HasField("sizeRange") else None
        result = TensorType(element, (length,), denotation=f"sequence<{element}>")
    elif kind == "stateType":
        inner, facts = _array(feature_type.stateType.arrayType)
        result = TensorType(inner.dtype, inner.shape, denotation="state")
    else:
        result = TensorType()
    if feature_type.isOptional:
        facts["optional"] = True
    facts["feature type"] = kind or "unset"
    return result, facts


def feature_text(feature_type_message: Any) -> str:
    """A one-line rendering of a feature's type, for properties and attributes."""
    tensor_type, _facts = feature_type(feature_type_message)
    if tensor_type.denotation and tensor_type.denotation.startswith(("dictionary", "sequence")):
        return tensor_type.denotation
    text = str(tensor_type)
    if tensor_type.denotation:
        text += f" ({tensor_type.denotation})"
    return text


def feature_value(graph: Graph, feature: Any) -> Value:
    """The graph value of a ``FeatureDescription``, typed, with its description and facts."""
    tensor_type, facts = feature_type(feature.type)
    value = graph.value(feature.name, tensor_type)
    value.type = tensor_type
    if feature.shortDescription:
        value.description = feature.shortDescription
    value.metadata.update(facts)
    return value
