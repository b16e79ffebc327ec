"""Writing the IR as ``netray.json`` (and the tensors' members): tables of graphs, values, nodes and tensors."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from netray import dtypes
from netray.errors import FormatError
from netray.ids import assign_ids
from netray.ir import AttrKind, Category, Graph, Model, Node, Tensor, Value
from netray.netrayfile.fields import write_fields

FORMAT = "netray"
VERSION = 2  # 2: node ids, named tensors, inferred graphs, typed metadata, block quantization
MARKER = b'{"format": "netray"'


class Encoder:
    """Assigns table indices to graphs, values, nodes and tensors while writing.

    Values of any JSON-unfriendly type (attribute values, metadata) go through
    :meth:`any`: plain JSON scalars and lists stand for themselves; everything else
    is an object with exactly one ``$`` key, so an encoded value is never ambiguous.
    """

    def __init__(self) -> None:
        self.graphs: list[Graph] = []
        self.graph_ids: dict[int, int] = {}
        self.values: list[Value] = []
        self.value_ids: dict[int, int] = {}
        self.node_ids: dict[int, int] = {}
        self.tensors: list[Tensor] = []
        self.tensor_ids: dict[int, int] = {}

    def graph(self, g: Graph) -> int:
        return self.graph_ids[id(g)]

    def value(self, v: Value) -> int:
        return self._index(v, self.values, self.value_ids)

    def tensor(self, t: Tensor) -> int:
        return self._index(t, self.tensors, self.tensor_ids)

    @staticmethod
    def _index(item: Any, table: list[Any], ids: dict[int, int]) -> int:
        index = ids.get(id(item))
        if index is None:
            index = ids[id(item)] = len(table)
            table.append(item)
        return index

    def node(self, n: Node | None) -> int | None:
        return None if n is None else self.node_ids.get(id(n))

    def any(self, v: Any) -> Any:
        """A JSON-ready form of ``v`` that :meth:`Decoder.any` turns back into an equal value."""
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (Category, AttrKind)):
            return v.value
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return float(v) if math.isfinite(v) else {"$f": repr(float(v))}
        if isinstance(v, np.generic):
            return self.any(v.item())
        if isinstance(v, list):
            return [self.any(x) for x in v]
        if isinstance(v, tuple):
            return {"$t": [self.any(x) for x in v]}
        if isinstance(v, dict):
            return {"$d": [[self.any(k), self.any(x)] for k, x in v.items()]}
        if isinstance(v, (bytes, bytearray)):
            return {"$b": base64.b64encode(bytes(v)).decode("ascii")}
        if isinstance(v, Tensor):
            return {"$tensor": self.tensor(v)}
        if isinstance(v, Graph):
            return {"$graph": self.graph(v)}
        if isinstance(v, Value):
            return {"$value": self.value(v)}
        if isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
            return {"$array": {"dtype": v.dtype.str, "shape": list(v.shape), "data": v.ravel().tolist()}}
        return {"$repr": repr(v)}


def graphs_in(v: Any) -> Iterable[Graph]:
    """Graphs nested anywhere in an attribute value."""
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, Graph):
            yield x
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())


def _collect_graphs(model: Model, enc: Encoder) -> None:
    """Number every graph reachable from the model, and every node of them."""
    pending = [*model.graphs, *model.functions]
    while pending:
        g = pending.pop(0)
        if id(g) in enc.graph_ids:
            continue
        enc.graph_ids[id(g)] = len(enc.graphs)
        enc.graphs.append(g)
        for node in g.nodes:
            enc.node_ids.setdefault(id(node), len(enc.node_ids))
            pending.extend(node.subgraphs)
            for a in node.attributes:
                pending.extend(graphs_in(a.value))


def _node_json(node: Node, enc: Encoder) -> dict[str, Any]:
    out = write_fields(node, "node", enc)
    out["inputs"] = [[p.name, [enc.value(v) for v in p.values]] for p in node.inputs]
    out["outputs"] = [[p.name, [enc.value(v) for v in p.values]] for p in node.outputs]
    if node.attributes:
        out["attributes"] = [
            {"name": a.name, "kind": AttrKind(a.kind).value, "value": enc.any(a.value), **({"doc": a.doc} if a.doc else {})}
            for a in node.attributes
        ]
    if node.subgraphs:
        out["subgraphs"] = [enc.graph(g) for g in node.subgraphs]
    if node.source is not None:
        out["source"] = write_fields(node.source, "source", enc)
    controls = [c for c in (enc.node(c) for c in node.control_inputs) if c is not None]
    if controls:
        out["control_inputs"] = controls
    return out


def _graph_json(g: Graph, enc: Encoder) -> dict[str, Any]:
    out = write_fields(g, "graph", enc)
    values: list[Any] = []
    for key, v in g.values.items():
        index = enc.value(v)
        values.append(index if key == v.name else [key, index])
    out["values"] = values
    out["inputs"] = [enc.value(v) for v in g.inputs]
    out["outputs"] = [enc.value(v) for v in g.outputs]
    out["nodes"] = [_node_json(n, enc) for n in g.nodes]
    return out


def _value_json(v: Value, enc: Encoder) -> dict[str, Any]:
    out: dict[str, Any] = {"name": v.name}
    write_fields(v, "value", enc, out)
    if v.initializer is not None:
        out["initializer"] = enc.tensor(v.initializer)
    if v.quantization is not None:
        out["quantization"] = write_fields(v.quantization, "quantization", enc)
    producer = enc.node(v.producer)
    if producer is not None:
        out["producer"] = producer
    consumers = [c for c in (enc.node(n) for n in v.consumers) if c is not None]
    if consumers:
        out["consumers"] = consumers
    return out


def _tensor_json(t: Tensor, member: str | None, enc: Encoder) -> dict[str, Any]:
    out = write_fields(t, "tensor", enc)
    if t.quantization is not None:
        out["quantization"] = write_fields(t.quantization, "quantization", enc)
    if member is not None:
        out["data"] = member
    return out


def _readable(t: Tensor) -> bool:
    """Whether a tensor's values can be stored: always tried for known dtypes (a failure is the user's
    to hear); an opaque type that refuses to be read (Python objects, which netray never unpickles)
    is kept as structure only."""
    if dtypes.lookup(t.dtype) is not None:
        return True
    try:
        t.numpy()
    except FormatError:
        return False
    return True


def encode(model: Model, weights: bool) -> tuple[str, Encoder, list[dict[str, Any]]]:
    """netray.json's text, the encoder's tables and the tensors' entries.

    With ``weights``, each tensor with a loader gets a member name (``tensors/<i>.npy``)
    that :func:`netray.netrayfile.save` fills.
    """
    assign_ids(model)  # a model built in memory has none yet; one read from a file keeps its own
    enc = Encoder()
    _collect_graphs(model, enc)
    header = write_fields(model, "model", enc)
    header["source"] = model.source.name if model.source is not None else None
    doc: dict[str, Any] = {"version": VERSION, "model": header}
    doc["graphs"] = [_graph_json(g, enc) for g in enc.graphs]
    doc["main"] = [enc.graph(g) for g in model.graphs]
    doc["functions"] = [enc.graph(g) for g in model.functions]
    doc["named_tensors"] = [[name, enc.tensor(t)] for name, t in model.tensors.items()]
    # Encoding a table may discover more values or tensors (through metadata): loop until done.
    values_json: list[dict[str, Any]] = []
    while len(values_json) < len(enc.values):
        values_json.append(_value_json(enc.values[len(values_json)], enc))
    doc["values"] = values_json
    tensors_json: list[dict[str, Any]] = []
    while len(tensors_json) < len(enc.tensors):
        i = len(tensors_json)
        t = enc.tensors[i]
        stored = weights and t.loader is not None and _readable(t)
        tensors_json.append(_tensor_json(t, f"tensors/{i}.npy" if stored else None, enc))
    doc["tensors"] = tensors_json
    # The marker opens the file, so sniffing can check it from the first bytes.
    text = MARKER.decode() + ", " + json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)[1:]
    return text, enc, tensors_json


def model_json(model: Model) -> str:
    """The model as netray.json's text without tensor values (what `netray export -o x.json` writes)."""
    text, _enc, _tensors = encode(model, weights=False)
    return text
