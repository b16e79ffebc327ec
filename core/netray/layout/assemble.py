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

from netray.arrays import unique
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
    visited: list[Block] = []
    while stack:
        block, ox, oy, parent, k_parent = stack.pop()
        block_at[id(block)] = (parent, k_parent, ox, oy)
        visited.append(block)
        group = block.group
        if group.parent is not None:
            frames.add(ItemKind.FRAME, (ox, oy, block.width, block.height), group.depth, group, (group.label, []), "group")
        n_direct = conn.direct_count(group)
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
    # Rows: source item, target item, value, and the leaf the value comes from (for ports).
    triples = np.stack([s_item[keep], d_item[keep], conn.value[keep], conn.src[keep]])
    if triples.shape[1]:
        triples = triples[:, np.lexsort(triples[::-1])]
        first = np.concatenate([[True], (triples[:3, 1:] != triples[:3, :-1]).any(axis=0)])
        triples = triples[:, first]

    bx = np.array(boxes.x)
    by = np.array(boxes.y)
    bw = np.array(boxes.w)
    bh = np.array(boxes.h)
    points, offsets = _routes(triples, visited, box_at, block_at, bx, by, bw, bh)
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


def _routes(
    triples: np.ndarray,
    blocks: list[Block],
    box_at: list[tuple[Block, int]],
    block_at: dict[int, tuple[Block | None, int, float, float]],
    bx: np.ndarray,
    by: np.ndarray,
    bw: np.ndarray,
    bh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Polylines of all edges (CSR: points, offsets); edges between the same two boxes share a route.

    Routes between boxes of one block (most of them) are gathered with array
    operations from the blocks' bend points; the others are stitched through ports.
    """
    n_boxes = len(box_at)
    pair_code, pair_first, edge_pair = np.unique(
        triples[0] * max(n_boxes, 1) + triples[1], return_index=True, return_inverse=True
    )
    pair_leaf = triples[3, pair_first]  # the route of a pair enters frames through this source's ports
    ps, pd = pair_code // max(n_boxes, 1), pair_code % max(n_boxes, 1)
    n_pairs = len(pair_code)

    # Blocks numbered in visiting order, each with its own code space for member pairs.
    block_index = {id(b): i for i, b in enumerate(blocks)}
    origin = np.array([block_at[id(b)][2:] for b in blocks], dtype=np.float64).reshape(-1, 2)
    item_block = np.array([block_index[id(b)] for b, _ in box_at], dtype=np.int64)
    item_member = np.array([k for _, k in box_at], dtype=np.int64)

    start = np.stack([bx + bw / 2, by + bh], axis=1)
    end = np.stack([bx + bw / 2, by], axis=1)
    route_len = np.zeros(n_pairs, dtype=np.int64)
    local = item_block[ps] == item_block[pd] if n_pairs else np.zeros(0, bool)

    # -- routes inside one block, all at once --
    local_idx = np.flatnonzero(local)
    mids_ptr = np.zeros(1, np.int64)
    mids = np.zeros((0, 2))
    if local_idx.size:
        used = unique(item_block[ps[local_idx]])
        size = np.array([len(blocks[b].starts) for b in used.tolist()], dtype=np.int64)
        base = np.concatenate([[0], np.cumsum(size * size)[:-1]])
        base_of = dict(zip(used.tolist(), base.tolist(), strict=True))
        codes, ptrs, pts = [], [], []
        n_pts = 0
        for b in used.tolist():
            blk = blocks[b]
            codes.append(blk.pair_code + base_of[b])
            ptrs.append(blk.pair_ptr[:-1] + n_pts)
            pts.append(blk.pair_pts + origin[b])
            n_pts += len(blk.pair_pts)
        g_code = np.concatenate(codes)
        g_ptr = np.concatenate([*ptrs, [n_pts]])
        g_pts = np.concatenate(pts) if n_pts else np.zeros((0, 2))
        lb = item_block[ps[local_idx]]
        m = np.array([len(blocks[b].starts) for b in lb.tolist()], dtype=np.int64)
        want = np.array([base_of[b] for b in lb.tolist()], dtype=np.int64) + item_member[ps[local_idx]] * m + item_member[pd[local_idx]]
        j = np.searchsorted(g_code, want)
        found = (j < len(g_code)) & (g_code[np.minimum(j, len(g_code) - 1)] == want)
        lo = np.where(found, g_ptr[np.minimum(j, len(g_code) - 1)], 0)
        hi = np.where(found, g_ptr[np.minimum(j, len(g_code) - 1) + 1], 0)
        n_mid = hi - lo
        mids_ptr = np.concatenate([[0], np.cumsum(n_mid)]).astype(np.int64)
        take = np.repeat(lo - mids_ptr[:-1], n_mid) + np.arange(int(n_mid.sum()))
        mids = g_pts[take]
        route_len[local_idx] = n_mid + 2

    # -- routes through ports, stitched one by one --
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

    stitched: dict[int, np.ndarray] = {}
    for p in np.flatnonzero(~local).tolist():
        s, d, leaf = int(ps[p]), int(pd[p]), int(pair_leaf[p])
        cs, cd = chain_of(s), chain_of(d)
        # Both chains end at the root block: the lowest shared block is where they part.
        common = 1
        limit = min(len(cs), len(cd))
        while common < limit and cs[-common - 1][0] is cd[-common - 1][0]:
            common += 1
        parts = [start[s : s + 1]]
        for b, k in cs[: len(cs) - common]:
            pts_b = b.out_points.get(k)
            if pts_b is not None:
                parts.append(pts_b + origin[block_index[id(b)]])
        lca, ks = cs[len(cs) - common]
        kd = cd[len(cd) - common][1]
        pts_l = lca.pair_points(ks, kd)
        if pts_l is not None:
            parts.append(pts_l + origin[block_index[id(lca)]])
        for b, k in reversed(cd[: len(cd) - common]):
            pts_b = b.in_points.get((leaf, k))
            if pts_b is not None:
                parts.append(pts_b + origin[block_index[id(b)]])
        parts.append(end[d : d + 1])
        route = stitched[p] = np.concatenate(parts)
        route_len[p] = len(route)

    # -- all routes as CSR, then one polyline per edge --
    route_ptr = np.concatenate([[0], np.cumsum(route_len)]).astype(np.int64)
    route_pts = np.empty((int(route_ptr[-1]), 2))
    if local_idx.size:
        first = route_ptr[local_idx]
        route_pts[first] = start[ps[local_idx]]
        route_pts[route_ptr[local_idx + 1] - 1] = end[pd[local_idx]]
        n_mid = route_len[local_idx] - 2
        dest = np.repeat(first + 1 - mids_ptr[:-1], n_mid) + np.arange(len(mids))
        route_pts[dest] = mids
    for p, route in stitched.items():
        route_pts[route_ptr[p] : route_ptr[p + 1]] = route
    counts = route_len[edge_pair]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    take = np.repeat(route_ptr[edge_pair] - offsets[:-1], counts) + np.arange(int(offsets[-1]))
    return route_pts[take], offsets
