"""Layered (Sugiyama-style) layout of one level: boxes and edges -> positions and routes.

Phases, each linear or near-linear in boxes + edges:

1. cycles: edges going against the given order are reversed (exporters list ops
   in execution order, so this is exact for a DAG of ops);
2. ranks: longest path from the sources, then sources are pulled down next to
   their first consumer so constants do not float at the top;
3. long edges: each source gets ONE chain of dummy points down to its farthest
   consumer, shared by all its out-edges (a bus), so the number of dummies grows
   with sources x span, not edges x span;
4. order within ranks: a few barycentre sweeps down and up;
5. x: repeated "move to the mean of your neighbours, then push apart" passes,
   where the push is a monotone projection done for all ranks at once with
   cumulative max/min over numpy arrays (no per-rank Python loop);
6. y: each rank is a row as tall as its tallest box.

Coordinates are top-to-bottom; the caller transposes for left-to-right.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from netray.arrays import unique

NODE_SEP = 22.0  # horizontal gap between boxes
DUMMY_SEP = 8.0  # horizontal gap next to an edge's dummy point
RANK_SEP = 34.0  # vertical gap between rows (room for shape labels)
X_PASSES = 16
MAX_CENTRING = 12.0  # most a box moves down to centre on taller boxes in its row
STRAIGHTEN_PASSES = 3


class LayoutCancelled(Exception):
    """The caller's ``cancel()`` returned True: a newer layout request superseded this one."""


