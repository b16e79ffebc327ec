"""Layered layout of a graph at one expansion state, cached per group.

``layout_scene`` lays out a graph once; ``LayoutCache`` keeps the block of every
expanded group keyed by that group's own expansion state, so expanding or
collapsing a group re-lays out only that group and the groups around it.
See docs/architecture.md ("Hierarchy and layout") for the algorithm and its figures.
"""

from __future__ import annotations

from collections.abc import Callable

from netray.hierarchy import Group, Hierarchy
from netray.ir import Graph, Node, Value
from netray.labels import DEFAULT_TEXT, BoxText, box_size, group_lines, node_lines, node_title, value_lines, value_title
from netray.layout.assemble import assemble_scene
from netray.layout.blocks import Block, build_block
from netray.layout.edge_labels import place_edge_labels
from netray.layout.edges import Connectivity
from netray.layout.layered import LayoutCancelled
from netray.scene import Scene

__all__ = ["BoxText", "LayoutCache", "LayoutCancelled", "layout_scene"]

Text = tuple[str, list[str]]
MAX_CACHED_BLOCKS = 4096


class LayoutCache:
    """Scenes of one graph at any expansion state, re-using the blocks that did not change."""

    def __init__(
        self,
        graph: Graph,
        hierarchy: Hierarchy,
        *,
        direction: str = "TB",
        fold_constants: bool = False,
        text: BoxText = DEFAULT_TEXT,
    ) -> None:
        """``fold_constants`` leaves the hierarchy's foldable constants out, listing them in their
        consumers' boxes; ``text`` says what node boxes show."""
        if direction not in ("TB", "LR"):
            raise ValueError(f"direction must be 'TB' or 'LR', not {direction!r}")
        self.graph = graph
        self.hierarchy = hierarchy
        self.direction = direction
        self.fold_constants = fold_constants
        self.text = text
        self.conn = Connectivity(graph, hierarchy, fold_constants=fold_constants)
        self._node_index = {id(n): i for i, n in enumerate(graph.nodes)} if fold_constants else {}
        self._blocks: dict[tuple[str, frozenset[str]], Block] = {}
        self._node_text: dict[int, tuple[Text, tuple[float, float]]] = {}
        self._group_text: dict[str, tuple[Text, tuple[float, float]]] = {}
        self._value_text: dict[int, tuple[Text, tuple[float, float]]] = {}

    # -- box texts and sizes, computed once per box --

    def node_box(self, index: int) -> tuple[Text, tuple[float, float]]:
        got = self._node_text.get(index)
        if got is None:
            node = self.graph.nodes[index]
            constant_of = self._folded_constant if self.fold_constants else None
            title, lines = node_title(node), node_lines(node, text=self.text, constant_of=constant_of)
            got = self._node_text[index] = ((title, lines), box_size(title, lines))
        return got

    def _folded_constant(self, value: Value) -> Node | None:
        """The folded constant node making ``value``, if any."""
        producer = value.producer
        i = self._node_index.get(id(producer)) if producer is not None else None
        return producer if i is not None and bool(self.hierarchy.foldable[i]) else None

    def group_box(self, group: Group) -> tuple[Text, tuple[float, float]]:
        got = self._group_text.get(group.id)
        if got is None:
            lines = group_lines(group.op_count, group.parameters, group.top_ops)
            got = self._group_text[group.id] = ((group.label, lines), box_size(group.label, lines))
        return got

    def value_box(self, value: Value) -> tuple[Text, tuple[float, float]]:
        got = self._value_text.get(id(value))
        if got is None:
            title, lines = value_title(value.name), value_lines(value.type.dtype, value.type.shape)
            got = self._value_text[id(value)] = ((title, lines), box_size(title, lines))
        return got

    def _leaf_size(self, position: int) -> tuple[float, float]:
        conn = self.conn
        if position < conn.n_nodes:
            return self.node_box(int(conn.leaf_node[position]))[1]
        k = position - conn.n_nodes
        value = conn.inputs[k] if k < len(conn.inputs) else conn.outputs[k - len(conn.inputs)]
        return self.value_box(value)[1]

    # -- scenes --

    def scene(
        self,
        expanded: frozenset[str],
        cancel: Callable[[], bool] | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> Scene:
        """The scene with the groups in ``expanded`` open (the root always is)."""
        root = self.hierarchy.root
        is_open = set(expanded) | {root.id}
        visible: list[Group] = []  # expanded groups that show, parents first
        stack = [root]
        while stack:
            g = stack.pop()
            visible.append(g)
            stack.extend(c for c in g.children if c.id in is_open)
        keys: dict[str, frozenset[str]] = {}
        for g in reversed(visible):
            below: set[str] = set()
            for c in g.children:
                if c.id in is_open:
                    below.add(c.id)
                    below |= keys[c.id]
            keys[g.id] = frozenset(below)
        todo = [g for g in reversed(visible) if (g.id, keys[g.id]) not in self._blocks]
        work = max(1, sum(g.member_count for g in todo))
        done = 0
        blocks: dict[str, Block] = {}
        transposed = self.direction == "LR"
        for g in reversed(visible):
            if cancel is not None and cancel():
                raise LayoutCancelled()
            key = (g.id, keys[g.id])
            block = self._blocks.get(key)
            if block is None:
                children = {c.id: blocks[c.id] for c in g.children if c.id in blocks}
                block = build_block(
                    g,
                    self.conn,
                    children,
                    self._leaf_size,
                    lambda c: self.group_box(c)[1],
                    transposed=transposed,
                    cancel=cancel,
                )
                if len(self._blocks) >= MAX_CACHED_BLOCKS:
                    self._blocks.pop(next(iter(self._blocks)))
                self._blocks[key] = block
                done += g.member_count
                if progress is not None:
                    progress(0.9 * done / work)
            blocks[g.id] = block
        if cancel is not None and cancel():
            raise LayoutCancelled()
        scene = assemble_scene(
            self.conn,
            blocks[root.id],
            frozenset(is_open),
            lambda i: self.node_box(i)[0],
            lambda g: self.group_box(g)[0],
            lambda v: self.value_box(v)[0],
            transposed=transposed,
        )
        scene.direction = self.direction
        scene.edge_label_x, scene.edge_label_y = place_edge_labels(scene)
        if progress is not None:
            progress(1.0)
        return scene


def layout_scene(
    graph: Graph,
    hierarchy: Hierarchy,
    expanded: frozenset[str],
    *,
    direction: str = "TB",
    fold_constants: bool = False,
    text: BoxText = DEFAULT_TEXT,
    cancel: Callable[[], bool] | None = None,
    progress: Callable[[float], None] | None = None,
) -> Scene:
    """Lay out ``graph`` with the groups in ``expanded`` open; see :class:`LayoutCache`."""
    cache = LayoutCache(graph, hierarchy, direction=direction, fold_constants=fold_constants, text=text)
    return cache.scene(expanded, cancel=cancel, progress=progress)
