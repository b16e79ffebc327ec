"""Paint a :class:`netray.scene.Scene` onto any QPainter, with level of detail.

The canvas calls :meth:`ScenePainter.paint` every frame with the visible rectangle
and the zoom; exporters and the minimap can call it on a QImage. Far out, the
whole scene is drawn from paths built once per scene (one Qt call per colour);
nearer in, only the items in view are drawn, with titles, attribute lines and
edge labels appearing as they become readable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QLineF, QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF

from netray.scene import ItemKind, Scene
from netray_viewer.theme import Theme

# Zoom thresholds (screen pixels per scene unit) for each level of detail.
TITLE_ZOOM = 0.32  # op titles readable
LINES_ZOOM = 0.6  # attribute / weight lines readable
EDGE_LABEL_ZOOM = 0.8  # tensor shapes on edges readable
ARROW_ZOOM = 0.12  # arrowheads larger than a pixel or two
DETAIL_LIMIT = 4000  # above this many visible items, draw from the cached whole-scene paths

TITLE_HEIGHT = 22.0  # header band of a box with further lines, in scene units
LINE_HEIGHT = 14.0
TITLE_FONT_PX = 11  # netray.labels sizes boxes for an ~11px font
LINE_FONT_PX = 10
ARROW_LENGTH = 7.0
ARROW_HALF_WIDTH = 3.5
MARKER_SIZE = 12.0
GREEK_CHAR_WIDTH = 5.5  # width of a bar standing for one character of an unreadable line  # the +/- square on collapsible groups


def expand_marker_rect(x: float, y: float, w: float) -> QRectF:
    """Where the +/- marker of a group box or frame sits (top-right corner)."""
    return QRectF(x + w - MARKER_SIZE - 4, y + 4, MARKER_SIZE, MARKER_SIZE)


BANDS = 32  # whole-scene paths are cut into this many bands along the scene's long axis


@dataclass
class Banded:
    """One kind of item as paths per band along the scene's long axis, with how far each reaches.

    Qt processes all of a path it is given, in view or not, so a view showing a tenth
    of a large scene draws only the bands that reach into it. Items longer than two
    bands (frames, skip connections) have a path of their own.
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
    """Per-scene precomputations: edge bounding boxes and the whole-scene paths, in bands."""

    scene: Scene
    edge_left: np.ndarray
    edge_top: np.ndarray
    edge_right: np.ndarray
    edge_bottom: np.ndarray
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
        return cls(scene, left, top, right, bottom)

    def build_whole_paths(self) -> None:
        """Build the whole-scene paths once (in numpy, no loop per item).

        The layout worker calls this for large scenes so the first far-out frame
        costs the UI thread nothing; otherwise the first frame that needs them does.
        """
        if self._built:
            return
        scene = self.scene
        left, top, right, bottom = scene.bounds()
        self.vertical = bottom - top >= right - left
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
    connect = np.tile(np.array([1, 1, 1, 1, 0], np.int32), len(items))
    return pg.arrayToQPath(xs, ys, connect=connect, finiteCheck=False)


def subset_polylines_path(scene: Scene, edges: np.ndarray) -> QPainterPath:
    """The polylines of the given edges as straight segments in one path (gathered with arrays)."""
    off = scene.edge_offsets
    counts = off[edges + 1] - off[edges]
    before = np.concatenate([[0], np.cumsum(counts)[:-1]])
    index = np.repeat(off[edges] - before, counts) + np.arange(int(counts.sum()))
    return polylines_path(scene.edge_points[index], np.concatenate([[0], np.cumsum(counts)]))


def polylines_path(points: np.ndarray, offsets: np.ndarray) -> QPainterPath:
    """Every polyline ``points[offsets[j]:offsets[j + 1]]`` as straight segments in one path."""
    if len(points) < 2:
        return QPainterPath()
    connect = np.ones(len(points), np.int32)
    ends = offsets[1:] - 1
    connect[ends[(ends >= 0) & (ends < len(points))]] = 0
    return pg.arrayToQPath(
        np.ascontiguousarray(points[:, 0], dtype=np.float64),
        np.ascontiguousarray(points[:, 1], dtype=np.float64),
        connect=connect,
        finiteCheck=False,
    )



