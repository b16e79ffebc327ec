"""An in-memory ``keras.Model`` -> netray Model, for ``netray.load_model(model)``.

The caller already imported Keras and built the model, so nothing new runs
here: the graph comes from the model's own JSON config (the same structure a
``.keras`` file holds) and the weights from its variables, read on request.
This module never imports Keras; it recognises Keras objects by their class's
module.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from netray import FormatError, Graph, Model, Tensor
from netray_keras.archive import FORMAT
from netray_keras.builder import ConfigError, GraphBuilder
from netray_keras.reader import top_level_layers
from netray_keras.shapes import infer_shapes
from netray_keras.weights import TensorFactory


def is_keras_model(obj: Any) -> bool:
    """A Keras (or tf.keras) model object, including user subclasses of one."""
    return any(c.__module__.startswith(("keras", "tf_keras")) and c.__name__ in ("Model", "Functional", "Sequential") for c in type(obj).__mro__)


class ObjectWeights:
    """Weights of a live model's layers, by their nested scope and name."""

    def __init__(self, model: Any) -> None:
        self.layers: dict[tuple[str, ...], Any] = {}
        self._collect(model, ())

    def _collect(self, model: Any, scope: tuple[str, ...]) -> None:
        for layer in getattr(model, "layers", []):
            self.layers[(*scope, layer.name)] = layer
            if is_keras_model(layer):
                self._collect(layer, (*scope, layer.name))

    def layer_tensors(
        self, scope: tuple[str, ...], layer: str, saved: tuple[str, ...], class_name: str, config: dict[str, Any]
    ) -> list[tuple[str, TensorFactory]]:
        obj = self.layers.get((*scope, layer))
        if obj is None:
            return []
        found: list[tuple[str, TensorFactory]] = []
        for variable in getattr(obj, "weights", []):
            short = str(getattr(variable, "name", "weight")).split("/")[-1].removesuffix(":0")
            found.append((short, lambda value_name, v=variable: variable_tensor(v, value_name)))  # type: ignore[misc]
        return found


def variable_tensor(variable: Any, name: str) -> Tensor:
    """A Tensor reading a Keras variable's current value when asked."""
    shape = tuple(int(d) for d in variable.shape)
    dtype = str(getattr(variable, "dtype", "") or "") or None

    def load() -> np.ndarray:
        value = variable.numpy() if hasattr(variable, "numpy") else variable
        return np.asarray(value)

    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    itemsize = np.dtype(dtype).itemsize if dtype and dtype in np.sctypeDict else None
    return Tensor(name, dtype, shape, loader=load, byte_size=size * itemsize if itemsize else None, location="in memory")


def model_from_object(obj: Any) -> Model | None:
    """The netray Model of a Keras model object; None for other objects."""
    if not is_keras_model(obj):
        return None
    label = f"<{type(obj).__name__} {getattr(obj, 'name', '')}>"
    try:
        config = json.loads(obj.to_json())
    except Exception as exc:  # a subclassed model whose get_config is not implemented
        raise FormatError(label, FORMAT, f"the model has no serialisable config ({type(exc).__name__}: {exc})") from exc
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner if isinstance(inner, list) else inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list):
        raise FormatError(label, FORMAT, "a subclassed model has no layer graph in its config; save a Functional or Sequential model")
    graph = Graph(str(getattr(obj, "name", "") or config.get("class_name", "model")), kind="main")
    builder = GraphBuilder(graph, ObjectWeights(obj))
    try:
        graph.outputs = builder.build_model(config, (), None)
    except (ConfigError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise FormatError(label, FORMAT, f"unexpected model config ({type(exc).__name__}: {exc})") from exc
    graph.link()
    infer_shapes(graph, builder.layers)
    model = Model(FORMAT, [graph])
    version = _keras_version(obj)
    model.format_version = version
    model.producer, model.producer_version = "Keras", version
    model.properties["class"] = str(config.get("class_name", type(obj).__name__))
    model.properties["container"] = "in-memory keras.Model"
    count = top_level_layers(config)
    if count is not None:
        model.properties["layers"] = str(count)
    return model


def _keras_version(obj: Any) -> str:
    module = sys.modules.get(type(obj).__module__.split(".")[0])
    return str(getattr(module, "__version__", ""))