@dataclass
class Layered:
    """Positions of one level.

    ``x, y`` are top-left corners of the boxes; ``width, height`` the extent of
    everything. ``edge_points(k)`` gives the bend points of input edge k (between
    the source's bottom and the target's top, excluding both ends).
    """

    x: np.ndarray
    y: np.ndarray
    width: float
    height: float
    rank: np.ndarray
    row_top: np.ndarray
    row_bottom: np.ndarray
    dummy_x: np.ndarray
    dummy_rank: np.ndarray
    edge_first: np.ndarray  # first dummy of edge k (index into dummy arrays)
    edge_count: np.ndarray  # number of dummies of edge k
    edge_reversed: np.ndarray

    def bend_points(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bend points of many edges at once, as CSR: edge i's are ``pts[ptr[i]:ptr[i + 1]]``."""
        edges = np.asarray(edges, dtype=np.int64)
        counts = self.edge_count[edges]
        ptr = np.concatenate([[0], np.cumsum(2 * counts)]).astype(np.int64)
        total = int(counts.sum())
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        rev = np.repeat(self.edge_reversed[edges], counts)
        step = np.where(rev, np.repeat(counts, counts) - 1 - within, within)
        d = np.repeat(self.edge_first[edges], counts) + step
        xs = self.dummy_x[d]
        top = self.row_top[self.dummy_rank[d]]
        bottom = self.row_bottom[self.dummy_rank[d]]
        pts = np.empty((2 * total, 2))
        pts[0::2, 0] = xs
        pts[1::2, 0] = xs
        pts[0::2, 1] = np.where(rev, bottom, top)
        pts[1::2, 1] = np.where(rev, top, bottom)
        return ptr, pts

    def edge_points(self, k: int) -> np.ndarray:
        """Bend points of edge k: two per dummy (row top and row bottom), source to target."""
        first, count = int(self.edge_first[k]), int(self.edge_count[k])
        if count == 0:
            return np.zeros((0, 2))
        xs = self.dummy_x[first : first + count]
        ranks = self.dummy_rank[first : first + count]
        pts = np.empty((2 * count, 2))
        pts[0::2, 0] = xs
        pts[1::2, 0] = xs
        pts[0::2, 1] = self.row_top[ranks]
        pts[1::2, 1] = self.row_bottom[ranks]
        return pts[::-1] if self.edge_reversed[k] else pts


def _check(cancel: Callable[[], bool] | None) -> None:
    if cancel is not None and cancel():
        raise LayoutCancelled()


def layered_layout(
    widths: np.ndarray,
    heights: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    key: np.ndarray,
    *,
    pin_top: np.ndarray | None = None,
    pin_bottom: np.ndarray | None = None,
    entering_gap: np.ndarray | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Layered:
    """Lay out boxes of the given sizes joined by edges ``src[k] -> dst[k]``.

    ``key`` orders the boxes (execution order): edges against it are drawn reversed
    and it seeds the order within rows. ``pin_top``/``pin_bottom`` mark boxes that
    must sit in the first/last row (graph inputs and outputs, ports of a frame).
    ``entering_gap[k]`` is the room edge k needs in the gap above its target's row (a
    left-to-right picture's shape label lies along the edge, in that gap); rows are
    at least RANK_SEP apart.
    """
    n = len(widths)
    widths = np.asarray(widths, dtype=np.float64)
    heights = np.asarray(heights, dtype=np.float64)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    key = np.asarray(key, dtype=np.float64)
    rank_of_key = _topological_order(n, src, dst, key)

    reversed_ = rank_of_key[src] > rank_of_key[dst]
    a = np.where(reversed_, dst, src)  # layout direction: a above b
    b = np.where(reversed_, src, dst)
    live = a != b

    rank = _ranks(n, a[live], b[live], rank_of_key, pin_top, pin_bottom)
    _check(cancel)

    # -- dummy chains: one per source, down to its farthest target --
    span = np.where(live, rank[b] - rank[a], 0)
    far = np.zeros(n, dtype=np.int64)
    np.maximum.at(far, a, span)
    chain_len = np.maximum(far - 1, 0)
    chain_first = np.concatenate([[0], np.cumsum(chain_len)[:-1]]) if n else np.zeros(0, np.int64)
    n_dummy = int(chain_len.sum())
    dummy_owner = np.repeat(np.arange(n), chain_len)
    dummy_step = np.arange(n_dummy) - np.repeat(chain_first, chain_len)  # 0-based along the chain
    dummy_rank = rank[dummy_owner] + 1 + dummy_step
    edge_count = np.maximum(span - 1, 0)
    edge_first = chain_first[a]

    # The layered graph on boxes [0, n) and dummies [n, n + n_dummy), edges between adjacent rows.
    dummy_ids = n + np.arange(n_dummy)
    first_in_chain = dummy_step == 0
    up = np.where(first_in_chain, dummy_owner, dummy_ids - 1)  # dummy's upper neighbour
    last_hop = np.where(edge_count > 0, n + edge_first + edge_count - 1, a)
    lsrc = np.concatenate([up, last_hop[live]])
    ldst = np.concatenate([dummy_ids, b[live]])
    pair = unique(lsrc * (n + n_dummy) + ldst)
    lsrc, ldst = pair // (n + n_dummy), pair % (n + n_dummy)

    total = n + n_dummy
    v_rank = np.concatenate([rank, dummy_rank])
    v_width = np.concatenate([widths, np.zeros(n_dummy)])
    v_real = np.concatenate([np.ones(n, bool), np.zeros(n_dummy, bool)])
    # Seed order: execution order; a dummy follows its source.
    seed = np.concatenate([rank_of_key.astype(np.float64), rank_of_key[dummy_owner] + 0.5])
    _check(cancel)

    order = _order_rows(total, v_rank, lsrc, ldst, seed, cancel)
    _check(cancel)
    v_chain = np.concatenate([np.full(n, -1, dtype=np.int64), dummy_owner])
    cx = _x_coordinates(v_rank, order, v_width, v_real, v_chain, lsrc, ldst, cancel)

    # -- rows --
    n_rows = int(v_rank.max()) + 1 if total else 0
    row_h = np.zeros(n_rows)
    if n:
        np.maximum.at(row_h, rank, heights)
    gap_before = np.full(n_rows, RANK_SEP)
    if entering_gap is not None and n_rows and len(dst):
        np.maximum.at(gap_before, rank[dst], np.asarray(entering_gap, dtype=np.float64))
    row_top = np.concatenate([[0.0], np.cumsum(row_h[:-1] + gap_before[1:])]) if n_rows else np.zeros(0)
    row_bottom = row_top + row_h
    # Boxes of a row centre on each other, but next to a tall frame they stay at the top
    # rather than float halfway down it.
    y = row_top[rank] + np.minimum((row_h[rank] - heights) / 2, MAX_CENTRING) if n else np.zeros(0)
    x = cx[:n] - widths / 2
    left = float(min(x.min() if n else 0.0, cx[n:].min() if n_dummy else np.inf))
    x -= left
    dummy_x = cx[n:] - left
    width = float(max((x + widths).max() if n else 0.0, dummy_x.max() if n_dummy else 0.0))
    height = float(row_bottom[-1]) if n_rows else 0.0
    return Layered(
        x=x,
        y=y,
        width=width,
        height=height,
        rank=rank,
        row_top=row_top,
        row_bottom=row_bottom,
        dummy_x=dummy_x,
        dummy_rank=dummy_rank,
        edge_first=edge_first,
        edge_count=np.where(live, edge_count, 0),
        edge_reversed=reversed_,
    )


def _topological_order(n: int, src: np.ndarray, dst: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Each vertex's place in a topological order, ties (and cycles) broken by ``key``.

    Where every remaining vertex waits on a cycle, the one with the smallest key
    goes next: its waiting in-edges are the ones drawn reversed.
    """
    by_key = np.lexsort((np.arange(n), key))
    key_rank = np.empty(n, dtype=np.int64)
    key_rank[by_key] = np.arange(n)
    live = src != dst
    s, d = src[live], dst[live]
    if bool((key_rank[s] < key_rank[d]).all()):
        return key_rank  # the key order is already topological: the common case
    indeg = np.bincount(d, minlength=n).tolist()
    order = np.argsort(s, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(s, minlength=n))]).tolist()
    succ = d[order].tolist()
    kr = key_rank.tolist()
    ready = [(kr[v], v) for v in range(n) if indeg[v] == 0]
    heapq.heapify(ready)
    place = [-1] * n
    next_forced = 0
    sequence = by_key.tolist()
    k = 0
    while k < n:
        if ready:
            _, v = heapq.heappop(ready)
            if place[v] >= 0:
                continue
        else:
            while place[sequence[next_forced]] >= 0:
                next_forced += 1
            v = sequence[next_forced]
        place[v] = k
        k += 1
        for u in succ[ptr[v] : ptr[v + 1]]:
            if place[u] < 0:
                indeg[u] -= 1
                if indeg[u] == 0:
                    heapq.heappush(ready, (kr[u], u))
    return np.array(place, dtype=np.int64)


def _ranks(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    rank_of_key: np.ndarray,
    pin_top: np.ndarray | None,
    pin_bottom: np.ndarray | None,
) -> np.ndarray:
    """Longest-path ranks over edges a -> b (all going forward in key order)."""
    topo = np.argsort(rank_of_key)
    # Predecessor lists in CSR form, walked in key order in plain Python (cheap per element).
    by_dst = np.argsort(b, kind="stable")
    pred_ptr = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=n))]).tolist()
    pred = a[by_dst].tolist()
    top = np.zeros(n, bool) if pin_top is None else np.asarray(pin_top, bool)
    bottom = np.zeros(n, bool) if pin_bottom is None else np.asarray(pin_bottom, bool)
    # The first row belongs to the pinned boxes: the others start one row lower.
    rank = (~top).astype(np.int64).tolist() if top.any() else [0] * n
    for v in topo.tolist():
        lo, hi = pred_ptr[v], pred_ptr[v + 1]
        if hi > lo:
            best = 0
            for u in pred[lo:hi]:
                r = rank[u]
                if r >= best:
                    best = r + 1
            rank[v] = best
    ranks = np.array(rank, dtype=np.int64)
    ranks[top] = 0
    # Slide boxes down next to their consumers wherever that shortens more edges than it
    # stretches (out-degree >= in-degree): constants and shape computations then sit by
    # the op that uses them instead of at the top with a long edge each. Walked from the
    # bottom up so each box sees its consumers' final rows.
    indeg = np.bincount(b, minlength=n).tolist()
    by_src = np.argsort(a, kind="stable")
    succ_ptr = np.concatenate([[0], np.cumsum(np.bincount(a, minlength=n))]).tolist()
    succ = b[by_src].tolist()
    fixed = (top | bottom).tolist()
    rank = ranks.tolist()
    for v in topo[::-1].tolist():
        lo, hi = succ_ptr[v], succ_ptr[v + 1]
        if hi == lo or fixed[v] or hi - lo < indeg[v]:
            continue
        lowest = min(rank[u] for u in succ[lo:hi]) - 1
        if lowest > rank[v]:
            rank[v] = lowest
    ranks = np.array(rank, dtype=np.int64)
    if bottom.any():
        others = ranks[~bottom]
        ranks[bottom] = (others.max() + 1) if others.size else 0
    return ranks


def _order_rows(
    total: int,
    v_rank: np.ndarray,
    lsrc: np.ndarray,
    ldst: np.ndarray,
    seed: np.ndarray,
    cancel: Callable[[], bool] | None,
    sweeps: int = 4,
) -> np.ndarray:
    """Position of each vertex within its row after barycentre sweeps (down, up, ...)."""
    # Start: rows ordered by the seed.
    perm = np.lexsort((seed, v_rank))
    n_rows = int(v_rank.max()) + 1 if total else 0
    row_ptr = np.concatenate([[0], np.cumsum(np.bincount(v_rank, minlength=n_rows))])
    pos = np.empty(total, dtype=np.float64)
    pos[perm] = np.arange(total) - row_ptr[v_rank[perm]]
    wide = np.flatnonzero(np.diff(row_ptr) > 1)  # rows where order matters
    if wide.size == 0 or len(lsrc) == 0:
        return pos
    rows = [perm[row_ptr[r] : row_ptr[r + 1]].tolist() for r in wide.tolist()]
    # Neighbour lists (upper and lower) per vertex, as Python lists for the sweeps.
    in_rows = np.zeros(total, dtype=bool)
    in_rows[np.concatenate([perm[row_ptr[r] : row_ptr[r + 1]] for r in wide.tolist()])] = True
    ups = _neighbour_lists(ldst, lsrc, total, in_rows)
    downs = _neighbour_lists(lsrc, ldst, total, in_rows)
    p = pos.tolist()
    get = p.__getitem__
    for sweep in range(sweeps):
        _check(cancel)
        down = sweep % 2 == 0
        nbs = ups if down else downs
        for row in rows if down else rows[::-1]:
            keyed = []
            for v in row:
                nb = nbs[v]
                if nb:
                    keyed.append((sum(map(get, nb)) / len(nb), p[v], v))
                else:
                    keyed.append((p[v], p[v], v))
            keyed.sort()
            for i, item in enumerate(keyed):
                p[item[2]] = float(i)
            row[:] = [item[2] for item in keyed]
    return np.array(p)


def _neighbour_lists(owner: np.ndarray, other: np.ndarray, total: int, wanted: np.ndarray) -> list[list[int]]:
    """For each vertex v with ``wanted[v]``: the ``other`` ends of the edges it ``owner``s."""
    order = np.argsort(owner, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=total))]).tolist()
    adj = other[order].tolist()
    return [adj[ptr[v] : ptr[v + 1]] if w else [] for v, w in enumerate(wanted.tolist())]


def _x_coordinates(
    v_rank: np.ndarray,
    pos: np.ndarray,
    v_width: np.ndarray,
    v_real: np.ndarray,
    v_chain: np.ndarray,
    lsrc: np.ndarray,
    ldst: np.ndarray,
    cancel: Callable[[], bool] | None,
) -> np.ndarray:
    """Centre x of every vertex: pulled toward its neighbours, pushed apart within rows.

    Ends with passes that line up each long edge's dummies on one vertical,
    which the neighbour averaging alone leaves wavy.
    """
    total = len(v_rank)
    if total == 0:
        return np.zeros(0)
    perm = np.lexsort((pos, v_rank))  # row by row, left to right
    r = v_rank[perm]
    w = v_width[perm]
    real = v_real[perm]
    new_row = np.concatenate([[True], r[1:] != r[:-1]])
    # Required distance between the centres of neighbours in a row.
    gap = np.where(real[1:] & real[:-1], NODE_SEP, DUMMY_SEP)
    need = np.concatenate([[0.0], (w[1:] + w[:-1]) / 2 + gap])
    need[new_row] = 0.0
    cum = np.cumsum(need)
    row_id = np.cumsum(new_row) - 1
    row_start = cum[new_row][row_id]
    c = cum - row_start  # packed centres, each row from 0
    row_len = np.zeros(row_id[-1] + 1)
    np.maximum.at(row_len, row_id, c)
    x_sorted = c - row_len[row_id] / 2  # each row centred on 0

    inv = np.empty(total, dtype=np.int64)
    inv[perm] = np.arange(total)
    s, d = inv[lsrc], inv[ldst]  # edges in sorted indices
    # Long edges (dummies) pull hardest so they run straight; then links of plain chains.
    out_deg = np.bincount(s, minlength=total)
    in_deg = np.bincount(d, minlength=total)
    chain_link = (out_deg[s] == 1) & (in_deg[d] == 1)
    weight = np.where(~real[s] & ~real[d], 8.0, np.where(~real[s] | ~real[d], 2.0, 1.0))
    weight = np.where(chain_link, weight * 4.0, weight)
    from_above_w = np.bincount(d, weights=weight, minlength=total)
    from_below_w = np.bincount(s, weights=weight, minlength=total)
    both_w = from_above_w + from_below_w
    big = float(max(cum[-1], 1.0)) * 4.0 + 1.0
    offset = row_id * big
    x = x_sorted
    for it in range(X_PASSES):
        if it % 4 == 0:
            _check(cancel)
        mode = it % 3  # 0: from above, 1: from below, 2: both
        if mode == 0:
            sum_w, sum_x = from_above_w, np.bincount(d, weights=weight * x[s], minlength=total)
        elif mode == 1:
            sum_w, sum_x = from_below_w, np.bincount(s, weights=weight * x[d], minlength=total)
        else:
            sum_w = both_w
            sum_x = np.bincount(d, weights=weight * x[s], minlength=total) + np.bincount(
                s, weights=weight * x[d], minlength=total
            )
        desired = np.where(sum_w > 0, sum_x / np.maximum(sum_w, 1e-9), x)
        x = _project(desired, c, offset)
    chain = v_chain[perm]
    dummies = np.flatnonzero(chain >= 0)
    if dummies.size:
        owners, which = np.unique(chain[dummies], return_inverse=True)
        counts = np.bincount(which, minlength=len(owners))
        for _ in range(STRAIGHTEN_PASSES):
            mean = np.bincount(which, weights=x[dummies], minlength=len(owners)) / counts
            desired = x.copy()
            desired[dummies] = mean[which]
            x = _project(desired, c, offset)
    return x[inv]


def _project(desired: np.ndarray, c: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Nearest-ish positions to ``desired`` that keep each row's required spacing.

    With z = x - c the spacing constraint is "z non-decreasing within a row". The
    forward running max and the backward running min of z are both feasible; their
    mean is feasible too and stays close to the wish. Rows are separated by adding
    a large per-row offset so one global accumulate serves all rows at once.
    """
    z = desired - c
    lift = z + offset
    fwd = np.maximum.accumulate(lift) - offset
    bwd = np.minimum.accumulate(lift[::-1])[::-1] - offset
    return (fwd + bwd) / 2 + c
