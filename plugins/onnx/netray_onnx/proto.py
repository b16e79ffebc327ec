"""ONNX's protobuf messages, built without the onnx package.

The classes come from the serialized FileDescriptorProto in ``generated_proto.py``
(written by ``plugins/onnx/tools/generate_tables.py``), added to a private
``DescriptorPool``: never protobuf's default pool, where ``import onnx`` registers
the same names, so a user's own onnx never conflicts with these. Building them takes
under a millisecond; ``import onnx`` takes ~40.

The reader also gets onnx's own classes (an in-memory ``onnx.ModelProto``, the text
syntax): it reads fields by name only, and both have the same fields.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pool, message_factory

from netray_onnx.generated_proto import FILE_DESCRIPTOR

_POOL = descriptor_pool.DescriptorPool()
_POOL.AddSerializedFile(FILE_DESCRIPTOR)


def _message(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"onnx.{name}"))


ModelProto = _message("ModelProto")
_AttributeProto = _message("AttributeProto")
_TensorProto = _message("TensorProto")


class AttributeType:
    """``onnx.AttributeProto.AttributeType`` numbers (the descriptor's, not copied by hand)."""

    UNDEFINED: int = _AttributeProto.UNDEFINED
    FLOAT: int = _AttributeProto.FLOAT
    INT: int = _AttributeProto.INT
    STRING: int = _AttributeProto.STRING
    TENSOR: int = _AttributeProto.TENSOR
    GRAPH: int = _AttributeProto.GRAPH
    SPARSE_TENSOR: int = _AttributeProto.SPARSE_TENSOR
    TYPE_PROTO: int = _AttributeProto.TYPE_PROTO
    FLOATS: int = _AttributeProto.FLOATS
    INTS: int = _AttributeProto.INTS
    STRINGS: int = _AttributeProto.STRINGS
    TENSORS: int = _AttributeProto.TENSORS
    GRAPHS: int = _AttributeProto.GRAPHS
    SPARSE_TENSORS: int = _AttributeProto.SPARSE_TENSORS
    TYPE_PROTOS: int = _AttributeProto.TYPE_PROTOS


# TensorProto.DataLocation: the tensor's bytes are in another file.
TENSOR_EXTERNAL: int = _TensorProto.EXTERNAL
