"""A parsed ``onnx.ModelProto`` -> a netray Model.

The proto given here may be a structure-only copy (see ``wire.py``): tensors whose
bytes were left in the file carry a marker that ``tensors.make_tensor`` turns into a
memory-mapped loader. This module reads no tensor bytes except the few small scale
and zero-point tensors of quantized values.

Per-node work is kept small: a model of 100,000 nodes should open in about a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from netray import Attribute, AttrKind, Category, Graph, Model, Node, Port, TensorType, Value
from netray.ir import Tensor
from netray_onnx import quantization, schemas, scopes
from netray_onnx.dtypes import dtype_name
from netray_onnx.metadata import category_of
from netray_onnx.proto import AttributeType as _AT
from netray_onnx.schemas import OpPorts, PortSpec
from netray_onnx.tensors import make_sparse_tensor, make_tensor

if TYPE_CHECKING:
    # Messages are read by field name only: netray_onnx.proto's classes (a file) or onnx's own
    # (an in-memory onnx.ModelProto, the text syntax) have the same fields, which onnx's stubs
    # describe. onnx is not imported at runtime.
    import onnx

FORMAT = "ONNX"
# Attributes whose integer value names an element type.
_DTYPE_ATTRIBUTES = frozenset({"to", "dtype", "output_dtype", "saturate_dtype"})
_QUANTIZED_OPS = frozenset(quantization.QUANTIZED_PORTS)
_TORCH_KEYS = frozenset({scopes.NAME_SCOPES_KEY, scopes.NAMESPACE_KEY, scopes.STACK_TRACE_KEY})

FunctionKey = tuple[str, str, str]  # domain, name, overload
_NO_SPEC: PortSpec = ((), False)  # an op without a schema: ports named by position


def _text(data: bytes) -> str:
    """Attribute strings are bytes; most are UTF-8, some are not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def type_text(tp: onnx.TypeProto) -> str:
    """A one-word rendering of any ONNX type: ``float32``, ``seq(float32)``, ``map(string,int64)``."""
    which = tp.WhichOneof("value")
    if which == "tensor_type":
        return dtype_name(tp.tensor_type.elem_type) or "?"
    if which == "sparse_tensor_type":
        return f"sparse({dtype_name(tp.sparse_tensor_type.elem_type) or '?'})"
    if which == "sequence_type":
        return f"seq({type_text(tp.sequence_type.elem_type)})"
    if which == "optional_type":
        return f"optional({type_text(tp.optional_type.elem_type)})"
    if which == "map_type":
        return f"map({dtype_name(tp.map_type.key_type) or '?'},{type_text(tp.map_type.value_type)})"
    if which == "opaque_type":
        return f"opaque({tp.opaque_type.domain}.{tp.opaque_type.name})".replace("(.", "(")
    return "?"


def _shape(shape: onnx.TensorShapeProto) -> tuple[int | str | None, ...]:
    dims: list[int | str | None] = []
    for d in shape.dim:
        which = d.WhichOneof("value")
        dims.append(d.dim_value if which == "dim_value" else (d.dim_param or None) if which == "dim_param" else None)
    return tuple(dims)


def tensor_type(tp: onnx.TypeProto) -> TensorType:
    """dtype and shape (symbolic dims as str, unknown as None) of a value's TypeProto."""
    which = tp.WhichOneof("value")
    if which == "tensor_type" or which == "sparse_tensor_type":
        inner = tp.tensor_type if which == "tensor_type" else tp.sparse_tensor_type
        dtype = dtype_name(inner.elem_type) if which == "tensor_type" else type_text(tp)
        shape = _shape(inner.shape) if inner.HasField("shape") else None
        return TensorType(dtype, shape, tp.denotation)
    if which is None:
        return TensorType(None, None, tp.denotation)
    return TensorType(type_text(tp), None, tp.denotation)


