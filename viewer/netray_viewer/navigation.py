"""Which graph is on screen and how far its groups are expanded (no Qt here).

The viewer shows one graph at a time: the model's main graph, or a subgraph
(If/Loop body, function) opened from a node. :class:`GraphLevel` holds one such
graph with its group hierarchy, its layout caches (one per set of layout options)
and the expanded groups; :class:`Navigation` is the stack the breadcrumbs show.
A level is named by its *path* from the main graph, ``((node id, subgraph index), ...)``;
levels left are kept, so going back to a subgraph finds its groups as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netray.hierarchy import Hierarchy
from netray.ir import Graph, Model, Node
from netray.layout import LayoutCache
from netray_viewer.view_settings import DEFAULT_LAYOUT, LayoutOptions

Path = tuple[tuple[str, int], ...]


def initial_expansion(hierarchy: Hierarchy, mode: str) -> frozenset[str]:
    """The expanded groups for an ``--expand`` mode: auto, none, all or a depth."""
    return hierarchy.expanded_for(mode)


@dataclass
class GraphLevel:
    """One graph on the navigation stack."""

    graph: Graph
    label: str  # breadcrumb text: "main", "If_3 › then_branch"
    hierarchy: Hierarchy
    expanded: frozenset[str]
    via: Node | None = None  # the node whose subgraph this is
    path: Path = ()
    view: Any = None  # the view rectangle to restore when coming back
    caches: dict[LayoutOptions, LayoutCache] = field(default_factory=dict)

    @classmethod
    def of(cls, graph: Graph, label: str, mode: str, via: Node | None = None, path: Path = ()) -> GraphLevel:
        hierarchy = Hierarchy.build(graph)
        return cls(graph, label, hierarchy, initial_expansion(hierarchy, mode), via, path)

    def cache(self, options: LayoutOptions = DEFAULT_LAYOUT) -> LayoutCache:
        """The layout cache for ``options``, made on first use (in the layout worker: it indexes every edge)."""
        got = self.caches.get(options)
        if got is None:
            got = self.caches[options] = LayoutCache(
                self.graph, self.hierarchy, direction=options.direction, fold_constants=options.fold_constants, text=options.text
            )
        return got


@dataclass
class Navigation:
    """The stack of graphs from the model's main graph to the one on screen."""

    model: Model
    mode: str = "auto"
    levels: list[GraphLevel] = field(default_factory=list)
    known: dict[Path, GraphLevel] = field(default_factory=dict)  # every level opened so far

    def __post_init__(self) -> None:
        if not self.levels and self.has_graph:
            self.levels.append(GraphLevel.of(self.model.main, self.model.main.name or "main", self.mode))
        for level in self.levels:
            self.known[level.path] = level

    @property
    def has_graph(self) -> bool:
        """Whether there is a graph to draw: a weights-only model shows its tensors instead."""
        return bool(self.model.graphs) and not (self.model.weights_only and any(True for _ in self.model.all_tensors()))

    @property
    def current(self) -> GraphLevel:
        return self.levels[-1]

    @property
    def path(self) -> Path:
        return self.current.path

    def enter(self, node: Node, index: int = 0) -> GraphLevel:
        """Open the ``index``-th subgraph of ``node`` on top of the stack (as it was left, if opened before)."""
        path = (*self.current.path, (node.id, index))
        level = self.known.get(path)
        if level is None:
            graph = node.subgraphs[index]
            name = graph.name or f"graph {index}"
            level = GraphLevel.of(graph, f"{node.name or node.op} › {name}", self.mode, via=node, path=path)
            self.known[path] = level
        self.levels.append(level)
        return level

    def back_to(self, depth: int) -> GraphLevel:
        """Pop levels until ``depth`` (0 is the main graph) is on screen."""
        del self.levels[max(depth, 0) + 1 :]
        return self.current

    def go_to(self, path: Path) -> GraphLevel | None:
        """Show the level at ``path``, entering subgraphs from the main graph; None if a step no longer exists."""
        common = 0
        while common < min(len(path), len(self.levels) - 1) and self.levels[common + 1].path == path[: common + 1]:
            common += 1
        self.back_to(common)
        for node_id, index in path[common:]:
            node = next((n for n in self.current.graph.nodes if n.id == node_id), None)
            if node is None or not 0 <= index < len(node.subgraphs):
                return None
            self.enter(node, index)
        return self.current


def displayed_node_count(graph: Graph) -> int:
    """Operations in a graph at all levels: its nodes plus those of nested subgraphs."""
    return sum(len(g.nodes) for g in graph.walk())
