"""Groups of operations: the scope tree, plus folds of repeated blocks and long chains.

Exporters that record module paths give every node a scope (``model/layers.3/mlp``);
those become nested groups. Where nodes carry no scope (a flat ONNX export, a
TFLite file), a large group is folded (:mod:`netray.repeats`) so that it still opens as a
readable overview:

* **repeat**: the same op sequence N times in a row (a flat 100-layer decoder)
  becomes one group holding N block groups, found from the op-type sequence in
  execution order (like TensorBoard's series grouping, but by structure rather
  than by name);
* **chain**: a long run of ops each feeding only the next becomes one group;
* what still is too wide to read is cut into consecutive sections (also "chain").

Constant nodes (ONNX ``Constant``, TensorFlow ``Const``: no inputs, one output that other
ops read) are *foldable*: Netron draws them inside their consumers, as it does weights.
Each joins the group of its first consumer and sorts after the group's other ops, so a
layout can leave them out (``Group.folded`` of them end each group's ``nodes``).

Groups are kept in depth-first order and each covers one contiguous interval of
:attr:`Hierarchy.order`, which lets the layout map nodes to visible boxes with
array operations.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from netray.graph_order import execution_order
from netray.groups import Group
from netray.ir import AttrKind, Category, Graph, Node
from netray.repeats import FOLD_MIN_OPS, Folder

TOP_OPS = 4
# Categories that say what a group computes, listed first in its summary.
COMPUTING = frozenset(
    {Category.LAYER, Category.ACTIVATION, Category.NORMALIZATION, Category.POOL, Category.CONTROL, Category.QUANTIZATION, Category.CUSTOM}
)
# This many numbered sibling scopes (layers.0, layers.1, ...) are gathered into one repeat group.
NUMBERED_SERIES_MIN = 8
# Op types that hold a constant (besides any node with no inputs and a tensor attribute).
CONSTANT_OPS = frozenset({"constant", "const", "hostconst", "fill_constant", "assign_value"})


DEFAULT_BUDGET = 400  # boxes shown on open before groups start collapsed


class Hierarchy:
    """The group tree of one graph."""

    def __init__(
        self,
        graph: Graph,
        root: Group,
        node_group: list[Group],
        run_order: np.ndarray | None = None,
        attached: frozenset[int] = frozenset(),
        foldable: np.ndarray | None = None,
    ) -> None:
        self.graph = graph
        self._run_order = run_order
        # Constants moved next to their consumers: they do not decide where a group sorts.
        self._attached = attached
        self.root = root
        self.node_group = node_group
        self.groups: dict[str, Group] = {}
        for g in root.walk():
            if g.id in self.groups:  # scope names that clash with fold names: keep both, distinctly
                k = 2
                while f"{g.id}#{k}" in self.groups:
                    k += 1
                g.id = f"{g.id}#{k}"
            self.groups[g.id] = g
        self.order = np.zeros(len(graph.nodes), dtype=np.int64)
        self.position = np.zeros(len(graph.nodes), dtype=np.int64)
        self.foldable = foldable if foldable is not None else foldable_constants(graph)
        self._finish()

    # -- building --------------------------------------------------------------------------

    @classmethod
    def build(cls, graph: Graph, *, fold: bool = True) -> Hierarchy:
        """Groups from ``Node.scope``; large unscoped groups folded into repeats and chains."""
        root = Group(id="", label=graph.name or "graph", kind="root")
        by_scope: dict[tuple[str, ...], Group] = {(): root}
        node_group: list[Group] = []
        for i, node in enumerate(graph.nodes):
            scope = tuple(s for s in node.scope if s)
            g = by_scope.get(scope)
            if g is None:
                g = _scope_group(by_scope, scope)
            g.nodes.append(i)
            node_group.append(g)
        foldable = foldable_constants(graph)
        _move_constants_to_consumers(graph, node_group, foldable)
        _dissolve_single_op_groups(root, node_group)
        _gather_numbered_siblings(root)
        run_order = None
        attached: frozenset[int] = frozenset()
        if fold and len(graph.nodes) >= FOLD_MIN_OPS:
            folder = Folder(graph, node_group)
            for g in list(root.walk()):
                if len(g.nodes) >= FOLD_MIN_OPS:
                    folder.fold(g)
            run_order = folder.run_order
            attached = frozenset(folder.attached)
        return cls(graph, root, node_group, run_order, attached, foldable)

    @property
    def run_order(self) -> np.ndarray:
        """Each node's place in execution (topological) order; see :func:`execution_order`."""
        if self._run_order is None:
            self._run_order = execution_order(self.graph)
        return self._run_order

    def _finish(self) -> None:
        """Sort members, number depths, lay groups out in depth-first order, count ops and parameters."""
        graph = self.graph
        ops = [n.op for n in graph.nodes]
        computing = {n.op for n in graph.nodes if n.category in COMPUTING}
        first: dict[int, int] = {}
        for g in list(self.root.walk())[::-1]:
            own = [i for i in g.nodes if i not in self._attached] or g.nodes
            first[id(g)] = min([*own, *(first[id(c)] for c in g.children)], default=0)
        pos = 0
        stack: list[tuple[Group, bool]] = [(self.root, False)]
        post: list[Group] = []
        while stack:
            g, done = stack.pop()
            if done:
                g.end = pos
                post.append(g)
                continue
            # Foldable constants last, so a layout that folds them shows a prefix of the ops.
            g.nodes.sort(key=lambda i: (bool(self.foldable[i]), i))
            g.folded = int(self.foldable[g.nodes].sum()) if g.nodes else 0
            g.children.sort(key=lambda c: first[id(c)])
            g.depth = 0 if g.parent is None else g.parent.depth + 1
            g.start = pos
            k = len(g.nodes)
            self.order[pos : pos + k] = g.nodes
            pos += k
            stack.append((g, True))
            stack.extend((c, False) for c in reversed(g.children))
        self.position[self.order] = np.arange(len(self.order))

        # Each weight counts once: in the innermost group of its first consumer.
        own_params: dict[int, int] = {}
        seen: set[int] = set()
        for i, node in enumerate(graph.nodes):
            for v in node.input_values():
                t = v.initializer
                if t is not None and id(v) not in seen:
                    seen.add(id(v))
                    gid = id(self.node_group[i])
                    own_params[gid] = own_params.get(gid, 0) + (t.size or 0)
        counters: dict[int, Counter[str]] = {}
        for g in post:  # children before parents
            c: Counter[str] = Counter(ops[i] for i in g.nodes)
            params = own_params.get(id(g), 0)
            for child in g.children:
                c.update(counters.pop(id(child)))
                params += child.parameters
            counters[id(g)] = c
            g.op_count = g.end - g.start
            g.parameters = params
            # Compute first (Conv, MatMul, Softmax...), then by count: "Constant ×77,
            # Unsqueeze ×35" says little about what a block does.
            g.top_ops = sorted(c.items(), key=lambda kv: (kv[0] not in computing, -kv[1]))[:TOP_OPS]

    # -- queries -----------------------------------------------------------------------------

    def group_of(self, node_index: int) -> Group:
        """The innermost group holding the node."""
        return self.node_group[node_index]

    def ancestors(self, node_index: int) -> list[Group]:
        """The groups holding the node, outermost first, the root excluded."""
        chain = []
        g: Group | None = self.node_group[node_index]
        while g is not None and g.parent is not None:
            chain.append(g)
            g = g.parent
        return chain[::-1]

    def all_group_ids(self) -> frozenset[str]:
        return frozenset(self.groups)

    def expanded_to_depth(self, depth: int) -> frozenset[str]:
        """Every group up to ``depth`` expanded (0: only the root, so its children show collapsed)."""
        return frozenset(g.id for g in self.groups.values() if g.depth <= depth)

    def reveal(self, expanded: frozenset[str], node_index: int) -> frozenset[str]:
        """``expanded`` plus every group holding the node, so the node itself is visible."""
        return expanded | {g.id for g in self.ancestors(node_index)} | {self.root.id}

    def find_groups(self, pattern: str) -> list[Group]:
        """Groups named by ``pattern``: an id (``model/layers.3``), a label (``layers.3``), or a
        shell-style pattern over either (``model/layers.*``, ``*attn``). ValueError if none match."""
        exact = self.groups.get(pattern)
        if exact is not None and exact is not self.root:
            return [exact]
        groups = [g for g in self.groups.values() if g is not self.root]
        by_label = [g for g in groups if g.label == pattern]
        if by_label:
            return by_label
        matched = [g for g in groups if fnmatch.fnmatchcase(g.id, pattern) or fnmatch.fnmatchcase(g.label, pattern)]
        if not matched:
            known = ", ".join(sorted(g.id for g in groups)[:12]) + (" ..." if len(groups) > 12 else "")
            raise ValueError(f"no group matches {pattern!r}; groups are {known or 'none: the graph has no groups'}")
        return matched

    def with_groups(self, expanded: frozenset[str], expand: Iterable[str] = (), collapse: Iterable[str] = ()) -> frozenset[str]:
        """``expanded`` with the groups matching ``expand`` opened (their outer groups too) and those
        matching ``collapse`` closed; a pattern matching no group is a ValueError."""
        result = set(expanded) | {self.root.id}
        for pattern in expand:
            for g in self.find_groups(pattern):
                chain: Group | None = g
                while chain is not None:
                    result.add(chain.id)
                    chain = chain.parent
        for pattern in collapse:
            for g in self.find_groups(pattern):
                result.discard(g.id)
        return frozenset(result)

    def io_count(self) -> int:
        """Graph inputs (not weights) and outputs: drawn as boxes of their own."""
        return sum(1 for v in self.graph.inputs if v.initializer is None) + len(self.graph.outputs)

    def default_expanded(self, budget: int = 400) -> frozenset[str]:
        """Open groups breadth first while the visible boxes stay within ``budget``.

        A small graph opens fully expanded, a large one as an overview. Expanding a
        group replaces its box by a frame plus its members, so it costs its member count.
        """
        expanded = {self.root.id}
        count = self.root.member_count + self.io_count()
        queue = list(self.root.children)
        head = 0
        while head < len(queue):
            g = queue[head]
            head += 1
            if count + g.member_count <= budget:
                expanded.add(g.id)
                count += g.member_count
                queue.extend(g.children)
        return frozenset(expanded)

    def expanded_for(self, mode: str) -> frozenset[str]:
        """The expanded groups for an ``--expand`` mode: auto, none, all or a depth ("2")."""
        mode = (mode or "auto").strip().lower()
        if mode == "none":
            return self.expanded_to_depth(0)  # the root stays open: its groups show collapsed
        if mode == "all":
            return self.all_group_ids()
        if mode.isdigit():
            return self.expanded_to_depth(int(mode))
        if mode != "auto":
            raise ValueError(f"expand must be auto, none, all or a depth, not {mode!r}")
        return self.default_expanded(DEFAULT_BUDGET)

    def visible_count(self, expanded: frozenset[str]) -> int:
        """How many items (boxes and frames) a scene of this expansion state holds."""
        count = self.io_count()
        stack = [self.root]
        while stack:
            g = stack.pop()
            count += len(g.nodes)
            for c in g.children:
                count += 1
                if c.id in expanded:
                    stack.append(c)
        return count


