"""Who feeds whom, in hierarchy terms: the edges between leaves and the members they join.

A *leaf* is something drawn as a box when every group is expanded: an op, a
graph input, a graph output. Leaves are numbered by their position in the
hierarchy's depth-first order (ops), followed by the inputs and then the outputs,
so that every group is one interval of positions and "which member of group G
holds leaf p" is one ``searchsorted``.

With ``fold_constants`` the hierarchy's foldable constants are no members at all:
they sort last among their group's ops, so a group's members are a prefix of its
ops (:meth:`Connectivity.direct_count`), and their edges are dropped (their values
are listed in the consumers' boxes instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netray.arrays import unique
from netray.hierarchy import Group, Hierarchy
from netray.ir import Graph, Value, shape_text


@dataclass
class GroupEdges:
    """The edges one expanded group lays out, in member indices of that group."""

    internal_src: np.ndarray  # member -> member, both inside the group
    internal_dst: np.ndarray
    in_src: np.ndarray  # leaf positions outside the group feeding it (one port each) ...
    in_dst: np.ndarray  # ... and the member each feeds: unique (in_src, in_dst) pairs
    out_src: np.ndarray  # members feeding something outside the group
    internal_chars: np.ndarray  # the longest shape label among the leaf edges of each internal (src, dst) pair
    in_chars: np.ndarray  # ... and of each entering (in_src, in_dst) pair


class Connectivity:
    """Every leaf-to-leaf edge of a graph, with per-group queries."""

    def __init__(self, graph: Graph, hierarchy: Hierarchy, *, fold_constants: bool = False) -> None:
        self.graph = graph
        self.hierarchy = hierarchy
        self.fold_constants = fold_constants
        hidden = hierarchy.foldable if fold_constants else np.zeros(len(graph.nodes), dtype=bool)
        self.hidden = hidden
        n = len(graph.nodes)
        self.n_nodes = n
        self.inputs: list[Value] = [v for v in graph.inputs if v.initializer is None]
        self.outputs: list[Value] = list(graph.outputs)
        self.n_leaves = n + len(self.inputs) + len(self.outputs)
        index = {id(node): i for i, node in enumerate(graph.nodes)}
        input_leaf = {id(v): n + k for k, v in enumerate(self.inputs)}
        pos = hierarchy.position

        value_ids: dict[int, int] = {}
        self.values: list[Value | None] = [None]  # value 0: a control dependency
        src: list[int] = []
        dst: list[int] = []
        val: list[int] = []

        def value_code(v: Value) -> int:
            code = value_ids.get(id(v))
            if code is None:
                code = value_ids[id(v)] = len(self.values)
                self.values.append(v)
            return code

        def source_of(v: Value) -> int:
            p = v.producer
            if p is not None:
                i = index.get(id(p))
                if i is not None:
                    return -1 if hidden[i] else int(pos[i])
            return input_leaf.get(id(v), -1)

        for j, node in enumerate(graph.nodes):
            pj = int(pos[j])
            for v in node.input_values():
                s = source_of(v)
                if s >= 0 and s != pj:
                    src.append(s)
                    dst.append(pj)
                    val.append(value_code(v))
            for c in node.control_inputs:
                i = index.get(id(c))
                if i is not None and i != j:
                    src.append(int(pos[i]))
                    dst.append(pj)
                    val.append(0)
        first_output = n + len(self.inputs)
        for k, v in enumerate(self.outputs):
            s = source_of(v)
            if s >= 0:
                src.append(s)
                dst.append(first_output + k)
                val.append(value_code(v))

        self.src = np.array(src, dtype=np.int64)
        self.dst = np.array(dst, dtype=np.int64)
        self.value = np.array(val, dtype=np.int64)
        # Length of each value's shape label (what an edge carrying it shows).
        self.label_chars = np.array(
            [len(shape_text(v.type.shape)) if v is not None and v.type.shape is not None else 0 for v in self.values],
            dtype=np.int64,
        )
        self._by_src = np.argsort(self.src, kind="stable")
        self._by_dst = np.argsort(self.dst, kind="stable")
        self._src_sorted = self.src[self._by_src]
        self._dst_sorted = self.dst[self._by_dst]
        # The op (or io value) at each leaf position.
        self.leaf_node = np.concatenate([hierarchy.order, np.full(self.n_leaves - n, -1, dtype=np.int64)])
        # Where each leaf runs: inputs first, ops in execution order, outputs last
        # (folded constants after everything: they never decide where a member sorts).
        op_keys = np.where(hidden[hierarchy.order], 2 * n + len(self.outputs) + 1, hierarchy.run_order[hierarchy.order])
        self.leaf_key = np.concatenate(
            [
                op_keys,
                -1 - np.arange(len(self.inputs))[::-1],
                n + np.arange(len(self.outputs)),
            ]
        ).astype(np.int64)

    def direct_count(self, group: Group) -> int:
        """How many of the group's own ops are members (boxes) of its block."""
        return len(group.nodes) - (group.folded if self.fold_constants else 0)

    def member_keys(self, group: Group, starts: np.ndarray) -> np.ndarray:
        """Execution order of each member: the earliest op inside it."""
        lo, hi = self.group_range(group)
        if len(starts) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.minimum.reduceat(self.leaf_key[lo:hi], starts - lo)

    def group_range(self, group: Group) -> tuple[int, int]:
        """The positions of the group's leaves (the root also holds inputs and outputs)."""
        if group.parent is None:
            return (0, self.n_leaves)
        return (group.start, group.end)

    def member_starts(self, group: Group) -> np.ndarray:
        """First leaf position of each member: direct ops, then child groups, then (root) inputs and outputs."""
        parts = [np.arange(group.start, group.start + self.direct_count(group)), np.array([c.start for c in group.children])]
        if group.parent is None:
            parts.append(np.arange(self.n_nodes, self.n_leaves))
        return np.concatenate(parts).astype(np.int64)

    def group_edges(self, group: Group, starts: np.ndarray) -> GroupEdges:
        lo, hi = self.group_range(group)
        a, b = np.searchsorted(self._src_sorted, [lo, hi])
        out_of = self._by_src[a:b]  # edges leaving a leaf of the group
        d = self.dst[out_of]
        inside = (d >= lo) & (d < hi)
        internal = out_of[inside]
        leaving = out_of[~inside]
        ms = np.searchsorted(starts, self.src[internal], side="right") - 1
        md = np.searchsorted(starts, self.dst[internal], side="right") - 1
        keep = ms != md
        m = max(len(starts), 1)
        internal_code = ms[keep] * m + md[keep]
        internal_pairs = unique(internal_code)
        internal_chars = np.zeros(len(internal_pairs), dtype=np.int64)
        np.maximum.at(internal_chars, np.searchsorted(internal_pairs, internal_code), self.label_chars[self.value[internal[keep]]])
        a, b = np.searchsorted(self._dst_sorted, [lo, hi])
        into = self._by_dst[a:b]
        s = self.src[into]
        entering = into[(s < lo) | (s >= hi)]
        feeder = self.src[entering]
        fed = np.searchsorted(starts, self.dst[entering], side="right") - 1
        width = max(len(starts), 1)
        entering_code = feeder * width + fed
        code = unique(entering_code)
        in_pairs = (code // width, code % width)
        in_chars = np.zeros(len(code), dtype=np.int64)
        np.maximum.at(in_chars, np.searchsorted(code, entering_code), self.label_chars[self.value[entering]])
        return GroupEdges(
            internal_src=internal_pairs // m,
            internal_dst=internal_pairs % m,
            in_src=in_pairs[0],
            in_dst=in_pairs[1],
            out_src=unique(np.searchsorted(starts, self.src[leaving], side="right") - 1),
            internal_chars=internal_chars,
            in_chars=in_chars,
        )
