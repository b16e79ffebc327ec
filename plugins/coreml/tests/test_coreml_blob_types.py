"""Every MIL blob data type read from weight.bin, against the values coremltools' blob writer was given."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import netray
import netray.testing
import netray_coreml.plugin as plugin

pytest.importorskip("coremltools", reason="coremltools' blob writer (test-only dependency) writes weight.bin")

from coreml_blob_package import SHAPE, write_package

EXPECTED_DTYPES = {
    "f32": "float32", "f16": "float16", "i8": "int8", "u8": "uint8", "i16": "int16", "u16": "uint16",
    "i32": "int32", "u32": "uint32", "i4": "int4", "u4": "uint4", "u3": "uint3", "u6": "uint6", "u2": "uint2",
    "u1": "uint1", "bf16": "bfloat16", "fp8": "float8_e4m3fn",
}  # fmt: skip


def test_every_blob_type(tmp_path: Path) -> None:
    package, written = write_package(tmp_path)
    (model,) = netray.testing.check_plugin(plugin, [package], tmp_path / "check")
    (node,) = model.main.nodes
    weights = {p.name: p.values[0].initializer for p in node.inputs if p.values and p.values[0].initializer}
    assert set(weights) == set(written)
    for name, array in written.items():
        tensor = weights[name]
        assert tensor is not None
        assert (tensor.dtype, tensor.shape) == (EXPECTED_DTYPES[name], SHAPE), name
        got = tensor.numpy()
        assert got.shape == SHAPE
        if name == "bf16":
            np.testing.assert_array_equal(got.view(np.uint16).ravel(), array)
            assert got.dtype == ml_dtypes.bfloat16
        elif name == "fp8":
            np.testing.assert_array_equal(got.view(np.uint8).ravel(), array)
        else:
            np.testing.assert_array_equal(
                got.astype(np.int64 if array.dtype.kind in "iu" else np.float64).ravel(), array
            )
    # Packed sizes: 15 three-bit values take 6 bytes, 15 one-bit values 2.
    assert weights["u3"].byte_size == 6 and weights["u1"].byte_size == 2 and weights["i4"].byte_size == 8
