"""Running a TorchScript archive on torch's own interpreter, capturing every value of its main graph.

netray's IR of a TorchScript file is the inlined graph of ``forward`` (:mod:`.reader`); its
values are named by their ``debugName``. The runtime makes the same inlined copy of the
graph (same procedure, same names) and inserts after each node a call to an operator of
its own, ``netray_capture::tensor(Tensor x, str name) -> ()`` (and ``int``, ``float``,
``bool`` variants), for each output of the top-level block that the IR names. The copy
becomes a function TorchScript's interpreter runs with the loaded module as ``self``: the
capture operators receive the very tensors the next operators consume, as they are
produced, so captures are the run's own numbers and the outputs equal ``module(*inputs)``.

Granularity: every Tensor, int, float, bool, number, int[] and float[] value of the main (top-level) graph,
that is every module and operator output the IR shows there after inlining. Values inside
``prim::If`` / ``prim::Loop`` blocks (the IR's subgraphs) are not captured; the blocks'
results are, as outputs of their node. Lists of tensors, tuples and objects are not
captured (their tensors are, where a node produces them).

The capture operator is registered with conservative alias analysis, so TorchScript's
passes treat it as having side effects: it is neither removed nor moved. A module whose
``forward`` changes its own attributes (``prim::SetAttr``, a recurrent state) is loaded
afresh for every run, so each run starts from the file's state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netray import Model
from netray.runtime import Cancelled, Capture, RunCancelled, RunError
from netray.torch_loss import torch_loss
from netray_pytorch.torch_run import GradientCapture, gradients, scalar_array, to_numpy, to_tensor
from netray_torchscript.convert import FOLDED_KINDS
from netray_torchscript.torch_messages import one_line, warnings_collected

RUNTIME_NAME = "torch (TorchScript interpreter: every value of the inlined main graph)"
GRANULARITY = "every Tensor/int/float/bool/number/int[]/float[] value of forward's inlined top-level graph; not values inside If/Loop blocks"

_NAMESPACE = "netray_capture"
_CAPTURE_OPS = {"TensorType": "tensor", "IntType": "int", "FloatType": "float", "BoolType": "bool", "NumberType": "scalar",
                "IntType[]": "ints", "FloatType[]": "floats"}
_SCHEMA_TYPES = {"tensor": "Tensor", "int": "int", "float": "float", "bool": "bool", "scalar": "Scalar", "ints": "int[]", "floats": "float[]"}
_library: Any = None
_active = threading.local()


class _Session:
    """Where the capture operators send values during one run."""

    def __init__(self, on_value: Callable[[str, Any], None], cancelled: Cancelled) -> None:
        self.on_value = on_value
        self.cancelled = cancelled
        self.error: BaseException | None = None
        self.last: str | None = None

    def __call__(self, name: str, value: Any) -> None:
        if self.error is not None:
            raise RuntimeError("netray: the run was stopped")
        try:
            if self.cancelled():
                raise RunCancelled(f"cancelled after value {self.last or '(none)'}")
            self.last = name
            self.on_value(name, value)
        except BaseException as exc:  # raised again, as it was, once the interpreter has unwound
            self.error = exc
            raise


def _dispatch(name: str, value: Any) -> None:
    session = getattr(_active, "session", None)
    if session is not None:
        session(name, value)


def _register() -> None:
    """Defines the capture operators once per process (a torch.library namespace of netray's own)."""
    global _library
    if _library is not None:
        return
    library = torch.library.Library(_NAMESPACE, "DEF")
    for kind, schema_type in _SCHEMA_TYPES.items():
        library.define(f"{kind}({schema_type} x, str name) -> ()", alias_analysis="CONSERVATIVE")
        # Above autograd: the tensor arrives with its grad_fn, so backward can hook it.
        library.impl(kind, lambda x, name: _dispatch(name, x), "CompositeImplicitAutograd")
    _library = library


@contextmanager
def _session(session: _Session) -> Iterator[None]:
    previous = getattr(_active, "session", None)
    _active.session = session
    try:
        yield
    finally:
        _active.session = previous


def _all_nodes(block: Any) -> Iterator[Any]:
    for node in block.nodes():
        yield node
        for inner in node.blocks():
            yield from _all_nodes(inner)


def _mutates(node: Any) -> bool:
    try:
        schema = node.schema()
    except Exception:
        return False
    return "!" in schema


def _plain_array(value: Any) -> np.ndarray | None:
    """An int, float or bool, or a list of ints or floats (a shape), as an array."""
    if isinstance(value, list):
        return np.asarray(value, dtype=np.int64 if all(isinstance(v, int) for v in value) else np.float64)
    return scalar_array(value)


def _legacy_stft(graph: Any) -> list[str]:
    """Files scripted before torch 2.0 call ``aten::stft`` without ``return_complex`` on real
    input, which torch now refuses. Those torches computed ``view_as_real(stft(..., return_complex=True))``;
    the call is rewritten so, its result keeping its name. Returns what was rewritten."""
    done: list[str] = []
    for node in list(_all_nodes(graph)):
        if node.kind() != "aten::stft" or node.inputsSize() < 8:
            continue
        inputs = list(node.inputs())
        flag = inputs[7]
        signal_type = inputs[0].type()
        scalar = signal_type.scalarType() if signal_type.kind() == "TensorType" else None
        if flag.node().kind() != "prim::Constant" or flag.type().kind() != "NoneType" or (scalar or "").startswith("Complex"):
            continue
        true = graph.create("prim::Constant")
        true.i_("value", 1)
        true.output().setType(torch._C.BoolType.get())
        true.insertBefore(node)
        inputs[7] = true.output()
        complex_stft = graph.create("aten::stft", inputs, 1)
        complex_stft.insertBefore(node)
        as_real = graph.create("aten::view_as_real", [complex_stft.output()], 1)
        as_real.insertBefore(node)
        name = node.output().debugName()
        node.output().replaceAllUsesWith(as_real.output())
        node.destroy()
        as_real.output().setDebugName(name)
        done.append(name)
    return done


class _Program:
    """One loaded module and its instrumented forward (rebuilt for every load: it is typed by the module's class)."""

    def __init__(self, path: Path, named: set[str]) -> None:
        _register()
        try:
            with warnings_collected():
                self.module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            raise RunError(f"torch: torch.jit.load failed on {path.name}: {one_line(exc)}") from exc
        try:
            graph = self.module._c._get_method("forward").graph.copy()
            torch._C._jit_pass_inline(graph)
        except Exception as exc:
            raise RunError(f"torch: {path.name} has no forward method TorchScript can inline: {one_line(exc)}") from exc
        inputs = list(graph.inputs())
        self.input_kinds = [v.type().kind() for v in inputs[1:]]
        self.input_graph_names = [v.debugName() for v in inputs[1:]]
        self.stateful = any(n.kind() == "prim::SetAttr" for n in _all_nodes(graph))
        self.mutating = any(_mutates(n) for n in _all_nodes(graph))
        self.compatibility = _legacy_stft(graph)
        self.captured = self._instrument(graph, named)
        self.output_names: list[list[str]] = []
        for out in graph.outputs():
            producer = out.node()
            if producer.kind() in ("prim::TupleConstruct", "prim::ListConstruct"):
                self.output_names.append([v.debugName() for v in producer.inputs()])
            else:
                self.output_names.append([out.debugName()])
        try:
            self.function = torch._C._create_function_from_graph("netray_forward", graph)
        except Exception as exc:
            raise RunError(f"torch: cannot run {path.name}'s instrumented forward: {one_line(exc)}") from exc

    @staticmethod
    def _instrument(graph: Any, named: set[str]) -> list[str]:
        """After every top-level node, a capture call per output the IR names (``named``); the names captured."""
        names: list[str] = []
        string = torch._C.StringType.get()
        for node in list(graph.nodes()):
            if node.kind() in FOLDED_KINDS or node.kind() == "prim::Uninitialized":
                continue  # folded by the IR; a placeholder of a branch that raises
            after = node
            for out in node.outputs():
                t = out.type()
                kind = _CAPTURE_OPS.get(t.kind() if t.kind() != "ListType" else f"{t.getElementType().kind()}[]")
                name = out.debugName()
                if kind is None or name not in named:
                    continue
                constant = graph.create("prim::Constant")
                constant.s_("value", name)
                constant.output().setType(string)
                constant.insertAfter(after)
                call = graph.create(f"{_NAMESPACE}::{kind}", [out, constant.output()], 0)
                call.insertAfter(constant)
                after = call
                names.append(name)
        return names


class TorchScriptRuntime:
    """A TorchScript archive on torch's interpreter; see the module's docstring for what is captured."""

    name = RUNTIME_NAME
    backward_supported = True
    granularity = GRANULARITY

    def __init__(self, model: Model, path: Path) -> None:
        self.path = path
        graph = model.main
        if graph is None:
            raise RunError(f"torch: {path.name} has no graph to run")
        self.named = {v.name for node in graph.nodes for v in node.output_values()}
        self.program = _Program(path, self.named)
        self.input_names = [v.name for v in graph.inputs]
        if len(self.input_names) != len(self.program.input_kinds):
            raise RunError(f"torch: {path.name}: the IR has {len(self.input_names)} inputs, forward takes {len(self.program.input_kinds)}")

    @property
    def compatibility(self) -> str:
        """Rewrites made so that torch runs a file written for an older torch ("" when none)."""
        names = self.program.compatibility
        return f"aten::stft without return_complex run as view_as_real(stft(..., return_complex=True)), as torch < 2.0 did: {', '.join(names)}" if names else ""

    def _fresh(self) -> _Program:
        """The loaded program; loaded again when forward changes the module's state."""
        if self.program.stateful:
            self.program = _Program(self.path, self.named)
        return self.program

    def _arguments(self, program: _Program, inputs: Mapping[str, np.ndarray], grad: bool) -> list[Any]:
        args: list[Any] = []
        for name, kind in zip(self.input_names, program.input_kinds, strict=True):
            if name not in inputs:
                if kind == "OptionalType":
                    args.append(None)
                    continue
                raise RunError(f"torch: input {name!r} was not given (forward's inputs: {', '.join(self.input_names)})")
            value = inputs[name]
            if kind in ("TensorType", "OptionalType"):
                t = to_tensor(value)
                if grad and t.is_floating_point():
                    t.requires_grad_(True)
                args.append(t)
            elif kind in ("IntType", "FloatType", "BoolType"):
                array = np.asarray(value)
                if array.size != 1:
                    raise RunError(f"torch: input {name!r} is a scalar ({kind[:-4].lower()}), given shape {array.shape}")
                item = array.reshape(()).item()
                args.append({"IntType": int, "FloatType": float, "BoolType": bool}[kind](item))
            else:
                raise RunError(f"torch: input {name!r} has type {kind}, which netray cannot build from an array")
        return args

    def _call(self, program: _Program, args: list[Any], session: _Session) -> dict[str, Any]:
        try:
            with _session(session), warnings_collected():
                result = program.function(program.module._c, *args)
        except Exception as exc:
            if session.error is not None:
                raise session.error from None
            where = f" after value {session.last}" if session.last else " before the first value"
            raise RunError(f"torch (TorchScript){where}: {one_line(exc)}") from exc
        if session.cancelled():
            raise RunCancelled("cancelled after the last value")
        results = [result] if len(program.output_names) == 1 else list(result)
        outputs: dict[str, Any] = {}
        for names, value in zip(program.output_names, results, strict=True):
            if len(names) == 1 and not isinstance(value, (tuple, list)):
                outputs[names[0]] = value
            else:
                for name, item in zip(names, value, strict=True):
                    outputs[name] = item
        return outputs

    def forward(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        program = self._fresh()
        copy = program.mutating

        def on_value(name: str, value: Any) -> None:
            array = to_numpy(value, copy=copy) if isinstance(value, torch.Tensor) else _plain_array(value)
            if array is not None:
                capture(name, array)

        args = self._arguments(program, inputs, grad=False)
        with torch.no_grad():
            outputs = self._call(program, args, _Session(on_value, cancelled))
        return {
            name: to_numpy(v, copy=True) if isinstance(v, torch.Tensor) else np.asarray(v)
            for name, v in outputs.items()
            if isinstance(v, (torch.Tensor, bool, int, float))
        }

    def backward(
        self, inputs: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray] | None, capture: Capture, cancelled: Cancelled
    ) -> dict[str, np.ndarray]:
        program = self._fresh()
        grads = GradientCapture(capture, cancelled)
        parameters = {name: p for name, p in program.module.named_parameters() if p.is_floating_point() or p.is_complex()}
        flags = {name: p.requires_grad for name, p in parameters.items()}
        try:
            for p in parameters.values():
                p.requires_grad_(True)
                p.grad = None
            args = self._arguments(program, inputs, grad=True)
            with torch.enable_grad():
                outputs = self._call(program, args, _Session(grads.watch, cancelled))
                grads.backward(torch_loss(outputs, target, "torch"), "torch (TorchScript)", one_line)
            return gradients(parameters)
        finally:
            for name, p in parameters.items():
                p.grad = None
                p.requires_grad_(flags[name])


def runtime_for(model: Model) -> TorchScriptRuntime:
    if model.source is None:
        raise RunError("torch: an in-memory ScriptModule cannot be run from netray; save it with torch.jit.save")
    return TorchScriptRuntime(model, Path(model.source))
