"""TensorFlow NodeDefs (of a GraphDef or a FunctionDef) -> a netray Graph.

Every NodeDef becomes one Node. Values are named as TensorFlow names tensors:
``node:0`` in a GraphDef, ``node:output_arg:0`` inside a function body, and a
function's own inputs by their argument names. ``^node`` inputs are control
dependencies (Node.control_inputs), not data. A Const stays a node; its output
value carries the constant as a lazy initializer Tensor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netray import Attribute, AttrKind, Category, FormatError, Graph, Node, Port, Shape, TensorType, Value
from netray_tensorflow.operators import INPUT_NAMES, lookup
from netray_tensorflow.shapes import BOOL_OPS, DTYPE_ATTR
from netray_tensorflow.tensors import dtype_name, shape_of, tensor_from_proto

INPUT_OPS = ("Placeholder", "PlaceholderWithDefault")
# Ops whose absence of consumers does not make them a graph output.
NOT_OUTPUTS = frozenset({"NoOp", "Const", "Assert", "SaveV2", "Save", "RestoreV2", "MergeV2Checkpoints", *INPUT_OPS})
# Ops TensorFlow defines with no outputs (a MetaGraph's own OpDefs say so for the ops it uses).
NO_OUTPUT_OPS = frozenset(
    "NoOp Assert SaveV2 Save SaveSlices MergeV2Checkpoints AssignVariableOp AssignAddVariableOp AssignSubVariableOp "
    "DisableCopyOnRead DestroyResourceOp InitializeTableV2 InitializeTableFromTextFileV2 LookupTableImportV2 "
    "ResourceScatterUpdate ResourceScatterAdd ResourceApplyGradientDescent ResourceApplyAdam ControlTrigger".split()
)
DTYPE_ATTRS = ("T", "dtype", "out_type", "DstT", "Tout")


def parse_ref(ref: str) -> tuple[str, str, bool]:
    """``^a`` -> (a, "", control); ``a`` -> (a, "0"); ``a:1`` -> (a, "1"); ``a:out:2`` -> (a, "out:2")."""
    if ref.startswith("^"):
        return ref[1:], "", True
    name, sep, key = ref.partition(":")
    return name, (key if sep else "0"), False


def key_order(key: str) -> tuple[int, str, int]:
    """Outputs in TensorFlow's order: numbered, or by output argument then index."""
    if key.isdigit():
        return (int(key), "", 0)
    arg, _, index = key.rpartition(":")
    return (1 << 30, arg, int(index) if index.isdigit() else 0)


@dataclass
class Context:
    """What conversions need from the file as a whole."""

    path: Path
    format: str
    functions: dict[str, Graph] = field(default_factory=dict)  # shells, filled by the reader
    op_defs: dict[str, Any] = field(default_factory=dict)  # OpDefs from a MetaGraph's stripped_op_list
    calls: list[tuple[Graph, Node, Graph]] = field(default_factory=list)  # (caller graph, node, callee)


def convert_attribute(name: str, value: Any, ctx: Context, owner: str) -> Attribute:
    """An AttrValue as a typed Attribute; functions become GRAPH attributes."""
    which = value.WhichOneof("value")
    if which == "s":
        return Attribute(name, AttrKind.STRING, _text(value.s))
    if which == "i":
        return Attribute(name, AttrKind.INT, int(value.i))
    if which == "f":
        return Attribute(name, AttrKind.FLOAT, float(value.f))
    if which == "b":
        return Attribute(name, AttrKind.BOOL, bool(value.b))
    if which == "type":
        return Attribute(name, AttrKind.DTYPE, dtype_name(value.type))
    if which == "shape":
        return Attribute(name, AttrKind.SHAPE, shape_of(value.shape))
    if which == "tensor":
        return Attribute(
            name, AttrKind.TENSOR, tensor_from_proto(value.tensor, f"{owner}.{name}", ctx.path, ctx.format)
        )
    if which == "func":
        graph = ctx.functions.get(value.func.name)
        if graph is None:
            return Attribute(name, AttrKind.STRING, value.func.name)
        return Attribute(name, AttrKind.GRAPH, graph)
    if which == "placeholder":
        return Attribute(name, AttrKind.STRING, f"${value.placeholder}")
    if which == "list":
        return _convert_list(name, value.list, ctx, owner)
    return Attribute(name, AttrKind.OTHER, None)


