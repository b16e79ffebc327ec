"""Core ML's protobuf messages, built without coremltools.

The classes come from the serialized FileDescriptorSet in ``generated_proto.py`` (written by
``plugins/coreml/tools/generate_descriptor.py`` from coremltools' own ``mlmodel/format/*.proto``),
added to a private ``DescriptorPool``: never protobuf's default pool, where ``import coremltools``
registers the same names, so a user's own coremltools never conflicts with these.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from netray_coreml.generated_proto import COREMLTOOLS_COMMIT, COREMLTOOLS_VERSION, DESCRIPTOR_SET

__all__ = ["COREMLTOOLS_COMMIT", "COREMLTOOLS_VERSION", "Model", "message"]


def _pool() -> descriptor_pool.DescriptorPool:
    files = descriptor_pb2.FileDescriptorSet.FromString(zlib.decompress(base64.b64decode("".join(DESCRIPTOR_SET))))
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    pending = {f.name: f for f in files.file}

    def add(name: str) -> None:  # dependencies first, as the pool requires
        if name in added:
            return
        added.add(name)
        proto = pending[name]
        for dependency in proto.dependency:
            add(dependency)
        pool.Add(proto)

    for name in pending:
        add(name)
    return pool


_POOL = _pool()


def message(full_name: str) -> Any:
    """The message class ``CoreML.Specification.<full_name>`` (``"MILSpec.Program"`` for MIL's)."""
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"CoreML.Specification.{full_name}"))


Model = message("Model")
