"""Read a Keras model file into a netray Model, without importing Keras.

- ``.keras`` (Keras 3): a zip with config.json, metadata.json, model.weights.h5.
- ``.h5``/``.hdf5`` (Keras 2 ``model.save``): root attributes ``model_config``
  (JSON), ``keras_version``, ``backend``, ``training_config`` and the
  ``model_weights`` group.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from netray import FormatError, Graph, Model
from netray.errors import first_line
from netray_keras.archive import (
    FORMAT,
    HDF5_MAGIC,
    WEIGHTS_MEMBER,
    ZIP_MAGIC,
    read_json_member,
    stored_member_offset,
)
from netray_keras.builder import ConfigError, GraphBuilder
from netray_keras.h5probe import H5Source, read_index
from netray_keras.shapes import infer_shapes
from netray_keras.weights import WeightStore


def read_keras(path: str | Path) -> Model:
    """Read a .keras archive or a Keras 2 HDF5 model file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            hdf5 = head == HDF5_MAGIC or hdf5_after_user_block(f)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        if head.startswith(ZIP_MAGIC):
            return read_archive(path)
        if hdf5:
            return read_hdf5(path)
    except ConfigError as exc:
        raise FormatError(path, FORMAT, f"unexpected model config: {first_line(exc, named=False)}") from exc
    except RecursionError as exc:
        raise FormatError(path, FORMAT, "the model config nests too deeply") from exc
    raise FormatError(path, FORMAT, "neither a .keras zip archive nor an HDF5 file")


def hdf5_after_user_block(f: BinaryIO) -> bool:
    """The HDF5 signature at 512, 1024, 2048 ... (after a user block), as the HDF5 library looks for it."""
    offset = 512
    while offset < 1 << 20:
        f.seek(offset)
        found = f.read(8)
        if len(found) < 8:
            return False
        if found == HDF5_MAGIC:
            return True
        offset *= 2
    return False


# -- Keras 3 .keras ------------------------------------------------------------------------
def read_archive(path: Path) -> Model:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise FormatError(path, FORMAT, f"not a readable zip archive: {first_line(exc, named=False)}") from exc
    with archive:
        config = read_json_member(archive, "config.json", path)
        names = set(archive.namelist())
        metadata = read_json_member(archive, "metadata.json", path) if "metadata.json" in names else {}
        weights_info = archive.getinfo(WEIGHTS_MEMBER) if WEIGHTS_MEMBER in names else None
    if not isinstance(config, dict):
        raise FormatError(path, FORMAT, "config.json does not hold a model object")
    store = None
    if weights_info is not None:
        store = archive_weights(path, weights_info)
    model = build(path, config, store)
    if isinstance(metadata, dict):
        version = metadata.get("keras_version")
        if isinstance(version, str):
            model.format_version = version
            model.producer, model.producer_version = "Keras", version
        for key, value in metadata.items():
            model.metadata[str(key)] = str(value)
    model.properties["container"] = ".keras archive (config.json + model.weights.h5)"
    compile_config = config.get("compile_config")
    if isinstance(compile_config, dict):
        add_training(model, compile_config)
    return model


def archive_weights(path: Path, info: zipfile.ZipInfo) -> WeightStore:
    """Index model.weights.h5 inside the archive, in place when it is stored uncompressed."""
    try:
        offset = stored_member_offset(path, info)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read {WEIGHTS_MEMBER}: {first_line(exc, named=False)}") from exc
    if offset is not None:
        if offset + info.file_size > path.stat().st_size:
            raise FormatError(path, FORMAT, f"{WEIGHTS_MEMBER} runs past the end of the archive (truncated)")
        source = H5Source(path, window=(offset, info.file_size))
    else:
        source = H5Source(path, member=info.filename)  # compressed: h5py reads through the decompressing stream
    store = WeightStore(path, source, base_offset=offset)
    store.fill(read_index(source, "keras3"))
    return store


# -- Keras 2 HDF5 --------------------------------------------------------------------------
def read_hdf5(path: Path) -> Model:
    source = H5Source(path)
    index = read_index(source, "keras2")
    attrs = index.attributes
    if "model_config" not in attrs:
        weights_only = "layer_names" in index.root_attribute_names or "model_weights" in index.root_members
        what = "weights only (save_weights)" if weights_only else "no Keras model"
        raise FormatError(path, FORMAT, f"the HDF5 file has no model_config attribute: {what}")
    store = WeightStore(path, source, base_offset=0)
    store.fill(index)
    config = parse_json_attribute(path, attrs["model_config"], "model_config")
    if not isinstance(config, dict):
        raise FormatError(path, FORMAT, "model_config does not hold a model object")
    model = build(path, config, store)
    version = attrs.get("keras_version", "")
    model.format_version = version
    model.producer, model.producer_version = "Keras", version
    if "backend" in attrs:
        model.properties["backend"] = attrs["backend"]
    model.properties["container"] = "HDF5 (Keras 2 model.save)"
    if "training_config" in attrs:
        training = parse_json_attribute(path, attrs["training_config"], "training_config", required=False)
        if isinstance(training, dict):
            add_training(model, training)
    return model


def parse_json_attribute(path: Path, value: str, name: str, required: bool = True) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:
        if required:
            raise FormatError(path, FORMAT, f"{name} is not valid JSON: {first_line(exc, named=False)}") from exc
        return None


# -- shared --------------------------------------------------------------------------------
def build(path: Path, config: dict[str, Any], store: WeightStore | None) -> Model:
    """The Model for a top-level model config."""
    class_name = config.get("class_name")
    if not isinstance(class_name, str):
        raise FormatError(path, FORMAT, "the model config has no class_name")
    inner = config.get("config")
    name = (inner.get("name") if isinstance(inner, dict) else None) or class_name.lower()
    graph = Graph(str(name), kind="main")
    builder = GraphBuilder(graph, store)
    try:
        graph.outputs = builder.build_model(config, (), None)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise FormatError(path, FORMAT, f"unexpected model config structure ({type(exc).__name__}: {first_line(exc, named=False)})") from exc
    graph.link()
    infer_shapes(graph, builder.layers)
    model = Model(FORMAT, [graph])
    model.source = path
    model.properties["class"] = class_name
    top_level = top_level_layers(config)
    if top_level is not None:
        model.properties["layers"] = str(top_level)
    return model


def top_level_layers(config: dict[str, Any]) -> int | None:
    """Keras' ``len(model.layers)`` without InputLayers: nested models count as one layer."""
    inner = config.get("config")
    layers = inner if isinstance(inner, list) else inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list):
        return None
    return sum(1 for layer in layers if isinstance(layer, dict) and layer.get("class_name") != "InputLayer")


def add_training(model: Model, training: dict[str, Any]) -> None:
    """Loss and optimizer from a training/compile config, as model properties."""
    loss = training.get("loss")
    if loss is not None:
        model.properties["loss"] = loss if isinstance(loss, str) else json.dumps(loss)[:200]
    optimizer = training.get("optimizer_config") or training.get("optimizer")
    if isinstance(optimizer, dict):
        model.properties["optimizer"] = str(optimizer.get("class_name", "?"))
    elif isinstance(optimizer, str):
        model.properties["optimizer"] = optimizer
