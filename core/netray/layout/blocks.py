"""The layout of one expanded group as a self-contained block.

A block places the group's members (ops, collapsed child groups as single boxes,
expanded child groups as their own blocks) with :func:`layered_layout`. Edges
that enter or leave the group get a *port* on the block's top or bottom border
and a route inside the block from that port to the member, so the parent can
treat the whole block as one box and routes join up across levels.

A block depends only on its group and on which groups below it are expanded,
which makes it cacheable: expanding a group re-lays out that group and its
ancestors, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from netray.arrays import unique
from netray.hierarchy import Group
from netray.labels import CHAR_WIDTH, EDGE_CHAR_WIDTH, EDGE_LABEL_CLEARANCE
from netray.layout.edges import Connectivity
from netray.layout.layered import layered_layout

FRAME_PAD = 12.0  # space between a frame and its members
FRAME_TITLE = 20.0  # height of the frame's label above its members
ROOT_PAD = 16.0


@dataclass
class Block:
    """An expanded group laid out in its own coordinates (top-left corner at 0, 0).

    Coordinates are in the layout's frame: top-to-bottom (the scene transposes
    them for left-to-right). Member k is described by ``starts[k]`` (its first
    leaf position) and its box ``mx, my, mw, mh``; ``children[k]`` is the block of
    an expanded child group.
    """

    group: Group
    width: float
    height: float
    starts: np.ndarray
    mx: np.ndarray
    my: np.ndarray
    mw: np.ndarray
    mh: np.ndarray
    children: dict[int, Block] = field(default_factory=dict)
    # Routes between two members, as CSR over the sorted codes src * len(starts) + dst.
    pair_code: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    pair_pts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    _pair_index: dict[int, int] | None = field(default=None, repr=False)
    # Routes from the top border to members, keyed by (outside leaf position feeding in, member):
    # one port per outside source, shared by all the members it feeds.
    in_points: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    out_points: dict[int, np.ndarray] = field(default_factory=dict)

    def pair_points(self, src: int, dst: int) -> np.ndarray | None:
        """Bend points of the route from member ``src`` to member ``dst``, if they are joined."""
        if self._pair_index is None:
            self._pair_index = {c: j for j, c in enumerate(self.pair_code.tolist())}
        j = self._pair_index.get(src * len(self.starts) + dst)
        if j is None:
            return None
        return self.pair_pts[self.pair_ptr[j] : self.pair_ptr[j + 1]]


SizeOf = Callable[[int], tuple[float, float]]


def build_block(
    group: Group,
    conn: Connectivity,
    children: dict[str, Block],
    leaf_size: SizeOf,
    group_size: Callable[[Group], tuple[float, float]],
    *,
    transposed: bool,
    cancel: Callable[[], bool] | None = None,
) -> Block:
    """Lay out ``group`` with the given blocks for its expanded children.

    ``leaf_size(position)`` and ``group_size(group)`` give box sizes in the final
    (screen) orientation; with ``transposed`` the layout runs top-to-bottom on
    swapped sizes and the scene transposes the result.
    """
    starts = conn.member_starts(group)
    n_direct = conn.direct_count(group)
    n_children = len(group.children)
    m = len(starts)
    w = np.zeros(m)
    h = np.zeros(m)
    key = conn.member_keys(group, starts).astype(np.float64)
    child_blocks: dict[int, Block] = {}
    for k in range(m):
        if n_direct <= k < n_direct + n_children:
            child = group.children[k - n_direct]
            block = children.get(child.id)
            if block is not None:
                child_blocks[k] = block
                w[k], h[k] = block.width, block.height
                continue
            sw, sh = group_size(child)
        else:
            sw, sh = leaf_size(int(starts[k]))
        # Layout runs top-to-bottom: for left-to-right the boxes are laid out turned.
        w[k], h[k] = (sh, sw) if transposed else (sw, sh)

    edges = conn.group_edges(group, starts)
    code = unique(edges.internal_src * m + edges.internal_dst)
    pairs = np.stack([code // max(m, 1), code % max(m, 1)])
    feeders, feeder_of_edge = np.unique(edges.in_src, return_inverse=True)
    n_in, n_out = len(feeders), len(edges.out_src)
    in_port = m + feeder_of_edge.reshape(-1)
    out_port = m + n_in + np.arange(n_out)
    src = np.concatenate([pairs[0], in_port, edges.out_src])
    dst = np.concatenate([pairs[1], edges.in_dst, out_port])
    total = m + n_in + n_out
    widths = np.concatenate([w, np.zeros(n_in + n_out)])
    heights = np.concatenate([h, np.zeros(n_in + n_out)])
    # Ports in the order their outside sources run, before every member.
    feeder_key = conn.leaf_key[feeders].astype(np.float64) - 4.0 * (conn.n_leaves + 1)
    keys = np.concatenate([key, feeder_key, np.full(n_out, np.inf)])
    pin_top = np.zeros(total, bool)
    pin_bottom = np.zeros(total, bool)
    pin_top[m : m + n_in] = True
    pin_bottom[m + n_in :] = True
    is_root = group.parent is None
    if is_root:
        io_first = n_direct + n_children
        n_inputs = len(conn.inputs)
        pin_top[io_first : io_first + n_inputs] = True
        pin_bottom[io_first + n_inputs : m] = True
    entering_gap = None
    if transposed:
        # Left to right, a shape label lies along its edge's last stretch: make the gap that wide.
        chars = np.concatenate([edges.internal_chars, edges.in_chars, np.zeros(n_out, np.int64)])
        entering_gap = np.where(chars > 0, chars * EDGE_CHAR_WIDTH + EDGE_LABEL_CLEARANCE, 0.0)
    lay = layered_layout(
        widths, heights, src, dst, keys, pin_top=pin_top, pin_bottom=pin_bottom, entering_gap=entering_gap, cancel=cancel
    )

    # Frame padding, in layout orientation: the label sits on the screen's top edge,
    # which is the layout's left edge when transposed.
    if is_root:
        pad_left = pad_right = pad_top = pad_bottom = ROOT_PAD
        label_extent = 0.0
    else:
        pad_left = pad_right = pad_top = pad_bottom = FRAME_PAD
        if transposed:
            pad_left += FRAME_TITLE
        else:
            pad_top += FRAME_TITLE
        label_extent = len(group.label) * CHAR_WIDTH + 2 * FRAME_PAD
    if not is_root:
        # A row holding only the ports of entering (leaving) edges needs no padding: the
        # top ports sit just under the title band (so the entering edges' shape labels,
        # in the row gap below them, stay clear of the title), the bottom ports on the border.
        last_row = len(lay.row_top) - 1
        if n_in and not np.any(lay.rank[:m] == 0):
            pad_top -= FRAME_PAD
        if n_out and last_row > 0 and not np.any(lay.rank[:m] == last_row):
            pad_bottom = 0.0
    width = lay.width + pad_left + pad_right
    height = lay.height + pad_top + pad_bottom
    # The label must fit along the screen's width (the layout's height when transposed).
    if transposed and height < label_extent:
        pad_top += (label_extent - height) / 2
        height = label_extent
    elif not transposed and width < label_extent:
        pad_left += (label_extent - width) / 2
        width = label_extent
    offset = np.array([pad_left, pad_top])

    block = Block(
        group=group,
        width=float(width),
        height=float(height),
        starts=starts,
        mx=lay.x[:m] + pad_left,
        my=lay.y[:m] + pad_top,
        mw=w,
        mh=h,
        children=child_blocks,
    )
    n_pairs = pairs.shape[1]
    block.pair_code = code
    block.pair_ptr, pair_pts = lay.bend_points(np.arange(n_pairs))
    block.pair_pts = pair_pts + offset
    port_x = lay.x + pad_left  # ports have no width: x is their centre
    n_in_edges = len(edges.in_dst)
    for j in range(n_in_edges):
        e = n_pairs + j
        pts = lay.edge_points(e) + offset
        port = int(in_port[j])
        block.in_points[(int(edges.in_src[j]), int(edges.in_dst[j]))] = np.vstack([[port_x[port], 0.0], pts])
    for j in range(n_out):
        e = n_pairs + n_in_edges + j
        pts = lay.edge_points(e) + offset
        block.out_points[int(edges.out_src[j])] = np.vstack([pts, [port_x[m + n_in + j], height]])
    return block
