"""Running a Keras model with Keras 3 on the torch backend (contract 1.2).

The file is loaded with ``keras.saving.load_model(path, compile=False, safe_mode=True)``
and no custom objects: a layer whose class is not Keras' own, or a ``Lambda`` (Python code),
is refused before Keras sees the file, naming the layer. Keras 2 ``.h5`` files go through
Keras 3's legacy loader; a Keras 2.0-2.1 Sequential, whose config is a bare list that loader
refuses, is built from the form Keras 2.2+ writes (:func:`load_listed_sequential`); where
loading fails, the error is Keras' own reason.

Execution walks the model's own graph the way ``Functional.call`` does
(``_nodes_by_depth``, each node's arguments filled from the tensors computed so far, the
``training=False`` call context), one layer call at a time, so each layer's outputs are
handed to ``capture`` as soon as they exist and are the very tensors ``model(x)`` computes:
the outputs equal ``model(x, training=False)`` and ``model.predict(x)`` bit for bit. Nested
models are entered (their layers are values of the IR under the nested model's scope);
a nested model called a second time runs as one call, since the IR shows its layers once.

Values are named as the IR names them: the node of layer ``name`` in scope ``scope``, its
output port ``output`` (first call) or ``output@k`` (call k), tensor t of that port
(:mod:`netray_keras.builder`). Weights are the IR's weight values of each layer, matched to
the layer's variables in order (their shapes checked).

Backward runs the same walk under torch autograd: every variable (trainable or not) takes
part, the loss is the sum of the outputs (float64) or the squared error to a target, and
the gradient of every captured value and every weight is read from torch. Note that Keras 3
on torch computes float64 layers in float32 (its type promotion maps 64-bit to 32-bit types,
as JAX does without x64), so a "float64" Keras model's gradients have float32 precision.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from netray import Model, Node, Value
from netray.errors import first_line
from netray.runtime import Cancelled, Capture, RunCancelled, RunError
from netray.torch_loss import torch_loss

RUNTIME = "keras"
INSTALL = "pip install netray-plugin-keras[run]"
UNSAFE_CLASSES = frozenset({"Lambda", "TFOpLambda"})

Emit = Callable[[tuple[str, ...], str, int, list[Any]], None]  # (scope, layer name, call index, flat outputs)


def missing_packages() -> list[str]:
    """The runtime packages that are not installed (keras, torch)."""
    return [name for name in ("keras", "torch") if name not in sys.modules and importlib.util.find_spec(name) is None]


def import_keras() -> Any:
    """Keras on the torch backend; RunError when Keras was already imported with another."""
    keras: Any = sys.modules.get("keras")
    if keras is None:
        os.environ["KERAS_BACKEND"] = "torch"
        try:
            keras = importlib.import_module("keras")
        except ImportError as exc:
            raise RunError(f"keras: cannot import keras ({exc}); {INSTALL}") from exc
    backend = keras.backend.backend()
    if backend != "torch":
        raise RunError(
            f"keras: Keras was already imported with the {backend} backend in this process; "
            "netray runs Keras models on torch: set KERAS_BACKEND=torch before Keras is imported"
        )
    return keras


def unsafe_layers(model: Model) -> list[Node]:
    """Layers Keras could only build by running code from the file or from outside Keras."""
    return [node for node in model.main.nodes if node.op in UNSAFE_CLASSES or node.domain]


def load_listed_sequential(path: Path) -> Any:
    """A Keras 2.0-2.1 ``.h5`` Sequential, whose config is the bare list of its layers, built
    the way Keras 3's legacy loader builds a model (safe mode, no custom objects, weights from
    ``model_weights``) from the config Keras 2.2+ would have written; None for any other file.

    Keras 3's loader takes ``config["config"]`` to be a dict and fails on these files with
    "pop expected at most 1 argument". The file is only read.
    """
    import json

    import h5py
    from keras.src.legacy.saving import legacy_h5_format, saving_options, saving_utils
    from keras.src.saving import serialization_lib

    try:
        with h5py.File(path, "r") as f:
            text = f.attrs.get("model_config")
            config = json.loads(text.decode("utf-8") if isinstance(text, bytes) else str(text))
            if not (isinstance(config, dict) and config.get("class_name") == "Sequential" and isinstance(config.get("config"), list)):
                return None
            layers = [dict(layer, config=dict(layer.get("config") or {})) for layer in config["config"]]
            first = layers[0]["config"] if layers else {}
            if "batch_input_shape" in first:  # Keras 2.2+ writes it as an InputLayer of its own
                shape = first.pop("batch_input_shape")
                layers.insert(0, {"class_name": "InputLayer", "config": {"batch_input_shape": shape, "dtype": first.get("dtype", "float32"), "name": "input"}})
            config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
            with saving_options.keras_option_scope(use_legacy_config=True), serialization_lib.SafeModeScope(True):
                model = saving_utils.model_from_config(config, custom_objects={})
                legacy_h5_format.load_weights_from_hdf5_group(legacy_h5_format.safe_get_h5_group(f, "model_weights"), model)
            return model
    except Exception as exc:  # the same failures as Keras' own loader, in its words
        raise RunError(f"keras: cannot load {path.name}: {first_line(exc)}") from exc


def is_keras_model(layer: Any) -> bool:
    return hasattr(layer, "_nodes_by_depth") or type(layer).__name__ == "Sequential"


class KerasRuntime:
    """A Keras model loaded with Keras 3 (torch backend), run one layer call at a time."""

    name = RUNTIME
    backward_supported = True

    def __init__(self, model: Model) -> None:
        if model.source is None:
            raise RunError("keras: the model has no source file to load")
        self.path = Path(model.source)
        refused = unsafe_layers(model)
        if refused:
            node = refused[0]
            what = "a Lambda layer (Python code in the file)" if node.op in UNSAFE_CLASSES else f"class {node.op} from {node.domain}"
            raise RunError(
                f"keras: layer {node.name!r} is {what}; netray loads Keras models with safe_mode=True and no custom objects"
            )
        self.keras = import_keras()
        try:
            self.kmodel = self.keras.saving.load_model(str(self.path), compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises ValueError, TypeError, KeyError ... with its reason
            self.kmodel = load_listed_sequential(self.path)
            if self.kmodel is None:
                raise RunError(f"keras: cannot load {self.path.name}: {first_line(exc)}") from exc
        self.graph = model.main
        self.ir_nodes: dict[tuple[tuple[str, ...], str], Node] = {(tuple(n.scope), n.name): n for n in self.graph.nodes}
        self.layers: dict[tuple[tuple[str, ...], str], Any] = {}
        self._collect_layers(self.kmodel, ())
        self.weights = self._match_weights()

    # -- structure ----------------------------------------------------------------------
    def _collect_layers(self, kmodel: Any, scope: tuple[str, ...]) -> None:
        for layer in getattr(kmodel, "layers", []):
            self.layers[(scope, layer.name)] = layer
            if is_keras_model(layer):
                self._collect_layers(layer, (*scope, layer.name))

    def _match_weights(self) -> dict[str, Any]:
        """IR weight value name -> Keras variable, per layer, in order, shapes checked."""
        found: dict[str, Any] = {}
        for key, node in self.ir_nodes.items():
            layer = self.layers.get(key)
            if layer is None:
                continue
            values = [v for v in node.input_values() if v.initializer is not None]
            variables = list(getattr(layer, "weights", []))
            if not values or len(values) != len(variables):
                continue
            for value, variable in zip(values, variables, strict=True):
                if tuple(value.type.shape or ()) == tuple(int(d) for d in variable.shape):
                    found[value.name] = variable
        return found

    def value_names(self, scope: tuple[str, ...], layer: str, call: int) -> list[str]:
        """The IR's names of the outputs of call ``call`` of ``layer`` in ``scope``."""
        node = self.ir_nodes.get((scope, layer))
        if node is None:
            return []
        port_name = "output" if call == 0 else f"output@{call}"
        for port in node.outputs:
            if port.name == port_name:
                return [v.name for v in port.values]
        return []

    # -- inputs -------------------------------------------------------------------------
    def model_inputs(self, inputs: Mapping[str, np.ndarray]) -> list[Any]:
        """The arrays in the order of the Keras model's inputs, as tensors."""
        ir_inputs: list[Value] = list(self.graph.inputs)
        for value in ir_inputs:
            if value.name not in inputs:
                raise RunError(f"keras: no array given for input {value.name!r}")
        keras_inputs = list(getattr(self.kmodel, "inputs", None) or [])
        by_name = {v.name: v for v in ir_inputs}
        ordered: list[np.ndarray] = []
        if keras_inputs and len(keras_inputs) == len(ir_inputs):
            for i, kx in enumerate(keras_inputs):
                history = getattr(kx, "_keras_history", None)
                name = getattr(getattr(history, "operation", None), "name", None) or getattr(kx, "name", None)
                found = by_name.get(str(name)) if name is not None else None
                ordered.append(np.asarray(inputs[(found or ir_inputs[i]).name]))
        else:
            ordered = [np.asarray(inputs[v.name]) for v in ir_inputs]
        ops = self.keras.ops
        dtypes = [getattr(kx, "dtype", None) for kx in keras_inputs] if len(keras_inputs) == len(ordered) else [None] * len(ordered)
        return [ops.convert_to_tensor(a, dtype=d) if d else ops.convert_to_tensor(a) for a, d in zip(ordered, dtypes, strict=True)]

    # -- the walk -----------------------------------------------------------------------
    def run(self, tensors: list[Any], emit: Emit, cancelled: Cancelled) -> list[Any]:
        try:
            return self._run_model(self.kmodel, (), tensors, emit, cancelled)
        except (RunError, RunCancelled):
            raise
        except Exception as exc:
            raise RunError(f"keras: {self.path.name}: {first_line(exc)}") from exc

    def _run_model(self, kmodel: Any, scope: tuple[str, ...], tensors: list[Any], emit: Emit, cancelled: Cancelled) -> list[Any]:
        tree = self.keras.tree
        functional = getattr(kmodel, "_functional", None) if type(kmodel).__name__ == "Sequential" else kmodel
        if functional is None or not hasattr(functional, "_nodes_by_depth"):
            return self._run_layers(kmodel, scope, tensors, emit, cancelled)
        tensors = self._standardize(functional, tensors)  # as Functional.call does, nested models too
        tensor_dict = {id(x): y for x, y in zip(functional.inputs, tensors, strict=False)}
        depth_keys = sorted(functional._nodes_by_depth, reverse=True)
        calls = self._call_indices(functional)
        for depth in depth_keys:
            for node in functional._nodes_by_depth[depth]:
                operation = node.operation
                if not operation or node.is_input:
                    continue
                if any(id(x) not in tensor_dict for x in node.input_tensors):
                    continue
                if cancelled():
                    raise RunCancelled("keras: cancelled")
                call = calls.get(id(node), 0)
                if is_keras_model(operation) and call == 0:
                    flat_in = [tensor_dict[id(x)] for x in node.input_tensors]
                    flat = self._run_model(operation, (*scope, operation.name), flat_in, emit, cancelled)
                else:
                    args, kwargs = node.arguments.fill_in(tensor_dict)
                    if "training" in getattr(operation, "_call_context_args", ()):
                        kwargs["training"] = False
                    try:
                        outputs = operation(*args, **kwargs)
                    except Exception as exc:
                        raise RunError(f"keras: layer {operation.name!r} ({type(operation).__name__}): {first_line(exc)}") from exc
                    flat = list(tree.flatten(outputs))
                    if not is_keras_model(operation):
                        emit(scope, operation.name, call, flat)
                for x, y in zip(node.outputs, flat, strict=False):
                    tensor_dict[id(x)] = y
        results = []
        for x in functional.outputs:
            if id(x) not in tensor_dict:
                raise RunError(f"keras: output {getattr(x, 'name', '?')!r} of {functional.name!r} was not computed")
            results.append(tensor_dict[id(x)])
        return results

    @staticmethod
    def _call_indices(functional: Any) -> dict[int, int]:
        """id(node) -> which call of its operation it is, counting only this model's nodes."""
        mine = {id(n) for nodes in functional._nodes_by_depth.values() for n in nodes}
        indices: dict[int, int] = {}
        counted: dict[int, int] = defaultdict(int)
        seen_ops: dict[int, Any] = {}
        for nodes in functional._nodes_by_depth.values():
            for node in nodes:
                if node.operation is not None:
                    seen_ops[id(node.operation)] = node.operation
        for operation in seen_ops.values():
            for node in getattr(operation, "_inbound_nodes", []):
                if id(node) in mine:
                    indices[id(node)] = counted[id(operation)]
                    counted[id(operation)] += 1
        return indices

    def _standardize(self, functional: Any, tensors: list[Any]) -> list[Any]:
        """What ``Functional.call`` does to its inputs first (dtype conversion, rank adjustment)."""
        struct = getattr(functional, "_inputs_struct", None)
        try:
            packed = self.keras.tree.pack_sequence_as(struct, tensors) if struct is not None else tensors
            return list(functional._standardize_inputs(packed))
        except Exception:
            return tensors

    def _run_layers(self, kmodel: Any, scope: tuple[str, ...], tensors: list[Any], emit: Emit, cancelled: Cancelled) -> list[Any]:
        """A Sequential model without a graph (no input shape saved): its layers in order."""
        x: Any = tensors[0] if len(tensors) == 1 else tensors
        for layer in kmodel.layers:
            if cancelled():
                raise RunCancelled("keras: cancelled")
            if is_keras_model(layer):
                out = self._run_model(layer, (*scope, layer.name), list(self.keras.tree.flatten(x)), emit, cancelled)
                x = out[0] if len(out) == 1 else out
                continue
            kwargs = {"training": False} if "training" in getattr(layer, "_call_context_args", ()) else {}
            try:
                x = layer(x, **kwargs)
            except Exception as exc:
                raise RunError(f"keras: layer {layer.name!r} ({type(layer).__name__}): {first_line(exc)}") from exc
            emit(scope, layer.name, 0, list(self.keras.tree.flatten(x)))
        return list(self.keras.tree.flatten(x))

    # -- the protocol -------------------------------------------------------------------
    def output_names(self) -> list[str]:
        return [v.name for v in self.graph.outputs]

    def forward(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        """One walk without gradients; each layer's outputs captured as they are computed."""
        import torch

        if cancelled():
            raise RunCancelled("keras: cancelled")
        captured: set[str] = set()

        def emit(scope: tuple[str, ...], layer: str, call: int, flat: list[Any]) -> None:
            for name, tensor in zip(self.value_names(scope, layer, call), flat, strict=False):
                if name not in captured:
                    captured.add(name)
                    capture(name, to_numpy(tensor))

        with torch.no_grad():
            outputs = self.run(self.model_inputs(inputs), emit, cancelled)
        return self._outputs(outputs)

    def _outputs(self, outputs: list[Any]) -> dict[str, np.ndarray]:
        names = self.output_names()
        if len(names) != len(outputs):
            raise RunError(f"keras: the model returned {len(outputs)} outputs, the graph has {len(names)}")
        return {name: to_numpy(t) for name, t in zip(names, outputs, strict=True)}

    def backward(
        self, inputs: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray] | None, capture: Capture, cancelled: Cancelled
    ) -> dict[str, np.ndarray]:
        """Gradients by torch autograd of the sum of the outputs (or the squared error to ``target``)."""
        import torch

        if cancelled():
            raise RunCancelled("keras: cancelled")
        parameters = {name: variable.value for name, variable in self.weights.items()}
        restore = {name: bool(p.requires_grad) for name, p in parameters.items()}
        kept: list[tuple[str, Any]] = []
        seen: set[str] = set()

        def emit(scope: tuple[str, ...], layer: str, call: int, flat: list[Any]) -> None:
            for name, tensor in zip(self.value_names(scope, layer, call), flat, strict=False):
                if name in seen or not isinstance(tensor, torch.Tensor):
                    continue
                seen.add(name)
                if tensor.requires_grad and not tensor.is_leaf:
                    tensor.retain_grad()
                kept.append((name, tensor))

        try:
            with torch.enable_grad():
                for p in parameters.values():
                    p.grad = None
                    p.requires_grad_(True)
                tensors = self.model_inputs(inputs)
                tensors = [t.detach().requires_grad_(True) if t.is_floating_point() else t for t in tensors]
                outputs = self.run(tensors, emit, cancelled)
                loss = torch_loss(dict(zip(self.output_names(), outputs, strict=False)), target, RUNTIME)
                try:
                    # oneDNN's channels-last convolution backward corrupts memory in torch 2.13 on CPU
                    # (a 1x1 stride-2 Conv2D, as in Xception's shortcuts, aborts the process); torch's
                    # own kernels compute the same gradients. The forward pass above is unchanged.
                    with torch.backends.mkldnn.flags(enabled=False):
                        loss.backward()
                except RuntimeError as exc:
                    raise RunError(f"keras: backward failed: {first_line(exc)}") from exc
            for name, tensor in kept:
                if cancelled():
                    raise RunCancelled("keras: cancelled")
                if not tensor.is_floating_point():
                    continue
                grad = tensor.grad
                capture(name, to_numpy(grad) if grad is not None else np.zeros(tuple(tensor.shape), dtype=to_numpy(tensor).dtype))
            gradients: dict[str, np.ndarray] = {}
            for name, p in parameters.items():
                gradients[name] = to_numpy(p.grad) if p.grad is not None else np.zeros(tuple(p.shape), dtype=to_numpy(p).dtype)
            return gradients
        finally:
            for name, p in parameters.items():
                p.grad = None
                p.requires_grad_(restore[name])


def to_numpy(tensor: Any) -> np.ndarray:
    if hasattr(tensor, "detach"):
        return np.asarray(tensor.detach().cpu().numpy())
    return np.asarray(tensor)