def edges_path(scene: Scene, edges: range | np.ndarray | list[int]) -> QPainterPath:
    """One path holding the polylines of the given edges."""
    path = QPainterPath()
    pts = scene.edge_points
    off = scene.edge_offsets
    for j in edges:
        a, b = int(off[j]), int(off[j + 1])
        if b - a < 2:
            continue
        path.moveTo(float(pts[a, 0]), float(pts[a, 1]))
        if b - a == 2:
            path.lineTo(float(pts[a + 1, 0]), float(pts[a + 1, 1]))
            continue
        # Smooth bends: straight through the first and last segments, quadratic curves between.
        for k in range(a + 1, b - 1):
            mx = (pts[k, 0] + pts[k + 1, 0]) / 2
            my = (pts[k, 1] + pts[k + 1, 1]) / 2
            path.quadTo(float(pts[k, 0]), float(pts[k, 1]), float(mx), float(my))
        path.lineTo(float(pts[b - 1, 0]), float(pts[b - 1, 1]))
    return path


def clipped_edges_path(scene: Scene, edges: np.ndarray, geometry: SceneGeometry, clip: QRectF) -> QPainterPath:
    """Like :func:`edges_path`, but edges reaching outside ``clip`` keep only the segments near it.

    Qt flattens and rasterises a path's full length even off screen, so a frame
    zoomed in on a graph with long skip connections would otherwise cost seconds.
    """
    margin = max(clip.width(), clip.height()) * 0.05
    left, top = clip.left() - margin, clip.top() - margin
    right, bottom = clip.right() + margin, clip.bottom() + margin
    inside = (
        (geometry.edge_left[edges] >= left)
        & (geometry.edge_right[edges] <= right)
        & (geometry.edge_top[edges] >= top)
        & (geometry.edge_bottom[edges] <= bottom)
    )
    path = edges_path(scene, edges[inside])
    pts = scene.edge_points
    off = scene.edge_offsets
    for j in edges[~inside].tolist():
        line = pts[off[j] : off[j + 1]]
        if len(line) < 2:
            continue
        a, b = line[:-1], line[1:]
        seg_visible = (
            (np.minimum(a[:, 0], b[:, 0]) <= right)
            & (np.maximum(a[:, 0], b[:, 0]) >= left)
            & (np.minimum(a[:, 1], b[:, 1]) <= bottom)
            & (np.maximum(a[:, 1], b[:, 1]) >= top)
        )
        pen_down = False
        for k in np.flatnonzero(seg_visible).tolist():
            if not pen_down or k == 0 or not seg_visible[k - 1]:
                path.moveTo(_clamped(a[k], left, top, right, bottom, b[k]))
            path.lineTo(_clamped(b[k], left, top, right, bottom, a[k]))
            pen_down = True
    return path


def _clamped(p: np.ndarray, left: float, top: float, right: float, bottom: float, towards: np.ndarray) -> QPointF:
    """``p`` moved along the segment towards ``towards`` until it is within 10 view-widths of the clip.

    Keeps the direction of a segment while avoiding coordinates millions of pixels away.
    """
    span = max(right - left, bottom - top) * 10
    lo_x, hi_x, lo_y, hi_y = left - span, right + span, top - span, bottom + span
    x, y = float(p[0]), float(p[1])
    if lo_x <= x <= hi_x and lo_y <= y <= hi_y:
        return QPointF(x, y)
    tx, ty = float(towards[0]), float(towards[1])
    t = 1.0
    for value, other, lo, hi in ((x, tx, lo_x, hi_x), (y, ty, lo_y, hi_y)):
        if value != other:
            for bound in (lo, hi):
                if (value < bound) != (other < bound):
                    t = min(t, (other - bound) / (other - value))
    t = max(0.0, min(1.0, t))
    return QPointF(tx + (x - tx) * t, ty + (y - ty) * t)


def arrowheads_path(scene: Scene, edges: np.ndarray) -> QPainterPath:
    """Filled triangles at the end of each edge, computed in numpy."""
    path = QPainterPath()
    if len(edges) == 0:
        return path
    off = scene.edge_offsets
    ends = off[edges + 1] - 1
    ok = (off[edges + 1] - off[edges]) >= 2
    ends = ends[ok]
    if len(ends) == 0:
        return path
    tip = scene.edge_points[ends]
    prev = scene.edge_points[ends - 1]
    d = tip - prev
    length = np.hypot(d[:, 0], d[:, 1])
    length[length == 0] = 1.0
    d = d / length[:, None]
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
    base = tip - d * ARROW_LENGTH
    left = base + normal * ARROW_HALF_WIDTH
    right = base - normal * ARROW_HALF_WIDTH
    for t, lft, rgt in zip(tip.tolist(), left.tolist(), right.tolist(), strict=True):
        path.addPolygon(QPolygonF([QPointF(*t), QPointF(*lft), QPointF(*rgt), QPointF(*t)]))
    return path


