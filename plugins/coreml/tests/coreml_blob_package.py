"""An ML Program package written piece by piece: coremltools' blob writer for weight.bin, our
protobuf classes for the program. It holds one const of every blob data type, so the blob reader
is checked on types no converter writes into a small model (uint1, uint3, uint6, int16, uint32 ...).

bfloat16 and float8 have no writer in ``libmilstoragepython``: they are appended by the layout of
``MILBlob/Blob/StorageFormat.hpp`` (64-byte metadata with sentinel 0xDEADBEEF, type, size, offset).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from netray_coreml import proto

# MIL DataType name, blob writer method (None: written by layout with this BlobDataType code), values.
SHAPE = (3, 5)


def blob_values() -> dict[str, tuple[str, str | int, np.ndarray]]:
    rng = np.random.default_rng(3)
    n = int(np.prod(SHAPE))
    return {
        "f32": ("FLOAT32", "write_float_data", rng.standard_normal(n).astype(np.float32)),
        "f16": ("FLOAT16", "write_fp16_data", rng.standard_normal(n).astype(np.float16)),
        "i8": ("INT8", "write_int8_data", rng.integers(-128, 128, n).astype(np.int8)),
        "u8": ("UINT8", "write_uint8_data", rng.integers(0, 256, n).astype(np.uint8)),
        "i16": ("INT16", "write_int16_data", rng.integers(-(2**15), 2**15, n).astype(np.int16)),
        "u16": ("UINT16", "write_uint16_data", rng.integers(0, 2**16, n).astype(np.uint16)),
        "i32": ("INT32", "write_int32_data", rng.integers(-(2**31), 2**31, n).astype(np.int32)),
        "u32": ("UINT32", "write_uint32_data", rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)),
        "i4": ("INT4", "write_int4_data", rng.integers(-8, 8, n).astype(np.int8)),
        "u4": ("UINT4", "write_uint4_data", rng.integers(0, 16, n).astype(np.uint8)),
        "u3": ("UINT3", "write_uint3_data", rng.integers(0, 8, n).astype(np.uint8)),
        "u6": ("UINT6", "write_uint6_data", rng.integers(0, 64, n).astype(np.uint8)),
        "u2": ("UINT2", "write_uint2_data", rng.integers(0, 4, n).astype(np.uint8)),
        "u1": ("UINT1", "write_uint1_data", rng.integers(0, 2, n).astype(np.uint8)),
        "bf16": ("BFLOAT16", 5, rng.integers(0, 2**16, n).astype(np.uint16)),  # raw bit patterns
        "fp8": ("FLOAT8E4M3FN", 16, rng.integers(0, 256, n).astype(np.uint8)),
    }


def _append_by_layout(path: Path, code: int, data: bytes) -> int:
    """Appends one blob (metadata + data, 64-byte aligned) and bumps the header's count; returns its metadata offset."""
    blob = bytearray(path.read_bytes())
    blob += bytes(-len(blob) % 64)
    offset = len(blob)
    blob += struct.pack("<IIQQQ", 0xDEADBEEF, code, len(data), offset + 64, 0) + bytes(32)
    blob += data
    count = struct.unpack_from("<I", blob, 0)[0]
    struct.pack_into("<I", blob, 0, count + 1)
    path.write_bytes(bytes(blob))
    return offset


def _tensor_type(target: Any, dtype: str, shape: tuple[int, ...]) -> None:
    tensor = target.tensorType
    tensor.dataType = (
        proto.message("MILSpec.TensorType").DESCRIPTOR.fields_by_name["dataType"].enum_type.values_by_name[dtype].number
    )
    tensor.rank = len(shape)
    for size in shape:
        tensor.dimensions.add().constant.size = size


def write_package(folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """The package and, per const name, the values written."""
    from coremltools import libmilstoragepython

    package = folder / "all_types.mlpackage"
    data = package / "Data" / "com.apple.CoreML"
    (data / "weights").mkdir(parents=True)
    weight_file = data / "weights" / "weight.bin"
    writer = libmilstoragepython._BlobStorageWriter(str(weight_file), True)
    offsets: dict[str, int] = {}
    later = []
    values = blob_values()
    for name, (_, method, array) in values.items():
        if isinstance(method, str):  # the fp16 writer takes the raw 16-bit patterns
            offsets[name] = getattr(writer, method)(array.view(np.uint16) if array.dtype == np.float16 else array)
        else:
            later.append((name, method, array))
    del writer  # flushes and closes the file
    for name, code, array in later:
        offsets[name] = _append_by_layout(weight_file, code, array.tobytes())

    model = proto.Model(specificationVersion=9)
    feature = model.description.input.add(name="x")
    feature.type.multiArrayType.shape.extend(SHAPE)
    feature.type.multiArrayType.dataType = feature.type.multiArrayType.FLOAT32
    output = model.description.output.add(name="y")
    output.type.multiArrayType.dataType = output.type.multiArrayType.FLOAT32
    program = model.mlProgram
    program.version = 1
    function = program.functions["main"]
    function.opset = "CoreML8"
    _tensor_type(function.inputs.add(name="x").type, "FLOAT32", SHAPE)
    block = function.block_specializations["CoreML8"]
    consumer = proto.message("MILSpec.Operation")(type="identity_n")
    for name, (mil_type, _, _) in values.items():
        const = block.operations.add(type="const")
        _tensor_type(const.outputs.add(name=name).type, mil_type, SHAPE)
        value = const.attributes["val"]
        _tensor_type(value.type, mil_type, SHAPE)
        value.blobFileValue.fileName = "@model_path/weights/weight.bin"
        value.blobFileValue.offset = offsets[name]
        consumer.inputs[name].arguments.add(name=name)
    consumer.inputs["x"].arguments.add(name="x")
    _tensor_type(consumer.outputs.add(name="y").type, "FLOAT32", SHAPE)
    block.operations.append(consumer)
    block.outputs.append("y")
    (data / "model.mlmodel").write_bytes(model.SerializeToString())
    manifest = {
        "fileFormatVersion": "1.0.0",
        "itemInfoEntries": {
            "A": {"author": "com.apple.CoreML", "name": "model.mlmodel", "path": "com.apple.CoreML/model.mlmodel"},
            "B": {"author": "com.apple.CoreML", "name": "weights", "path": "com.apple.CoreML/weights"},
        },
        "rootModelIdentifier": "A",
    }
    (package / "Manifest.json").write_text(json.dumps(manifest))
    return package, {name: array for name, (_, _, array) in values.items()}
