"""Where each edge's shape label goes: near its arrowhead, clear of boxes and of other labels.

A label is read where the eye lands, at the end of its edge. Top to bottom it sits beside
the edge's last (vertical) stretch, just above the arrowhead; left to right it sits above
the last (horizontal) stretch, ending before the arrowhead. Where edges merge into one
box their labels would overlap ("1x16x2561x16x256"), so labels are placed one by one,
in reading order, each at the first free spot among a few (the other side of the edge,
a line further back), and left out when none is free. A label saying the same as one
already placed at the same spot is left out too. The viewer and the SVG writer draw the
labels where this puts them (sizes from :mod:`netray.labels`' character widths).
"""

from __future__ import annotations

import numpy as np

from netray.labels import EDGE_CHAR_WIDTH, EDGE_LABEL_HEIGHT
from netray.scene import ItemKind, Scene

ARROW_LENGTH = 7.0
SIDE_GAP = 4.0  # between a label and its edge
CELL = 96.0  # grid cell of the spatial hash used to find overlaps
SHORT_STRETCH = 3 * EDGE_LABEL_HEIGHT  # a last stretch shorter than this gets its label at its middle

Rect = tuple[float, float, float, float]  # left, top, right, bottom


class _Occupied:
    """Rectangles already taken, hashed by grid cell: does a new one overlap any?"""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[Rect]] = {}

    def _keys(self, r: Rect) -> list[tuple[int, int]]:
        x0, y0, x1, y1 = int(r[0] // CELL), int(r[1] // CELL), int(r[2] // CELL), int(r[3] // CELL)
        return [(cx, cy) for cx in range(x0, x1 + 1) for cy in range(y0, y1 + 1)]

    def add(self, r: Rect) -> None:
        for key in self._keys(r):
            self.cells.setdefault(key, []).append(r)

    def free(self, r: Rect) -> bool:
        for key in self._keys(r):
            for o in self.cells.get(key, ()):
                if r[0] < o[2] and o[0] < r[2] and r[1] < o[3] and o[1] < r[3]:
                    return False
        return True


def label_width(text: str) -> float:
    return len(text) * EDGE_CHAR_WIDTH


def _candidates(a: np.ndarray, b: np.ndarray, width: float) -> list[tuple[float, float]]:
    """Top-left corners to try for a label ``width`` wide on the stretch a -> b (b: the arrow's tip)."""
    h = EDGE_LABEL_HEIGHT
    dx, dy = float(b[0] - a[0]), float(b[1] - a[1])
    if abs(dy) >= abs(dx):  # arriving vertically: beside the line
        down = 1.0 if dy >= 0 else -1.0
        if abs(dy) > SHORT_STRETCH:  # just before the arrowhead
            y = float(b[1]) - ARROW_LENGTH - h if down > 0 else float(b[1]) + ARROW_LENGTH
        else:
            y = (float(a[1]) + float(b[1])) / 2 - h / 2
        x = float(b[0])
        step = down * (h + 1)
        return [
            (x + SIDE_GAP, y),
            (x - SIDE_GAP - width, y),
            (x + SIDE_GAP, y - step),
            (x - SIDE_GAP - width, y - step),
        ]
    # Arriving horizontally: above the line, ending before the arrowhead.
    right = 1.0 if dx >= 0 else -1.0
    if abs(dx) > width + ARROW_LENGTH + 2 * SIDE_GAP:
        x = float(b[0]) - ARROW_LENGTH - SIDE_GAP - width if right > 0 else float(b[0]) + ARROW_LENGTH + SIDE_GAP
    else:
        x = (float(a[0]) + float(b[0])) / 2 - width / 2
    y = float(b[1])
    return [
        (x, y - SIDE_GAP / 2 - h),
        (x, y + SIDE_GAP / 2),
        (x, y - SIDE_GAP / 2 - 2 * h - 1),
        (x, y + SIDE_GAP / 2 + h + 1),
    ]


def place_edge_labels(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """The top-left corner of each edge's label; NaN where the edge has none or no free spot."""
    n = len(scene.edge_src)
    lx = np.full(n, np.nan)
    ly = np.full(n, np.nan)
    if n == 0 or len(scene.edge_label) != n:
        return lx, ly
    off = scene.edge_offsets
    counts = np.diff(off)
    labelled = np.flatnonzero((counts >= 2) & np.array([bool(t) for t in scene.edge_label], dtype=bool))
    if len(labelled) == 0:
        return lx, ly
    occupied = _Occupied()
    boxes = np.flatnonzero(scene.kind != ItemKind.FRAME)
    for x, y, w, h in zip(scene.x[boxes].tolist(), scene.y[boxes].tolist(), scene.w[boxes].tolist(), scene.h[boxes].tolist(), strict=True):
        occupied.add((x, y, x + w, y + h))
    tips = scene.edge_points[off[labelled + 1] - 1]
    before = scene.edge_points[off[labelled + 1] - 2]
    # Reading order: top to bottom, then left to right (rounded, so one row of targets reads left to right).
    order = np.lexsort((tips[:, 0], np.round(tips[:, 1] / EDGE_LABEL_HEIGHT)))
    placed: dict[tuple[str, float, float], bool] = {}
    for k in order.tolist():
        j = int(labelled[k])
        text = scene.edge_label[j]
        width = label_width(text)
        for x, y in _candidates(before[k], tips[k], width):
            same = (text, round(x, 1), round(y, 1))
            if same in placed:  # the same words at the same spot: say them once
                break
            rect = (x, y, x + width, y + EDGE_LABEL_HEIGHT)
            if occupied.free(rect):
                occupied.add(rect)
                placed[same] = True
                lx[j], ly[j] = x, y
                break
    return lx, ly
