"""A saved Keras model config (JSON) -> one netray Graph.

Choices, so the picture matches Keras' own model summary:
- One node per layer, InputLayers excepted (they become graph inputs). A shared
  layer called several times is still one node: each call adds an input port
  (``call1`` ...) and output port (``output@1`` ...), so edges show every use.
- A nested model (a Functional or Sequential inside another) does not become a
  node: its layers are placed in the same graph under ``Node.scope`` =
  (model name, ...), which the hierarchy shows as a collapsible group. Its calls
  beyond the first reuse the first call's outputs.
- Layer classes are never imported: a class from outside Keras (``module`` not
  ``keras...``) or unknown to the table is a ``custom`` node showing its config.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, NamedTuple

from netray import Category, Graph, Node, Port, TensorType, Value
from netray_keras.attributes import config_attributes, value_attribute
from netray_keras.layers import LAYERS, MODEL_CLASSES, is_keras_module
from netray_keras.weights import LayerWeights


class Ref(NamedTuple):
    """A tensor in a Keras config: output ``tensor`` of call ``node`` of ``layer``."""

    layer: str
    node: int
    tensor: int


class ConfigError(ValueError):
    """The config does not have the structure of a saved Keras model."""


def tensor_type(shape: Any, dtype: Any) -> TensorType:
    """A TensorType from a Keras shape list (leading None is the batch) and dtype name."""
    dims: tuple[int | str | None, ...] | None = None
    if isinstance(shape, (list, tuple)):
        dims = tuple(
            ("batch" if i == 0 else None) if d is None else (int(d) if isinstance(d, int) else None) for i, d in enumerate(shape)
        )
    if isinstance(dtype, dict):  # a DTypePolicy object
        dtype = (dtype.get("config") or {}).get("name")
    return TensorType(dtype if isinstance(dtype, str) else None, dims)


def _ref_from_list(item: Any) -> Ref | None:
    if isinstance(item, (list, tuple)) and len(item) >= 3 and isinstance(item[0], str):
        node, tensor = item[1], item[2]
        if isinstance(node, int) and isinstance(tensor, int):
            return Ref(item[0], node, tensor)
    return None


def parse_refs(value: Any) -> list[Ref]:
    """``input_layers``/``output_layers``: ``[name, n, t]`` or a list (or dict) of those."""
    single = _ref_from_list(value)
    if single is not None:
        return [single]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    refs = []
    for item in items:
        refs.extend(parse_refs(item))
    return refs


def call_tensors(call: Any) -> tuple[list[tuple[Ref, TensorType | None]], dict[str, Any]]:
    """The tensors one call of a layer consumed, and its non-tensor keyword arguments.

    Keras 3 writes ``{"args": [...], "kwargs": {...}}`` holding ``__keras_tensor__``
    objects (with shape and dtype); Keras 2 writes ``[[name, node, tensor, kwargs], ...]``.
    """
    found: list[tuple[Ref, TensorType | None]] = []
    kwargs: dict[str, Any] = {}

    def walk(value: Any, depth: int) -> None:
        if depth > 64:
            raise ConfigError("call arguments nest too deeply")
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                config = value.get("config") or {}
                ref = _ref_from_list(config.get("keras_history"))
                if ref is not None:
                    found.append((ref, tensor_type(config.get("shape"), config.get("dtype"))))
                return
            for v in value.values():
                walk(v, depth + 1)
        elif isinstance(value, list):
            for v in value:
                walk(v, depth + 1)

    if isinstance(call, dict):
        walk(call.get("args", []), 0)
        for key, v in (call.get("kwargs") or {}).items():
            before = len(found)
            walk(v, 0)
            if len(found) == before:
                kwargs[key] = v
    elif isinstance(call, list):
        for item in call:
            ref = _ref_from_list(item)
            if ref is not None:
                found.append((ref, None))
                if len(item) > 3 and isinstance(item[3], dict):
                    kwargs.update({k: v for k, v in item[3].items() if not isinstance(v, (list, dict))})
            else:
                walk(item, 0)
    return found, kwargs


def nested_call_offset(referenced: set[int], calls: int) -> int:
    """The node index of a nested model's first outer call, from the indices its consumers use.

    Keras 2 files refer to the calls as 1..n (node 0 is the model's own creation); Keras 3
    files as 0..n-1.
    """
    return 1 if referenced and 0 not in referenced and max(referenced) <= max(calls, 1) else 0


def snake_case(class_name: str) -> str:
    """Keras' own ``to_snake_case``: ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def saved_keys(layers: list[dict[str, Any]], include_inputs: bool) -> dict[int, str]:
    """The names Keras 3 gives layers in the weights file: class name in snake case, numbered.

    A Functional model saves its InputLayers too (so they take numbers); a
    Sequential model does not. Keyed by ``id(layer)`` of the config dicts.
    """
    used: dict[str, int] = {}
    keys: dict[int, str] = {}
    for layer in layers:
        class_name = str(layer.get("class_name", ""))
        if class_name == "InputLayer" and not include_inputs:
            continue
        key = snake_case(class_name)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys[id(layer)] = key
    return keys


def layer_calls(layer: dict[str, Any]) -> list[Any]:
    calls = layer.get("inbound_nodes") or []
    return calls if isinstance(calls, list) else []


class GraphBuilder:
    """Adds the layers of one saved model (and the models nested in it) to a graph."""

    def __init__(self, graph: Graph, store: LayerWeights | None) -> None:
        self.graph = graph
        self.store = store
        # Class name and saved config of every node that is a Keras layer, for shapes.infer_shapes.
        self.layers: dict[Node, tuple[str, dict[str, Any]]] = {}

    # -- values -----------------------------------------------------------------------
    def new_value(self, name: str, type: TensorType | None = None) -> Value:
        """A fresh value; a taken name gets a ``#n`` suffix (names are unique per graph)."""
        unique, n = name, 1
        while unique in self.graph.values:
            n += 1
            unique = f"{name}#{n}"
        value = Value(unique, type)
        self.graph.values[unique] = value
        return value

    # -- models ---------------------------------------------------------------------
    def build_model(
        self, model: dict[str, Any], scope: tuple[str, ...], bound: list[Value] | None, saved: tuple[str, ...] = ()
    ) -> list[Value]:
        """Add ``model``'s layers; return its output values.

        ``bound`` feeds its inputs when nested; ``saved`` is the model's path in a
        Keras 3 weights file (which names layers by class, not by layer name).
        """
        if len(scope) > 32:
            raise ConfigError("models nest more than 32 deep")
        config = model.get("config")
        if model.get("class_name") == "Sequential" or isinstance(config, list):
            return self.build_sequential(config, scope, bound, saved)
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            if not scope and model.get("class_name") not in MODEL_CLASSES:
                return self.build_opaque(model)
            raise ConfigError(f"model {model.get('class_name')!r} has no layer list")
        return self.build_functional(config, scope, bound, saved)

    def build_functional(
        self, config: dict[str, Any], scope: tuple[str, ...], bound: list[Value] | None, saved: tuple[str, ...]
    ) -> list[Value]:
        prefix = "".join(f"{s}/" for s in scope)
        tensors: dict[Ref, Value] = {}

        def value_for(ref: Ref, type: TensorType | None = None) -> Value:
            v = tensors.get(ref)
            if v is None:
                suffix = "" if ref.node == 0 and ref.tensor == 0 else f":{ref.tensor}" if ref.node == 0 else f"@{ref.node}:{ref.tensor}"
                v = tensors[ref] = self.new_value(prefix + ref.layer + suffix, type)
            elif type is not None and v.type.dtype is None and v.type.shape is None:
                v.type = type
            return v

        layers = [layer for layer in config["layers"] if isinstance(layer, dict)]
        keys = saved_keys(layers, include_inputs=True)
        input_refs = parse_refs(config.get("input_layers"))
        output_refs = parse_refs(config.get("output_layers"))
        if bound is not None:
            for ref, v in zip(input_refs, bound, strict=False):
                tensors[ref] = v
        # How many tensors each call returns, from how often they are used later.
        outputs_per_call: dict[tuple[str, int], int] = defaultdict(int)
        for layer in layers:
            for call in layer_calls(layer):
                for ref, _ in call_tensors(call)[0]:
                    outputs_per_call[ref.layer, ref.node] = max(outputs_per_call[ref.layer, ref.node], ref.tensor + 1)
        for ref in output_refs:
            outputs_per_call[ref.layer, ref.node] = max(outputs_per_call[ref.layer, ref.node], ref.tensor + 1)

        for layer in layers:
            class_name, name, layer_config = self.describe(layer)
            calls = layer_calls(layer)
            if class_name == "InputLayer":
                ref = Ref(name, 0, 0)
                if ref not in tensors:
                    v = value_for(ref, self.input_type(layer_config))
                    if not scope:
                        self.graph.inputs.append(v)
                continue
            if self.is_model(layer):
                outputs: list[Value] = []
                # Keras 2 counts a nested model's own creation as its node 0, so the outer calls
                # that consumers refer to start at 1; Keras 3 starts at 0.
                first = nested_call_offset({node for layer_name, node in outputs_per_call if layer_name == name}, len(calls))
                for k, call in enumerate(calls or [None]):
                    inputs = [value_for(r, t) for r, t in call_tensors(call)[0]] if call is not None else None
                    if k == 0:
                        outputs = self.build_model(layer, (*scope, name), inputs, (*saved, keys[id(layer)]))
                    for t, v in enumerate(outputs):
                        tensors[Ref(name, k + first, t)] = v
                continue
            input_ports: list[Port] = []
            output_ports: list[Port] = []
            call_kwargs: list[dict[str, Any]] = []
            for k, call in enumerate(calls or [None]):
                if call is not None:
                    refs, kwargs = call_tensors(call)
                    input_ports.append(Port("inputs" if k == 0 else f"call{k}", [value_for(r, t) for r, t in refs]))
                    call_kwargs.append(kwargs)
                n = max(outputs_per_call.get((name, k), 0), 1)
                output_ports.append(Port("output" if k == 0 else f"output@{k}", [value_for(Ref(name, k, t)) for t in range(n)]))
            node = self.layer_node(layer, class_name, name, layer_config, scope, input_ports, output_ports, (*saved, keys[id(layer)]))
            if len(calls) > 1:
                node.metadata["calls"] = str(len(calls))
            for k, kwargs in enumerate(call_kwargs):
                if kwargs:
                    node.attributes.append(value_attribute("call_kwargs" if k == 0 else f"call{k}_kwargs", str(kwargs)))
        return [value_for(r) for r in output_refs]

    def build_sequential(
        self, config: Any, scope: tuple[str, ...], bound: list[Value] | None, saved: tuple[str, ...]
    ) -> list[Value]:
        layers = config if isinstance(config, list) else (config or {}).get("layers") if isinstance(config, dict) else None
        if not isinstance(layers, list):
            raise ConfigError("Sequential model has no layer list")
        prefix = "".join(f"{s}/" for s in scope)
        previous: list[Value] = list(bound or [])
        layers = [layer for layer in layers if isinstance(layer, dict)]
        keys = saved_keys(layers, include_inputs=False)
        for layer in layers:
            class_name, name, layer_config = self.describe(layer)
            if class_name == "InputLayer":
                if not previous:
                    previous = [self.model_input(prefix + name, self.input_type(layer_config), scope)]
                continue
            if not previous:
                shape = layer_config.get("batch_input_shape") or layer_config.get("batch_shape")
                if shape is None and isinstance(config, dict):
                    shape = config.get("build_input_shape")
                if shape is None:
                    shape = ((layer.get("build_config") or {}).get("input_shape")) if isinstance(layer.get("build_config"), dict) else None
                previous = [self.model_input(f"{prefix}{name}_input", tensor_type(shape, layer_config.get("dtype")), scope)]
            if self.is_model(layer):
                previous = self.build_model(layer, (*scope, name), previous, (*saved, keys[id(layer)]))
                continue
            out = self.new_value(prefix + name)
            self.layer_node(layer, class_name, name, layer_config, scope, [Port("inputs", previous)], [Port("output", [out])], (*saved, keys[id(layer)]))
            previous = [out]
        return previous

    def build_opaque(self, model: dict[str, Any]) -> list[Value]:
        """A subclassed model: its layer graph is Python code, not saved. One custom node shows
        its config and every variable of the weights file: a safe partial view."""
        class_name = str(model.get("class_name"))
        raw_config, raw_build = model.get("config"), model.get("build_config")
        config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        build: dict[str, Any] = raw_build if isinstance(raw_build, dict) else {}
        inputs = [self.model_input("input", tensor_type(build.get("input_shape"), None), ())] if build.get("input_shape") else []
        output = self.new_value("output")
        node = self.layer_node(model, class_name, str(config.get("name") or class_name.lower()), config, (), [Port("inputs", inputs)], [Port("output", [output])], ())
        node.metadata["note"] = "subclassed model: its call() is Python code that is not saved; shown as one node with all its variables"
        all_tensors = getattr(self.store, "all_tensors", None)
        if all_tensors is not None:
            for path, make_tensor in all_tensors():
                value = self.new_value(path)
                tensor = make_tensor(value.name)
                value.initializer = tensor
                value.type = TensorType(tensor.dtype, tensor.shape)
                node.inputs.append(Port(path, [value]))
        return [output]

    def model_input(self, name: str, type: TensorType, scope: tuple[str, ...]) -> Value:
        v = self.new_value(name, type)
        if not scope:
            self.graph.inputs.append(v)
        return v

    # -- layers ---------------------------------------------------------------------
    @staticmethod
    def describe(layer: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        class_name = layer.get("class_name")
        config = layer.get("config")
        if not isinstance(class_name, str):
            raise ConfigError("a layer has no class_name")
        if not isinstance(config, dict):
            config = {}
        name = layer.get("name") or config.get("name") or class_name.lower()
        return class_name, str(name), config

    @staticmethod
    def is_model(layer: dict[str, Any]) -> bool:
        config = layer.get("config")
        if layer.get("class_name") in MODEL_CLASSES and is_keras_module(layer.get("module")):
            return isinstance(config, (dict, list))
        return False

    @staticmethod
    def input_type(config: dict[str, Any]) -> TensorType:
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        return tensor_type(shape, config.get("dtype"))

    def layer_node(
        self,
        layer: dict[str, Any],
        class_name: str,
        name: str,
        config: dict[str, Any],
        scope: tuple[str, ...],
        inputs: list[Port],
        outputs: list[Port],
        saved: tuple[str, ...],
    ) -> Node:
        module = layer.get("module")
        module = module if isinstance(module, str) else None
        spec = LAYERS.get(class_name)
        custom = not is_keras_module(module) or spec is None or spec.category == "custom"
        node = Node(
            class_name,
            name=name,
            domain=module if module and not is_keras_module(module) else "",
            inputs=inputs,
            outputs=outputs,
            attributes=config_attributes(config),
            scope=scope,
            category=Category.CUSTOM if custom else Category(spec.category) if spec else Category.OTHER,
            doc=spec.summary if spec else "",
        )
        if custom:
            node.metadata["note"] = "class not from Keras or unknown: shown from its saved config, never imported"
            registered = layer.get("registered_name")
            if module:
                node.attributes.append(value_attribute("module", module))
            if isinstance(registered, str):
                node.attributes.append(value_attribute("registered_name", registered))
        if is_keras_module(module):
            self.layers[node] = (class_name, config)
        self.attach_weights(node, class_name, config, scope, saved)
        self.graph.add_node(node)
        return node

    def attach_weights(self, node: Node, class_name: str, config: dict[str, Any], scope: tuple[str, ...], saved: tuple[str, ...]) -> None:
        """The layer's stored variables as named input ports holding weight values."""
        if self.store is None:
            return
        prefix = "".join(f"{s}/" for s in scope)
        for short, make_tensor in self.store.layer_tensors(scope, node.name, saved, class_name, config):
            value = self.new_value(f"{prefix}{node.name}/{short}")
            tensor = make_tensor(value.name)
            value.initializer = tensor
            value.type = TensorType(tensor.dtype, tensor.shape)
            node.inputs.append(Port(short, [value]))
