"""Groups of operations: the scope tree, plus folds of repeated blocks and long chains.

Exporters that record module paths give every node a scope (``model/layers.3/mlp``);
those become nested groups. Where nodes carry no scope (a flat ONNX export, a
TFLite file), a large group is folded here so that it still opens as a readable
overview:

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
import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from netray.arrays import unique
from netray.ir import AttrKind, Category, Graph, Node

# A group with fewer direct ops than this is left as it is.
FOLD_MIN_OPS = 64
# The shortest block and the smallest run worth folding as a repeat.
MIN_PERIOD = 3
MIN_REPEAT_COVER = 12
# Blocks shorter than this are not given a group each: the whole run is one group.
MIN_BLOCK_GROUP_OPS = 8
PHASE_SHIFT_COST = 1.0  # in values crossing a block boundary
MAX_PERIOD_CANDIDATES = 8
MAX_USES_PER_BLOCK = 8  # how many uses of one op type per block the period search expects
# The shortest run of single-input/single-output ops folded as a chain.
CHAIN_MIN_OPS = 6
# Above this many direct members a group is cut into sections.
SECTION_MAX_MEMBERS = 200
SECTION_MIN_OPS = 48
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


@dataclass(eq=False, slots=True)
class Group:
    """A box that can be collapsed (one summary box) or expanded (a frame around its members).

    ``nodes`` are indices into ``graph.nodes`` of the ops directly in this group;
    ``start``/``end`` delimit the group's ops (all levels) in :attr:`Hierarchy.order`.
    """

    id: str
    label: str
    kind: str  # "root" | "scope" | "repeat" | "chain"
    parent: Group | None = None
    children: list[Group] = field(default_factory=list)
    nodes: list[int] = field(default_factory=list)
    depth: int = 0
    op_count: int = 0
    parameters: int = 0
    top_ops: list[tuple[str, int]] = field(default_factory=list)
    start: int = 0
    end: int = 0
    folded: int = 0  # the last ``folded`` of ``nodes`` are foldable constants

    @property
    def member_count(self) -> int:
        """Boxes shown when this group is expanded (its direct ops and child groups)."""
        return len(self.nodes) + len(self.children)

    def walk(self) -> Iterable[Group]:
        """This group and every group below it, parents before children."""
        stack = [self]
        while stack:
            g = stack.pop()
            yield g
            stack.extend(reversed(g.children))

    def __repr__(self) -> str:
        return f"Group({self.id!r}, {self.kind}, {self.op_count} ops)"


class _Adjacency:
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


def execution_order(graph: Graph, adjacency: _Adjacency | None = None) -> np.ndarray:
    """Each node's place in a topological order of the data edges (ties: list order).

    Plugins list nodes in execution order where they can, but some formats do not
    (a TensorFlow GraphDef). Nodes on a cycle follow the rest in list order.
    """
    adj = adjacency or _Adjacency(graph)
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
            folder = _Folder(graph, node_group)
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


def execution_sequence(graph: Graph) -> list[int]:
    """The graph's node indices in execution order (:func:`execution_order`'s ranks, sorted)."""
    return np.argsort(execution_order(graph), kind="stable").tolist()


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


class _Folder:
    """Finds repeats, chains and sections among the direct ops of large groups."""

    def __init__(self, graph: Graph, node_group: list[Group]) -> None:
        self.graph = graph
        self.node_group = node_group
        self.adj = _Adjacency(graph)
        self.run_order = execution_order(graph, self.adj)
        codes: dict[str, int] = {}
        self.op_code = np.array([codes.setdefault(n.op, len(codes)) for n in graph.nodes], dtype=np.int64)
        self.local = np.full(len(graph.nodes), -1, dtype=np.int64)
        self.counter = 0
        self.attached: set[int] = set()  # constants moved into their consumer's group

    def _new_group(self, parent: Group, label: str, kind: str, nodes: list[int], tag: str) -> Group:
        self.counter += 1
        prefix = parent.id + "/" if parent.id else ""
        g = Group(id=f"{prefix}{tag}", label=label, kind=kind, parent=parent, nodes=list(nodes))
        parent.children.append(g)
        for i in nodes:
            self.node_group[i] = g
        return g

    def fold(self, group: Group) -> None:
        """Fold the direct ops of ``group``: repeats, then chains, then sections if still too wide."""
        seq = sorted(group.nodes, key=self.run_order.__getitem__)
        # Constants (fed by weights only: ONNX Constant/ConstantOfShape, shape literals) are
        # kept out of the folding: exporters list them together, so they would fold into one
        # block of hundreds far from their users. Each joins its first consumer's group below.
        constant = self.adj.constant & (self.adj.out_degree > 0)
        constants = [i for i in seq if constant[i]]
        if constants:
            seq = [i for i in seq if not constant[i]]
        group.nodes = []
        before = len(group.children)
        remaining = self._fold_repeats(group, seq)
        remaining = self._fold_chains(group, remaining)
        # A very long chain or run of tiny repeats is itself cut into sections, so it opens readably.
        for child in group.children[before:]:
            if child.kind in ("chain", "repeat") and len(child.nodes) > SECTION_MAX_MEMBERS:
                ordered = sorted(child.nodes, key=self.run_order.__getitem__)
                child.nodes = self._fold_sections(child, ordered)
        if len(remaining) + len(group.children) > SECTION_MAX_MEMBERS:
            remaining = self._fold_sections(group, remaining)
        group.nodes = remaining
        for i in constants:
            self._attach_to_consumer(group, i)

    def _attach_to_consumer(self, group: Group, i: int) -> None:
        """Put constant ``i`` in the group of its first consumer, if that lies inside ``group``."""
        succ = self.adj.succ[self.adj.succ_ptr[i] : self.adj.succ_ptr[i + 1]]
        first = int(succ[np.argmin(self.run_order[succ])])
        target: Group | None = self.node_group[first]
        inside = target
        while inside is not None and inside is not group:
            inside = inside.parent
        destination = target if inside is group and target is not None else group
        destination.nodes.append(i)
        self.node_group[i] = destination
        self.attached.add(i)

    # -- repeats ---------------------------------------------------------------------------

    def _fold_repeats(self, parent: Group, seq: list[int]) -> list[int]:
        """Fold the longest run of a repeated block in ``seq``, then look on either side of it.

        A work list, not recursion: a long graph may hold hundreds of separate runs.
        """
        remaining: list[int] = []
        todo = [seq]
        while todo:
            part = todo.pop()
            found = None
            if len(part) >= max(FOLD_MIN_OPS // 2, 2 * MIN_PERIOD):
                found = self._find_repeat(np.asarray(part, dtype=np.int64))
            if found is None:
                remaining.extend(part)
                continue
            start, period, copies = found
            self._fold_run(parent, [part[start + j * period : start + (j + 1) * period] for j in range(copies)])
            todo.append(part[:start])
            todo.append(part[start + copies * period :])
        return sorted(remaining, key=self.run_order.__getitem__)

    def _fold_run(self, parent: Group, blocks: list[list[int]]) -> None:
        """One group for a run of identical blocks (with a group per block unless they are tiny)."""
        n = self.counter
        copies, period = len(blocks), len(blocks[0])
        if period < MIN_BLOCK_GROUP_OPS:
            # A few ops repeated: one group of them all reads better than many tiny boxes.
            ops = self.graph.nodes
            label = f"{ops[blocks[0][0]].op} … {ops[blocks[0][-1]].op} ×{copies}"
            self._new_group(parent, label, "repeat", [i for block in blocks for i in block], f"~repeat{n}")
            return
        container = self._new_group(parent, f"block.0 … block.{copies - 1} ×{copies}", "repeat", [], f"~repeat{n}")
        first: Group | None = None
        for j, block in enumerate(blocks):
            inner = self._new_group(container, f"block.{j}", "scope", block, f"block.{j}")
            if len(block) < FOLD_MIN_OPS:
                continue
            if first is None:
                self.fold(inner)
                first = inner
            else:
                # Same op sequence: fold it the way the first block was folded.
                self._copy_folds(first, inner, dict(zip(blocks[0], block, strict=True)))

    def _find_repeat(self, seq: np.ndarray) -> tuple[int, int, int] | None:
        """(start, period, copies) of the run of identical op sequences covering most ops."""
        codes = self.op_code[seq]
        n = len(codes)
        # Candidate periods: distances between successive uses of one op type.
        # An op used k times per block recurs at distance "period" from its k-th next use.
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        gap_parts = []
        for j in range(1, MAX_USES_PER_BLOCK + 1):
            same = sorted_codes[j:] == sorted_codes[:-j]
            gap_parts.append((order[j:] - order[:-j])[same])
        gaps = np.concatenate(gap_parts)
        gaps = gaps[(gaps >= MIN_PERIOD) & (gaps <= n // 2)]
        if gaps.size == 0:
            return None
        values, counts = np.unique(gaps, return_counts=True)
        candidates = values[np.argsort(-(counts * values), kind="stable")[:MAX_PERIOD_CANDIDATES]]
        best: tuple[int, int, int, int] | None = None  # (cover, -period, start, copies)
        for p in sorted(int(c) for c in candidates):
            start, length = _longest_true_run(codes[:-p] == codes[p:])
            copies = (length + p) // p
            cover = copies * p
            if copies < 2 or cover < MIN_REPEAT_COVER or (copies < 3 and p < 8):
                continue
            if best is None or cover > best[0] * 1.1:
                best = (cover, -p, start, copies)
        if best is None:
            return None
        cover, neg_p, start, copies = best
        period = -neg_p
        end = start + copies * period
        # The run may hold a shorter period too (candidates are only the likeliest).
        for d in range(MIN_PERIOD, period // 2 + 1):
            if period % d == 0 and np.array_equal(codes[start : end - d], codes[start + d : end]):
                copies, period = copies * (period // d), d
                break
        start, copies = self._align(seq, start, end, period)
        return (start, period, copies) if copies >= 2 else None

    def _align(self, seq: np.ndarray, start: int, end: int, period: int) -> tuple[int, int]:
        """Shift the block boundaries to where the fewest values cross them (between layers)."""
        n = len(seq)
        live = self._live_values(seq)
        best = (math.inf, 0, start, 0)
        for phase in range(period):
            s = start + phase
            copies = (end - s) // period
            if copies < 2:
                break
            bounds = s + period * np.arange(copies + 1)
            bounds = bounds[bounds <= n]
            # The run's own start is usually the true one (the op before it differs):
            # shift only where clearly fewer values cross the boundaries.
            score = float(live[bounds].mean()) + (0.0 if phase == 0 else PHASE_SHIFT_COST)
            key = (score, -copies, s, copies)
            if key < best:
                best = key
        return int(best[2]), int(best[3])

    def _live_values(self, seq: np.ndarray) -> np.ndarray:
        """live[b]: ops before position b of ``seq`` whose output is still used at b or after."""
        n = len(seq)
        adj = self.adj
        self.local[seq] = np.arange(n)
        counts = adj.out_degree[seq]
        succ_local = self.local[adj.succ[csr_slots(adj.succ_ptr, seq)]]
        owner = np.repeat(np.arange(n), counts)
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, owner, succ_local)
        self.local[seq] = -1
        diff = np.zeros(n + 2, dtype=np.int64)
        has = last > np.arange(n)
        np.add.at(diff, np.arange(n)[has] + 1, 1)
        np.add.at(diff, last[has] + 1, -1)
        return np.cumsum(diff)[: n + 1]

    def _copy_folds(self, template: Group, target: Group, mapping: dict[int, int]) -> None:
        """Give ``target`` the groups ``template`` has, with ops mapped position by position."""
        target.nodes = [mapping[i] for i in template.nodes]
        for i in target.nodes:
            self.node_group[i] = target
        for t_child in template.children:
            tag = t_child.id.rsplit("/", 1)[-1]
            child = self._new_group(target, t_child.label, t_child.kind, [], tag)
            self._copy_folds(t_child, child, mapping)

    # -- chains and sections -------------------------------------------------------------------

    def _fold_chains(self, parent: Group, seq: list[int]) -> list[int]:
        """Runs of ops where each feeds only the next (constants feeding them included)."""
        if len(seq) < CHAIN_MIN_OPS:
            return seq
        adj = self.adj
        inside = np.zeros(len(self.graph.nodes), dtype=bool)
        inside[seq] = True
        nxt: dict[int, int] = {}
        has_prev: set[int] = set()
        data_in_degree = adj.data_in_degree.tolist()
        # Candidates: one consumer, not a constant, and that consumer in this group.
        arr = np.asarray(seq, dtype=np.int64)
        single = arr[(adj.out_degree[arr] == 1) & ~adj.constant[arr]]
        single_next = adj.succ[adj.succ_ptr[single]]
        keep = inside[single_next]
        for u, v in zip(single[keep].tolist(), single_next[keep].tolist(), strict=True):
            if data_in_degree[v] == 1:
                nxt[u] = v
                has_prev.add(v)
        taken: set[int] = set()
        for u in seq:
            if u in has_prev or u not in nxt:
                continue
            chain = [u]
            while chain[-1] in nxt:
                chain.append(nxt[chain[-1]])
            if len(chain) < CHAIN_MIN_OPS:
                continue
            members = set(chain)
            # Constants used only by this chain travel with it.
            for v in chain:
                for p in adj.pred[adj.pred_ptr[v] : adj.pred_ptr[v + 1]]:
                    p = int(p)
                    if adj.constant[p] and inside[p] and p not in taken and adj.out_degree[p] == 1:
                        members.add(p)
            ops = self.graph.nodes
            label = f"{ops[chain[0]].op} … {ops[chain[-1]].op}"
            self._new_group(parent, label, "chain", sorted(members), f"~chain{self.counter}")
            taken |= members
        return [i for i in seq if i not in taken]

    def _fold_sections(self, parent: Group, seq: list[int]) -> list[int]:
        """Cut what is still too wide into consecutive runs of about sqrt(n) members each.

        Members (direct ops and the groups folded so far) are taken in execution order.
        """
        groups = parent.children
        order = self.run_order
        members: list[tuple[int, int, Group | None]] = [(int(order[i]), i, None) for i in seq]
        members += [(min(int(order[i]) for sub in g.walk() for i in sub.nodes), -1, g) for g in groups]
        members.sort(key=lambda m: m[0])
        parent.children = []
        size = max(SECTION_MIN_OPS, math.isqrt(len(members)) + 1)
        for a in range(0, len(members), size):
            part = members[a : a + size]
            nodes = [i for _, i, g in part if g is None]
            section = self._new_group(parent, f"ops {part[0][0]}–{part[-1][0]}", "chain", nodes, f"~ops{a}")
            for _, _, g in part:
                if g is not None:
                    g.parent = section
                    section.children.append(g)
        return []


def csr_slots(ptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions in a CSR data array of every entry of ``rows``, row after row."""
    rows = np.asarray(rows, dtype=np.int64)
    counts = ptr[rows + 1] - ptr[rows]
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(ptr[rows] - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(total)


def _longest_true_run(mask: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in ``mask``; (0, 0) if none."""
    if mask.size == 0 or not mask.any():
        return (0, 0)
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[0::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k] - starts[k])