class ModelReader:
    """Builds one netray Model from one ModelProto. Not reusable across models."""

    def __init__(self, path: Path | None, base_dir: Path | None) -> None:
        self.path = path
        self.base_dir = base_dir
        self.opsets: dict[str, int] = {}
        self.functions: dict[tuple[str, str, str], Graph] = {}
        # Which functions each function calls, directly or not; and the function being read, if any.
        self._reaches: dict[FunctionKey, set[FunctionKey]] = {}
        self._calling_function: FunctionKey | None = None
        # (domain, op) -> (category, formal port names) worked out once per op type
        self._op_cache: dict[tuple[str, str], tuple[Category, OpPorts | None]] = {}
        self._scopes = scopes.ScopeCache()

    # -- model ------------------------------------------------------------------------
    def read(self, proto: onnx.ModelProto) -> Model:
        """The model of ``proto`` (the plugin manager pauses the garbage collector around it)."""
        model = Model(FORMAT)
        model.format_version = f"v{proto.ir_version}" if proto.ir_version else ""
        model.producer = proto.producer_name
        model.producer_version = proto.producer_version
        model.description = proto.doc_string
        model.metadata = {p.key: p.value for p in proto.metadata_props}
        for opset in proto.opset_import:
            domain = opset.domain or "ai.onnx"
            model.imports[domain] = str(opset.version)
            self.opsets[domain] = opset.version
        if proto.domain:
            model.properties["domain"] = proto.domain
        if proto.model_version:
            model.properties["model version"] = str(proto.model_version)
        model.properties["IR version"] = str(proto.ir_version)
        # Functions first: nodes of the graphs that call them link to their Graph.
        for function in proto.functions:
            graph = Graph(function.name, kind="function")
            self.functions[(function.domain, function.name, function.overload)] = graph
            model.functions.append(graph)
        self._reaches = _function_reach(proto.functions, set(self.functions))
        for function, graph in zip(proto.functions, model.functions, strict=True):
            self._calling_function = (function.domain, function.name, function.overload)
            self._fill_function(graph, function)
        self._calling_function = None
        model.graphs.append(self.read_graph(proto.graph, "main"))
        for index, training in enumerate(proto.training_info):
            for field in ("initialization", "algorithm"):
                if training.HasField(field):
                    g = self.read_graph(getattr(training, field), "training")
                    g.name = g.name or f"training {index} {field}"
                    model.graphs.append(g)
        return model

    # -- graphs -----------------------------------------------------------------------
    def read_graph(self, proto: onnx.GraphProto, kind: str, outer: Graph | None = None) -> Graph:
        graph = Graph(proto.name, kind=kind)
        graph.description = proto.doc_string
        if len(proto.metadata_props):
            graph.metadata = {p.key: p.value for p in proto.metadata_props}
        values = graph.values
        for init in proto.initializer:
            v = graph.value(init.name)
            v.initializer = make_tensor(init, self.path, self.base_dir)
            v.type = TensorType(v.initializer.dtype, v.initializer.shape)
        for sparse in proto.sparse_initializer:
            tensor = make_sparse_tensor(sparse, self.path, self.base_dir)
            v = graph.value(tensor.name)
            v.initializer = tensor
            v.type = TensorType(tensor.dtype, tensor.shape)
        for vi in proto.input:
            known = values.get(vi.name)
            if known is not None and known.initializer is not None:
                continue  # an old-style model lists its weights as inputs too: keep them as weights
            v = graph.value(vi.name)
            v.type = tensor_type(vi.type)
            graph.inputs.append(v)
        constants: dict[str, Tensor] = {}
        quantized: list[tuple[Node, list[str]]] = []
        needed_by_subgraphs: set[str] = set()
        self._read_nodes(graph, proto.node, constants, quantized, needed_by_subgraphs)
        for vi in proto.output:
            v = graph.value(vi.name)
            t = tensor_type(vi.type)
            if t.dtype is not None or t.shape is not None or v.initializer is None:
                v.type = t
            graph.outputs.append(v)
        for vi in proto.value_info:
            known = values.get(vi.name)
            if known is not None and known.initializer is None:
                known.type = tensor_type(vi.type)
        if kind == "subgraph":
            self._add_implicit_inputs(graph, outer, needed_by_subgraphs)
        if quantized or len(proto.quantization_annotation):
            finder = quantization.ConstantFinder(graph, constants)
            for node, input_names in quantized:
                quantization.annotate_node(node, input_names, finder)
            annotations = [
                (a.tensor_name, {p.key: p.value for p in a.quant_parameter_tensor_names})
                for a in proto.quantization_annotation
            ]
            quantization.annotate_from_graph_annotations(annotations, finder)
        return graph

    def _add_implicit_inputs(self, graph: Graph, outer: Graph | None, needed: set[str]) -> None:
        """Values a subgraph uses from the enclosing scope become (implicit) inputs by name."""
        declared = {v.name for v in graph.inputs}
        passed_through = {v.name for v in graph.outputs}  # an output may be an outer value as it is
        for v in graph.values.values():
            if v.name in declared or v.producer is not None or v.initializer is not None:
                continue
            if v.consumers or v.name in needed or v.name in passed_through:
                outer_value = outer.values.get(v.name) if outer is not None else None
                if outer_value is not None:
                    v.type = outer_value.type
                v.metadata["implicit"] = "from the enclosing graph"
                graph.inputs.append(v)
        for name in needed:
            if name not in graph.values:
                v = graph.value(name)
                v.metadata["implicit"] = "from the enclosing graph"
                graph.inputs.append(v)

    def _fill_function(self, graph: Graph, proto: onnx.FunctionProto) -> None:
        graph.description = proto.doc_string
        graph.metadata["domain"] = proto.domain
        if proto.overload:
            graph.metadata["overload"] = proto.overload
        names = list(proto.attribute) + [a.name for a in proto.attribute_proto]
        if names:
            graph.metadata["attributes"] = ", ".join(names)
        graph.inputs = [graph.value(name) for name in proto.input]
        needed: set[str] = set()
        self._read_nodes(graph, proto.node, {}, [], needed)
        graph.outputs = [graph.value(name) for name in proto.output]
        for vi in proto.value_info:
            v = graph.values.get(vi.name)
            if v is not None:
                v.type = tensor_type(vi.type)

    # -- nodes ------------------------------------------------------------------------
    def _read_nodes(
        self,
        graph: Graph,
        protos: Any,
        constants: dict[str, Tensor],
        quantized: list[tuple[Node, list[str]]],
        needed_by_subgraphs: set[str],
    ) -> None:
        values = graph.values
        nodes = graph.nodes
        op_cache = self._op_cache
        scope_from_name = self._scopes.from_name
        functions = self.functions
        for proto in protos:
            op = proto.op_type
            domain = proto.domain
            key = (domain, op)
            known = op_cache.get(key)
            if known is None:
                known = op_cache[key] = (category_of(domain, op), self._port_specs(key))
            category, spec = known
            name = proto.name
            node = Node(op, name, domain, category=category, scope=scope_from_name(name) if "/" in name else ())
            # Values are linked here (producer, consumers) rather than by Graph.link, in the
            # same pass that builds the ports: this is the hottest code of the reader.
            input_names = proto.input[:]
            node.inputs, used = _ports(input_names, spec[0] if spec else _NO_SPEC, values)
            for v in used:
                v.consumers.append(node)
            output_names = proto.output[:]
            node.outputs, made = _ports(output_names, spec[1] if spec else _NO_SPEC, values)
            for v in made:
                v.producer = node
            first_output = made[0] if output_names and output_names[0] else None
            if len(proto.attribute):
                node.attributes = [self._attribute(a, node, graph) for a in proto.attribute]
                implicit: dict[str, Value] = {}
                for sub in node.subgraphs:
                    for v in sub.inputs:
                        if "implicit" in v.metadata:
                            if v.name not in values:
                                needed_by_subgraphs.add(v.name)
                            implicit.setdefault(v.name, graph.value(v.name))
                if implicit:
                    # What the bodies read from this graph flows into the If/Loop/Scan node:
                    # an edge the user sees, though ONNX lists no such input.
                    node.inputs.append(Port("implicit", list(implicit.values())))
                    for v in implicit.values():
                        v.consumers.append(node)
                if op == "Constant" and first_output is not None:
                    tensor_attr = node.attribute("value")
                    if tensor_attr is not None and isinstance(tensor_attr.value, Tensor):
                        constants[first_output.name] = tensor_attr.value
            if proto.doc_string:
                node.doc = proto.doc_string
            if len(proto.metadata_props):
                self._node_metadata(node, proto.metadata_props)
            if functions:
                called = (domain, op, proto.overload)
                function = functions.get(called)
                if function is not None and self._may_link(called):
                    node.subgraphs.append(function)
            if op in _QUANTIZED_OPS:
                quantized.append((node, input_names))
            node.index = len(nodes)
            nodes.append(node)

    def _may_link(self, called: FunctionKey) -> bool:
        """A call may link to its function unless that makes a cycle (a hostile recursive file)."""
        caller = self._calling_function
        return caller is None or (called != caller and caller not in self._reaches.get(called, ()))

    def _port_specs(self, key: tuple[str, str]) -> OpPorts | None:
        """Formal input and output names of an op (domain, type) from its ONNX schema.

        ONNX Runtime's own operators (FusedConv ...) from its schemas' table; None for an op
        neither knows (custom domains, old experimental ops). A domain
        the model does not import gets the latest schema. Called once per op type.
        """
        domain, op = key
        version = self.opsets.get(domain or "ai.onnx")
        found = schemas.port_specs(domain, op, version)
        if found is None and domain.startswith(("com.microsoft", "com.ms.")):
            found = schemas.contrib_port_specs(domain, op, version)  # ONNX Runtime's own operators
        return found

    def _node_metadata(self, node: Node, props: Any) -> None:
        meta = {p.key: p.value for p in props}
        if scopes.NAME_SCOPES_KEY in meta:
            scope = scopes.scope_from_name_scopes(meta[scopes.NAME_SCOPES_KEY])
            if scope:
                node.scope = self._scopes.intern(scope)
        elif scopes.NAMESPACE_KEY in meta:
            scope = scopes.scope_from_namespace(meta[scopes.NAMESPACE_KEY])
            if scope:
                node.scope = self._scopes.intern(scope)
        if scopes.STACK_TRACE_KEY in meta:
            node.source = scopes.source_from_stack(meta[scopes.STACK_TRACE_KEY])
        node.metadata = {k: v for k, v in meta.items() if k not in _TORCH_KEYS}

    # -- attributes -------------------------------------------------------------------
    def _attribute(self, a: onnx.AttributeProto, node: Node, graph: Graph) -> Attribute:
        t: int = a.type
        name = a.name
        doc = a.doc_string
        if a.ref_attr_name:
            return Attribute(name, AttrKind.OTHER, f"@{a.ref_attr_name}", doc)
        if t == _AT.UNDEFINED:
            t = _guess_type(a)
        if t == _AT.INT:
            if name in _DTYPE_ATTRIBUTES and node.op in ("Cast", "EyeLike", "RandomNormal", "RandomUniform",
                                                          "RandomNormalLike", "RandomUniformLike", "Multinomial",
                                                          "Bernoulli", "DequantizeLinear", "QuantizeLinear"):
                return Attribute(name, AttrKind.DTYPE, dtype_name(a.i) or str(a.i), doc)
            return Attribute(name, AttrKind.INT, a.i, doc)
        if t == _AT.FLOAT:
            return Attribute(name, AttrKind.FLOAT, a.f, doc)
        if t == _AT.STRING:
            return Attribute(name, AttrKind.STRING, _text(a.s), doc)
        if t == _AT.INTS:
            return Attribute(name, AttrKind.INTS, list(a.ints), doc)
        if t == _AT.FLOATS:
            return Attribute(name, AttrKind.FLOATS, list(a.floats), doc)
        if t == _AT.STRINGS:
            return Attribute(name, AttrKind.STRINGS, [_text(s) for s in a.strings], doc)
        if t == _AT.TENSOR:
            return Attribute(name, AttrKind.TENSOR, make_tensor(a.t, self.path, self.base_dir, a.t.name or name), doc)
        if t == _AT.TENSORS:
            return Attribute(name, AttrKind.TENSORS, [make_tensor(x, self.path, self.base_dir) for x in a.tensors], doc)
        if t == _AT.SPARSE_TENSOR:
            return Attribute(name, AttrKind.TENSOR, make_sparse_tensor(a.sparse_tensor, self.path, self.base_dir), doc)
        if t == _AT.SPARSE_TENSORS:
            sparse = [make_sparse_tensor(x, self.path, self.base_dir) for x in a.sparse_tensors]
            return Attribute(name, AttrKind.TENSORS, sparse, doc)
        if t == _AT.GRAPH:
            sub = self._subgraph(a.g, node, graph, name)
            return Attribute(name, AttrKind.GRAPH, sub, doc)
        if t == _AT.GRAPHS:
            subs = [self._subgraph(g, node, graph, f"{name}[{i}]") for i, g in enumerate(a.graphs)]
            return Attribute(name, AttrKind.GRAPHS, subs, doc)
        if t == _AT.TYPE_PROTO:
            return Attribute(name, AttrKind.OTHER, str(tensor_type(a.tp)), doc)
        if t == _AT.TYPE_PROTOS:
            return Attribute(name, AttrKind.OTHER, [str(tensor_type(x)) for x in a.type_protos], doc)
        return Attribute(name, AttrKind.OTHER, None, doc)

    def _subgraph(self, proto: onnx.GraphProto, node: Node, outer: Graph, attribute: str) -> Graph:
        sub = self.read_graph(proto, "subgraph", outer)
        if not sub.name:
            sub.name = f"{node.name or node.op}.{attribute}"
        sub.metadata["attribute"] = attribute
        node.subgraphs.append(sub)
        return sub


