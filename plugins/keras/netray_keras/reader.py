"""Read a Keras model file into a netray Model, without importing Keras.

- ``.keras`` (Keras 3): a zip with config.json, metadata.json, model.weights.h5.
- ``.h5``/``.hdf5`` (Keras 2 ``model.save``): root attributes ``model_config``
  (JSON), ``keras_version``, ``backend``, ``training_config`` and the
  ``model_weights`` group.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py

from netray import FormatError, Graph, Model
from netray.fileslice import FileSlice
from netray_keras.archive import (
    FORMAT,
    HDF5_MAGIC,
    WEIGHTS_MEMBER,
    ZIP_MAGIC,
    read_json_member,
    stored_member_offset,
)
from netray_keras.builder import ConfigError, GraphBuilder
from netray_keras.weights import WeightStore, index_keras2, index_keras3


def read_keras(path: str | Path) -> Model:
    """Read a .keras archive or a Keras 2 HDF5 model file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        if head.startswith(ZIP_MAGIC):
            return read_archive(path)
        if head == HDF5_MAGIC or h5py.is_hdf5(str(path)):
            return read_hdf5(path)
    except ConfigError as exc:
        raise FormatError(path, FORMAT, f"unexpected model config: {exc}") from exc
    except RecursionError as exc:
        raise FormatError(path, FORMAT, "the model config nests too deeply") from exc
    raise FormatError(path, FORMAT, "neither a .keras zip archive nor an HDF5 file")


# -- Keras 3 .keras ------------------------------------------------------------------------
def read_archive(path: Path) -> Model:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise FormatError(path, FORMAT, f"not a readable zip archive: {exc}") from exc
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
    offset = stored_member_offset(path, info)
    if offset is not None:
        size = info.file_size

        @contextmanager
        def open_window() -> Iterator[h5py.File]:
            window = FileSlice(path, offset, size)
            try:
                with h5py.File(window, "r") as f:
                    yield f
            finally:
                window.close()

        store = WeightStore(path, open_window, base_offset=offset)
    else:

        @contextmanager
        def open_member() -> Iterator[h5py.File]:
            # Compressed member: h5py reads through the decompressing stream on demand.
            with zipfile.ZipFile(path) as archive, archive.open(info) as member, h5py.File(member, "r") as f:
                yield f

        store = WeightStore(path, open_member, base_offset=None)
    try:
        with store.open_h5() as f:
            index_keras3(store, f)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise FormatError(path, FORMAT, f"cannot read {WEIGHTS_MEMBER}: {exc}") from exc
    return store


# -- Keras 2 HDF5 --------------------------------------------------------------------------
def read_hdf5(path: Path) -> Model:
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: f.attrs[k] for k in ("model_config", "keras_version", "backend", "training_config") if k in f.attrs}
            if "model_config" not in attrs:
                what = "weights only (save_weights)" if "layer_names" in f.attrs or "model_weights" in f else "no Keras model"
                raise FormatError(path, FORMAT, f"the HDF5 file has no model_config attribute: {what}")
            store = WeightStore(path, lambda: h5py.File(path, "r"), base_offset=0)
            index_keras2(store, f)
    except FormatError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FormatError(path, FORMAT, f"cannot read the HDF5 file: {exc}") from exc
    config = parse_json_attribute(path, attrs["model_config"], "model_config")
    if not isinstance(config, dict):
        raise FormatError(path, FORMAT, "model_config does not hold a model object")
    model = build(path, config, store)
    version = text(attrs.get("keras_version"))
    model.format_version = version
    model.producer, model.producer_version = "Keras", version
    if attrs.get("backend") is not None:
        model.properties["backend"] = text(attrs["backend"])
    model.properties["container"] = "HDF5 (Keras 2 model.save)"
    if "training_config" in attrs:
        training = parse_json_attribute(path, attrs["training_config"], "training_config", required=False)
        if isinstance(training, dict):
            add_training(model, training)
    return model


def text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else "" if value is None else str(value)


def parse_json_attribute(path: Path, value: Any, name: str, required: bool = True) -> Any:
    try:
        return json.loads(text(value))
    except (ValueError, RecursionError) as exc:
        if required:
            raise FormatError(path, FORMAT, f"{name} is not valid JSON: {exc}") from exc
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
    try:
        graph.outputs = GraphBuilder(graph, store).build_model(config, (), None)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise FormatError(path, FORMAT, f"unexpected model config structure ({type(exc).__name__}: {exc})") from exc
    graph.link()
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
