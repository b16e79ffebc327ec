"""Blocks -> Scene: absolute positions, one item per visible box, routed edges.

Frames come first in the item list (outer before inner) so painting in order
puts them behind the boxes. Edges are found for all leaves at once: each leaf
position maps to the visible item that holds it, and edges between different
items, de-duplicated per value, are the scene's edges. A route is stitched from
the blocks it passes: out of the source's blocks through their bottom ports,
across the lowest block holding both ends, into the target's blocks through
their top ports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from netray.hierarchy import Group
from netray.ir import Node, Value, shape_text
from netray.layout.blocks import Block
from netray.layout.edges import Connectivity
from netray.scene import ItemKind, Scene

Text = tuple[str, list[str]]


class _Items:
    def __init__(self) -> None:
        self.kind: list[int] = []
        self.x: list[float] = []
        self.y: list[float] = []
        self.w: list[float] = []
        self.h: list[float] = []
        self.depth: list[int] = []
        self.ref: list[Any] = []
        self.title: list[str] = []
        self.lines: list[list[str]] = []
        self.category: list[str] = []

    def add(self, kind: ItemKind, box: tuple[float, float, float, float], depth: int, ref: Any, text: Text, category: str) -> int:
        self.kind.append(int(kind))
        self.x.append(box[0])
        self.y.append(box[1])
        self.w.append(box[2])
        self.h.append(box[3])
        self.depth.append(depth)
        self.ref.append(ref)
        self.title.append(text[0])
        self.lines.append(text[1])
        self.category.append(category)
        return len(self.kind) - 1


def assemble_scene(
    conn: Connectivity,
    root: Block,
    expanded: frozenset[str],
    node_text: Callable[[int], Text],
    group_text: Callable[[Group], Text],
    value_text: Callable[[Value], Text],
    *,
    transposed: bool,
) -> Scene:
    graph = conn.graph
    frames = _Items()
    boxes = _Items()
    vis = np.full(conn.n_leaves, -1, dtype=np.int64)
    # Where each box sits: (block, member); where each block sits: (parent block, member, x, y).
    box_at: list[tuple[Block, int]] = []
    block_at: dict[int, tuple[Block | None, int, float, float]] = {}
    n_inputs = len(conn.inputs)

    stack: list[tuple[Block, float, float, Block | None, int]] = [(root, 0.0, 0.0, None, -1)]
    while stack:
        block, ox, oy, parent, k_parent = stack.pop()
        block_at[id(block)] = (parent, k_parent, ox, oy)
        group = block.group
        if group.parent is not None:
            frames.add(ItemKind.FRAME, (ox, oy, block.width, block.height), group.depth, group, (group.label, []), "group")
        n_direct = len(group.nodes)
        n_children = len(group.children)
        for k in range(len(block.starts)):
            child_block = block.children.get(k)
            left, top = ox + float(block.mx[k]), oy + float(block.my[k])
            if child_block is not None:
                stack.append((child_block, left, top, block, k))
                continue
            # In layout orientation; the whole scene is transposed at the end for left-to-right.
            box = (left, top, float(block.mw[k]), float(block.mh[k]))
            depth = group.depth + 1
            p = int(block.starts[k])
            if n_direct <= k < n_direct + n_children:
                child = group.children[k - n_direct]
                item = boxes.add(ItemKind.GROUP, box, depth, child, group_text(child), "group")
                vis[child.start : child.end] = item
            elif p < conn.n_nodes:
                i = int(conn.leaf_node[p])
                node: Node = graph.nodes[i]
                item = boxes.add(ItemKind.NODE, box, depth, node, node_text(i), node.category.value)
                vis[p] = item
            elif p < conn.n_nodes + n_inputs:
                v = conn.inputs[p - conn.n_nodes]
                item = boxes.add(ItemKind.INPUT, box, depth, v, value_text(v), "io")
                vis[p] = item
            else:
                v = conn.outputs[p - conn.n_nodes - n_inputs]
                item = boxes.add(ItemKind.OUTPUT, box, depth, v, value_text(v), "io")
                vis[p] = item
            box_at.append((block, k))

    n_frames = len(frames.kind)
    # -- edges between different visible items, one per (source, target, value) --
    s_item = vis[conn.src]
    d_item = vis[conn.dst]
    keep = (s_item != d_item) & (s_item >= 0) & (d_item >= 0)
    triples = np.stack([s_item[keep], d_item[keep], conn.value[keep]])
    if triples.shape[1]:
        triples = triples[:, np.lexsort(triples[::-1])]
        first = np.concatenate([[True], (triples[:, 1:] != triples[:, :-1]).any(axis=0)])
        triples = triples[:, first]

    bx = np.array(boxes.x)
    by = np.array(boxes.y)
    bw = np.array(boxes.w)
    bh = np.array(boxes.h)
    chains: dict[int, list[tuple[Block, int]]] = {}

    def chain_of(item: int) -> list[tuple[Block, int]]:
        c = chains.get(item)
        if c is None:
            block, k = box_at[item]
            c = []
            cur: Block | None = block
            while cur is not None:
                c.append((cur, k))
                parent, k_parent, _, _ = block_at[id(cur)]
                cur, k = parent, k_parent
            chains[item] = c
        return c

    block_origin = {key: np.array([ox, oy]) for key, (_, _, ox, oy) in block_at.items()}
    polylines: list[np.ndarray] = []
    routes: dict[tuple[int, int], np.ndarray] = {}  # values between the same two boxes share a route
    for e in range(triples.shape[1]):
        s, d = int(triples[0, e]), int(triples[1, e])
        known = routes.get((s, d))
        if known is not None:
            polylines.append(known)
            continue
        cs, cd = chain_of(s), chain_of(d)
        # Both chains end at the root block: the lowest shared block is where they part.
        common = 1
        limit = min(len(cs), len(cd))
        while common < limit and cs[-common - 1][0] is cd[-common - 1][0]:
            common += 1
        parts = [np.array([[bx[s] + bw[s] / 2, by[s] + bh[s]]])]
        for b, k in cs[: len(cs) - common]:
            pts = b.out_points.get(k)
            if pts is not None:
                parts.append(pts + block_origin[id(b)])
        lca, ks = cs[len(cs) - common]
        kd = cd[len(cd) - common][1]
        pts = lca.pair_points.get((ks, kd))
        if pts is not None:
            parts.append(pts + block_origin[id(lca)])
        for b, k in reversed(cd[: len(cd) - common]):
            pts = b.in_points.get(k)
            if pts is not None:
                parts.append(pts + block_origin[id(b)])
        parts.append(np.array([[bx[d] + bw[d] / 2, by[d]]]))
        route = routes[(s, d)] = np.concatenate(parts)
        polylines.append(route)

    counts = np.array([len(p) for p in polylines], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    points = np.concatenate(polylines) if polylines else np.zeros((0, 2))
    values: list[Value | None] = [conn.values[int(c)] for c in triples[2]]
    labels = [shape_text(v.type.shape) if v is not None and v.type.shape is not None else "" for v in values]

    kind = np.array(frames.kind + boxes.kind, dtype=np.int8)
    x = np.array(frames.x + boxes.x, dtype=np.float64)
    y = np.array(frames.y + boxes.y, dtype=np.float64)
    w = np.array(frames.w + boxes.w, dtype=np.float64)
    h = np.array(frames.h + boxes.h, dtype=np.float64)
    if transposed:
        x, y, w, h = y, x, h, w
        points = points[:, ::-1].copy()
    scene = Scene(
        graph=graph,
        expanded=expanded,
        kind=kind,
        x=x,
        y=y,
        w=w,
        h=h,
        depth=np.array(frames.depth + boxes.depth, dtype=np.int16),
        ref=frames.ref + boxes.ref,
        title=frames.title + boxes.title,
        lines=frames.lines + boxes.lines,
        category=frames.category + boxes.category,
        edge_src=(triples[0] + n_frames).astype(np.int64),
        edge_dst=(triples[1] + n_frames).astype(np.int64),
        edge_value=values,
        edge_label=labels,
        edge_control=triples[2] == 0,
        edge_points=points,
        edge_offsets=offsets,
    )
    return scene
