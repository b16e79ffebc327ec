"""Running an ExportedProgram (``.pt2``) on torch, node by node, capturing every value netray's IR names.

The program is loaded with ``torch.export.load`` only after the archive has been checked
(:func:`check_archive`): torch's loader falls back to unrestricted unpickling for some
payloads, resolves node targets by ``getattr`` on ``torch`` and parses symbolic sizes with
``sympy.sympify`` (an ``eval``). The check refuses what could execute code, and every
``torch.load`` inside runs with weights only.

The lifted graph (``ep.graph_module``: parameters, buffers and constants are placeholders)
is the graph the ``.pt2`` serializes and netray reads, so its FX node names are the IR's
node names; a multi-output node's values are the IR's ``getitem`` names. A
``torch.fx.Interpreter`` runs it one node at a time: the value each node returns is the
value handed to ``capture`` and to the nodes after it, so captures are the run's own
numbers, and ``ep.module()`` (the same graph with the weights as attributes) computes the
same outputs bit for bit.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import operator
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.fx

from netray import Model
from netray.errors import first_line
from netray.runtime import Cancelled, Capture, RunCancelled, RunError
from netray.torch_loss import torch_loss
from netray_pytorch.torch_run import GradientCapture, gradients, scalar_array, to_numpy, to_tensor

RUNTIME_NAME = "torch (ExportedProgram, FX interpreter: every node)"

_OP_TARGET = re.compile(r"torch\.ops\.[A-Za-z_]\w*\.[A-Za-z_]\w*(\.[A-Za-z_]\w*)?")
_OTHER_TARGETS = re.compile(r"(_operator|math)\.[a-z_]\w*|torch\.(sym_\w+|_sym_sqrt)")
_EXPR_CHARS = re.compile(r"[\w\s+\-*/%(),.<>=!&|~^]*")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_BUILTINS = frozenset(dir(builtins))
_SAFE_CALLABLES = (operator.getitem,)


def _check_expression(expr: str, where: str) -> None:
    """A symbolic size torch hands to ``sympy.sympify``: arithmetic on symbols and sympy functions only."""
    if len(expr) > 10_000 or not _EXPR_CHARS.fullmatch(expr) or re.search(r"\.\s*[A-Za-z_]", expr):
        raise RunError(f"torch: refusing to load {where}: symbolic expression {expr[:80]!r} is not plain arithmetic")
    for ident in _IDENTIFIER.findall(expr):
        if ident.startswith("_") or ident in _BUILTINS or ident in ("lambda", "import"):
            raise RunError(f"torch: refusing to load {where}: symbolic expression names {ident!r}")


def _check_json(program: Any, where: str) -> None:
    """Every node target an operator, every symbolic expression arithmetic (walks nested graphs)."""
    stack = [program]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "expr_str" and isinstance(value, str):
                    _check_expression(value, where)
                elif key == "range_constraints" and isinstance(value, dict):
                    for name in value:
                        _check_expression(str(name), where)
                elif key == "nodes" and isinstance(value, list):
                    for node in value:
                        target = node.get("target") if isinstance(node, dict) else None
                        if not isinstance(target, str) or not (_OP_TARGET.fullmatch(target) or _OTHER_TARGETS.fullmatch(target)):
                            raise RunError(f"torch: refusing to load {where}: node target {str(target)[:80]!r} is not an operator")
                        if target.startswith("torch.ops.") and target.split(".")[2] in ("load_library", "import_module"):
                            raise RunError(f"torch: refusing to load {where}: node target {target!r}")
                if isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))


def check_archive(path: Path) -> None:
    """Refuse archives whose loading could run code: compiled AOTInductor libraries, pickled
    custom or opaque objects, operator targets that are not operators, expressions that are not arithmetic."""
    where = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            for name in names:
                if "/data/aotinductor/" in f"/{name}" or name.endswith((".so", ".dll", ".dylib", ".pyd")):
                    raise RunError(f"torch: refusing to load {where}: it holds compiled code ({name})")
            for name in names:
                if re.search(r"(^|/)data/constants/[^/]+_constants_config\.json$", name):
                    config = json.loads(archive.read(name)).get("config") or {}
                    for fqn, entry in config.items():
                        path_name = str((entry or {}).get("path_name", ""))
                        if not path_name.startswith("tensor_"):
                            raise RunError(f"torch: refusing to load {where}: constant {fqn!r} is a pickled object ({path_name})")
                elif re.search(r"(^|/)models/[^/]+\.json$", name) or name.endswith("serialized_exported_program.json"):
                    if archive.getinfo(name).file_size > 512 * 1024 * 1024:
                        raise RunError(f"torch: refusing to load {where}: {name} is implausibly large")
                    _check_json(json.loads(archive.read(name)), where)
    except (zipfile.BadZipFile, OSError, ValueError, RecursionError, KeyError) as exc:
        raise RunError(f"torch: cannot check {where} before loading it: {first_line(exc)}") from exc


@contextlib.contextmanager
def _weights_only_loads() -> Iterator[None]:
    """Every ``torch.load`` in the block unpickles weights only, whatever its caller asked."""
    old = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = old


def load_program(path: Path) -> Any:
    """``torch.export.load`` after :func:`check_archive`, weights only; RunError on failure."""
    check_archive(path)
    try:
        with _weights_only_loads():
            program = torch.export.load(str(path))
    except RunError:
        raise
    except Exception as exc:
        raise RunError(f"torch: torch.export.load failed on {path.name}: {first_line(exc)}") from exc
    for node in program.graph_module.graph.nodes:
        _check_target(node, path.name)
    return program


def _check_target(node: torch.fx.Node, where: str) -> None:
    if node.op in ("placeholder", "output", "get_attr"):
        return
    target = node.target
    if node.op == "call_function" and (
        isinstance(target, (torch._ops.OpOverload, torch._ops.HigherOrderOperator))
        or target in _SAFE_CALLABLES
        or getattr(target, "__module__", None) in ("_operator", "math")
        or str(getattr(target, "__name__", "")).startswith(("sym_", "_sym_"))
    ):
        return
    raise RunError(f"torch: refusing to run {where}: node {node.name} calls {target!r}, which is not an operator")


def _flatten(result: Any) -> list[Any]:
    """A node's outputs in the order the serializer names them (None entries have no name)."""
    if isinstance(result, (list, tuple)):
        return [leaf for item in result for leaf in _flatten(item)]
    return [] if result is None else [result]


