"""Layers models: the Keras config in model.json, drawn by the Keras plugin's graph builder.

``modelTopology`` is either the model config itself (``{"class_name", "config",
"keras_version", "backend"}``, as tfjs-layers saves) or wraps it (``{"model_config",
"training_config", "keras_version", "backend"}``, as the converter writes from a Keras
file). Weights are matched to layers by name:

* Keras 2 and tfjs-layers name them ``<layer>/<variable>`` (``dense/kernel``,
  ``bidirectional/forward_lstm/lstm_cell/kernel``), nested models sometimes with the
  model's name first (``model_1/dense/kernel``);
* Keras 3 conversions name them by their path in ``model.weights.h5``
  (``layers/dense/vars/0``), where layers go by class name (``dense_1``), not by name.

Weights no layer claims stay in ``Model.tensors``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from netray import FormatError, Graph, Model, Tensor
from netray_keras.builder import ConfigError, GraphBuilder
from netray_keras.layers import weight_names
from netray_keras.reader import add_training, top_level_layers
from netray_tfjs.formats import LAYERS
from netray_tfjs.manifest import Weights

TensorFactory = Any  # value name -> Tensor, as the Keras builder calls it


class ManifestLayerWeights:
    """The Keras builder's view of the manifest: each layer's weights, each weight given once."""

    def __init__(self, tensors: dict[str, Tensor]) -> None:
        self.tensors = tensors
        self.used: set[str] = set()
        self.keras3 = any(name.startswith("layers/") for name in tensors)
        # Names by their first path part (Keras 3: first two), so each layer looks at its own few only.
        self.order = {name: k for k, name in enumerate(tensors)}
        self.by_head: dict[str, list[str]] = {}
        for name in tensors:
            self.by_head.setdefault(self._head(name), []).append(name)

    def _head(self, name: str) -> str:
        parts = name.split("/", 2)
        return "/".join(parts[:2]) if self.keras3 and parts[0] == "layers" else parts[0]

    def layer_tensors(
        self, scope: tuple[str, ...], layer: str, saved: tuple[str, ...], class_name: str, config: dict[str, Any]
    ) -> list[tuple[str, TensorFactory]]:
        if self.keras3 and saved:
            prefixes = ["layers/" + "/layers/".join(saved) + "/"]
        else:
            prefixes = ["/".join((*scope, layer)) + "/", f"{layer}/"]
        candidates = {n for p in prefixes for n in self.by_head.get(self._head(p), ())}
        owned: dict[str, str] = {}  # weight name -> its short name below the layer, in manifest order
        for name in sorted(candidates, key=self.order.__getitem__):
            if name in self.used:
                continue
            prefix = next((p for p in prefixes if name.startswith(p) and not _nested(name, p)), None)
            if prefix is not None:
                owned[name] = name[len(prefix) :]
        if not owned:
            return []
        found = list(owned)
        self.used.update(found)
        if self.keras3:  # vars/10 after vars/2, as Keras numbered them
            found.sort(key=lambda n: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", n)])
        shorts = [owned[name] for name in found]
        names = weight_names(class_name, config)
        if self.keras3 and len(names) == len(found) and all(s.startswith("vars/") for s in shorts):
            shorts = list(names)  # Keras 3 numbers a layer's variables: name them from the class table
        return [(short, self._factory(name)) for short, name in zip(shorts, found, strict=True)]

    def _factory(self, name: str) -> TensorFactory:
        tensor = self.tensors[name]
        return lambda _value_name: tensor

    def unused(self) -> dict[str, Tensor]:
        return {name: t for name, t in self.tensors.items() if name not in self.used}


def _nested(name: str, prefix: str) -> bool:
    """Keras 3: ``layers/model/layers/dense/vars/0`` belongs to the inner layer, not to ``layers/model/``."""
    return "/layers/" in name[len(prefix) - 1 :]


def model_config(path: Path, topology: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(model config, the topology's other keys); None for a manifest without topology."""
    if topology is None:
        return None, {}
    if not isinstance(topology, dict):
        raise FormatError(path, LAYERS, "modelTopology is not a Keras model config")
    if isinstance(topology.get("model_config"), dict):
        return topology["model_config"], topology
    if isinstance(topology.get("class_name"), str):
        return topology, topology
    raise FormatError(path, LAYERS, "modelTopology holds neither model_config nor a class_name")


def build_layers_model(path: Path, doc: dict[str, Any], weights: Weights) -> Model:
    config, topology = model_config(path, doc.get("modelTopology"))
    store = ManifestLayerWeights(weights.tensors())
    model = Model(LAYERS)
    if config is None:  # weights only: "If topology is falsy, only emit weights"
        model.tensors = store.unused()
        model.properties["topology"] = "none: the model.json holds weights only"
        return model
    class_name = config.get("class_name")
    if not isinstance(class_name, str):
        raise FormatError(path, LAYERS, "the model config has no class_name")
    inner = config.get("config")
    name = (inner.get("name") if isinstance(inner, dict) else None) or class_name.lower()
    graph = Graph(str(name), kind="main")
    try:
        graph.outputs = GraphBuilder(graph, store).build_model(config, (), None)
    except (ConfigError, KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError) as exc:
        raise FormatError(path, LAYERS, f"unexpected model config structure ({type(exc).__name__}: {exc})") from exc
    graph.link()
    model.graphs = [graph]
    model.tensors = store.unused()
    model.properties["class"] = class_name
    layers = top_level_layers(config)
    if layers is not None:
        model.properties["layers"] = layers
    for key, label in (("keras_version", "keras version"), ("backend", "backend")):
        if isinstance(topology.get(key), str):
            model.properties[label] = topology[key]
    training = topology.get("training_config") or doc.get("trainingConfig")
    if isinstance(training, dict):
        add_training(model, training)
    if model.tensors:
        model.properties["weights not on a layer"] = len(model.tensors)
    return model
