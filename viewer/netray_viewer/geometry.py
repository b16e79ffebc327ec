"""Per-scene precomputations the painter culls and draws with, built once (in the layout worker).

* each edge's bounding box (culling, picking);
* the drawn edges as :class:`~netray_viewer.edge_paths.EdgePieces` (every frame's edge
  path is built from them in numpy);
* whole-scene paths in bands along the scene's long axis, for views that show most of a
  large scene: Qt processes all of a path it is given, in view or not, so a view showing
  a tenth of the scene draws only the bands that reach into it, while a view of nearly all
  of it draws a few prebuilt paths instead of building them each frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QPainterPath

from netray.scene import ItemKind, Scene
from netray_viewer.edge_paths import LINE_TO, MOVE_TO, EdgePieces, polylines_path, stream_path

BANDS = 32  # whole-scene paths are cut into this many bands along the scene's long axis
TITLE_HEIGHT = 22.0  # header band of a box with further lines, in scene units


@dataclass
class Banded:
    """One kind of item as paths per band along the scene's long axis, with how far each reaches.

    Items longer than two bands (frames, skip connections) have a path of their own.
    """

    paths: list[QPainterPath] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, low: np.ndarray, high: np.ndarray, start: float, width: float, make: Callable[[np.ndarray], QPainterPath]) -> Banded:
        banded = cls()
        if len(low) == 0:
            return banded
        band = np.clip(((low - start) // width).astype(np.int64), 0, BANDS - 1)
        band[(high - low) > 2 * width] = BANDS
        order = np.argsort(band, kind="stable")
        bounds = np.searchsorted(band[order], np.arange(BANDS + 2))
        for b in range(BANDS + 1):
            members = order[bounds[b] : bounds[b + 1]]
            if len(members):
                banded.paths.append(make(members))
                banded.low.append(float(low[members].min()))
                banded.high.append(float(high[members].max()))
        return banded

    def reaching(self, low: float, high: float) -> list[QPainterPath]:
        return [p for p, a, b in zip(self.paths, self.low, self.high, strict=True) if a <= high and b >= low]


@dataclass
class SceneGeometry:
    """Edge bounding boxes, the drawn edges as indexed pieces, and the whole-scene paths in bands."""

    scene: Scene
    edge_left: np.ndarray
    edge_top: np.ndarray
    edge_right: np.ndarray
    edge_bottom: np.ndarray
    pieces: EdgePieces
    end_x: np.ndarray  # where each edge ends (its arrowhead's tip)
    end_y: np.ndarray
    category_names: list[str]  # the scene's category strings, sorted ...
    category_code: np.ndarray  # ... and each item's index into them
    is_io: np.ndarray  # per item: a graph input or output (drawn as a pill)
    is_group: np.ndarray  # a collapsed group (drawn stacked, with a + marker)
    has_lines: np.ndarray  # a box tall enough for lines under a title band
    line_ptr: np.ndarray  # item i's lines are line_chars[line_ptr[i]:line_ptr[i + 1]] characters long
    line_chars: np.ndarray
    box_bands: dict[str, Banded] = field(default_factory=dict)
    frame_bands: Banded = field(default_factory=Banded)
    edge_bands: Banded = field(default_factory=Banded)
    vertical: bool = True  # bands along y (a top-to-bottom scene) or along x
    _built: bool = False

    @classmethod
    def of(cls, scene: Scene) -> SceneGeometry:
        n = len(scene.edge_src)
        pts = scene.edge_points
        off = scene.edge_offsets
        if n and len(pts):
            counts = np.diff(off)
            nonempty = counts > 0
            starts = np.minimum(off[:-1], len(pts) - 1)
            left = np.where(nonempty, np.minimum.reduceat(pts[:, 0], starts), np.inf)
            right = np.where(nonempty, np.maximum.reduceat(pts[:, 0], starts), -np.inf)
            top = np.where(nonempty, np.minimum.reduceat(pts[:, 1], starts), np.inf)
            bottom = np.where(nonempty, np.maximum.reduceat(pts[:, 1], starts), -np.inf)
        else:
            left = top = np.full(n, np.inf)
            right = bottom = np.full(n, -np.inf)
        style = scene.edge_control.astype(np.int8) if len(scene.edge_control) == n else None
        pieces = EdgePieces.of(pts, off if len(off) else np.zeros(1, np.int64), style)
        has_end = np.diff(off) > 0 if n else np.zeros(0, bool)
        end_x = np.full(n, np.nan)
        end_y = np.full(n, np.nan)
        if n:
            end_x[has_end] = pts[off[1:][has_end] - 1, 0]
            end_y[has_end] = pts[off[1:][has_end] - 1, 1]
        names = sorted(set(scene.category))
        code = {name: k for k, name in enumerate(names)}
        category_code = np.array([code[c] for c in scene.category], dtype=np.int64)
        kind = scene.kind
        is_io = (kind == ItemKind.INPUT) | (kind == ItemKind.OUTPUT)
        counts = np.array([len(lines) for lines in scene.lines], dtype=np.int64)
        line_chars = np.array([len(line) for lines in scene.lines for line in lines], dtype=np.int64)
        x0, y0, x1, y1 = scene.bounds()
        return cls(
            scene,
            left,
            top,
            right,
            bottom,
            pieces,
            end_x,
            end_y,
            names,
            category_code,
            is_io=is_io,
            is_group=kind == ItemKind.GROUP,
            has_lines=(counts > 0) & (scene.h > TITLE_HEIGHT + 2),
            line_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            line_chars=line_chars,
            vertical=y1 - y0 >= x1 - x0,
        )

    def build_whole_paths(self) -> None:
        """Build the whole-scene paths once (in numpy, no loop per item).

        The layout worker calls this for large scenes so the first far-out frame
        costs the UI thread nothing; otherwise the first frame that needs them does.
        """
        if self._built:
            return
        scene = self.scene
        left, top, right, bottom = scene.bounds()
        if self.vertical:
            item_low, item_high, start, extent = scene.y, scene.y + scene.h, top, bottom - top
            edge_low, edge_high = self.edge_top, self.edge_bottom
        else:
            item_low, item_high, start, extent = scene.x, scene.x + scene.w, left, right - left
            edge_low, edge_high = self.edge_left, self.edge_right
        width = max(extent / BANDS, 1e-9)

        def items(members: np.ndarray) -> Banded:
            return Banded.of(item_low[members], item_high[members], start, width, lambda k: rects_path(scene, members[k]))

        frames = scene.kind == ItemKind.FRAME
        self.frame_bands = items(np.flatnonzero(frames))
        categories = np.array(scene.category, dtype=object) if scene.size else np.zeros(0, object)
        for category in sorted(set(scene.category)):
            members = np.flatnonzero((categories == category) & ~frames)
            if len(members):
                self.box_bands[category] = items(members)
        drawn = np.flatnonzero(np.diff(scene.edge_offsets) >= 2) if len(scene.edge_offsets) else np.zeros(0, np.int64)
        self.edge_bands = Banded.of(
            edge_low[drawn], edge_high[drawn], start, width, lambda k: subset_polylines_path(scene, drawn[k])
        )
        self._built = True

    def along(self, visible: QRectF) -> tuple[float, float]:
        """The view's extent along the bands' axis."""
        return (visible.top(), visible.bottom()) if self.vertical else (visible.left(), visible.right())

    def share_in_view(self, visible: QRectF) -> float:
        """How much of the scene's long axis the view spans (1.0: all of it)."""
        left, top, right, bottom = self.scene.bounds()
        low, high = self.along(visible)
        start, end = (top, bottom) if self.vertical else (left, right)
        return max(0.0, min(high, end) - max(low, start)) / max(end - start, 1e-9)

    def ends_in(self, left: float, top: float, right: float, bottom: float) -> np.ndarray:
        """Edges whose end (arrowhead) lies in the rectangle."""
        return np.flatnonzero((self.end_x >= left) & (self.end_x <= right) & (self.end_y >= top) & (self.end_y <= bottom))

    def edges_in(self, left: float, top: float, right: float, bottom: float) -> np.ndarray:
        mask = (self.edge_left <= right) & (self.edge_right >= left) & (self.edge_top <= bottom) & (self.edge_bottom >= top)
        return np.flatnonzero(mask)


def rects_path(scene: Scene, items: np.ndarray) -> QPainterPath:
    """Closed outlines of the given items' boxes as one path, built from arrays."""
    if len(items) == 0:
        return QPainterPath()
    x0 = scene.x[items]
    y0 = scene.y[items]
    x1 = x0 + scene.w[items]
    y1 = y0 + scene.h[items]
    xs = np.stack([x0, x1, x1, x0, x0], axis=1).reshape(-1)
    ys = np.stack([y0, y0, y1, y1, y0], axis=1).reshape(-1)
    types = np.tile(np.array([MOVE_TO, LINE_TO, LINE_TO, LINE_TO, LINE_TO], np.int32), len(items))
    return stream_path(types, xs, ys)


def subset_polylines_path(scene: Scene, edges: np.ndarray) -> QPainterPath:
    """The polylines of the given edges as straight segments in one path (gathered with arrays)."""
    off = scene.edge_offsets
    counts = off[edges + 1] - off[edges]
    before = np.concatenate([[0], np.cumsum(counts)[:-1]])
    index = np.repeat(off[edges] - before, counts) + np.arange(int(counts.sum()))
    return polylines_path(scene.edge_points[index], np.concatenate([[0], np.cumsum(counts)]))