def _as_leaves(result: Any) -> Any:
    """Floating tensors that depend on no weight or input (rotary angles, masks) made leaves
    that require a gradient, so the loss's gradient with respect to them is computed too.
    Nothing upstream needed a gradient, so no path to a weight is cut."""
    if isinstance(result, torch.Tensor):
        if (result.is_floating_point() or result.is_complex()) and not result.requires_grad:
            return result.detach().requires_grad_(True)
        return result
    if isinstance(result, (list, tuple)) and any(isinstance(r, torch.Tensor) for r in result):
        items = [_as_leaves(r) for r in result]
        return items if isinstance(result, list) else tuple(items)
    return result


class _Interpreter(torch.fx.Interpreter):
    """Runs the graph a node at a time, polling ``cancelled`` and reporting each named value."""

    def __init__(
        self, runtime: ExportedProgramRuntime, on_value: Callable[[str, Any], None], cancelled: Cancelled, leaves: bool = False
    ) -> None:
        super().__init__(runtime.graph_module, garbage_collect_values=True)
        self.leaves = leaves
        self.runtime = runtime
        self.on_value = on_value
        self.cancelled = cancelled
        self.reported: set[str] = set()

    def run_node(self, n: torch.fx.Node) -> Any:
        if self.cancelled():
            raise RunCancelled(f"cancelled before node {n.name}")
        if n.op == "placeholder":
            return super().run_node(n)
        try:
            result = super().run_node(n)
        except (RunCancelled, RunError):
            raise
        except Exception as exc:
            target = getattr(n.target, "__name__", str(n.target))
            raise RunError(f"torch: node {n.name} ({target}) failed: {first_line(exc)}") from exc
        if self.leaves and n.target is not operator.getitem:
            result = _as_leaves(result)
        plan = self.runtime.node_values.get(n.name)
        if plan is not None:
            leaves = _flatten(result)
            if len(leaves) == len(plan):
                for name, leaf in zip(plan, leaves, strict=True):
                    self._report(name, leaf)
        elif n.target is operator.getitem and n.name in self.runtime.value_names:
            self._report(n.name, result)  # a value the parent's outputs did not line up with
        return result

    def _report(self, name: str, value: Any) -> None:
        if name not in self.reported:
            self.reported.add(name)
            self.on_value(name, value)