def frame_interior(theme: Theme, nesting: int) -> QColor:
    """The colour inside ``nesting`` frames: each frame's translucent fill over the one around it."""
    fill, back = theme.frame_fill, theme.background
    keep = (1.0 - fill.alphaF()) ** max(nesting, 0)  # what still shows of the background
    return QColor.fromRgbF(
        back.redF() * keep + fill.redF() * (1 - keep),
        back.greenF() * keep + fill.greenF() * (1 - keep),
        back.blueF() * keep + fill.blueF() * (1 - keep),
    )


def _elide(metrics: QFontMetricsF, text: str, width: float) -> str:
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(width, 0.0))


class ScenePainter:
    """Draws one Scene with a Theme; keeps the per-scene caches."""

    def __init__(self, scene: Scene, theme: Theme, geometry: SceneGeometry | None = None) -> None:
        self.scene = scene
        self.theme = theme
        self.geometry = geometry if geometry is not None and geometry.scene is scene else SceneGeometry.of(scene)
        self.selected_item: int | None = None
        self.selected_edge: int | None = None
        self.title_font = QFont()
        self.title_font.setPixelSize(TITLE_FONT_PX)
        self.title_font.setBold(True)
        self.title_fonts: list[tuple[QFont, QFontMetricsF]] = []
        for px in (TITLE_FONT_PX, TITLE_FONT_PX - 1, TITLE_FONT_PX - 2):
            font = QFont()
            font.setPixelSize(px)
            font.setBold(True)
            self.title_fonts.append((font, QFontMetricsF(font)))
        self.line_font = QFont()
        self.line_font.setPixelSize(LINE_FONT_PX)
        self.edge_font = QFont()
        self.edge_font.setPixelSize(LINE_FONT_PX - 1)

    def _fit_title(self, title: str, width: float) -> tuple[QFont, QFontMetricsF, str]:
        """The largest title font (down to 9px) in which ``title`` fits ``width``; else elided at 9px.

        netray.labels sizes boxes from estimated character widths, which run a
        little narrow for wide fonts; shrinking a pixel beats cutting "ReduceSum".
        """
        for font, metrics in self.title_fonts:
            if metrics.horizontalAdvance(title) <= width:
                return font, metrics, title
        font, metrics = self.title_fonts[-1]
        return font, metrics, _elide(metrics, title, width)

    # -- the frame ------------------------------------------------------------------
    def paint(self, painter: QPainter, visible: QRectF, zoom: float) -> int:
        """Paint the part of the scene inside ``visible`` at ``zoom`` pixels per unit.

        Returns how many boxes were drawn (frames excluded).
        """
        scene = self.scene
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, zoom > 0.2)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        items = scene.items_in(visible.left(), visible.top(), visible.right(), visible.bottom())
        kinds = scene.kind[items] if len(items) else np.zeros(0, np.int8)
        frames = items[kinds == ItemKind.FRAME]
        boxes = items[kinds != ItemKind.FRAME]
        # Outer frames first so inner ones lie on top.
        frames = frames[np.argsort(scene.depth[frames], kind="stable")]
        detailed = len(items) <= DETAIL_LIMIT and zoom >= ARROW_ZOOM
        self._paint_frames(painter, frames, zoom, detailed, visible)
        edges = self.geometry.edges_in(visible.left(), visible.top(), visible.right(), visible.bottom())
        self._paint_edges(painter, edges, zoom, detailed, visible)
        if detailed:
            self._paint_frame_titles(painter, frames, zoom)
            self._paint_boxes(painter, boxes, zoom)
        else:
            self._paint_cached_boxes(painter, zoom, visible)
        self._paint_selection(painter, zoom)
        return len(boxes)

    def paint_full_detail(self, painter: QPainter, zoom: float = 1.0, edge_chunk: int = 3 * DETAIL_LIMIT) -> int:
        """Paint every item with titles, lines and edge labels, whatever the scene's size (exports).

        Unlike :meth:`paint` there is no culling and no outline-only fallback for
        large scenes; edges are drawn in chunks of ``edge_chunk``. Returns boxes drawn.
        """
        s = self.scene
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        left, top, right, bottom = s.bounds()
        everything = QRectF(left, top, right - left, bottom - top)
        items = np.arange(s.size)
        frames = items[s.kind == ItemKind.FRAME]
        frames = frames[np.argsort(s.depth[frames], kind="stable")]
        boxes = items[s.kind != ItemKind.FRAME]
        self._paint_frames(painter, frames, zoom, True, everything)
        for start in range(0, len(s.edge_src), max(edge_chunk, 1)):
            edges = np.arange(start, min(start + edge_chunk, len(s.edge_src)))
            self._paint_edges(painter, edges, zoom, True, everything)
        self._paint_frame_titles(painter, frames, zoom)
        self._paint_boxes(painter, boxes, zoom)
        return len(boxes)

    def _pen(self, colour: QColor, pixels: float, zoom: float) -> QPen:
        """A pen ``pixels`` wide on screen whatever the zoom.

        Cosmetic and, for edges, exactly 1px: Qt then rasterises lines directly
        instead of stroking the path into polygons (measured 0.3 ms against 120 ms
        for the edges of a zoomed-in Llama frame with antialiasing).
        """
        pen = QPen(colour)
        pen.setCosmetic(True)
        pen.setWidthF(pixels)
        return pen

    def _paint_frames(self, painter: QPainter, frames: np.ndarray, zoom: float, detailed: bool, visible: QRectF) -> None:
        """Fills and borders; titles come later, over the edges (:meth:`_paint_frame_titles`)."""
        t = self.theme
        s = self.scene
        painter.setPen(self._pen(t.frame_border, 1.0, zoom))
        painter.setBrush(QBrush(t.frame_fill))
        if not detailed:
            self.geometry.build_whole_paths()
            for path in self.geometry.frame_bands.reaching(*self.geometry.along(visible)):
                painter.drawPath(path)
            return
        for i in frames.tolist():
            rect = QRectF(s.x[i], s.y[i], s.w[i], s.h[i])
            painter.drawRoundedRect(rect, 8, 8)

    def _paint_frame_titles(self, painter: QPainter, frames: np.ndarray, zoom: float) -> None:
        """Each title on a patch of its frame's own colour, so edges entering the frame pass under it."""
        if zoom < TITLE_ZOOM or not len(frames):
            return
        t = self.theme
        s = self.scene
        painter.setFont(self.title_font)
        metrics = QFontMetricsF(self.title_font)
        outermost = int(s.depth.min())  # frames of the shown level's top groups
        for i in frames.tolist():
            text = _elide(metrics, s.title[i], s.w[i] - MARKER_SIZE - 16)
            patch = QRectF(s.x[i] + 4, s.y[i] + 3, metrics.horizontalAdvance(text) + 8, metrics.height() + 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(frame_interior(t, int(s.depth[i]) - outermost + 1)))
            painter.drawRoundedRect(patch, 3, 3)
            painter.setPen(t.frame_text)
            painter.drawText(QPointF(s.x[i] + 8, s.y[i] + 4 + metrics.ascent()), text)
            self._paint_marker(painter, i, "−", zoom)

    def _paint_marker(self, painter: QPainter, i: int, sign: str, zoom: float) -> None:
        s = self.scene
        t = self.theme
        rect = expand_marker_rect(s.x[i], s.y[i], s.w[i])
        painter.setPen(self._pen(t.frame_border, 1.0, zoom))
        painter.setBrush(QBrush(t.background))
        painter.drawRect(rect)
        painter.setPen(self._pen(t.text, 1.0, zoom))
        c = rect.center()
        r = MARKER_SIZE * 0.3
        painter.drawLine(QLineF(c.x() - r, c.y(), c.x() + r, c.y()))
        if sign == "+":
            painter.drawLine(QLineF(c.x(), c.y() - r, c.x(), c.y() + r))

    def _paint_edges(self, painter: QPainter, edges: np.ndarray, zoom: float, detailed: bool, visible: QRectF) -> None:
        t = self.theme
        s = self.scene
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if not detailed or len(edges) > 3 * DETAIL_LIMIT:
            # Far out, edges are translucent: where thousands overlap they shade, not hide the boxes.
            faint = QColor(t.edge)
            faint.setAlpha(70)
            painter.setPen(self._pen(faint, 1.0, zoom))
            self.geometry.build_whole_paths()
            for path in self.geometry.edge_bands.reaching(*self.geometry.along(visible)):
                painter.drawPath(path)
            return
        control = s.edge_control[edges] if len(s.edge_control) == len(s.edge_src) else np.zeros(len(edges), bool)
        data_edges = edges[~control]
        control_edges = edges[control]
        painter.setPen(self._pen(t.edge, 1.0, zoom))
        painter.drawPath(clipped_edges_path(s, data_edges, self.geometry, visible))
        if len(control_edges):
            pen = self._pen(t.control_edge, 1.0, zoom)
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawPath(clipped_edges_path(s, control_edges, self.geometry, visible))
        if zoom >= ARROW_ZOOM:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(t.edge))
            painter.drawPath(arrowheads_path(s, edges))
        if zoom >= EDGE_LABEL_ZOOM:
            self._paint_edge_labels(painter, edges)

    def _paint_edge_labels(self, painter: QPainter, edges: np.ndarray) -> None:
        s = self.scene
        if len(s.edge_label) != len(s.edge_src):
            return
        painter.setFont(self.edge_font)
        painter.setPen(self.theme.edge_label)
        metrics = QFontMetricsF(self.edge_font)
        for j in edges.tolist():
            label = s.edge_label[j]
            if not label:
                continue
            line = s.edge_polyline(j)
            if len(line) < 2:
                continue
            # Beside the last segment, just above the arrowhead: where the eye lands.
            a, b = line[-2], line[-1]
            mx = (a[0] + b[0]) / 2
            my = (a[1] + b[1]) / 2
            if abs(b[1] - a[1]) > 3 * metrics.height():
                my = b[1] - ARROW_LENGTH - metrics.height()
            painter.drawText(QPointF(mx + 4, my + metrics.ascent() / 2), label)

    def _paint_cached_boxes(self, painter: QPainter, zoom: float, visible: QRectF) -> None:
        t = self.theme
        self.geometry.build_whole_paths()
        low, high = self.geometry.along(visible)
        for category, bands in self.geometry.box_bands.items():
            colour = t.header(category)
            # Below a pixel per box, a 1px outline in the box's colour keeps every box visible as a dot.
            painter.setPen(self._pen(t.border if zoom > 0.05 else colour, 1.0, zoom))
            painter.setBrush(QBrush(colour))
            for path in bands.reaching(low, high):
                painter.drawPath(path)

    def _paint_boxes(self, painter: QPainter, boxes: np.ndarray, zoom: float) -> None:
        t = self.theme
        s = self.scene
        show_title = zoom >= TITLE_ZOOM
        show_lines = zoom >= LINES_ZOOM
        radius = 4.0
        # Bodies: one brush per category. Boxes with lines get a light body and a
        # coloured header band; single-line boxes are all header colour (like Netron).
        border_pen = self._pen(t.border, 1.0, zoom)
        by_category: dict[str, list[int]] = {}
        for i in boxes.tolist():
            by_category.setdefault(s.category[i], []).append(i)
        for category, members in by_category.items():
            header = t.header(category)
            fill = t.fill(category)
            for i in members:
                rect = QRectF(s.x[i], s.y[i], s.w[i], s.h[i])
                kind = s.kind[i]
                if kind in (ItemKind.INPUT, ItemKind.OUTPUT):
                    painter.setPen(border_pen)
                    painter.setBrush(QBrush(fill))
                    painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
                    continue
                has_lines = bool(s.lines[i]) and rect.height() > TITLE_HEIGHT + 2
                painter.setPen(border_pen)
                painter.setBrush(QBrush(fill if has_lines else header))
                painter.drawRoundedRect(rect, radius, radius)
                if has_lines:
                    band = QPainterPath()
                    band.addRoundedRect(rect, radius, radius)
                    clip = QPainterPath()
                    clip.addRect(QRectF(rect.x(), rect.y(), rect.width(), TITLE_HEIGHT))
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(QBrush(header))
                    painter.drawPath(band.intersected(clip))
                if kind == ItemKind.GROUP:
                    # A collapsed group looks stacked: a second outline peeking out.
                    painter.setPen(border_pen)
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawRoundedRect(rect.adjusted(3, 3, 3, 3), radius, radius)
        if not show_title:
            return
        line_metrics = QFontMetricsF(self.line_font)
        for i in boxes.tolist():
            kind = s.kind[i]
            x, y, w, h = float(s.x[i]), float(s.y[i]), float(s.w[i]), float(s.h[i])
            io = kind in (ItemKind.INPUT, ItemKind.OUTPUT)
            has_lines = bool(s.lines[i]) and h > TITLE_HEIGHT + 2
            marker_room = MARKER_SIZE + 6 if kind == ItemKind.GROUP else 0.0
            indent = h / 4 if io else 6.0  # inside the pill's rounded end
            band_h = TITLE_HEIGHT if has_lines else h
            font, metrics, text = self._fit_title(s.title[i], w - 2 * indent - marker_room)
            painter.setFont(font)
            painter.setPen(t.text if io else t.header_text)
            baseline = y + (band_h + metrics.ascent() - metrics.descent()) / 2
            painter.drawText(QPointF(x + indent, baseline), text)
            if kind == ItemKind.GROUP:
                self._paint_marker(painter, i, "+", zoom)
            elif kind == ItemKind.NODE and getattr(s.ref[i], "subgraphs", None):
                self._paint_subgraph_badge(painter, x, y, w, band_h)
            if has_lines and not show_lines:
                self._paint_greeked_lines(painter, i, x + indent - 6, y, w, h)
            if has_lines and show_lines:
                painter.setFont(self.line_font)
                painter.setPen(t.muted_text if io else t.text)
                ly = y + TITLE_HEIGHT + 2 + line_metrics.ascent()
                for line in s.lines[i]:
                    if ly > y + h - 2:
                        break
                    painter.drawText(QPointF(x + indent, ly), _elide(line_metrics, line, w - 2 * indent))
                    ly += LINE_HEIGHT

    def _paint_subgraph_badge(self, painter: QPainter, x: float, y: float, w: float, band_h: float) -> None:
        """Two stacked squares at the title's right: this node holds graphs (double-click opens)."""
        size = min(8.0, band_h * 0.45)
        right = x + w - 6
        top = y + (min(band_h, TITLE_HEIGHT) - size) / 2 - 1
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(self._pen(self.theme.header_text, 1.0, 1.0))
        painter.drawRect(QRectF(right - size, top + 2, size - 2, size - 2))
        painter.drawRect(QRectF(right - size + 2, top, size - 2, size - 2))

    def _paint_greeked_lines(self, painter: QPainter, i: int, x: float, y: float, w: float, h: float) -> None:
        """Lines too small to read drawn as bars, so a box's body still shows how much it holds."""
        painter.setPen(Qt.PenStyle.NoPen)
        colour = QColor(self.theme.muted_text)
        colour.setAlpha(110)
        painter.setBrush(QBrush(colour))
        ly = y + TITLE_HEIGHT + 5
        for line in self.scene.lines[i]:
            if ly + 5 > y + h:
                break
            bar = min(len(line) * GREEK_CHAR_WIDTH, w - 12)
            painter.drawRect(QRectF(x + 6, ly, bar, 5))
            ly += LINE_HEIGHT

    def _paint_selection(self, painter: QPainter, zoom: float) -> None:
        s = self.scene
        t = self.theme
        if self.selected_edge is not None and self.selected_edge < len(s.edge_src):
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(self._pen(t.highlight_edge, 3.0, zoom))
            j = np.array([self.selected_edge])
            painter.drawPath(edges_path(s, j))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(t.highlight_edge))
            painter.drawPath(arrowheads_path(s, j))
        i = self.selected_item
        if i is not None and i < s.size and len(s.edge_src) and zoom >= ARROW_ZOOM:
            # The selected box's inputs and outputs stand out from the other edges.
            touching = np.flatnonzero((s.edge_src == i) | (s.edge_dst == i))
            if len(touching) <= 1000:
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(self._pen(t.highlight_edge, 2.0, zoom))
                painter.drawPath(edges_path(s, touching))
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QBrush(t.highlight_edge))
                painter.drawPath(arrowheads_path(s, touching))
        if i is not None and i < s.size:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(self._pen(t.selection, 3.0, zoom))
            pad = 2.0 / max(zoom, 1e-6)
            painter.drawRoundedRect(QRectF(s.x[i], s.y[i], s.w[i], s.h[i]).adjusted(-pad, -pad, pad, pad), 5, 5)
