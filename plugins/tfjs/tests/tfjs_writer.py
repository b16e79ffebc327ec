"""Writing TensorFlow.js artifacts in tests, as the tensorflowjs converter writes them.

The ``tensorflowjs`` package pulls all of TensorFlow, so its writing steps are followed
here from its source (tfjs-converter/python/tensorflowjs):

* ``write_weights.write_weights``: float64/int64 narrowed to float32/int32, float32
  weights optionally quantized (``quantization.quantize_weights``: uint8/uint16 over
  the nudged [min, max] range, or float16), every weight's bytes stacked (strings as a
  uint32 length and the bytes, per element) and cut into ``groupN-shardKofM.bin`` files
  of ``shard_size`` bytes; the manifest lists name, shape, dtype (the original one when
  quantized) and the quantization entry;
* ``keras_h5_conversion.h5_v3_merged_saved_model_to_tfjs_format``: a Keras 3 ``.keras``
  file's config.json (without module/registered_name/date_saved keys) as
  ``modelTopology.model_config``, its weights named by their paths in model.weights.h5
  (``layers/dense/vars/0``), and ``generatedBy`` "keras v<version>";
* ``tf_saved_model_conversion_v2.extract_weights``: a GraphDef's Const values moved to
  the manifest (named as the node) and cleared from the topology, which is written as
  ``MessageToDict(graph_def)``.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

CONVERTED_BY = "TensorFlow.js Converter v4.22.0"
CLEARED_TENSOR_FIELDS = (
    "tensor_content",
    "half_val",
    "float_val",
    "double_val",
    "int_val",
    "string_val",
    "scomplex_val",
    "int64_val",
    "bool_val",
    "resource_handle_val",
    "variant_val",
    "uint32_val",
    "uint64_val",
)


def affine_range(min_val: float, max_val: float, dtype: Any) -> tuple[float, float, float]:
    """quantization._get_affine_quantization_range: zero exactly representable when in range."""
    quant_max = np.iinfo(dtype).max
    scale = (max_val - min_val) / quant_max
    if min_val <= 0 <= max_val:
        nudged_zero_point = np.round((0 - min_val) / scale)
        nudged_min = -nudged_zero_point * scale
        return scale, nudged_min, quant_max * scale + nudged_min
    return scale, min_val, max_val


def quantize(data: np.ndarray, dtype: str) -> tuple[np.ndarray, dict[str, Any]]:
    """quantization.quantize_weights."""
    if dtype == "float16":
        return data.astype(np.float16), {}
    np_dtype = np.dtype(dtype)
    min_val, max_val = float(data.min()), float(data.max())
    if min_val == max_val:
        return np.zeros_like(data, dtype=np_dtype), {"min": min_val, "scale": 1.0}
    scale, min_val, max_val = affine_range(min_val, max_val, np_dtype)
    quantized = np.round((data.clip(min_val, max_val) - min_val) / scale).astype(np_dtype)
    return quantized, {"min": float(min_val), "scale": float(scale)}


def serialize(data: np.ndarray) -> bytes:
    if data.dtype != object:
        return data.tobytes()
    out = bytearray()
    for item in data.ravel().tolist():
        encoded = item if isinstance(item, bytes) else str(item).encode("utf-8")
        out += np.array(len(encoded), "<u4").tobytes() + encoded
    return bytes(out)


def write_weights(
    groups: list[list[tuple[str, np.ndarray]]],
    folder: Path,
    shard_size: int = 4 * 1024 * 1024,
    quantization: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """write_weights.write_weights; ``quantization`` maps weight names to uint8/uint16/float16."""
    manifest = []
    for index, group in enumerate(groups):
        entries = []
        blob = bytearray()
        for name, data in group:
            data = np.asarray(data)
            if data.dtype == np.float64:
                data = data.astype(np.float32)
            elif data.dtype == np.int64:
                data = data.astype(np.int32)
            entry: dict[str, Any] = {"name": name, "shape": list(data.shape), "dtype": data.dtype.name}
            if data.dtype == object:
                entry["dtype"] = "string"
            target = (quantization or {}).get(name)
            if target and data.dtype == np.float32:
                stored, info = quantize(data, target)
                entry["quantization"] = {"dtype": stored.dtype.name, **info, "original_dtype": "float32"}
                data = stored
            entries.append(entry)
            blob += serialize(data)
        count = max(1, math.ceil(len(blob) / shard_size)) if blob else 0
        paths = []
        for i in range(count):
            name = f"group{index + 1}-shard{i + 1}of{count}.bin"
            (folder / name).write_bytes(bytes(blob[i * shard_size : (i + 1) * shard_size]))
            paths.append(name)
        manifest.append({"paths": paths, "weights": entries})
    return manifest


def _discard(value: Any, keys: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _discard(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_discard(v, keys) for v in value]
    return value


def keras3_weights(h5: h5py.File) -> list[tuple[str, np.ndarray]]:
    """_convert_v3_group_structure_to_weights: the datasets of each group that holds some, by path."""
    found: list[tuple[str, np.ndarray]] = []

    def walk(group: h5py.Group, indent: str) -> None:
        for key in group.keys():
            item = group[key]
            if isinstance(item, h5py.Group):
                walk(item, indent + key + "/")
            elif isinstance(item, h5py.Dataset):
                for k in group.keys():
                    if isinstance(group[k], h5py.Dataset):
                        found.append((indent + k, np.array(group[k])))
                break

    walk(h5, "")
    return found


def save_keras3_as_tfjs(
    model: Any,
    folder: Path,
    shard_size: int = 4 * 1024 * 1024,
    quantization: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """A Keras 3 model as tensorflowjs_converter --input_format=keras writes it; returns model.json."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder.parent / f"{folder.name}.keras"
    model.save(archive)
    with zipfile.ZipFile(archive) as z:
        config = json.loads(z.read("config.json"))
        meta = json.loads(z.read("metadata.json"))
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as h5:
            weights = keras3_weights(h5)
    topology = {
        "keras_version": meta["keras_version"],
        "model_config": _discard(config, ("module", "registered_name", "date_saved")),
    }
    quantize_map = {name: quantization for name, _ in weights} if quantization else None
    doc: dict[str, Any] = {
        "format": "layers-model",
        "generatedBy": f"keras v{meta['keras_version']}",
        "convertedBy": CONVERTED_BY,
    }
    if metadata:
        doc["userDefinedMetadata"] = metadata
    doc["modelTopology"] = topology
    doc["weightsManifest"] = write_weights([weights], folder, shard_size, quantize_map)
    path = folder / "model.json"
    path.write_text(json.dumps(doc))
    return path