class ExportedProgramRuntime:
    """An ExportedProgram on torch's CPU, run through the FX interpreter (every node's values captured)."""

    name = RUNTIME_NAME
    backward_supported = True
    granularity = "every node of the lifted FX graph (the .pt2's own graph)"

    def __init__(self, model: Model, program: Any, where: str) -> None:
        self.where = where  # the file's name, or what the in-memory program was
        self.program = program
        self.graph_module = self.program.graph_module
        graph = model.main
        if graph is None:
            raise RunError(f"torch: {where} has no graph to run")
        self.node_values: dict[str, list[str]] = {
            node.name: [v.name for v in node.output_values()] for node in graph.nodes
        }
        self.value_names = set(graph.values)
        self.mutating = any(
            isinstance(n.target, torch._ops.OpOverload) and n.target._schema.is_mutable
            for n in self.graph_module.graph.nodes
        )
        self._bind_inputs(graph)

    def _bind_inputs(self, graph: Any) -> None:
        from torch.export.graph_signature import InputKind, OutputKind

        placeholders = [n for n in self.graph_module.graph.nodes if n.op == "placeholder"]
        specs = list(self.program.graph_signature.input_specs)
        if len(specs) != len(placeholders):
            raise RunError(f"torch: {self.where}: {len(specs)} input specs for {len(placeholders)} placeholders")
        state = dict(self.program.state_dict)
        constants = dict(self.program.constants)
        self.slots: list[tuple[str, str, Any]] = []  # (kind, placeholder name, tensor or declared dtype)
        self.parameters: list[str] = []
        for node, spec in zip(placeholders, specs, strict=True):
            name = node.name
            if spec.kind == InputKind.USER_INPUT:
                val = node.meta.get("val")
                if not isinstance(val, torch.Tensor) and hasattr(spec.arg, "value"):
                    self.slots.append(("constant", name, spec.arg.value))
                    continue
                self.slots.append(("input", name, val.dtype if isinstance(val, torch.Tensor) else None))
                continue
            target = spec.target
            tensor = state.get(target) if target in state else constants.get(target)
            if tensor is None:
                raise RunError(f"torch: {self.where}: no data for {spec.kind.name.lower()} {target!r} ({name})")
            if spec.kind == InputKind.PARAMETER:
                self.parameters.append(name)
                self.slots.append(("parameter", name, tensor))
            elif spec.kind == InputKind.TOKEN:
                raise RunError(f"torch: {self.where}: side-effect tokens are not supported")
            else:
                self.slots.append(("weight", name, tensor))
        self.input_names = [name for kind, name, _ in self.slots if kind == "input"]
        outputs = list(self.program.graph_signature.output_specs)
        self.output_names = [getattr(spec.arg, "name", f"output{i}") for i, spec in enumerate(outputs)]
        self.user_outputs = [getattr(spec.arg, "name", "") for spec in outputs if spec.kind == OutputKind.USER_OUTPUT]
        missing = [v.name for v in graph.inputs if v.name not in self.input_names]
        if missing:
            raise RunError(f"torch: {self.where}: the program has no input named {missing[0]!r}")

    def _arguments(self, inputs: Mapping[str, np.ndarray], grad: bool) -> tuple[list[Any], dict[str, torch.Tensor]]:
        args: list[Any] = []
        leaves: dict[str, torch.Tensor] = {}
        for kind, name, data in self.slots:
            if kind == "input":
                if name not in inputs:
                    raise RunError(f"torch: input {name!r} was not given (the program's inputs: {', '.join(self.input_names)})")
                t = to_tensor(inputs[name], data)
                if grad and t.is_floating_point():
                    t.requires_grad_(True)
                args.append(t)
            elif kind == "constant":
                args.append(data)
            elif kind == "parameter":
                t = data.detach()
                if grad and (t.is_floating_point() or t.is_complex()):
                    t.requires_grad_(True)
                    leaves[name] = t
                args.append(t)
            else:
                args.append(data.detach() if isinstance(data, torch.Tensor) else data)
        return args, leaves

    def _run(self, args: list[Any], on_value: Callable[[str, Any], None], cancelled: Cancelled, leaves: bool = False) -> dict[str, Any]:
        interpreter = _Interpreter(self, on_value, cancelled, leaves)
        result = interpreter.run(*args, enable_io_processing=False)
        values = _flatten(result) if isinstance(result, (list, tuple)) else [result]
        if len(values) != len(self.output_names):
            raise RunError(f"torch: {self.where} returned {len(values)} values for {len(self.output_names)} outputs")
        if cancelled():
            raise RunCancelled("cancelled after the last node")
        return dict(zip(self.output_names, values, strict=True))

    def forward(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        copy = self.mutating

        def on_value(name: str, value: Any) -> None:
            array = to_numpy(value, copy=copy) if isinstance(value, torch.Tensor) else scalar_array(value)
            if array is not None:
                capture(name, array)

        args, _ = self._arguments(inputs, grad=False)
        with torch.no_grad():
            outputs = self._run(args, on_value, cancelled)
        return {name: to_numpy(v, copy=True) if isinstance(v, torch.Tensor) else np.asarray(v) for name, v in outputs.items()}

    def backward(
        self, inputs: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray] | None, capture: Capture, cancelled: Cancelled
    ) -> dict[str, np.ndarray]:
        grads = GradientCapture(capture, cancelled)
        args, leaves = self._arguments(inputs, grad=True)
        with torch.enable_grad():
            outputs = self._run(args, grads.watch, cancelled, leaves=not self.mutating)
            grads.backward(torch_loss({k: v for k, v in outputs.items() if k in self.user_outputs}, target, "torch"), "torch")
        return gradients(leaves)


def runtime_for(model: Model) -> ExportedProgramRuntime:
    """The runtime of a ``.pt2`` file (checked, then loaded), or of the program an in-memory module was read from."""
    if model.source is not None:
        path = Path(model.source)
        return ExportedProgramRuntime(model, load_program(path), path.name)
    from netray_pytorch.from_module import program_of

    program = program_of(model)
    if program is None:
        raise RunError("torch: this model was read from neither a file nor a live ExportedProgram; nothing to run")
    return ExportedProgramRuntime(model, program, "the in-memory program")


__all__ = ["RUNTIME_NAME", "ExportedProgramRuntime", "check_archive", "load_program", "runtime_for"]
