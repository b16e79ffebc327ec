"""The data edges of a graph as CSR arrays (:class:`Adjacency`) and its execution order.

Plugins list nodes in execution order where they can, but some formats do not (a TensorFlow
GraphDef); grouping, folding, peak memory and runs all walk nodes in this order.
"""

from __future__ import annotations

import heapq

import numpy as np

from netray.arrays import unique
from netray.ir import Graph


class Adjacency:
    """Data successors and predecessors of every node, as CSR arrays (no control edges)."""

    def __init__(self, graph: Graph) -> None:
        index = {id(n): i for i, n in enumerate(graph.nodes)}
        src: list[int] = []
        dst: list[int] = []
        feeds_from_data = [False] * len(graph.nodes)
        for j, node in enumerate(graph.nodes):
            for port in node.inputs:
                for v in port.values:
                    if v.initializer is None:
                        feeds_from_data[j] = True
                    p = v.producer
                    if p is not None:
                        i = index.get(id(p), j)
                        if i != j:
                            src.append(i)
                            dst.append(j)
        n = len(graph.nodes)
        codes = unique(np.array(src, dtype=np.int64) * max(n, 1) + np.array(dst, dtype=np.int64))
        self.src, self.dst = codes // max(n, 1), codes % max(n, 1)
        self.succ_ptr = np.concatenate([[0], np.cumsum(np.bincount(self.src, minlength=n))])
        order = np.argsort(self.dst, kind="stable")
        self.pred_ptr = np.concatenate([[0], np.cumsum(np.bincount(self.dst, minlength=n))])
        self.pred = self.src[order]
        self.succ = self.dst  # pairs are sorted by src already
        self.out_degree = np.diff(self.succ_ptr)
        self.in_degree = np.diff(self.pred_ptr)
        # A node fed by nothing but weights is a constant (ONNX Constant, a shape literal).
        self.constant = ~np.array(feeds_from_data, dtype=bool) & (self.in_degree == 0)
        # Producers that are not constants, per node: a chain link needs exactly one.
        self.data_in_degree = np.bincount(self.dst[~self.constant[self.src]], minlength=n)


def execution_order(graph: Graph, adjacency: Adjacency | None = None) -> np.ndarray:
    """Each node's place in a topological order of the data edges (ties: list order).

    Plugins list nodes in execution order where they can, but some formats do not
    (a TensorFlow GraphDef). Nodes on a cycle follow the rest in list order.
    """
    adj = adjacency or Adjacency(graph)
    n = len(graph.nodes)
    if bool((adj.src < adj.dst).all()):
        return np.arange(n, dtype=np.int64)
    indeg = adj.in_degree.tolist()
    succ_ptr = adj.succ_ptr.tolist()
    succ = adj.succ.tolist()
    ready = [i for i in range(n) if indeg[i] == 0]
    heapq.heapify(ready)
    rank = np.full(n, -1, dtype=np.int64)
    k = 0
    while ready:
        u = heapq.heappop(ready)
        rank[u] = k
        k += 1
        for v in succ[succ_ptr[u] : succ_ptr[u + 1]]:
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, v)
    left = np.flatnonzero(rank < 0)
    rank[left] = k + np.arange(len(left))
    return rank


def execution_sequence(graph: Graph) -> list[int]:
    """The graph's node indices in execution order (:func:`execution_order`'s ranks, sorted)."""
    return np.argsort(execution_order(graph), kind="stable").tolist()


def csr_slots(ptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions in a CSR data array of every entry of ``rows``, row after row."""
    rows = np.asarray(rows, dtype=np.int64)
    counts = ptr[rows + 1] - ptr[rows]
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(ptr[rows] - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(total)
