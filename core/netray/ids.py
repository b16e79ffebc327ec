"""Stable node ids: one rule, applied by the core after a plugin has read a model.

A node's id names it across loads of the same file, so that panels, selection,
overlays (costs, activations), diffs and the JSON export can refer to it. The rule
uses only what the file states (graph names, node names, op types) and the order
the plugin lists things in, which is the file's own order:

* Graphs are visited as :meth:`netray.ir.Model.all_graphs` does: top-level graphs,
  then functions, each followed depth first by the subgraphs of its nodes; a graph
  shared by several nodes (a TensorFlow function) is numbered where it is first met.
* The main graph (``graphs[0]``) has no prefix. Another top-level graph's prefix is
  ``<name>::`` (its index when unnamed); a function's ``fn:<name>::``; the k-th
  subgraph of node N, ``<N's id>/<subgraph name or k>::``.
* Within a graph a node's key is its name. An unnamed node is ``<op>_<n>``, n counting
  the unnamed nodes of that op from 0 in the graph's order. A key already taken in
  the graph (two nodes with one name, or a name that looks like a generated key) gets
  ``#2``, ``#3``, ... in order.
* Where prefixes make two ids equal anyway (two graphs with one name), the later
  graph's ids get ``#2``, ``#3``, ... too, so ids are unique within the model.
"""

from __future__ import annotations

from collections import Counter

from netray.ir import Graph, Model


def _unique(key: str, taken: set[str]) -> str:
    if key not in taken:
        return key
    k = 2
    while f"{key}#{k}" in taken:
        k += 1
    return f"{key}#{k}"


def _graph_ids(graph: Graph, prefix: str, taken: set[str]) -> None:
    local: set[str] = set()
    unnamed: Counter[str] = Counter()
    for node in graph.nodes:
        if node.name:
            key = node.name
        else:
            key = f"{node.op}_{unnamed[node.op]}"
            unnamed[node.op] += 1
        key = _unique(key, local)
        local.add(key)
        node.id = _unique(prefix + key, taken)
        taken.add(node.id)


def _has_ids(model: Model) -> bool:
    """Whether every node already has an id and no two share one (a .netray file keeps those it was saved with)."""
    ids = [n.id for g in model.all_graphs() for n in g.nodes]
    return all(ids) and len(set(ids)) == len(ids)


def assign_ids(model: Model, keep: bool = True) -> Model:
    """Give every node of ``model`` its stable id (see the module's rule); returns the model.

    With ``keep``, a model whose nodes all have distinct ids already keeps them (a
    ``.netray`` file stores the ids of the model it was saved from).
    """
    if keep and _has_ids(model):
        model._node_ids = None
        return model
    taken: set[str] = set()
    seen: set[int] = set()
    tops: list[tuple[Graph, str]] = []
    for i, g in enumerate(model.graphs):
        tops.append((g, "" if i == 0 else f"{g.name or i}::"))
    for i, g in enumerate(model.functions):
        tops.append((g, f"fn:{g.name or i}::"))
    for top, prefix in tops:
        stack: list[tuple[Graph, str]] = [(top, prefix)]
        while stack:
            graph, graph_prefix = stack.pop()
            if id(graph) in seen:
                continue
            seen.add(id(graph))
            _graph_ids(graph, graph_prefix, taken)
            nested: list[tuple[Graph, str]] = []
            for node in graph.nodes:
                for k, sub in enumerate(node.subgraphs):
                    nested.append((sub, f"{node.id}/{sub.name or k}::"))
            stack.extend(reversed(nested))
    model._node_ids = None  # the look-up table is rebuilt on next use
    return model
