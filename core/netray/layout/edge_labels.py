"""Where each edge's shape label goes: near its arrowhead, clear of boxes and of other labels.

A label is read where the eye lands, at the end of its edge. Top to bottom it sits beside
the edge's last (vertical) stretch, just above the arrowhead; left to right it sits above
the last (horizontal) stretch, ending before the arrowhead. Where edges merge into one
box their labels would overlap ("1x16x2561x16x256"), so each label takes the first free
spot among a few (the other side of the edge, a line further back) and is left out when
none is free; crowded labels are placed one by one in reading order. A label saying the
same as one already placed at the same spot is left out too. Candidates, overlaps with
boxes and which labels are crowded are found with arrays over a grid of cells (about a
tenth of a second for 30,000 labels). The viewer and the SVG writer draw the labels
where this puts them (sizes from :mod:`netray.labels`' character widths).
"""

from __future__ import annotations

import numpy as np

from netray.labels import EDGE_CHAR_WIDTH, EDGE_LABEL_HEIGHT
from netray.scene import ItemKind, Scene

ARROW_LENGTH = 7.0
SIDE_GAP = 4.0  # between a label and its edge
CELL = 96.0  # grid cell of the spatial hash used to find overlaps
SHORT_STRETCH = 3 * EDGE_LABEL_HEIGHT  # a last stretch shorter than this gets its label at its middle


def label_width(text: str) -> float:
    return len(text) * EDGE_CHAR_WIDTH


