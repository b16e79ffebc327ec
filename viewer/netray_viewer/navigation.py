"""Which graph is on screen and how far its groups are expanded (no Qt here).

The viewer shows one graph at a time: the model's main graph, or a subgraph
(If/Loop body, function) opened from a node. :class:`GraphLevel` holds one such
graph with its group hierarchy, its layout cache and the expanded groups;
:class:`Navigation` is the stack the breadcrumbs show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netray.hierarchy import Hierarchy
from netray.ir import Graph, Model, Node
from netray.layout import LayoutCache


def initial_expansion(hierarchy: Hierarchy, mode: str) -> frozenset[str]:
    """The expanded groups for an ``--expand`` mode: auto, none, all or a depth."""
    return hierarchy.expanded_for(mode)


@dataclass
class GraphLevel:
    """One graph on the navigation stack."""

    graph: Graph
    label: str  # breadcrumb text: "main", "If_3 › then_branch"
    hierarchy: Hierarchy
    cache: LayoutCache
    expanded: frozenset[str]
    via: Node | None = None  # the node whose subgraph this is
    view: Any = None  # the view rectangle to restore when coming back

    @classmethod
    def of(cls, graph: Graph, label: str, mode: str, via: Node | None = None) -> GraphLevel:
        hierarchy = Hierarchy.build(graph)
        return cls(graph, label, hierarchy, LayoutCache(graph, hierarchy), initial_expansion(hierarchy, mode), via)


@dataclass
class Navigation:
    """The stack of graphs from the model's main graph to the one on screen."""

    model: Model
    mode: str = "auto"
    levels: list[GraphLevel] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.levels and self.has_graph:
            self.levels.append(GraphLevel.of(self.model.main, self.model.main.name or "main", self.mode))

    @property
    def has_graph(self) -> bool:
        """Whether there is a graph to draw: a weights-only model shows its tensors instead."""
        return bool(self.model.graphs) and not (self.model.weights_only and any(True for _ in self.model.all_tensors()))

    @property
    def current(self) -> GraphLevel:
        return self.levels[-1]

    def enter(self, node: Node, index: int = 0) -> GraphLevel:
        """Open the ``index``-th subgraph of ``node`` on top of the stack."""
        graph = node.subgraphs[index]
        name = graph.name or f"graph {index}"
        level = GraphLevel.of(graph, f"{node.name or node.op} › {name}", self.mode, via=node)
        self.levels.append(level)
        return level

    def back_to(self, depth: int) -> GraphLevel:
        """Pop levels until ``depth`` (0 is the main graph) is on screen."""
        del self.levels[max(depth, 0) + 1 :]
        return self.current


def displayed_node_count(graph: Graph) -> int:
    """Operations in a graph at all levels: its nodes plus those of nested subgraphs."""
    return sum(len(g.nodes) for g in graph.walk())