def _convert_list(name: str, lst: Any, ctx: Context, owner: str) -> Attribute:
    if lst.s:
        return Attribute(name, AttrKind.STRINGS, [_text(s) for s in lst.s])
    if lst.i:
        return Attribute(name, AttrKind.INTS, [int(i) for i in lst.i])
    if lst.f:
        return Attribute(name, AttrKind.FLOATS, [float(f) for f in lst.f])
    if lst.b:
        return Attribute(name, AttrKind.BOOLS, [bool(b) for b in lst.b])
    if lst.type:
        return Attribute(name, AttrKind.DTYPES, [dtype_name(t) for t in lst.type])
    if lst.shape:
        return Attribute(name, AttrKind.SHAPES, [shape_of(s) for s in lst.shape])
    if lst.tensor:
        return Attribute(
            name,
            AttrKind.TENSORS,
            [tensor_from_proto(t, f"{owner}.{name}[{k}]", ctx.path, ctx.format) for k, t in enumerate(lst.tensor)],
        )
    if lst.func:
        graphs = [ctx.functions.get(f.name) for f in lst.func]
        if all(g is not None for g in graphs):
            return Attribute(name, AttrKind.GRAPHS, graphs)
        return Attribute(name, AttrKind.STRINGS, [f.name for f in lst.func])
    return Attribute(name, AttrKind.INTS, [])


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return repr(raw)


def called_functions(node_def: Any, ctx: Context) -> list[Graph]:
    """Functions a node runs: attrs holding functions (f, body, cond, then/else_branch ...) or the op itself."""
    names: list[str] = []
    if node_def.op in ctx.functions:
        names.append(node_def.op)
    for key in sorted(node_def.attr):
        value = node_def.attr[key]
        which = value.WhichOneof("value")
        if which == "func":
            names.append(value.func.name)
        elif which == "list":
            names.extend(f.name for f in value.list.func)
    seen: list[Graph] = []
    for n in names:
        graph = ctx.functions.get(n)
        if graph is not None and graph not in seen:
            seen.append(graph)
    return seen


