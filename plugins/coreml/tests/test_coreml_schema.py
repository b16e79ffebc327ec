"""The committed schema (generated_proto.py) and the plugin's hooks that need no model file."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest

import netray
import netray_coreml.plugin as plugin
from netray_coreml import generated_proto, proto


def test_descriptor_set_is_intact() -> None:
    data = zlib.decompress(base64.b64decode("".join(generated_proto.DESCRIPTOR_SET)))
    assert hashlib.sha256(data).hexdigest() == generated_proto.DESCRIPTOR_SET_SHA256
    assert len(generated_proto.COREMLTOOLS_COMMIT) == 40


def test_schema_covers_installed_coremltools() -> None:
    """Every message and field of the installed coremltools' schema exists in ours with the same number and type."""
    pytest.importorskip("coremltools", reason="coremltools (test-only dependency) has the schema to compare")
    from coremltools.proto import Model_pb2

    def walk(theirs: object, ours: object, seen: set[str]) -> int:
        if theirs.full_name in seen:  # type: ignore[attr-defined]
            return 0
        seen.add(theirs.full_name)  # type: ignore[attr-defined]
        checked = 0
        for field in theirs.fields:  # type: ignore[attr-defined]
            mine = ours.fields_by_number.get(field.number)  # type: ignore[attr-defined]
            assert mine is not None, f"{theirs.full_name}.{field.name} is missing"  # type: ignore[attr-defined]
            assert (mine.name, mine.type) == (field.name, field.type), f"{theirs.full_name}.{field.name} differs"  # type: ignore[attr-defined]
            checked += 1
            if field.message_type is not None:
                checked += walk(field.message_type, mine.message_type, seen)
        return checked

    assert walk(Model_pb2.Model.DESCRIPTOR, proto.Model.DESCRIPTOR, set()) > 1000


def test_private_pool_does_not_clash_with_coremltools() -> None:
    """Our classes live in a private pool: coremltools' own (default pool) classes load beside them."""
    pytest.importorskip("coremltools", reason="coremltools (test-only dependency) registers the same names")
    from coremltools.proto import Model_pb2

    ours = proto.Model(specificationVersion=7)
    theirs = Model_pb2.Model.FromString(ours.SerializeToString())
    assert theirs.specificationVersion == 7 and type(theirs) is not type(ours)


def test_operator_info() -> None:
    info = plugin.netray_operator_info(format="Core ML", domain="NeuralNetwork", op="convolution")
    assert info is not None and info.category == netray.Category.LAYER and "convolution" in info.summary
    mil = plugin.netray_operator_info(format="Core ML package", domain="MIL", op="constexpr_lut_to_dense")
    assert mil is not None and mil.category == netray.Category.QUANTIZATION
    assert plugin.netray_operator_info(format="ONNX", domain="", op="Conv") is None
