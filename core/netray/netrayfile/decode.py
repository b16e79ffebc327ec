"""Reading ``netray.json`` back into the IR, checking every reference and field.

Reading is hostile-input safe: the JSON size is bounded, every index is checked,
graph nesting must be acyclic, tensor bytes are checked against their member, and
every problem becomes ``Bad`` (and then ``FormatError(path, "netray", reason)``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import numpy as np

from netray.ir import Attribute, AttrKind, Graph, Model, Node, Port, Quantization, SourceLocation, Tensor, Value
from netray.netrayfile.encode import graphs_in
from netray.netrayfile.fields import Bad, expect, read_fields


def index(x: Any, size: int, where: str) -> int:
    if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < size:
        raise Bad(f"{where}: reference {x!r} out of range (0..{size - 1})")
    return x


def listed(d: dict[str, Any], key: str, where: str) -> list[Any]:
    x = d.get(key)
    if x is None:
        return []
    if type(x) is not list:
        raise Bad(f"{where}.{key}: expected list, found {type(x).__name__}")
    return x


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or (isinstance(d, (int, str)) and not isinstance(d, bool)) for d in x)


def fits_kind(kind: AttrKind, value: Any) -> bool:
    """Whether an attribute value has the structure its kind promises to readers (panels, hierarchy).

    Scalar and list kinds are left loose: plugins fill them with what their format holds.
    """
    if value is None:
        return True
    if kind is AttrKind.FLOAT:
        return isinstance(value, (int, float))
    if kind is AttrKind.TENSOR:
        return isinstance(value, Tensor)
    if kind is AttrKind.GRAPH:
        return isinstance(value, Graph)
    if kind is AttrKind.SHAPE:
        return _is_shape(value)
    sequence = isinstance(value, (list, tuple))
    if kind is AttrKind.TENSORS:
        return sequence and all(isinstance(x, Tensor) for x in value)
    if kind is AttrKind.GRAPHS:
        return sequence and all(isinstance(x, Graph) for x in value)
    if kind is AttrKind.SHAPES:
        return sequence and all(x is None or _is_shape(x) for x in value)
    return True


class Decoder:
    """Rebuilds the IR from a parsed netray.json."""

    def __init__(self, doc: dict[str, Any], tensor_loaders: list[Callable[[], np.ndarray] | None]) -> None:
        self.doc = doc
        self.graph_docs = [expect(g, dict, f"graphs[{i}]") for i, g in enumerate(listed(doc, "graphs", "netray.json"))]
        self.value_docs = [expect(v, dict, f"values[{i}]") for i, v in enumerate(listed(doc, "values", "netray.json"))]
        self.tensor_docs = [expect(t, dict, f"tensors[{i}]") for i, t in enumerate(listed(doc, "tensors", "netray.json"))]
        self.graphs = [read_fields(g, "graph", Graph(), self, f"graphs[{i}]") for i, g in enumerate(self.graph_docs)]
        # Tensors first: attribute values and metadata may refer to them.
        self.tensors = [Tensor("", None, None) for _ in self.tensor_docs]
        self.values = [Value(expect(v.get("name", ""), str, f"values[{i}].name")) for i, v in enumerate(self.value_docs)]
        for i, (tensor, t) in enumerate(zip(self.tensors, self.tensor_docs, strict=True)):
            self._fill_tensor(tensor, t, tensor_loaders[i], f"tensors[{i}]")
        self.nodes: list[Node] = []

    # -- generic values ------------------------------------------------------------
    def any(self, x: Any, where: str) -> Any:
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            return [self.any(y, where) for y in x]
        if not isinstance(x, dict) or len(x) != 1:
            raise Bad(f"{where}: malformed value")
        ((tag, body),) = x.items()
        decode = _TAGS.get(tag)
        if decode is None:
            raise Bad(f"{where}: unknown value tag {tag!r}")
        return decode(self, body, where)

    def mapping(self, m: Any, where: str) -> dict[str, Any]:
        if type(m) is not dict:
            raise Bad(f"{where}: expected dict, found {type(m).__name__}")
        return {k: v if type(v) is str else self.any(v, f"{where}.{k}") for k, v in m.items()}

    def _tuple(self, body: Any, where: str) -> tuple[Any, ...]:
        return tuple(self.any(y, where) for y in expect(body, list, where))

    def _dict(self, body: Any, where: str) -> dict[Any, Any]:
        out = {}
        for pair in expect(body, list, where):
            if not isinstance(pair, list) or len(pair) != 2:
                raise Bad(f"{where}: malformed mapping")
            key = self.any(pair[0], where)
            try:
                out[key] = self.any(pair[1], where)
            except TypeError as exc:  # an unhashable key
                raise Bad(f"{where}: malformed mapping key") from exc
        return out

    @staticmethod
    def _float(body: Any, where: str) -> float:
        if body not in ("nan", "inf", "-inf"):
            raise Bad(f"{where}: malformed float {body!r}")
        return float(body)

    @staticmethod
    def _bytes(body: Any, where: str) -> bytes:
        try:
            return base64.b64decode(expect(body, str, where), validate=True)
        except ValueError as exc:
            raise Bad(f"{where}: malformed bytes") from exc

    @staticmethod
    def _array(body: Any, where: str) -> np.ndarray:
        spec = expect(body, dict, where)
        try:
            dtype = np.dtype(expect(spec.get("dtype"), str, where))
            if dtype.kind not in "biuf":
                raise Bad(f"{where}: array dtype {dtype} not allowed")
            shape = tuple(index(d, 1 << 40, where) for d in expect(spec.get("shape"), list, where))
            return np.array(expect(spec.get("data"), list, where), dtype=dtype).reshape(shape)
        except (TypeError, ValueError) as exc:
            raise Bad(f"{where}: malformed array: {exc}") from exc

    # -- tables -----------------------------------------------------------------------
    def _quantization(self, q: Any, where: str) -> Quantization:
        return read_fields(expect(q, dict, where), "quantization", Quantization(), self, where)

    def _fill_tensor(self, tensor: Tensor, t: dict[str, Any], loader: Callable[[], np.ndarray] | None, where: str) -> None:
        read_fields(t, "tensor", tensor, self, where)
        tensor.loader = loader
        if t.get("quantization") is not None:
            tensor.quantization = self._quantization(t["quantization"], f"{where}.quantization")

    def build(self) -> Model:
        for gi, g in enumerate(self.graph_docs):
            self._fill_nodes(self.graphs[gi], g, f"graphs[{gi}]")
        for gi, g in enumerate(self.graph_docs):
            self._fill_graph(self.graphs[gi], g, f"graphs[{gi}]")
        for vi, v in enumerate(self.value_docs):
            self._fill_value(self.values[vi], v, f"values[{vi}]")
        self._check_acyclic()
        self._check_ids()
        model = read_fields(expect(self.doc.get("model"), dict, "model"), "model", Model(""), self, "model")
        model.graphs = [self.graphs[index(i, len(self.graphs), "main")] for i in listed(self.doc, "main", "netray.json")]
        model.functions = [self.graphs[index(i, len(self.graphs), "functions")] for i in listed(self.doc, "functions", "netray.json")]
        for k, entry in enumerate(listed(self.doc, "named_tensors", "netray.json")):
            where = f"named_tensors[{k}]"
            if not isinstance(entry, list) or len(entry) != 2:
                raise Bad(f"{where}: a named tensor is [name, tensor]")
            model.tensors[expect(entry[0], str, where)] = self.tensors[index(entry[1], len(self.tensors), where)]
        return model

    def _ports(self, x: Any, where: str) -> list[Port]:
        ports = []
        for i, p in enumerate(expect(x, list, where)):
            if not isinstance(p, list) or len(p) != 2:
                raise Bad(f"{where}[{i}]: a port is [name, [values]]")
            name = expect(p[0], str, f"{where}[{i}]")
            values = [self.values[index(v, len(self.values), f"{where}[{i}]")] for v in expect(p[1], list, f"{where}[{i}]")]
            ports.append(Port(name, values))
        return ports

    def _fill_nodes(self, graph: Graph, g: dict[str, Any], where: str) -> None:
        for ni, n in enumerate(listed(g, "nodes", where)):
            node = read_fields(expect(n, dict, f"{where}.nodes[{ni}]"), "node", Node(""), self, f"{where}.nodes[{ni}]")
            graph.add_node(node)
            self.nodes.append(node)

    def _fill_graph(self, graph: Graph, g: dict[str, Any], where: str) -> None:
        for entry in listed(g, "values", where):
            if isinstance(entry, list) and len(entry) == 2:
                key, i = expect(entry[0], str, f"{where}.values"), entry[1]
            else:
                key, i = None, entry
            v = self.values[index(i, len(self.values), f"{where}.values")]
            graph.values[key if key is not None else v.name] = v
        graph.inputs = [self.values[index(i, len(self.values), f"{where}.inputs")] for i in listed(g, "inputs", where)]
        graph.outputs = [self.values[index(i, len(self.values), f"{where}.outputs")] for i in listed(g, "outputs", where)]
        for node, n in zip(graph.nodes, listed(g, "nodes", where), strict=True):
            w = f"{where}.nodes[{node.index}]"
            node.inputs = self._ports(n.get("inputs", []), f"{w}.inputs")
            node.outputs = self._ports(n.get("outputs", []), f"{w}.outputs")
            node.subgraphs = [self.graphs[index(i, len(self.graphs), f"{w}.subgraphs")] for i in listed(n, "subgraphs", w)]
            node.control_inputs = [self.nodes[index(i, len(self.nodes), f"{w}.control_inputs")] for i in listed(n, "control_inputs", w)]
            if n.get("source") is not None:
                node.source = read_fields(expect(n["source"], dict, f"{w}.source"), "source", SourceLocation(""), self, f"{w}.source")
            for ai, a in enumerate(listed(n, "attributes", w)):
                node.attributes.append(self._attribute(a, f"{w}.attributes[{ai}]"))

    def _attribute(self, a: Any, where: str) -> Attribute:
        expect(a, dict, where)
        try:
            kind = AttrKind(expect(a.get("kind"), str, f"{where}.kind"))
        except ValueError as exc:
            raise Bad(f"{where}: unknown attribute kind {a.get('kind')!r}") from exc
        value = self.any(a.get("value"), where)
        if not fits_kind(kind, value):
            raise Bad(f"{where}: a {kind.value} attribute cannot hold {type(value).__name__}")
        return Attribute(expect(a.get("name", ""), str, f"{where}.name"), kind, value, expect(a.get("doc", ""), str, f"{where}.doc"))

    def _fill_value(self, value: Value, v: dict[str, Any], where: str) -> None:
        read_fields(v, "value", value, self, where)
        if v.get("initializer") is not None:
            value.initializer = self.tensors[index(v["initializer"], len(self.tensors), f"{where}.initializer")]
        if v.get("quantization") is not None:
            value.quantization = self._quantization(v["quantization"], f"{where}.quantization")
        # Producer and consumers are kept as written (a subgraph may read an outer value),
        # but each must really have the value among its outputs or inputs.
        if v.get("producer") is not None:
            value.producer = self.nodes[index(v["producer"], len(self.nodes), f"{where}.producer")]
            if not any(x is value for x in value.producer.output_values()):
                raise Bad(f"{where}: its producer {value.producer.name or value.producer.op!r} does not output it")
        value.consumers = [self.nodes[index(i, len(self.nodes), f"{where}.consumers")] for i in listed(v, "consumers", where)]
        for consumer in value.consumers:
            if not any(x is value for x in consumer.input_values()):
                raise Bad(f"{where}: its consumer {consumer.name or consumer.op!r} does not read it")

    def _check_ids(self) -> None:
        """Stored node ids are all present and unique, or all absent (a version 1 file: derived on loading)."""
        ids = [n.id for n in self.nodes]
        given = [i for i in ids if i]
        if given and (len(given) != len(ids) or len(set(given)) != len(given)):
            raise Bad("node ids must be given for every node and be unique")

    def _check_acyclic(self) -> None:
        """A graph may not contain itself (walks over subgraphs would never end)."""
        children: dict[int, set[int]] = {}
        index_of = {id(g): i for i, g in enumerate(self.graphs)}
        for gi, g in enumerate(self.graphs):
            kids = children.setdefault(gi, set())
            for node in g.nodes:
                kids.update(index_of[id(s)] for s in node.subgraphs)
                for a in node.attributes:
                    kids.update(index_of[id(s)] for s in graphs_in(a.value))
        state = [0] * len(self.graphs)  # 0 unvisited, 1 on the stack, 2 done
        for root in range(len(self.graphs)):
            if state[root]:
                continue
            stack = [(root, iter(children[root]))]
            state[root] = 1
            while stack:
                gi, it = stack[-1]
                child = next(it, None)
                if child is None:
                    state[gi] = 2
                    stack.pop()
                elif state[child] == 1:
                    raise Bad(f"graph {self.graphs[child].name!r} contains itself")
                elif state[child] == 0:
                    state[child] = 1
                    stack.append((child, iter(children[child])))


_TAGS: dict[str, Callable[[Decoder, Any, str], Any]] = {
    "$t": Decoder._tuple,
    "$d": Decoder._dict,
    "$f": lambda _dec, body, where: Decoder._float(body, where),
    "$b": lambda _dec, body, where: Decoder._bytes(body, where),
    "$array": lambda _dec, body, where: Decoder._array(body, where),
    "$repr": lambda _dec, body, where: expect(body, str, where),
    "$tensor": lambda dec, body, where: dec.tensors[index(body, len(dec.tensors), where)],
    "$graph": lambda dec, body, where: dec.graphs[index(body, len(dec.graphs), where)],
    "$value": lambda dec, body, where: dec.values[index(body, len(dec.values), where)],
}