def candidates(a: np.ndarray, b: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners to try, in order, for each label (rows): on the last stretch a -> b (b: the arrow's tip).

    Arriving vertically: beside the line just above the arrowhead (at the middle of a short
    stretch), right then left, then the same a line further back. Arriving horizontally:
    above the line, ending before the arrowhead, then below, then a line further out.
    """
    h = EDGE_LABEL_HEIGHT
    dx, dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    down = np.where(dy >= 0, 1.0, -1.0)
    short = np.abs(dy) <= SHORT_STRETCH
    y_near = np.where(down > 0, b[:, 1] - ARROW_LENGTH - h, b[:, 1] + ARROW_LENGTH)
    y_v = np.where(short, (a[:, 1] + b[:, 1]) / 2 - h / 2, y_near)
    step = down * (h + 1)
    right_x, left_x = b[:, 0] + SIDE_GAP, b[:, 0] - SIDE_GAP - width
    vx = np.stack([right_x, left_x, right_x, left_x], axis=1)
    vy = np.stack([y_v, y_v, y_v - step, y_v - step], axis=1)
    rightward = dx >= 0
    fits = np.abs(dx) > width + ARROW_LENGTH + 2 * SIDE_GAP
    x_end = np.where(rightward, b[:, 0] - ARROW_LENGTH - SIDE_GAP - width, b[:, 0] + ARROW_LENGTH + SIDE_GAP)
    x_h = np.where(fits, x_end, (a[:, 0] + b[:, 0]) / 2 - width / 2)
    above, below = b[:, 1] - SIDE_GAP / 2 - h, b[:, 1] + SIDE_GAP / 2
    hx = np.stack([x_h, x_h, x_h, x_h], axis=1)
    hy = np.stack([above, below, above - h - 1, below + h + 1], axis=1)
    vertical = (np.abs(dy) >= np.abs(dx))[:, None]
    return np.where(vertical, vx, hx), np.where(vertical, vy, hy)


def _cells(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rectangle index, grid cell key) for every grid cell each rectangle touches."""
    cx0, cy0 = np.floor(x0 / CELL).astype(np.int64), np.floor(y0 / CELL).astype(np.int64)
    nx = np.floor(x1 / CELL).astype(np.int64) - cx0 + 1
    ny = np.floor(y1 / CELL).astype(np.int64) - cy0 + 1
    count = nx * ny
    owner = np.repeat(np.arange(len(x0)), count)
    k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    cx = cx0[owner] + k % nx[owner]
    cy = cy0[owner] + k // nx[owner]
    return owner, (cx + (1 << 31)) * (1 << 32) + (cy + (1 << 31))


def blocked_by_boxes(x: np.ndarray, y: np.ndarray, w: np.ndarray, boxes: tuple[np.ndarray, ...]) -> np.ndarray:
    """For label rectangles (top-left x, y; width w; one line high): does any box overlap them? All in numpy."""
    bx0, by0, bx1, by1 = boxes
    blocked = np.zeros(len(x), dtype=bool)
    if len(x) == 0 or len(bx0) == 0:
        return blocked
    box_of, box_key = _cells(bx0, by0, bx1, by1)
    order = np.argsort(box_key, kind="stable")
    box_of, box_key = box_of[order], box_key[order]
    label_of, label_key = _cells(x, y, x + w, y + EDGE_LABEL_HEIGHT)
    lo = np.searchsorted(box_key, label_key, side="left")
    hi = np.searchsorted(box_key, label_key, side="right")
    count = hi - lo
    pair_label = np.repeat(label_of, count)
    pair_box = box_of[np.repeat(lo, count) + np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)]
    lx0, ly0 = x[pair_label], y[pair_label]
    overlaps = (lx0 < bx1[pair_box]) & (bx0[pair_box] < lx0 + w[pair_label]) & (ly0 < by1[pair_box]) & (by0[pair_box] < ly0 + EDGE_LABEL_HEIGHT)
    blocked[pair_label[overlaps]] = True
    return blocked


def overlapping_pairs(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j), i < j, of the rectangles that overlap, found through the grid cells they share."""
    owner, key = _cells(x0, y0, x1, y1)
    order = np.argsort(key, kind="stable")
    owner, key = owner[order], key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else np.zeros(0, np.int64)
    group_end = np.repeat(np.append(starts[1:], len(key)), np.diff(np.append(starts, len(key))))
    count = group_end - np.arange(len(key)) - 1  # later members of the same cell
    first = np.repeat(np.arange(len(key)), count)
    second = first + 1 + np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    a, b = owner[first], owner[second]
    hit = (a != b) & (x0[a] < x1[b]) & (x0[b] < x1[a]) & (y0[a] < y1[b]) & (y0[b] < y1[a])
    a, b = np.minimum(a[hit], b[hit]), np.maximum(a[hit], b[hit])
    pairs = np.unique(a * max(len(x0), 1) + b)
    return pairs // max(len(x0), 1), pairs % max(len(x0), 1)


def place_edge_labels(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """The top-left corner of each edge's label; NaN where the edge has none or no free spot.

    All with arrays but for the crowded spots: each label's candidates and their overlaps
    with boxes are found at once; a label whose first free candidate overlaps no other
    label's takes it; the rest (labels in each other's way) are placed one by one, in
    reading order, at the first spot still free.
    """
    n = len(scene.edge_src)
    lx = np.full(n, np.nan)
    ly = np.full(n, np.nan)
    if n == 0 or len(scene.edge_label) != n:
        return lx, ly
    off = scene.edge_offsets
    counts = np.diff(off)
    chars = np.array([len(t) for t in scene.edge_label], dtype=np.int64)
    labelled = np.flatnonzero((counts >= 2) & (chars > 0))
    if len(labelled) == 0:
        return lx, ly
    tips = scene.edge_points[off[labelled + 1] - 1]
    before = scene.edge_points[off[labelled + 1] - 2]
    width = chars[labelled] * EDGE_CHAR_WIDTH
    cx, cy = candidates(before, tips, width)
    k = cx.shape[1]
    solid = np.flatnonzero(scene.kind != ItemKind.FRAME)
    boxes = (scene.x[solid], scene.y[solid], scene.x[solid] + scene.w[solid], scene.y[solid] + scene.h[solid])
    free = ~blocked_by_boxes(cx.reshape(-1), cy.reshape(-1), np.repeat(width, k), boxes).reshape(-1, k)
    # Each label's first spot clear of boxes; those in no other label's way are placed at once.
    has: np.ndarray = np.asarray(free.any(axis=1))
    first = np.argmax(free, axis=1)
    rows = np.arange(len(labelled))
    fx, fy = cx[rows, first], cy[rows, first]
    a, b = overlapping_pairs(fx, fy, fx + width, fy + EDGE_LABEL_HEIGHT)
    crowded = np.zeros(len(labelled), dtype=bool)
    both = has[a] & has[b]
    crowded[a[both]] = True
    crowded[b[both]] = True
    direct = has & ~crowded
    lx[labelled[direct]], ly[labelled[direct]] = fx[direct], fy[direct]
    rest = np.flatnonzero(has & crowded)
    if len(rest) == 0:
        return lx, ly
    # The crowded ones: their other spots must also stay clear of the labels placed at once.
    placed = (fx[direct], fy[direct], fx[direct] + width[direct], fy[direct] + EDGE_LABEL_HEIGHT)
    free[rest] &= ~blocked_by_boxes(cx[rest].reshape(-1), cy[rest].reshape(-1), np.repeat(width[rest], k), placed).reshape(-1, k)
    order = rest[np.lexsort((tips[rest, 0], np.round(tips[rest, 1] / EDGE_LABEL_HEIGHT)))]
    _place_one_by_one(order.tolist(), cx, cy, width, free, scene.edge_label, labelled, lx, ly)
    return lx, ly


def _place_one_by_one(
    order: list[int],
    cx: np.ndarray,
    cy: np.ndarray,
    width: np.ndarray,
    free: np.ndarray,
    texts: list[str],
    labelled: np.ndarray,
    lx: np.ndarray,
    ly: np.ndarray,
) -> None:
    """Greedy placing, in ``order``: each label at its first candidate clear of boxes and of labels placed."""
    taken: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
    said: set[tuple[str, float, float]] = set()
    height = EDGE_LABEL_HEIGHT
    for m in order:
        j = int(labelled[m])
        text = texts[j]
        w = float(width[m])
        for x, y, ok in zip(cx[m].tolist(), cy[m].tolist(), free[m].tolist(), strict=True):
            same = (text, round(x, 1), round(y, 1))
            if same in said:  # the same words at the same spot: say them once
                break
            if not ok:
                continue
            x1, y1 = x + w, y + height
            cells = [(gx, gy) for gx in range(int(x // CELL), int(x1 // CELL) + 1) for gy in range(int(y // CELL), int(y1 // CELL) + 1)]
            if any(x < o[2] and o[0] < x1 and y < o[3] and o[1] < y1 for c in cells for o in taken.get(c, ())):
                continue
            for c in cells:
                taken.setdefault(c, []).append((x, y, x1, y1))
            said.add(same)
            lx[j], ly[j] = x, y
            break
