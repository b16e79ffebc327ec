"""Gradients of an ONNX model: converted to torch by onnx2torch and run under autograd.

onnx2torch turns the graph into a ``torch.fx.GraphModule`` with one submodule per ONNX node;
each submodule carries its ``onnx_mapping`` (the ONNX values it reads and writes), which is how
the fx graph's values are named back to ONNX value names. Weights end up in two places: weights
an op's converter takes as constants become that module's parameters (Conv's weight, Gemm's B
as ``nn.Linear``'s weight, transposed when ``transB`` is 0), and the rest become buffers read
through ``get_attr``. Both are traced back to the initializer they came from (checked by value)
and their gradients summed per initializer.

The module runs in float64 (``GraphModule.double()``, float inputs as float64); ops the graph
casts to float32 on purpose stay float32. onnx2torch needs torchvision only for NonMaxSuppression
and RoiAlign: where torchvision is missing or cannot load beside the installed torch, those two
converters get a stand-in that says so, and every other op converts.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from netray.errors import error_line
from netray.runtime import Cancelled, Capture, RunCancelled, RunError
from netray.torch_loss import torch_loss

if TYPE_CHECKING:
    import onnx

NAME = "onnxruntime backward (onnx2torch)"


def _torchvision_stand_in() -> types.ModuleType:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("torchvision is not installed (NonMaxSuppression and RoiAlign need it)")

    module = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    ops.nms = ops.roi_align = ops.box_convert = missing  # type: ignore[attr-defined]
    module.ops = ops  # type: ignore[attr-defined]
    return module


def import_onnx2torch() -> Any:
    """The onnx2torch package, or ImportError. A missing or broken torchvision is stood in for
    while onnx2torch imports, and taken out of ``sys.modules`` again afterwards."""
    if "onnx2torch" in sys.modules:
        return sys.modules["onnx2torch"]
    try:
        import torchvision  # noqa: F401
    except Exception:  # absent, or built for another torch ("operator torchvision::nms does not exist")
        for key in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[key]
        stand_in = _torchvision_stand_in()
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = stand_in, stand_in.ops  # type: ignore[attr-defined]
        try:
            import onnx2torch
        finally:
            del sys.modules["torchvision"], sys.modules["torchvision.ops"]
        return onnx2torch
    import onnx2torch

    return onnx2torch


def onnx2torch_available() -> bool:
    try:
        import_onnx2torch()
    except Exception:
        return False
    return True


def _failing_op(proto: onnx.ModelProto) -> str:
    """The first node onnx2torch cannot convert, as "op (node name): reason"; "" when none fails alone."""
    import_onnx2torch()
    from onnx2torch.node_converters import get_converter
    from onnx2torch.onnx_graph import OnnxGraph
    from onnx2torch.utils.safe_shape_inference import safe_shape_inference

    try:
        inferred = safe_shape_inference(proto)
    except Exception:
        inferred = proto
    graph = OnnxGraph(inferred.graph)
    opsets = {o.domain: o.version for o in inferred.opset_import}
    for node in graph.nodes.values():
        try:
            converter = get_converter(
                domain=node.domain, operation_type=node.operation_type, version=opsets.get(node.domain, 1)
            )
            converter(node, graph)
        except Exception as exc:
            domain = f"{node.domain}." if node.domain else ""
            return f"{domain}{node.operation_type} (node {node.name!r}): {error_line(exc)}"
    return ""


class TorchGraph:
    """The model converted once to a float64 fx.GraphModule, with its values and weights named."""

    def __init__(self, proto: Any, base: Path) -> None:
        import onnx

        try:
            onnx2torch = import_onnx2torch()
        except ImportError as exc:
            raise RunError(
                f"{NAME}: onnx2torch is not installed (pip install netray-plugin-onnx[run]): {error_line(exc)}"
            ) from None
        import torch

        model = onnx.ModelProto.FromString(proto.SerializeToString())  # netray's own message class or onnx's
        try:
            onnx.load_external_data_for_model(model, str(base))
        except Exception as exc:
            raise RunError(f"{NAME}: cannot read the weights: {error_line(exc)}") from None
        self.inputs = [v.name for v in model.graph.input if v.name not in {t.name for t in model.graph.initializer}]
        self.outputs = [v.name for v in model.graph.output]
        try:
            module = onnx2torch.convert(model, attach_onnx_mapping=True)
        except Exception as exc:
            failing = _failing_op(model)
            reason = f"onnx2torch cannot convert {failing}" if failing else f"onnx2torch failed: {error_line(exc)}"
            raise RunError(f"{NAME}: {reason}") from None
        self.initializers = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
        from onnx2torch.onnx_graph import OnnxGraph

        # Module names are onnx2torch's unique node names: what each node reads, for weights taken as constants.
        self._node_inputs = {name: list(node.input_values) for name, node in OnnxGraph(model.graph).nodes.items()}
        self.module = module.double().eval()
        for p in self.module.parameters():
            p.requires_grad_(p.is_floating_point())
        self._weights = self._trace_weights(torch)

    def _trace_weights(self, torch: Any) -> list[tuple[str, Any, bool]]:
        """(initializer name, tensor in the module, transposed) for every float weight the module holds."""
        found: list[tuple[str, Any, bool]] = []
        for node in self.module.graph.nodes:
            if node.op != "call_module":
                continue
            sub = self.module.get_submodule(node.target)
            mapping = getattr(sub, "onnx_mapping", None)
            if mapping is None:
                continue
            # Buffers read through get_attr: fx arguments in the order of the mapping's non-empty inputs.
            arguments = [*node.args, *node.kwargs.values()]
            for value_name, argument in zip([v for v in mapping.inputs if v], arguments, strict=False):
                if getattr(argument, "op", None) == "get_attr" and value_name in self.initializers:
                    tensor = self.module.get_buffer(argument.target)
                    if tensor.is_floating_point():
                        found.append((value_name, tensor, False))
            # Weights the converter took as constants: the node's inputs missing from the mapping.
            constants = [
                v
                for v in self._node_inputs.get(str(node.target), [])
                if v in self.initializers and v not in mapping.inputs
            ]
            for _, tensor in [*sub.named_parameters(), *sub.named_buffers()]:
                if not tensor.is_floating_point():
                    continue
                match = self._match(tensor, constants)
                if match is not None:
                    found.append((match[0], tensor, match[1]))
        for _, tensor, _ in found:
            tensor.requires_grad_(True)
        return found

    def _match(self, tensor: Any, names: list[str]) -> tuple[str, bool] | None:
        array = tensor.detach().cpu().numpy()
        for name in names:
            weight = self.initializers[name].astype(np.float64)
            if weight.shape == array.shape and np.array_equal(weight, array):
                return name, False
            if weight.ndim == 2 and weight.T.shape == array.shape and np.array_equal(weight.T, array):
                return name, True
        return None

    def backward(
        self,
        inputs: Mapping[str, np.ndarray],
        target: Mapping[str, np.ndarray] | None,
        capture: Capture,
        cancelled: Cancelled,
    ) -> dict[str, np.ndarray]:
        import torch
        import torch.fx

        if cancelled():
            raise RunCancelled()
        for tensor in self.module.parameters():
            tensor.grad = None
        for _, tensor, _ in self._weights:
            tensor.grad = None
        arguments = []
        for name in self.inputs:
            if name not in inputs:
                raise RunError(f"{NAME}: no value given for input {name!r}")
            array = np.asarray(inputs[name])
            tensor = torch.from_numpy(array.astype(np.float64) if array.dtype.kind == "f" else np.array(array))
            arguments.append(tensor)
        values: dict[str, Any] = {}
        module = self.module

        class Recorder(torch.fx.Interpreter):
            def run_node(self, n: torch.fx.Node) -> Any:
                if cancelled():
                    raise RunCancelled()
                result = super().run_node(n)
                if n.op == "call_module":
                    mapping = getattr(module.get_submodule(n.target), "onnx_mapping", None)
                    if mapping is not None:
                        outs = [result] if len(mapping.outputs) == 1 else list(result)
                        for value_name, out in zip(mapping.outputs, outs, strict=False):
                            if isinstance(out, torch.Tensor) and out.requires_grad:
                                out.retain_grad()
                                values[value_name] = out
                return result

        try:
            with torch.enable_grad():
                result = Recorder(self.module).run(*arguments)
                outputs = [result] if isinstance(result, torch.Tensor) else list(result)
                loss = torch_loss(dict(zip(self.outputs, outputs, strict=False)), target, NAME)
                loss.backward()
        except (RunCancelled, RunError):
            raise
        except Exception as exc:
            raise RunError(f"{NAME}: {error_line(exc)}") from None
        if cancelled():
            raise RunCancelled()
        for name, tensor in values.items():
            grad = tensor.grad
            capture(name, grad.detach().numpy() if grad is not None else np.zeros(tuple(tensor.shape), np.float64))
        weights: dict[str, np.ndarray] = {}
        for name, tensor, transposed in self._weights:
            if tensor.grad is None:
                continue
            grad = tensor.grad.detach().numpy()
            grad = grad.T if transposed else grad
            weights[name] = weights[name] + grad if name in weights else grad.copy()
        return weights
