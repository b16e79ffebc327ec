"""Graph models: the TensorFlow GraphDef in model.json, drawn as the TensorFlow plugin draws GraphDefs.

``modelTopology`` is a GraphDef in protobuf's JSON mapping (``node[]`` with name, op,
input, attr; ``library.function``; ``versions``), so protobuf's own JSON parser reads
it into TensorFlow's GraphDef message (tensorboard's copy) and the TensorFlow plugin's
builder makes the graph: op names, attributes decoded from their JSON encodings
(``{"type": "DT_FLOAT"}``, ``{"i": "3"}``, base64 ``{"s": ...}``), ``^name`` control
inputs, functions as subgraphs.

The converter moves every ``Const``'s values into the weights manifest, named as the
node. Those constants are not drawn as boxes: their value becomes a weight of each
node that reads it (a Const awaited through a control input stays a node).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import json_format

from netray import FormatError, Graph, Model, Node, Tensor, TensorType
from netray_tensorflow import protos
from netray_tensorflow.graphdef import Context
from netray_tensorflow.reader import attach_calls, build_graphs
from netray_tensorflow.shapes import propagate_model
from netray_tensorflow.tensors import dtype_name
from netray_tfjs.formats import GRAPH
from netray_tfjs.manifest import Weights

STORED_FIELDS = frozenset({"dtype", "tensor_shape", "version_number"})  # a TensorProto with only these holds no values


def parse_graph_def(path: Path, topology: Any, what: str = "modelTopology") -> Any:
    if not isinstance(topology, dict):
        raise FormatError(path, GRAPH, f"{what} is not a GraphDef object")
    try:
        return json_format.ParseDict(topology, protos.GraphDef(), ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise FormatError(path, GRAPH, f"{what} is not a valid GraphDef: {reason}") from exc


def signature_outputs(signature: Any) -> list[str] | None:
    """Output tensor names (``Identity:0``) of the model's signature, in its order."""
    if not isinstance(signature, dict) or not isinstance(signature.get("outputs"), dict):
        return None
    names = []
    for key, info in signature["outputs"].items():
        name = info.get("name") if isinstance(info, dict) else None
        names.append(name if isinstance(name, str) and name else key)
    return names or None


def signature_type(info: Any) -> TensorType:
    """A signature's TensorInfo (``{"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "-1"}]}}``) as a type."""
    if not isinstance(info, dict):
        return TensorType()
    dtype = None
    if isinstance(info.get("dtype"), str):
        try:
            dtype = dtype_name(protos.DataType.Value(info["dtype"]))
        except ValueError:
            dtype = info["dtype"]
    shape_info = info.get("tensorShape")
    if not isinstance(shape_info, dict) or shape_info.get("unknownRank"):
        return TensorType(dtype, None)
    dims: list[int | None] = []
    for d in shape_info.get("dim") or []:
        size = d.get("size", -1) if isinstance(d, dict) else -1
        try:
            number = int(size)
        except (TypeError, ValueError):
            number = -1
        dims.append(number if number >= 0 else None)
    return TensorType(dtype, tuple(dims))


def signature_text(signature: Any) -> str:
    """``(input:0 int32[1x192x192x3]) -> (Identity:0 float32[1x1x17x3])``."""
    if not isinstance(signature, dict):
        return ""

    def side(key: str) -> str:
        items = signature.get(key)
        if not isinstance(items, dict):
            return ""
        return ", ".join(f"{name} {signature_type(info)}" for name, info in items.items())

    return f"({side('inputs')}) -> ({side('outputs')})"


def _typed_from_signature(graph: Graph, signature: Any) -> None:
    """Inputs and outputs the graph leaves untyped take the signature's dtype and shape."""
    if not isinstance(signature, dict):
        return
    for key in ("inputs", "outputs"):
        items = signature.get(key)
        for name, info in items.items() if isinstance(items, dict) else ():
            value_name = info.get("name", name) if isinstance(info, dict) else name
            value = graph.values.get(str(value_name))
            if value is not None and value.type.shape is None:
                typed = signature_type(info)
                value.type = TensorType(value.type.dtype or typed.dtype, typed.shape)