def is_constant_op(node: Node) -> bool:
    """A constant op (``Constant``, ``Const``, Paddle's ``fill_constant``...) or a node holding a tensor attribute."""
    return node.op.lower() in CONSTANT_OPS or any(a.kind is AttrKind.TENSOR for a in node.attributes)


def foldable_constants(graph: Graph) -> np.ndarray:
    """Which nodes are constants a picture may fold into their consumers (a bool per node).

    A node qualifies when it reads no values, has no subgraphs and no control inputs,
    makes exactly one value that some op reads and that is no graph output, and is a
    constant op (``Constant``, ``Const``, Paddle's ``fill_constant``...) or holds a tensor
    attribute.
    """
    outputs = {id(v) for v in graph.outputs}
    mask = np.zeros(len(graph.nodes), dtype=bool)
    for i, node in enumerate(graph.nodes):
        if node.subgraphs or node.control_inputs or any(p.values for p in node.inputs):
            continue
        made = [v for p in node.outputs for v in p.values]
        if len(made) != 1 or not made[0].consumers or id(made[0]) in outputs:
            continue
        if is_constant_op(node):
            mask[i] = True
    return mask


def _move_constants_to_consumers(graph: Graph, node_group: list[Group], foldable: np.ndarray) -> None:
    """Each foldable constant joins its first consumer's group: folded, it is drawn there."""
    if not foldable.any():
        return
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    left: dict[int, tuple[Group, set[int]]] = {}
    for i in np.flatnonzero(foldable).tolist():
        (value,) = [v for p in graph.nodes[i].outputs for v in p.values]
        first = min((index[id(c)] for c in value.consumers if id(c) in index), default=None)
        if first is None:
            continue
        source, target = node_group[i], node_group[first]
        if source is not target:
            left.setdefault(id(source), (source, set()))[1].add(i)
            target.nodes.append(i)
            node_group[i] = target
    for source, moved in left.values():
        source.nodes = [i for i in source.nodes if i not in moved]


