"""Measure how long opening large Core ML models takes and how much memory it needs.

    .venv/bin/python plugins/coreml/tools/measure_open.py [--gigabytes 1.0] [--folder /tmp/coreml_measure]

Writes two synthetic models of about the given size, then opens each in a fresh process with
``netray.load_model`` and reports the wall time and the process's peak resident memory (``VmHWM``
of ``/proc/self/status``) beside the same process's memory after importing netray alone:

* an ML Program package whose constants live in ``weights/weight.bin`` (written by the blob
  layout of coremltools' ``MILBlob/Blob/StorageFormat.hpp``): opening reads only the 64-byte
  metadata of each blob, so memory stays at the size of the structure;
* a NeuralNetwork ``.mlmodel`` of inner-product layers with float16 weights: the weights are
  inside the protobuf, which is parsed whole (protobuf has no lazy fields), so opening holds them.

Nothing here is a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

MEASURE = """
import json, sys, time
import netray

def high_water_mb():  # VmHWM: this process's peak resident memory (ru_maxrss survives exec on Linux)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024

before = high_water_mb()
started = time.perf_counter()
model = netray.load_model(sys.argv[1])
took = time.perf_counter() - started
peak = high_water_mb()
print(json.dumps({"seconds": round(took, 3), "peak_mb_before": before, "peak_mb_after": peak,
                  "nodes": sum(len(g.nodes) for g in model.all_graphs()), "parameters": model.parameter_count()}))
"""


def _dtype_number(name: str) -> int:
    from netray_coreml import proto

    field = proto.message("MILSpec.TensorType").DESCRIPTOR.fields_by_name["dataType"]
    return int(field.enum_type.values_by_name[name].number)


def _tensor_type(target: object, shape: tuple[int, ...], dtype: str = "FLOAT16") -> None:
    tensor = target.tensorType  # type: ignore[attr-defined]
    tensor.dataType = _dtype_number(dtype)
    tensor.rank = len(shape)
    for size in shape:
        tensor.dimensions.add().constant.size = size


def write_program(folder: Path, layers: int, width: int) -> Path:
    from netray_coreml import proto

    package = folder / "large_program.mlpackage"
    data = package / "Data" / "com.apple.CoreML"
    (data / "weights").mkdir(parents=True, exist_ok=True)
    model = proto.Model(specificationVersion=7)
    feature = model.description.input.add(name="x")
    feature.type.multiArrayType.shape.extend([1, width])
    feature.type.multiArrayType.dataType = feature.type.multiArrayType.FLOAT16
    function = model.mlProgram.functions["main"]
    model.mlProgram.version = 1
    function.opset = "CoreML7"
    _tensor_type(function.inputs.add(name="x").type, (1, width))
    block = function.block_specializations["CoreML7"]
    size = width * width * 2
    with open(data / "weights" / "weight.bin", "wb") as f:
        f.write(struct.pack("<II", layers, 2) + bytes(56))
        chunk = np.random.default_rng(0).standard_normal(width * width).astype(np.float16).tobytes()
        previous = "x"
        for k in range(layers):
            offset = f.tell()
            f.write(struct.pack("<IIQQQ", 0xDEADBEEF, 1, size, offset + 64, 0) + bytes(32))
            f.write(chunk)
            f.write(bytes(-f.tell() % 64))
            const = block.operations.add(type="const")
            _tensor_type(const.outputs.add(name=f"w{k}").type, (width, width))
            value = const.attributes["val"]
            _tensor_type(value.type, (width, width))
            value.blobFileValue.fileName = "@model_path/weights/weight.bin"
            value.blobFileValue.offset = offset
            op = block.operations.add(type="linear")
            op.inputs["x"].arguments.add(name=previous)
            op.inputs["weight"].arguments.add(name=f"w{k}")
            _tensor_type(op.outputs.add(name=f"h{k}").type, (1, width))
            previous = f"h{k}"
    block.outputs.append(previous)
    output = model.description.output.add(name=previous)
    output.type.multiArrayType.dataType = output.type.multiArrayType.FLOAT16
    (data / "model.mlmodel").write_bytes(model.SerializeToString())
    manifest = {
        "fileFormatVersion": "1.0.0",
        "itemInfoEntries": {"m": {"name": "model.mlmodel", "path": "com.apple.CoreML/model.mlmodel"}},
        "rootModelIdentifier": "m",
    }
    (package / "Manifest.json").write_text(json.dumps(manifest))
    return package


def write_network(folder: Path, layers: int, width: int) -> Path:
    from netray_coreml import proto

    model = proto.Model(specificationVersion=1)
    feature = model.description.input.add(name="x")
    feature.type.multiArrayType.shape.append(width)
    feature.type.multiArrayType.dataType = feature.type.multiArrayType.FLOAT32
    chunk = np.random.default_rng(0).standard_normal(width * width).astype(np.float16).tobytes()
    previous = "x"
    for k in range(layers):
        layer = model.neuralNetwork.layers.add(name=f"dense{k}")
        layer.input.append(previous)
        previous = f"h{k}"
        layer.output.append(previous)
        layer.innerProduct.inputChannels = width
        layer.innerProduct.outputChannels = width
        layer.innerProduct.weights.float16Value = chunk
    model.description.output.add(name=previous).type.multiArrayType.shape.append(width)
    path = folder / "large_network.mlmodel"
    path.write_bytes(model.SerializeToString())
    return path


def measure(path: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of each synthetic model")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/coreml_measure"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    width = 2048
    layers = max(1, int(args.gigabytes * 2**30 // (width * width * 2)))
    for path in (write_program(args.folder, layers, width), write_network(args.folder, min(layers, 250), width)):
        size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
        print(f"{path.name}: {size / 2**20:,.0f} MiB on disk ->", json.dumps(measure(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
