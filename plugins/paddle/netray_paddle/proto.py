"""Paddle's framework.proto messages, built from the committed descriptor in a private pool.

``generated_proto.py`` holds the FileDescriptorProto (``tools/generate_proto.py``); the
classes live in a ``DescriptorPool`` of our own, never protobuf's default pool, so a user's
own ``paddle`` (which registers the same names) never conflicts with them.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pool, message_factory

from netray_paddle.generated_proto import FILE_DESCRIPTOR

_POOL = descriptor_pool.DescriptorPool()
_POOL.AddSerializedFile(FILE_DESCRIPTOR)


def _message(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"paddle.framework.proto.{name}"))


ProgramDesc = _message("ProgramDesc")
VarType = _message("VarType")
TensorDesc = _message("VarType.TensorDesc")
OpDesc = _message("OpDesc")

ATTR_TYPES: dict[int, str] = {
    v.number: v.name for v in _POOL.FindEnumTypeByName("paddle.framework.proto.AttrType").values
}
VAR_TYPES: dict[int, str] = {v.number: v.name for v in VarType.DESCRIPTOR.enum_types_by_name["Type"].values}
