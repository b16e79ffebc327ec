"""The TensorFlow protobuf messages: from ``tensorboard`` (a dependency), else from ``tensorflow``.

tensorboard ships the GraphDef, MetaGraphDef, FunctionDef and TensorProto messages
compiled (``tensorboard.compat.proto``) but not ``SavedModel``. That wrapper is two
fields (``int64 saved_model_schema_version = 1; repeated MetaGraphDef meta_graphs = 2``),
so it is declared here against the same descriptor pool.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

try:  # tensorboard's copies import in milliseconds; importing tensorflow loads all of TensorFlow
    from tensorboard.compat.proto import graph_pb2, meta_graph_pb2, tensor_pb2, types_pb2

    SOURCE = "tensorboard"
    _HAVE_SAVED_MODEL = False
except ImportError:
    from tensorflow.core.framework import graph_pb2, tensor_pb2, types_pb2  # type: ignore[import-not-found,no-redef]
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


SavedModel: Any = _declare_saved_model()
GraphDef: Any = graph_pb2.GraphDef
MetaGraphDef: Any = meta_graph_pb2.MetaGraphDef
TensorProto: Any = tensor_pb2.TensorProto
DataType: Any = types_pb2.DataType

__all__ = ["SOURCE", "DataType", "GraphDef", "MetaGraphDef", "SavedModel", "TensorProto"]
