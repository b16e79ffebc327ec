"""Edges as QPainterPaths built in numpy: no Python loop over edges or points in a frame.

A Scene's edges are polylines whose bends the painter draws rounded: a quadratic curve
through each bend point, from the middle of the segment before it to the middle of the
segment after (the first curve starts at the edge's first point). Per scene,
:class:`EdgePieces` turns every edge into that sequence of *pieces*, straight lines and
curves, joining the straight pieces of a straight run into one (a long edge passing a
hundred rows of a layer is one line, not two hundred), and sorts the pieces along the
scene's long axis in tiers of length for culling. Edges sharing a route (one source
feeding many consumers down a bus) share its pieces, kept once: on a Llama-like graph a
view crossed by 1,700 long edges holds only 160 distinct lines. A frame asks for the
pieces crossing the view (a few ``searchsorted`` calls and masks) and gets one
QPainterPath, written straight into Qt's path stream from arrays (the format
:func:`pyqtgraph.arrayToQPath` uses, with curve elements added). Lines reaching beyond the
view are clipped to it, so Qt never rasterises kilometres of off-screen line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QByteArray, QDataStream, QIODevice
from PyQt6.QtGui import QPainterPath

CLIP_MARGIN = 0.05  # lines are clipped to the view grown by this share of its size on each side
TIER_FACTOR = 4.0  # pieces are kept in tiers whose lengths along the axis differ by this factor
ARROW_LENGTH = 7.0
ARROW_HALF_WIDTH = 3.5

# QPainterPath element types, as Qt's stream writes them.
MOVE_TO, LINE_TO, CURVE_TO, CURVE_DATA = 0, 1, 2, 3
_ELEMENT = np.dtype([("type", ">i4"), ("x", ">f8"), ("y", ">f8")])


def stream_path(types: np.ndarray, x: np.ndarray, y: np.ndarray) -> QPainterPath:
    """A QPainterPath from element arrays, read from Qt's own stream format (no Python loop)."""
    n = len(types)
    path = QPainterPath()
    if n == 0:
        return path
    data = bytearray(4 + n * _ELEMENT.itemsize + 8)
    data[0:4] = np.array([n], ">i4").tobytes()
    elements = np.frombuffer(data, dtype=_ELEMENT, count=n, offset=4)
    elements["type"] = types
    elements["x"] = x
    elements["y"] = y
    # The tail is cStart (0) and the fill rule (0: odd-even), already zero.
    buffer = QByteArray(bytes(data))  # kept alive while the stream reads it
    stream = QDataStream(buffer, QIODevice.OpenModeFlag.ReadOnly)
    stream >> path  # type: ignore[operator]  # QtGui adds this operator; the QtCore stubs do not know it
    return path


def polylines_path(points: np.ndarray, offsets: np.ndarray) -> QPainterPath:
    """Every polyline ``points[offsets[j]:offsets[j + 1]]`` as straight segments in one path."""
    if len(points) < 2:
        return QPainterPath()
    types = np.full(len(points), LINE_TO, np.int32)
    starts = offsets[:-1][(offsets[:-1] < len(points)) & (np.diff(offsets) > 0)]
    types[starts] = MOVE_TO
    return stream_path(types, points[:, 0], points[:, 1])


