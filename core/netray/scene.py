"""A laid-out picture of one graph at one expansion state: what the viewer paints.

Produced by ``netray.layout`` (pure numpy, no Qt) and consumed by the viewer and
exporters. Everything is in arrays so a painter can cull and draw in a few calls.
Coordinates are in scene units (about one pixel at zoom 1), x to the right and
y downward; ``x, y`` is an item's top-left corner.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netray.ir import Graph, Node, Value


class ItemKind(enum.IntEnum):
    NODE = 0  # one operation; ref is the Node
    GROUP = 1  # a collapsed group drawn as one box; ref is the hierarchy Group
    FRAME = 2  # the outline of an expanded group, drawn behind its members; ref is the Group
    INPUT = 3  # a graph input; ref is the Value
    OUTPUT = 4  # a graph output; ref is the Value


@dataclass
class Scene:
    """Items (boxes) and edges (polylines) of one graph, ready to paint."""

    graph: Graph
    expanded: frozenset[str]
    # -- items: index i describes one box --
    kind: np.ndarray  # int8 ItemKind
    x: np.ndarray  # float64 left
    y: np.ndarray  # float64 top
    w: np.ndarray  # float64 width
    h: np.ndarray  # float64 height
    depth: np.ndarray  # int16 nesting depth (frames of outer groups are shallower)
    ref: list[Any]  # Node | Group | Value per item
    title: list[str]  # first line: op type, group label, value name
    lines: list[list[str]]  # further lines: key attributes, weights ("W 64x3x7x7"), summary
    category: list[str]  # Category value for colour ("layer", ...; groups "group"; io "io")
    # -- edges: index j joins item src[j] to item dst[j] --
    edge_src: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    edge_dst: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    edge_value: list[Value | None] = field(default_factory=list)
    edge_label: list[str] = field(default_factory=list)  # tensor shape text, "" if unknown
    edge_control: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # control dependency
    # polyline j is points[offsets[j]:offsets[j+1]] (x, y rows), from src's bottom to dst's top
    edge_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    edge_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    # top-left corner of each edge's shape label, NaN where none is drawn (netray.layout.edge_labels)
    edge_label_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    edge_label_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    direction: str = "TB"  # "TB" top to bottom, "LR" left to right

    @property
    def size(self) -> int:
        return len(self.kind)

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of every item; (0, 0, 1, 1) for an empty scene."""
        if self.size == 0:
            return (0.0, 0.0, 1.0, 1.0)
        return (
            float(self.x.min()),
            float(self.y.min()),
            float((self.x + self.w).max()),
            float((self.y + self.h).max()),
        )

    def items_in(self, left: float, top: float, right: float, bottom: float) -> np.ndarray:
        """Indices of the items that intersect the rectangle."""
        mask = (self.x <= right) & (self.x + self.w >= left) & (self.y <= bottom) & (self.y + self.h >= top)
        return np.flatnonzero(mask)

    def item_at(self, px: float, py: float) -> int | None:
        """The topmost item under a point: nodes and groups before the frames behind them."""
        hit = np.flatnonzero((self.x <= px) & (px <= self.x + self.w) & (self.y <= py) & (py <= self.y + self.h))
        if hit.size == 0:
            return None
        solid = hit[self.kind[hit] != ItemKind.FRAME]
        if solid.size:
            return int(solid[-1])
        return int(hit[np.argmax(self.depth[hit])])

    def item_of(self, ref: Node | Value | Any) -> int | None:
        """The item that draws ``ref`` (a Node, Value or Group), or None if it is hidden."""
        index = self.__dict__.get("_item_index")
        if index is None:
            # Built on first use: a dict from id(ref) to item, so look-ups stay O(1) on big scenes.
            index = {id(r): i for i, r in enumerate(self.ref)}
            self.__dict__["_item_index"] = index
        i = index.get(id(ref))
        return i if i is not None and self.ref[i] is ref else None

    def edge_polyline(self, j: int) -> np.ndarray:
        return self.edge_points[self.edge_offsets[j] : self.edge_offsets[j + 1]]

    def within(self, item: int) -> Scene:
        """The part of the scene inside item ``item``'s box (a frame): its items and the edges between them.

        Edges entering or leaving the box are left out; coordinates are kept.
        """
        x0, y0 = self.x[item], self.y[item]
        x1, y1 = x0 + self.w[item], y0 + self.h[item]
        keep = np.flatnonzero((self.x >= x0) & (self.y >= y0) & (self.x + self.w <= x1) & (self.y + self.h <= y1))
        new_index = np.full(self.size, -1, dtype=np.int64)
        new_index[keep] = np.arange(len(keep))
        edges = np.flatnonzero((new_index[self.edge_src] >= 0) & (new_index[self.edge_dst] >= 0)) if len(self.edge_src) else np.zeros(0, np.int64)
        counts = self.edge_offsets[edges + 1] - self.edge_offsets[edges]
        starts = np.repeat(self.edge_offsets[edges] - (np.cumsum(counts) - counts), counts)
        points = self.edge_points[starts + np.arange(int(counts.sum()))] if len(edges) else np.zeros((0, 2))
        labelled = len(self.edge_label_x) == len(self.edge_src)
        picked = edges.tolist()
        return Scene(
            graph=self.graph,
            expanded=self.expanded,
            kind=self.kind[keep],
            x=self.x[keep],
            y=self.y[keep],
            w=self.w[keep],
            h=self.h[keep],
            depth=self.depth[keep],
            ref=[self.ref[i] for i in keep.tolist()],
            title=[self.title[i] for i in keep.tolist()],
            lines=[self.lines[i] for i in keep.tolist()],
            category=[self.category[i] for i in keep.tolist()],
            edge_src=new_index[self.edge_src[edges]],
            edge_dst=new_index[self.edge_dst[edges]],
            edge_value=[self.edge_value[j] for j in picked],
            edge_label=[self.edge_label[j] for j in picked] if len(self.edge_label) == len(self.edge_src) else [],
            edge_control=self.edge_control[edges] if len(self.edge_control) == len(self.edge_src) else np.zeros(len(edges), bool),
            edge_points=points,
            edge_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            edge_label_x=self.edge_label_x[edges] if labelled else np.zeros(0),
            edge_label_y=self.edge_label_y[edges] if labelled else np.zeros(0),
            direction=self.direction,
        )
