"""The TensorFlow protobuf messages: from ``tensorboard`` (a dependency), else from ``tensorflow``.

tensorboard ships the GraphDef, MetaGraphDef, FunctionDef and TensorProto messages
compiled (``tensorboard.compat.proto``) but not ``SavedModel`` nor ``FingerprintDef``.
Both are small, so they are declared here against the same descriptor pool:
``SavedModel`` is ``int64 saved_model_schema_version = 1; repeated MetaGraphDef meta_graphs = 2``;
``FingerprintDef`` (tensorflow/core/protobuf/fingerprint.proto) is five ``uint64`` hashes
(saved_model_checksum 1, graph_def_program_hash 2, signature_def_hash 3,
saved_object_graph_hash 4, checkpoint_hash 5), ``VersionDef version = 6`` and
``string uuid = 7``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

try:  # tensorboard's copies import in milliseconds; importing tensorflow loads all of TensorFlow
    from tensorboard.compat.proto import graph_pb2, meta_graph_pb2, tensor_pb2, types_pb2, versions_pb2

    SOURCE = "tensorboard"
    _HAVE_SAVED_MODEL = False
except ImportError:
    from tensorflow.core.framework import (  # type: ignore[import-not-found,no-redef]
        graph_pb2,
        tensor_pb2,
        types_pb2,
        versions_pb2,
    )
    from tensorflow.core.protobuf import meta_graph_pb2  # type: ignore[import-not-found,no-redef]

    SOURCE = "tensorflow"
    _HAVE_SAVED_MODEL = True


def _declare_saved_model() -> Any:
    """The SavedModel message: TensorFlow's own, or declared next to tensorboard's MetaGraphDef."""
    if _HAVE_SAVED_MODEL:
        from tensorflow.core.protobuf import saved_model_pb2  # type: ignore[import-not-found]

        return saved_model_pb2.SavedModel
    pool = descriptor_pool.Default()
    package = meta_graph_pb2.DESCRIPTOR.package
    full_name = f"{package}.SavedModel"
    try:
        descriptor = pool.FindMessageTypeByName(full_name)
    except KeyError:
        fdp = descriptor_pb2.FileDescriptorProto(
            name="netray_tensorflow/saved_model.proto",
            package=package,
            syntax="proto3",
            dependency=[meta_graph_pb2.DESCRIPTOR.name],
        )
        msg = fdp.message_type.add(name="SavedModel")
        msg.field.add(
            name="saved_model_schema_version",
            number=1,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
        msg.field.add(
            name="meta_graphs",
            number=2,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
            type_name=f".{package}.MetaGraphDef",
        )
        pool.Add(fdp)
        descriptor = pool.FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(descriptor)


FINGERPRINT_FIELDS = (
    "saved_model_checksum",
    "graph_def_program_hash",
    "signature_def_hash",
    "saved_object_graph_hash",
    "checkpoint_hash",
)


def _declare_fingerprint() -> Any:
    """The FingerprintDef message: TensorFlow's own, or declared next to tensorboard's VersionDef."""
    if _HAVE_SAVED_MODEL:
        from tensorflow.core.protobuf import fingerprint_pb2  # type: ignore[import-not-found]

        return fingerprint_pb2.FingerprintDef
    pool = descriptor_pool.Default()
    package = versions_pb2.DESCRIPTOR.package
    full_name = f"{package}.FingerprintDef"
    try:
        descriptor = pool.FindMessageTypeByName(full_name)
    except KeyError:
        fdp = descriptor_pb2.FileDescriptorProto(
            name="netray_tensorflow/fingerprint.proto",
            package=package,
            syntax="proto3",
            dependency=[versions_pb2.DESCRIPTOR.name],
        )
        msg = fdp.message_type.add(name="FingerprintDef")
        optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
        for number, name in enumerate(FINGERPRINT_FIELDS, start=1):
            msg.field.add(
                name=name, number=number, type=descriptor_pb2.FieldDescriptorProto.TYPE_UINT64, label=optional
            )
        msg.field.add(
            name="version",
            number=6,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            label=optional,
            type_name=f".{package}.VersionDef",
        )
        msg.field.add(name="uuid", number=7, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=optional)
        pool.Add(fdp)
        descriptor = pool.FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(descriptor)


SavedModel: Any = _declare_saved_model()
FingerprintDef: Any = _declare_fingerprint()
GraphDef: Any = graph_pb2.GraphDef
MetaGraphDef: Any = meta_graph_pb2.MetaGraphDef
TensorProto: Any = tensor_pb2.TensorProto
DataType: Any = types_pb2.DataType

__all__ = [
    "FINGERPRINT_FIELDS",
    "SOURCE",
    "DataType",
    "FingerprintDef",
    "GraphDef",
    "MetaGraphDef",
    "SavedModel",
    "TensorProto",
]
