"""Caffe's protobuf messages, built from the committed descriptor in a private pool.

``generated_proto.py`` holds caffe.proto compiled to a serialized FileDescriptorProto
(``tools/generate_proto.py``). The classes are built in a ``DescriptorPool`` of our own,
never protobuf's default pool, so a user's own ``caffe_pb2`` never conflicts with them.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pool, message_factory

from netray_caffe.generated_proto import FILE_DESCRIPTOR

_POOL = descriptor_pool.DescriptorPool()
_POOL.AddSerializedFile(FILE_DESCRIPTOR)


def _message(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"caffe.{name}"))


NetParameter = _message("NetParameter")
LayerParameter = _message("LayerParameter")
V1LayerParameter = _message("V1LayerParameter")
V0LayerParameter = _message("V0LayerParameter")
BlobProto = _message("BlobProto")
BlobShape = _message("BlobShape")

# Field numbers the binary reader walks with its own wire-format pass (caffe.proto's, via the descriptor).
NET_LAYER: int = NetParameter.DESCRIPTOR.fields_by_name["layer"].number
NET_LAYERS: int = NetParameter.DESCRIPTOR.fields_by_name["layers"].number
LAYER_BLOBS: int = LayerParameter.DESCRIPTOR.fields_by_name["blobs"].number
V1_BLOBS: int = V1LayerParameter.DESCRIPTOR.fields_by_name["blobs"].number
V1_V0_LAYER: int = V1LayerParameter.DESCRIPTOR.fields_by_name["layer"].number
V0_BLOBS: int = V0LayerParameter.DESCRIPTOR.fields_by_name["blobs"].number
BLOB_FIELDS: dict[str, int] = {f.name: f.number for f in BlobProto.DESCRIPTOR.fields}
NET_FIELDS: dict[int, str] = {f.number: f.name for f in NetParameter.DESCRIPTOR.fields}
