"""Pairing the nodes of two graphs for :mod:`netray.diff`, in the rounds its docstring lists.

:class:`Matcher` pairs one-to-one (names, neighbours, sequence) and many-to-many (fused
or split regions, constants folded); the helpers here are shared with the differences.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from netray.ir import Attribute, AttrKind, Graph, Node, Tensor, Value
from netray.opkinds import normalise, op_kind


def attr_value(attr: Attribute) -> Any:
    v = attr.value
    if attr.kind in (AttrKind.GRAPH, AttrKind.GRAPHS):
        return None
    if isinstance(v, Tensor):
        return ("tensor", v.dtype, v.shape)
    if attr.kind is AttrKind.FLOAT:
        return float(v)
    if attr.kind is AttrKind.FLOATS:
        return tuple(float(x) for x in v)
    if isinstance(v, list):
        return tuple(tuple(x) if isinstance(x, list) else x for x in v)
    return v


def attr_key(node: Node) -> dict[str, Any]:
    return {a.name: attr_value(a) for a in node.attributes}


def kind_of(node: Node) -> str:
    return op_kind(node.op) or normalise(node.op)


def _weight_shapes(node: Node) -> tuple[Any, ...]:
    return tuple(v.initializer.shape if v.initializer is not None else None for v in node.weights())


def inputs_of(node: Node) -> list[Value]:
    return list(node.input_values())


def outputs_of(node: Node) -> list[Value]:
    return list(node.output_values())


class Matcher:
    """Pairs nodes of ``ga`` and ``gb`` in rounds (see the module's docstring)."""

    def __init__(self, ga: Graph, gb: Graph) -> None:
        self.ga = ga
        self.gb = gb
        self.a_to_b: dict[int, Node] = {}  # id(node of A) -> node of B, one-to-one pairs
        self.b_to_a: dict[int, Node] = {}
        self.groups: list[tuple[list[Node], list[Node], str]] = []  # many-to-many pairs, with how
        self.grouped_a: dict[int, int] = {}  # id(node) -> index in groups
        self.grouped_b: dict[int, int] = {}
        self.kind_a = {id(n): kind_of(n) for n in ga.nodes}
        self.kind_b = {id(n): kind_of(n) for n in gb.nodes}
        self.queue: list[tuple[Node, Node]] = []

    # -- state

    def free_a(self, n: Node) -> bool:
        return id(n) not in self.a_to_b and id(n) not in self.grouped_a

    def free_b(self, n: Node) -> bool:
        return id(n) not in self.b_to_a and id(n) not in self.grouped_b

    def pair(self, na: Node, nb: Node) -> None:
        self.a_to_b[id(na)] = nb
        self.b_to_a[id(nb)] = na
        self.queue.append((na, nb))

    def same_kind(self, na: Node, nb: Node) -> bool:
        return self.kind_a[id(na)] == self.kind_b[id(nb)]

    # -- rounds

    def run(self) -> None:
        self.by_names()
        self.graph_ports()
        self.propagate()
        self.by_sequence()
        self.propagate()
        self.fusions()

    def by_names(self) -> None:
        keys: list[Any] = [
            lambda n: (n.scope, n.name) if n.name else None,
            lambda n: n.name or None,
            lambda n: next((v.name for v in n.output_values()), None),
        ]
        for k_index, key in enumerate(keys):
            index_b: dict[Any, list[Node]] = defaultdict(list)
            for nb in self.gb.nodes:
                if self.free_b(nb):
                    k = key(nb)
                    if k is not None:
                        index_b[k].append(nb)
            index_a: dict[Any, list[Node]] = defaultdict(list)
            for na in self.ga.nodes:
                if self.free_a(na):
                    k = key(na)
                    if k is not None:
                        index_a[k].append(na)
            for k, nodes_a in index_a.items():
                nodes_b = index_b.get(k)
                if nodes_b is None or len(nodes_a) != 1 or len(nodes_b) != 1:
                    continue
                na, nb = nodes_a[0], nodes_b[0]
                # Another kind of op under the same node name: an op swapped in place, when its
                # values are named alike too (an output's name alone says too little: optimizers
                # give a fused or quantized replacement the output of what it replaces).
                if self.same_kind(na, nb) or (k_index < 2 and self._ports_named_alike(na, nb)):
                    self.pair(na, nb)

    @staticmethod
    def _ports_named_alike(na: Node, nb: Node) -> bool:
        outs = [v.name for v in na.output_values()]
        ins = [v.name for v in na.input_values() if v.initializer is None]
        return bool(outs) and outs == [v.name for v in nb.output_values()] and ins == [v.name for v in nb.input_values() if v.initializer is None]

    def graph_ports(self) -> None:
        """Seed the neighbours round from graph inputs and outputs (by name, else by position)."""
        for va, vb in pair_values(_live(self.ga.inputs), _live(self.gb.inputs)):
            self._consumers(va, vb)
        for va, vb in pair_values(self.ga.outputs, self.gb.outputs):
            pa, pb = va.producer, vb.producer
            if pa is not None and pb is not None and self.free_a(pa) and self.free_b(pb) and self.same_kind(pa, pb):
                self.pair(pa, pb)

    def propagate(self) -> None:
        while self.queue:
            na, nb = self.queue.pop()
            # By position: optional inputs trail (a Conv given a bias by a fusion keeps X and W first).
            for va, vb in zip(inputs_of(na), inputs_of(nb), strict=False):
                pa, pb = va.producer, vb.producer
                if pa is not None and pb is not None and self.free_a(pa) and self.free_b(pb) and self.same_kind(pa, pb):
                    self.pair(pa, pb)
            outs_a, outs_b = outputs_of(na), outputs_of(nb)
            if len(outs_a) == len(outs_b):
                for va, vb in zip(outs_a, outs_b, strict=True):
                    self._consumers(va, vb)

    def _consumers(self, va: Value, vb: Value) -> None:
        groups_a: dict[Any, list[Node]] = defaultdict(list)
        groups_b: dict[Any, list[Node]] = defaultdict(list)
        for c in dict.fromkeys(va.consumers):
            if self.free_a(c):
                groups_a[(self.kind_a[id(c)], _position(c, va))].append(c)
        if not groups_a:
            return
        for c in dict.fromkeys(vb.consumers):
            if self.free_b(c):
                groups_b[(self.kind_b[id(c)], _position(c, vb))].append(c)
        for key, nodes_a in groups_a.items():
            nodes_b = groups_b.get(key)
            if not nodes_b:
                continue
            if len(nodes_a) == 1 and len(nodes_b) == 1:
                self.pair(nodes_a[0], nodes_b[0])
                continue
            # Ties: by weight shapes, then in order where the counts agree.
            by_shape_a: dict[Any, list[Node]] = defaultdict(list)
            by_shape_b: dict[Any, list[Node]] = defaultdict(list)
            for n in nodes_a:
                by_shape_a[_weight_shapes(n)].append(n)
            for n in nodes_b:
                by_shape_b[_weight_shapes(n)].append(n)
            for shapes, sub_a in by_shape_a.items():
                sub_b = by_shape_b.get(shapes, [])
                if len(sub_a) == len(sub_b):
                    for x, y in zip(sub_a, sub_b, strict=True):
                        self.pair(x, y)

    def by_sequence(self) -> None:
        rest_a = [n for n in self.ga.nodes if self.free_a(n)]
        rest_b = [n for n in self.gb.nodes if self.free_b(n)]
        if not rest_a or not rest_b:
            return
        tokens: dict[Any, int] = {}

        def token(kind: str, n: Node) -> int:
            key = (kind, _weight_shapes(n), len(n.outputs))
            return tokens.setdefault(key, len(tokens))

        ta = [token(self.kind_a[id(n)], n) for n in rest_a]
        tb = [token(self.kind_b[id(n)], n) for n in rest_b]
        matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                self.pair(rest_a[block.a + k], rest_b[block.b + k])

    # -- fusions

    def value_map(self) -> tuple[dict[int, Value], dict[int, Value]]:
        """Values of A -> values of B (and back), through the ports of one-to-one pairs and the graphs' ports."""
        ab: dict[int, Value] = {}
        ba: dict[int, Value] = {}

        def link(va: Value, vb: Value) -> None:
            ab.setdefault(id(va), vb)
            ba.setdefault(id(vb), va)

        for va, vb in pair_values(_live(self.ga.inputs), _live(self.gb.inputs)):
            link(va, vb)
        for va, vb in pair_values(self.ga.outputs, self.gb.outputs):
            link(va, vb)
        for na in self.ga.nodes:
            nb = self.a_to_b.get(id(na))
            if nb is None:
                continue
            outs_a, outs_b = outputs_of(na), outputs_of(nb)
            if len(outs_a) == len(outs_b):
                for va, vb in zip(outs_a, outs_b, strict=True):
                    link(va, vb)
        for na in self.ga.nodes:
            nb = self.a_to_b.get(id(na))
            if nb is None:
                continue
            for va, vb in zip(inputs_of(na), inputs_of(nb), strict=False):
                link(va, vb)
        return ab, ba

    def fusions(self) -> None:
        ab, ba = self.value_map()
        regions_a = _regions([n for n in self.ga.nodes if self.free_a(n)])
        regions_b = _regions([n for n in self.gb.nodes if self.free_b(n)])
        index_b: dict[Any, list[list[Node]]] = defaultdict(list)
        for region in regions_b:
            ins, outs = _boundary(region, self.gb)
            if ins is not None and outs is not None and (ins or outs):
                index_b[(frozenset(id(v) for v in ins), frozenset(id(v) for v in outs))].append(region)
        leftover_a: list[list[Node]] = []
        for region in regions_a:
            ins, outs = _boundary(region, self.ga)
            mapped = _map_ids(ins, ab), _map_ids(outs, ab)
            if mapped[0] is None or mapped[1] is None or not (ins or outs):
                leftover_a.append(region)
                continue
            candidates = index_b.get((frozenset(id(v) for v in mapped[0]), frozenset(id(v) for v in mapped[1])))
            if candidates:
                region_b = candidates.pop(0)
                self.group(region, region_b, "fused")
            else:
                leftover_a.append(region)
        used_b = {id(n) for g in self.groups for n in g[1]}
        leftover_b = [r for r in regions_b if id(r[0]) not in used_b]
        for region in leftover_a:
            self.absorb(region, self.ga, ab, side=0)
        for region in leftover_b:
            self.absorb(region, self.gb, ba, side=1)

    def group(self, nodes_a: list[Node], nodes_b: list[Node], how: str) -> None:
        k = len(self.groups)
        self.groups.append((nodes_a, nodes_b, how))
        for n in nodes_a:
            self.grouped_a[id(n)] = k
        for n in nodes_b:
            self.grouped_b[id(n)] = k

    def absorb(self, region: list[Node], graph: Graph, mapping: dict[int, Value], side: int) -> None:
        """Fold a leftover region into the pair around the one value its boundary maps onto
        (BatchNormalization fused into its Conv), or into the consumers of what became weights."""
        ins, outs = _boundary(region, graph)
        if ins is None or outs is None or not outs:
            return
        if not ins:
            # Constants (no input but weights): folded into what consumes them, unless the other
            # side feeds that consumer from a computed value instead.
            mapped = [mapping.get(id(v)) for v in outs]
            if all(m is None or m.initializer is not None or m.producer is None or not has_live_input(m.producer) for m in mapped):
                host = self._pair_of_consumer(outs, side)
                if host is not None:
                    self._extend(host, region, side, "constant-folded")
            return
        mapped_outs = _map_ids(outs, mapping)
        if mapped_outs is None:
            return
        mapped_ins = _map_ids(ins, mapping)
        if mapped_ins is None or len({id(v) for v in mapped_outs}) != 1:
            return
        target = mapped_outs[0]
        if not all(id(v) == id(target) for v in mapped_ins):
            return
        producer = target.producer
        if producer is None:
            return
        host = self._pair_of(producer, 1 - side)
        if host is None or not self._host_changed(host):
            return
        self._extend(host, region, side, "fused")

    def _pair_of(self, node: Node, side: int) -> tuple[list[Node], list[Node]] | None:
        """The pair holding ``node`` of side ``side`` (0: A), as (nodes of A, nodes of B)."""
        if side == 0:
            if id(node) in self.a_to_b:
                return [node], [self.a_to_b[id(node)]]
            k = self.grouped_a.get(id(node))
        else:
            if id(node) in self.b_to_a:
                return [self.b_to_a[id(node)]], [node]
            k = self.grouped_b.get(id(node))
        return None if k is None else (self.groups[k][0], self.groups[k][1])

    def _pair_of_consumer(self, outs: list[Value], side: int) -> tuple[list[Node], list[Node]] | None:
        for v in outs:
            for c in v.consumers:
                host = self._pair_of(c, side)
                if host is not None:
                    return host
        return None

    @staticmethod
    def _host_changed(host: tuple[list[Node], list[Node]]) -> bool:
        """A node can only have been folded into a pair that is not identical: another op,
        other attributes, other weights (names or count)."""
        (a_nodes, b_nodes) = host
        if len(a_nodes) != 1 or len(b_nodes) != 1:
            return True
        na, nb = a_nodes[0], b_nodes[0]
        if na.op != nb.op or attr_key(na) != attr_key(nb):
            return True
        wa, wb = na.weights(), nb.weights()
        if len(wa) != len(wb) or [v.name for v in wa] != [v.name for v in wb]:
            return True
        return False

    def _extend(self, host: tuple[list[Node], list[Node]], region: list[Node], side: int, how: str) -> None:
        a_nodes, b_nodes = host
        k = self.grouped_a.get(id(a_nodes[0])) if a_nodes else self.grouped_b.get(id(b_nodes[0]))
        if k is None:
            # Turn a one-to-one pair into a group.
            for n in a_nodes:
                self.a_to_b.pop(id(n), None)
            for n in b_nodes:
                self.b_to_a.pop(id(n), None)
            self.group(list(a_nodes), list(b_nodes), how)
            k = len(self.groups) - 1
        nodes_a, nodes_b, old = self.groups[k]
        target = nodes_a if side == 0 else nodes_b
        target.extend(region)
        target.sort(key=lambda n: n.index)
        self.groups[k] = (nodes_a, nodes_b, old if old == "fused" else how)
        for n in region:
            (self.grouped_a if side == 0 else self.grouped_b)[id(n)] = k

    def pairs(self) -> list[tuple[list[Node], list[Node], str]]:
        out: list[tuple[list[Node], list[Node], str]] = []
        for na in self.ga.nodes:
            nb = self.a_to_b.get(id(na))
            if nb is not None:
                out.append(([na], [nb], ""))
        out.extend(self.groups)
        return out


def _live(values: Sequence[Value]) -> list[Value]:
    """Graph inputs that are not weights (older ONNX files list every initializer as an input)."""
    return [v for v in values if v.initializer is None]


def _position(node: Node, value: Value) -> int:
    for i, v in enumerate(node.input_values()):
        if v is value:
            return i
    return -1


def pair_values(a: Sequence[Value], b: Sequence[Value]) -> Iterator[tuple[Value, Value]]:
    """Graph ports paired by name, the rest by position."""
    names_b = {v.name: v for v in b}
    rest_a = []
    used: set[str] = set()
    for va in a:
        vb = names_b.get(va.name)
        if vb is not None:
            used.add(vb.name)
            yield va, vb
        else:
            rest_a.append(va)
    rest_b = [v for v in b if v.name not in used]
    if len(rest_a) == len(rest_b):
        yield from zip(rest_a, rest_b, strict=True)


def _regions(nodes: list[Node]) -> list[list[Node]]:
    """Connected groups of ``nodes`` (through the values between them), each in graph order."""
    members = {id(n): n for n in nodes}
    parent = {id(n): id(n) for n in nodes}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for n in nodes:
        for v in n.input_values():
            p = v.producer
            if p is not None and id(p) in members:
                ra, rb = find(id(n)), find(id(p))
                if ra != rb:
                    parent[ra] = rb
    groups: dict[int, list[Node]] = defaultdict(list)
    for n in nodes:
        groups[find(id(n))].append(n)
    return sorted((sorted(g, key=lambda n: n.index) for g in groups.values()), key=lambda g: g[0].index)


def _boundary(region: list[Node], graph: Graph) -> tuple[list[Value] | None, list[Value] | None]:
    """A region's inputs from outside (weights and constants aside) and outputs used outside."""
    inside = {id(n) for n in region}
    graph_outputs = {id(v) for v in graph.outputs}
    ins: dict[int, Value] = {}
    outs: dict[int, Value] = {}
    for n in region:
        for v in n.input_values():
            if v.initializer is not None:
                continue
            p = v.producer
            if p is None or id(p) not in inside:
                if p is not None and not has_live_input(p):
                    continue  # a Constant node outside: as good as a weight
                ins[id(v)] = v
        for v in n.output_values():
            if id(v) in graph_outputs or any(id(c) not in inside for c in v.consumers):
                outs[id(v)] = v
    return list(ins.values()), list(outs.values())


def has_live_input(node: Node) -> bool:
    return any(v.initializer is None for v in node.input_values())


def _map_ids(values: list[Value] | None, mapping: dict[int, Value]) -> list[Value] | None:
    if values is None:
        return None
    out = []
    for v in values:
        m = mapping.get(id(v))
        if m is None:
            return None
        out.append(m)
    return out