def _ports(names: list[str], spec: PortSpec, values: dict[str, Value]) -> tuple[list[Port], list[Value]]:
    """The named values (created on first use) placed in ports named by the op's schema.

    ``spec`` is the schema's (formal names, last one variadic). Positions past the
    formal ones join a variadic last port, or get ports named by their position; an
    empty name is an omitted optional input (an empty port). Also returns the values
    in order, for the caller to link.
    """
    formal, variadic = spec
    count = len(formal)
    ports: list[Port] = []
    held_values: list[Value] = []
    for i, n in enumerate(names):
        if n:
            v = values.get(n)
            if v is None:
                v = values[n] = Value(n)
            held_values.append(v)
            held = [v]
        else:
            held = []
        if i < count:
            ports.append(Port(formal[i], held))
        elif variadic and ports:
            ports[-1].values.extend(held)
        else:
            ports.append(Port(str(i), held))
    return ports, held_values


def _function_reach(functions: Any, known: set[FunctionKey]) -> dict[FunctionKey, set[FunctionKey]]:
    """For each model-local function, every function it calls directly or indirectly."""
    calls: dict[FunctionKey, set[FunctionKey]] = {}
    for f in functions:
        key = (f.domain, f.name, f.overload)
        calls[key] = {c for n in f.node if (c := (n.domain, n.op_type, n.overload)) in known}
    reach: dict[FunctionKey, set[FunctionKey]] = {}
    for start in calls:
        seen: set[FunctionKey] = set()
        stack = list(calls[start])
        while stack:
            key = stack.pop()
            if key not in seen:
                seen.add(key)
                stack.extend(calls.get(key, ()))
        reach[start] = seen
    return reach


def _guess_type(a: onnx.AttributeProto) -> int:
    """Attributes of very old models have no ``type``: infer it from the field that is set."""
    for field, kind in (
        ("g", _AT.GRAPH),
        ("t", _AT.TENSOR),
        ("sparse_tensor", _AT.SPARSE_TENSOR),
        ("tp", _AT.TYPE_PROTO),
    ):
        if a.HasField(field):
            return kind
    for repeated, kind in (
        ("graphs", _AT.GRAPHS),
        ("tensors", _AT.TENSORS),
        ("strings", _AT.STRINGS),
        ("ints", _AT.INTS),
        ("floats", _AT.FLOATS),
    ):
        if len(getattr(a, repeated)):
            return kind
    if a.HasField("s"):
        return _AT.STRING
    if a.HasField("f"):
        return _AT.FLOAT
    if a.HasField("i"):
        return _AT.INT
    return _AT.UNDEFINED