class GraphBuilder:
    """Fills one Graph from NodeDefs."""

    def __init__(self, ctx: Context, graph: Graph) -> None:
        self.ctx = ctx
        self.graph = graph
        self.nodes: dict[str, Node] = {}
        self.output_keys: dict[str, list[str]] = {}

    def build(
        self,
        node_defs: Sequence[Any],
        arguments: Iterable[tuple[str, TensorType]] = (),
        output_refs: Sequence[str] | None = None,
    ) -> Graph:
        """Nodes, values and edges; ``arguments`` are a function's inputs, ``output_refs`` its results."""
        graph = self.graph
        for arg_name, arg_type in arguments:
            graph.inputs.append(graph.value(arg_name, arg_type))
        for nd in node_defs:
            if nd.name in self.nodes:
                raise FormatError(
                    self.ctx.path, self.ctx.format, f"graph {graph.name!r} has two nodes named {nd.name!r}"
                )
            self.nodes[nd.name] = self._node(nd)
            self.output_keys[nd.name] = []
        for nd in node_defs:
            for ref in nd.input:
                self._note_ref(ref)
        for ref in output_refs or ():
            self._note_ref(ref)
        for nd in node_defs:
            self._outputs(nd)
        for nd in node_defs:
            self._inputs(nd)
            graph.add_node(self.nodes[nd.name])
        graph.link()
        if self.graph.kind != "function":
            graph.inputs.extend(v for n in graph.nodes if n.op in INPUT_OPS for v in n.output_values())
        if output_refs is not None:
            graph.outputs.extend(self.value_for(ref) for ref in output_refs)
        else:
            graph.outputs.extend(self._sinks())
        return graph

    # -- nodes ----------------------------------------------------------------------
    def _node(self, nd: Any) -> Node:
        info = lookup(nd.op)
        name = nd.name
        node = Node(
            nd.op,
            name=name,
            category=info[0] if info else (Category.CONTROL if nd.op in self.ctx.functions else Category.OTHER),
            doc=info[1] if info else "",
            scope=tuple(p for p in name.split("/")[:-1] if p),
            attributes=[convert_attribute(k, nd.attr[k], self.ctx, name) for k in sorted(nd.attr)],
        )
        node.device = nd.device
        for callee in called_functions(nd, self.ctx):
            self.ctx.calls.append((self.graph, node, callee))
        return node

    def _note_ref(self, ref: str) -> None:
        src, key, control = parse_ref(ref)
        if not control and src in self.output_keys and key not in self.output_keys[src]:
            self.output_keys[src].append(key)

    def _outputs(self, nd: Any) -> None:
        keys = self.output_keys[nd.name]
        shapes = self._output_shapes(nd)
        in_function = self.graph.kind == "function"
        if not in_function:  # a function body names outputs by argument: numbered keys would be extra values
            for i in range(len(shapes)):
                if str(i) not in keys:
                    keys.append(str(i))
        if not keys and not self._has_no_outputs(nd.op):
            keys.append("0")
        keys.sort(key=key_order)
        node = self.nodes[nd.name]
        dtype = self._single_dtype(nd)
        listed = nd.attr["_output_types"].list.type if "_output_types" in nd.attr else []
        numbering = self._flat_numbers(nd, keys) if in_function else {}
        for key in keys:
            number = int(key) if key.isdigit() else numbering.get(key)
            shape = shapes[number] if number is not None and number < len(shapes) else None
            value = self.graph.value(f"{nd.name}:{key}")
            if number is not None and number < len(listed):
                value.type = TensorType(dtype_name(listed[number]), shape)
            else:
                value.type = TensorType(dtype if len(keys) == 1 else None, shape)
            node.outputs.append(Port("output" if len(keys) == 1 else key, [value]))
        constant = node.attribute("value")
        if nd.op == "Const" and constant is not None and constant.kind is AttrKind.TENSOR and node.outputs:
            tensor = constant.value  # the attribute and the output value share one lazy Tensor
            tensor.name = nd.name
            value = node.outputs[0].values[0]
            value.initializer = tensor
            value.type = TensorType(tensor.dtype, tensor.shape)
        elif nd.op in INPUT_OPS and node.outputs and "shape" in nd.attr:
            value = node.outputs[0].values[0]
            declared = shape_of(nd.attr["shape"].shape)
            value.type = TensorType(dtype, declared if declared is not None else value.type.shape)

    def _has_no_outputs(self, op: str) -> bool:
        op_def = self.ctx.op_defs.get(op)
        return not op_def.output_arg if op_def is not None else op in NO_OUTPUT_OPS

    def _flat_numbers(self, nd: Any, keys: list[str]) -> dict[str, int]:
        """Function-body output keys (``arg:i``) -> TensorFlow's flat output number, where it is certain:
        one output argument, or an OpDef whose output arguments are single tensors."""
        args = {k.rpartition(":")[0] for k in keys}
        indices = {k: k.rpartition(":")[2] for k in keys}
        if not all(i.isdigit() for i in indices.values()):
            return {}
        if len(args) == 1:
            return {k: int(i) for k, i in indices.items()}
        op_def = self.ctx.op_defs.get(nd.op)
        if op_def is None or any(a.number_attr or a.type_list_attr for a in op_def.output_arg):
            return {}
        flat = {a.name: n for n, a in enumerate(op_def.output_arg)}
        return {k: flat[k.rpartition(":")[0]] for k in keys if k.rpartition(":")[0] in flat and indices[k] == "0"}

    @staticmethod
    def _output_shapes(nd: Any) -> list[Shape | None]:
        attr = nd.attr.get("_output_shapes")
        return [shape_of(s) for s in attr.list.shape] if attr is not None else []

    @staticmethod
    def _single_dtype(nd: Any) -> str | None:
        if nd.op in BOOL_OPS:
            return "bool"
        for key in (DTYPE_ATTR.get(nd.op, "T"), *DTYPE_ATTRS):
            attr = nd.attr.get(key)
            if attr is not None and attr.WhichOneof("value") == "type":
                return dtype_name(attr.type)
        return None

    def _inputs(self, nd: Any) -> None:
        node = self.nodes[nd.name]
        data_refs = [r for r in nd.input if not r.startswith("^")]
        names = self._input_names(nd.op, len(data_refs))
        for port_name, ref in zip(names, data_refs, strict=True):
            node.inputs.append(Port(port_name, [self.value_for(ref)]))
        for ref in nd.input:
            src, _, control = parse_ref(ref)
            if control and src in self.nodes and self.nodes[src] not in node.control_inputs:
                node.control_inputs.append(self.nodes[src])

    def _input_names(self, op: str, count: int) -> list[str]:
        """The OpDef's argument names when the file carries them (or the table knows them) one to one."""
        op_def = self.ctx.op_defs.get(op)
        if op_def is not None:
            args = list(op_def.input_arg)
            if len(args) == count and not any(a.number_attr or a.type_list_attr for a in args):
                return [a.name for a in args]
        known = INPUT_NAMES.get(op)
        if known is not None and len(known) == count:
            return list(known)
        return ["input"] if count == 1 else [f"input{i}" for i in range(count)]

    def value_for(self, ref: str) -> Value:
        """The value a data reference names; unknown sources (function arguments) by their own name."""
        src, key, _ = parse_ref(ref)
        if src in self.nodes:
            return self.graph.value(f"{src}:{key}")
        return self.graph.value(src if key == "0" else f"{src}:{key}")

    def _sinks(self) -> list[Value]:
        """Graph outputs of a plain GraphDef: values of nodes nobody reads or waits for."""
        awaited = {id(c) for n in self.graph.nodes for c in n.control_inputs}
        sinks = []
        for node in self.graph.nodes:
            if node.op in NOT_OUTPUTS or id(node) in awaited:
                continue
            values = list(node.output_values())
            if values and not any(v.consumers for v in values):
                sinks.append(values[0])
        return sinks