def save_graph_as_tfjs(
    graph_def: Any,
    folder: Path,
    signature: dict[str, Any] | None = None,
    shard_size: int = 4 * 1024 * 1024,
    quantization: dict[str, str] | None = None,
    values: dict[str, np.ndarray] | None = None,
    initializer: Any = None,
) -> Path:
    """extract_weights + write_artifacts: Const values into the manifest, the GraphDef as JSON.

    ``values`` gives each Const's value as TensorFlow would evaluate it (its TensorProto
    holds the same values). An ``initializer`` GraphDef (the ops that fill lookup tables)
    is written as ``modelInitializer``, its constants into the same manifest.
    """
    from google.protobuf.json_format import MessageToDict

    folder.mkdir(parents=True, exist_ok=True)
    manifest_group = []
    for graph in (graph_def, initializer):
        for node in graph.node if graph is not None else ():
            if node.op != "Const":
                continue
            manifest_group.append((node.name, (values or {})[node.name]))
            for field in CLEARED_TENSOR_FIELDS:
                node.attr["value"].tensor.ClearField(field)
    doc: dict[str, Any] = {"format": "graph-model", "generatedBy": "2.15.0", "convertedBy": CONVERTED_BY}
    if signature:
        doc["signature"] = signature
    doc["modelTopology"] = MessageToDict(graph_def)
    if initializer is not None:
        doc["modelInitializer"] = MessageToDict(initializer)
    doc["weightsManifest"] = write_weights([manifest_group], folder, shard_size, quantization)
    path = folder / "model.json"
    path.write_text(json.dumps(doc))
    return path