def _edge_of_points(offsets: np.ndarray) -> np.ndarray:
    counts = np.diff(offsets)
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _turns(before: np.ndarray, at: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Whether the path before -> at -> after bends (is not one straight line forward)."""
    a = at - before
    b = after - at
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    scale = np.hypot(a[:, 0], a[:, 1]) * np.hypot(b[:, 0], b[:, 1])
    return (np.abs(cross) > 1e-9 * scale + 1e-12) | ((a * b).sum(axis=1) < 0)


@dataclass
class EdgePieces:
    """The drawn edges as pieces (lines and quadratic curves), de-duplicated and indexed for culling.

    Piece k runs from ``start[k]`` to ``end[k]``; where ``curved[k]`` it bends through the
    control point ``control[k]``. Edges that share a route (a bus from one source to many
    consumers) share its pieces: each is kept once, and ``edge_pieces(j)`` lists edge j's.
    ``style[k]`` is the style of the edges drawing piece k (0 data, 1 control dependency).
    """

    start: np.ndarray
    end: np.ndarray
    control: np.ndarray
    curved: np.ndarray
    style: np.ndarray
    low: np.ndarray  # bounding box of each piece (control point included)
    high: np.ndarray
    axis: int  # 1: culled along y (a top-to-bottom scene), 0: along x
    tiers: list[tuple[float, np.ndarray, np.ndarray]]  # (reach, pieces sorted by low end, their low ends)
    edge_ptr: np.ndarray  # edge j's pieces are edge_piece[edge_ptr[j]:edge_ptr[j + 1]], in drawing order
    edge_piece: np.ndarray

    @classmethod
    def of(cls, points: np.ndarray, offsets: np.ndarray, style: np.ndarray | None = None) -> EdgePieces:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        offsets = np.asarray(offsets, dtype=np.int64)
        n_edges = len(offsets) - 1
        edge_style = np.zeros(n_edges, np.int8) if style is None else np.asarray(style, dtype=np.int8)
        edge_of = _edge_of_points(offsets) if len(points) else np.zeros(0, np.int64)
        counts = np.diff(offsets)
        # Vertices of the drawn path: first point, the middle of each later segment, last point.
        # Piece j of an edge ends at vertex j and bends through raw point j when j is interior.
        vertex = points.copy()
        position = np.arange(len(points)) - (offsets[edge_of] if len(points) else 0)
        last = position == counts[edge_of] - 1 if len(points) else np.zeros(0, bool)
        interior = (position > 0) & ~last
        vertex[interior] = (points[interior] + points[np.flatnonzero(interior) + 1]) / 2
        # Interior raw points on a straight line are no bend: their piece is a line.
        bends = np.zeros(len(points), dtype=bool)
        k = np.flatnonzero(interior)
        bends[k] = _turns(points[k - 1], points[k], points[k + 1])
        # A vertex between two straight pieces on one line forward is dropped: the line goes on.
        # Neighbours dropped too lie on the same line, so dropping all at once keeps the picture.
        drop = np.zeros(len(points), dtype=bool)
        k = np.flatnonzero(interior & ~bends)
        k = k[~bends[k + 1]]  # the following piece is straight too (the last piece always is)
        drop[k] = ~_turns(vertex[k - 1], vertex[k], vertex[k + 1])
        kept = np.flatnonzero(~drop)
        kept_edge = edge_of[kept] if len(kept) else np.zeros(0, np.int64)
        same = kept_edge[1:] == kept_edge[:-1]
        ends = kept[1:][same]
        owner = kept_edge[1:][same]  # the edge of each piece, in edge order
        curved = bends[ends]
        start, end = vertex[kept[:-1][same]], vertex[ends]
        control = np.where(curved[:, None], points[ends], 0.0)
        piece_style = edge_style[owner]
        # One copy of each distinct piece: edges sharing a route draw it once.
        key = np.column_stack([start, end, control, curved, piece_style])
        order = np.lexsort(key.T[::-1]) if len(key) else np.zeros(0, np.int64)
        new = np.ones(len(order), dtype=bool)
        new[1:] = (key[order[1:]] != key[order[:-1]]).any(axis=1)
        unique_of_sorted = np.cumsum(new) - 1
        unique_of = np.empty(len(order), dtype=np.int64)
        unique_of[order] = unique_of_sorted
        first = order[new]  # the first copy of each distinct piece, in the sorted order ...
        rank = np.argsort(first, kind="stable")  # ... renumbered so pieces run in edge order
        renumber = np.empty(len(rank), dtype=np.int64)
        renumber[rank] = np.arange(len(rank))
        keep = first[rank]
        edge_piece = renumber[unique_of]
        start, end, control, curved, piece_style = start[keep], end[keep], control[keep], curved[keep], piece_style[keep]
        low = np.minimum(start, end)
        high = np.maximum(start, end)
        low[curved] = np.minimum(low[curved], control[curved])
        high[curved] = np.maximum(high[curved], control[curved])
        extent = (points.max(axis=0) - points.min(axis=0)) if len(points) else np.ones(2)
        axis = 1 if extent[1] >= extent[0] else 0
        edge_ptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n_edges))]).astype(np.int64)
        return cls(start, end, control, curved, piece_style, low, high, axis, _tiers(low, high, axis), edge_ptr, edge_piece)

    @property
    def size(self) -> int:
        return len(self.start)

    def edge_pieces(self, edges: np.ndarray) -> np.ndarray:
        """The pieces of the given edges, edge after edge, each in drawing order."""
        edges = np.asarray(edges, dtype=np.int64)
        ptr = self.edge_ptr
        counts = ptr[edges + 1] - ptr[edges]
        before = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        slots = np.repeat(ptr[edges] - before, counts) + np.arange(int(counts.sum()))
        return self.edge_piece[slots]

    def pieces_in(self, left: float, top: float, right: float, bottom: float) -> np.ndarray:
        """Pieces whose bounding box meets the rectangle, in index order."""
        lo = (left, top)
        hi = (right, bottom)
        ax, other = self.axis, 1 - self.axis
        parts = []
        for reach, members, member_low in self.tiers:
            a = np.searchsorted(member_low, lo[ax] - reach, side="left")
            b = np.searchsorted(member_low, hi[ax], side="right")
            parts.append(members[a:b])
        candidates = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        low, high = self.low[candidates], self.high[candidates]
        hit = (high[:, ax] >= lo[ax]) & (low[:, other] <= hi[other]) & (high[:, other] >= lo[other])
        return np.sort(candidates[hit])

    def path(self, pieces: np.ndarray, clip: tuple[float, float, float, float] | None = None) -> QPainterPath:
        """The given pieces as one path; a piece starting where the one before ends continues it.

        With ``clip`` (left, top, right, bottom of the view), lines reaching beyond a box
        a little larger than the view are cut to that box (Liang-Barsky keeps their direction).
        """
        if len(pieces) == 0:
            return QPainterPath()
        start = self.start[pieces]
        end = self.end[pieces]
        curved = self.curved[pieces]
        if clip is not None:
            left, top, right, bottom = clip
            margin = max(right - left, bottom - top) * CLIP_MARGIN
            box = (left - margin, top - margin, right + margin, bottom + margin)
            far = (_outside(start, box) | _outside(end, box)) & ~curved
            if far.any():
                start, end = start.copy(), end.copy()
                start[far], end[far] = _clip_lines(start[far], end[far], box)
        joined = (start[1:] == end[:-1]).all(axis=1)
        own_start = np.concatenate([[True], ~joined])
        # Elements: a move where a run starts, then one line or three curve elements per piece.
        size = 1 + 2 * curved.astype(np.int64) + own_start
        last = np.cumsum(size) - 1  # each piece's end point
        total = int(last[-1]) + 1
        types = np.full(total, LINE_TO, np.int32)
        xy = np.empty((total, 2))
        xy[last] = end
        moves = last[own_start] - 1 - 2 * curved[own_start]
        types[moves] = MOVE_TO
        xy[moves] = start[own_start]
        if curved.any():
            # A quadratic curve as Qt's cubic: controls two thirds of the way to the quadratic's.
            c = self.control[pieces][curved]
            at = last[curved]
            types[at - 2] = CURVE_TO
            types[at - 1] = CURVE_DATA
            types[at] = CURVE_DATA
            xy[at - 2] = start[curved] + (c - start[curved]) * (2 / 3)
            xy[at - 1] = end[curved] + (c - end[curved]) * (2 / 3)
        return stream_path(types, xy[:, 0], xy[:, 1])


def _tiers(low: np.ndarray, high: np.ndarray, axis: int) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Pieces grouped by length along the axis (each tier TIER_FACTOR longer), each sorted by its low end.

    A query looks in each tier from (view start - the tier's longest piece): candidates stay
    close to the pieces really in view, however long the longest edges are.
    """
    if len(low) == 0:
        return []
    length = high[:, axis] - low[:, axis]
    unit = max(float(np.percentile(length, 50)), 1.0)
    tier = np.maximum(np.ceil(np.log(np.maximum(length, unit) / unit) / np.log(TIER_FACTOR)), 0).astype(np.int64)
    tiers = []
    for t in np.unique(tier).tolist():
        members = np.flatnonzero(tier == t)
        members = members[np.argsort(low[members, axis], kind="stable")]
        tiers.append((float(length[members].max()), members, low[members, axis]))
    return tiers


def _outside(p: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    return (p[:, 0] < box[0]) | (p[:, 0] > box[2]) | (p[:, 1] < box[1]) | (p[:, 1] > box[3])


def _clip_lines(a: np.ndarray, b: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Liang-Barsky for many lines at once; a line wholly outside collapses to a point on the box."""
    d = b - a
    t0 = np.zeros(len(a))
    t1 = np.ones(len(a))
    for axis, lo, hi in ((0, box[0], box[2]), (1, box[1], box[3])):
        for p, q in ((-d[:, axis], a[:, axis] - lo), (d[:, axis], hi - a[:, axis])):
            with np.errstate(divide="ignore", invalid="ignore"):
                r = q / p
            t0 = np.where(p < 0, np.maximum(t0, r), t0)
            t1 = np.where(p > 0, np.minimum(t1, r), t1)
    t1 = np.maximum(t1, t0)
    low_corner = np.array([box[0], box[1]])
    high_corner = np.array([box[2], box[3]])
    return np.clip(a + d * t0[:, None], low_corner, high_corner), np.clip(a + d * t1[:, None], low_corner, high_corner)


def arrowheads_path(points: np.ndarray, offsets: np.ndarray, edges: np.ndarray) -> QPainterPath:
    """Filled triangles at the end of each given polyline, computed in numpy (one subpath each)."""
    if len(edges) == 0:
        return QPainterPath()
    edges = np.asarray(edges, dtype=np.int64)
    ok = (offsets[edges + 1] - offsets[edges]) >= 2
    ends = offsets[edges + 1][ok] - 1
    if len(ends) == 0:
        return QPainterPath()
    tip = points[ends]
    d = tip - points[ends - 1]
    length = np.hypot(d[:, 0], d[:, 1])
    length[length == 0] = 1.0
    d = d / length[:, None]
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
    base = tip - d * ARROW_LENGTH
    corners = np.stack([tip, base + normal * ARROW_HALF_WIDTH, base - normal * ARROW_HALF_WIDTH, tip], axis=1).reshape(-1, 2)
    types = np.tile(np.array([MOVE_TO, LINE_TO, LINE_TO, LINE_TO], np.int32), len(ends))
    return stream_path(types, corners[:, 0], corners[:, 1])