def _scope_group(by_scope: dict[tuple[str, ...], Group], scope: tuple[str, ...]) -> Group:
    """The group of ``scope``, creating it and any missing outer scope groups."""
    parent = by_scope[()]
    for k in range(1, len(scope) + 1):
        prefix = scope[:k]
        g = by_scope.get(prefix)
        if g is None:
            g = Group(id="/".join(prefix), label=prefix[-1], kind="scope", parent=parent)
            parent.children.append(g)
            by_scope[prefix] = g
        parent = g
    return parent


def _dissolve_single_op_groups(root: Group, node_group: list[Group]) -> None:
    """A scope holding one op says nothing its op box does not: put the op in the parent."""
    post = list(root.walk())[::-1]
    totals: dict[int, int] = {}
    for g in post:
        totals[id(g)] = len(g.nodes) + sum(totals[id(c)] for c in g.children)
    for g in post:
        if g.parent is None or totals[id(g)] > 1:
            continue
        parent = g.parent
        parent.children.remove(g)
        for c in g.children:
            c.parent = parent
            parent.children.append(c)
        for i in g.nodes:
            node_group[i] = parent
        parent.nodes.extend(g.nodes)


_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def _gather_numbered_siblings(root: Group) -> None:
    """Many numbered sibling scopes (``layers.0`` … ``layers.31``) go into one repeat group.

    The scopes keep their ids; collapsed, the run reads as one box ``layers.0 … layers.31 ×32``.
    """
    for g in list(root.walk()):
        series: dict[str, list[tuple[int, Group]]] = {}
        for c in g.children:
            match = _NUMBERED.match(c.label) if c.kind == "scope" else None
            if match:
                series.setdefault(match.group(1), []).append((int(match.group(2)), c))
        for prefix, numbered in series.items():
            if len(numbered) < NUMBERED_SERIES_MIN:
                continue
            numbered.sort(key=lambda item: item[0])
            first, last = numbered[0][0], numbered[-1][0]
            base = g.id + "/" if g.id else ""
            label = f"{prefix}{first} … {prefix}{last} ×{len(numbered)}"
            container = Group(id=f"{base}{prefix}*", label=label, kind="repeat", parent=g)
            members = {id(c) for _, c in numbered}
            g.children = [c for c in g.children if id(c) not in members]
            g.children.append(container)
            for _, c in numbered:
                c.parent = container
                container.children.append(c)