def build_graph_model(path: Path, doc: dict[str, Any], weights: Weights) -> Model:
    graph_def = parse_graph_def(path, doc.get("modelTopology"))
    if not graph_def.node and not graph_def.library.function:
        raise FormatError(path, GRAPH, "the GraphDef holds no nodes")
    tensors = weights.tensors()
    ctx = Context(path, GRAPH)
    main = build_graphs(graph_def, ctx, path.parent.name or path.stem, signature_outputs(doc.get("signature")))
    model = Model(GRAPH, [main])
    parts = [(graph_def, ctx, main)]
    initializer = doc.get("modelInitializer")
    if isinstance(initializer, dict) and initializer.get("node"):
        # Newer converters keep the ops that fill lookup tables as a second GraphDef, run once.
        init_def, init_ctx = parse_graph_def(path, initializer, "modelInitializer"), Context(path, GRAPH)
        init_graph = build_graphs(init_def, init_ctx, "initializer", None)
        init_graph.kind = "initializer"
        model.graphs.append(init_graph)
        parts.append((init_def, init_ctx, init_graph))
    used: set[str] = set()
    for part_def, part_ctx, top in parts:
        inline = constants_with_values(part_def)
        used |= constants_as_weights(top, tensors, "", inline)
        for name, function in part_ctx.functions.items():
            used |= constants_as_weights(function, tensors, name, inline)
    for _, part_ctx, _ in parts:
        model.functions.extend(g for g in part_ctx.functions.values() if g not in model.functions)
        note = attach_calls(part_ctx, [*model.graphs, *model.functions])
        if note:
            model.properties["function calls"] = note
    model.tensors = {name: t for name, t in tensors.items() if name not in used}
    _typed_from_signature(main, doc.get("signature"))
    propagate_model(list(model.all_graphs()))
    _describe(model, graph_def, doc)
    return model


def constants_with_values(graph_def: Any) -> set[str]:
    """Const nodes whose TensorProto in the JSON still holds values (``name``, ``function/name``)."""

    def holds(node_def: Any) -> bool:
        tensor = node_def.attr["value"].tensor if "value" in node_def.attr else None
        return tensor is not None and any(f.name not in STORED_FIELDS for f, _ in tensor.ListFields())

    found = {nd.name for nd in graph_def.node if nd.op == "Const" and holds(nd)}
    for function in graph_def.library.function:
        name = function.signature.name
        found |= {f"{name}/{nd.name}" for nd in function.node_def if nd.op == "Const" and holds(nd)}
    return found


def constants_as_weights(graph: Graph, tensors: dict[str, Tensor], function: str, inline: set[str]) -> set[str]:
    """Const nodes become weights of their readers; returns the manifest names used.

    A Const's value comes from the manifest (named as the node, or ``function/node`` inside
    a function body), else from values the JSON still holds, else it is marked not stored.
    """
    used: set[str] = set()
    awaited = {id(c) for n in graph.nodes for c in n.control_inputs}
    outputs = {id(v) for v in graph.outputs}
    kept: list[Node] = []
    for node in graph.nodes:
        if node.op != "Const" or len(node.outputs) != 1 or len(node.outputs[0].values) != 1:
            kept.append(node)
            continue
        value = node.outputs[0].values[0]
        tensor = None
        for key in (f"{function}/{node.name}" if function else None, node.name):
            if key is not None and key in tensors:
                tensor = tensors[key]
                used.add(key)
                break
        if tensor is None:
            key = f"{function}/{node.name}" if function else node.name
            tensor = _inline_tensor(node, key in inline)
        if tensor is not None:
            value.initializer = tensor
            value.type = TensorType(tensor.dtype, tensor.shape)
        if id(node) in awaited or id(value) in outputs or tensor is None:
            kept.append(node)
            continue
        _rename(graph, value.name, tensor.name)
    if len(kept) != len(graph.nodes):
        graph.nodes = []
        for node in kept:
            graph.add_node(node)
        graph.link()
    return used


def _inline_tensor(node: Node, holds_values: bool) -> Tensor | None:
    """The Const's own TensorProto (values left in the JSON), or its dtype and shape marked not stored."""
    attr = node.attribute("value")
    tensor = attr.value if attr is not None and isinstance(attr.value, Tensor) else None
    if tensor is not None and not holds_values:
        tensor.loader = None
        tensor.byte_size = None
        tensor.location = "not stored: the weights manifest has no entry of this name"
    return tensor


def _rename(graph: Graph, old: str, new: str) -> None:
    """Name a constant's value after its weight (``dense/MatMul/ReadVariableOp``, not ``...:0``)."""
    if new in graph.values or old not in graph.values:
        return
    value = graph.values.pop(old)
    value.name = new
    graph.values[new] = value


def _describe(model: Model, graph_def: Any, doc: dict[str, Any]) -> None:
    if graph_def.HasField("versions") and graph_def.versions.producer:
        v = graph_def.versions
        model.properties["GraphDef version"] = f"producer {v.producer}, min consumer {v.min_consumer}"
    text = signature_text(doc.get("signature"))
    if text != "() -> ()" and text:
        model.properties["signature"] = text
    if model.tensors:
        model.properties["weights not on a node"] = len(model.tensors)
