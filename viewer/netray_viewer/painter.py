"""Paint a :class:`netray.scene.Scene` onto any QPainter, with level of detail.

The canvas calls :meth:`ScenePainter.paint` every frame with the visible rectangle
and the zoom; exporters and the minimap can call it on a QImage. Far out, the
whole scene is drawn from paths built once per scene (one Qt call per colour);
nearer in, only the items in view are drawn, with titles, attribute lines and
edge labels appearing as they become readable.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QLineF, QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from netray.scene import ItemKind, Scene
from netray_viewer.diff_marks import DiffMarks, paint_marks
from netray_viewer.edge_paths import arrowheads_path
from netray_viewer.geometry import TITLE_HEIGHT, SceneGeometry, rects_path
from netray_viewer.overlay import NEUTRAL_KEY, OverlayPaint
from netray_viewer.shapes import rects, rounded_rects, top_bands
from netray_viewer.theme import Theme

# Zoom thresholds (screen pixels per scene unit) for each level of detail.
TITLE_ZOOM = 0.32  # op titles readable
LINES_ZOOM = 0.6  # attribute / weight lines readable
EDGE_LABEL_ZOOM = 0.8  # tensor shapes on edges readable
ARROW_ZOOM = 0.12  # arrowheads larger than a pixel or two
DETAIL_LIMIT = 4000  # above this many visible items, boxes are drawn as outlines only
WHOLE_SHARE = 0.4  # a view spanning more of the scene than this draws the prebuilt whole-scene paths

LINE_HEIGHT = 14.0
TITLE_FONT_PX = 11  # netray.labels sizes boxes for an ~11px font
LINE_FONT_PX = 10
MARKER_SIZE = 12.0  # the +/- square on collapsible groups
RADIUS = 4.0  # corner radius of boxes
GREEK_BAR = 5.0  # height of a bar standing for a line of text too small to read
GREEK_CHAR_WIDTH = 5.5  # width of a bar standing for one character of an unreadable line
FAINT_EDGE_ALPHA = 70  # far out, edges shade where thousands overlap instead of hiding the boxes


def expand_marker_rect(x: float, y: float, w: float) -> QRectF:
    """Where the +/- marker of a group box or frame sits (top-right corner)."""
    return QRectF(x + w - MARKER_SIZE - 4, y + 4, MARKER_SIZE, MARKER_SIZE)


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
        self.show_edge_labels = True  # tensor shapes on edges (View › Show edge shapes)
        self.overlay: OverlayPaint | None = None  # boxes coloured by a metric instead of by category
        self.marks: DiffMarks | None = None  # changes against another model (the split view, diff pictures)
        self._titles: dict[int, tuple[QFont, QFontMetricsF, str]] = {}
        self._lines: dict[int, list[str]] = {}
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
        # Far out over most of a large scene, prebuilt paths beat building them each frame.
        whole = not detailed and self.geometry.share_in_view(visible) > WHOLE_SHARE
        self._paint_frames(painter, frames, zoom, detailed, whole, visible)
        self._paint_edges(painter, zoom, detailed, whole, visible)
        if detailed:
            self._paint_frame_titles(painter, frames, zoom)
            self._paint_boxes(painter, boxes, zoom)
        else:
            self._paint_outline_boxes(painter, boxes, zoom, whole, visible)
        if self.marks is not None and self.marks.scene is scene:
            paint_marks(painter, self.marks, self.theme.name, zoom, visible)
        self._paint_selection(painter, zoom, visible)
        return len(boxes)

    def paint_full_detail(self, painter: QPainter, zoom: float = 1.0) -> int:
        """Paint every item with titles, lines and edge labels, whatever the scene's size (exports).

        Unlike :meth:`paint` there is no outline-only fallback for large scenes. Returns boxes drawn.
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
        self._paint_frames(painter, frames, zoom, True, False, everything)
        self._paint_edges(painter, zoom, True, False, everything)
        self._paint_frame_titles(painter, frames, zoom)
        self._paint_boxes(painter, boxes, zoom)
        if self.marks is not None and self.marks.scene is s:
            paint_marks(painter, self.marks, self.theme.name, zoom)
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

    def _paint_frames(self, painter: QPainter, frames: np.ndarray, zoom: float, detailed: bool, whole: bool, visible: QRectF) -> None:
        """Fills and borders; titles come later, over the edges (:meth:`_paint_frame_titles`)."""
        t = self.theme
        s = self.scene
        painter.setPen(self._pen(t.frame_border, 1.0, zoom))
        painter.setBrush(QBrush(t.frame_fill))
        if whole:
            self.geometry.build_whole_paths()
            for path in self.geometry.frame_bands.reaching(*self.geometry.along(visible)):
                painter.drawPath(path)
            return
        if not detailed:
            painter.drawPath(rects_path(s, frames))
            return
        # Each frame opaque in the colour its translucent fill would give over the frames around
        # it: the same picture, without blending a full-screen fill per nesting level.
        outermost = int(s.depth.min()) if s.size else 0
        for i in frames.tolist():
            painter.setBrush(QBrush(frame_interior(t, int(s.depth[i]) - outermost + 1)))
            painter.drawRoundedRect(QRectF(s.x[i], s.y[i], s.w[i], s.h[i]), 8, 8)

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

    def _paint_edges(self, painter: QPainter, zoom: float, detailed: bool, whole: bool, visible: QRectF) -> None:
        """Edges in view as one path per style, built in numpy from the segment index (no loop per edge)."""
        t = self.theme
        s = self.scene
        g = self.geometry
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if not detailed:
            faint = QColor(t.edge)
            faint.setAlpha(FAINT_EDGE_ALPHA)
            painter.setPen(self._pen(faint, 1.0, zoom))
            if whole:
                g.build_whole_paths()
                for path in g.edge_bands.reaching(*g.along(visible)):
                    painter.drawPath(path)
            else:
                clip = _rect_tuple(visible)
                painter.drawPath(g.pieces.path(g.pieces.pieces_in(*clip), clip))
            return
        clip = _rect_tuple(visible)
        pieces = g.pieces.pieces_in(*clip)
        control = g.pieces.style[pieces] == 1
        painter.setPen(self._pen(t.edge, 1.0, zoom))
        if not control.any():
            painter.drawPath(g.pieces.path(pieces, clip))
        else:
            painter.drawPath(g.pieces.path(pieces[~control], clip))
            pen = self._pen(t.control_edge, 1.0, zoom)
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawPath(g.pieces.path(pieces[control], clip))
        ends = g.ends_in(*clip)
        if zoom >= ARROW_ZOOM and len(ends):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(t.edge))
            painter.drawPath(arrowheads_path(s.edge_points, s.edge_offsets, ends))
        if zoom >= EDGE_LABEL_ZOOM and self.show_edge_labels:
            self._paint_edge_labels(painter, visible)

    def _paint_edge_labels(self, painter: QPainter, visible: QRectF) -> None:
        """Shape labels where the layout placed them (clear of boxes and of each other)."""
        s = self.scene
        lx, ly = s.edge_label_x, s.edge_label_y
        if len(lx) != len(s.edge_src):
            return
        with np.errstate(invalid="ignore"):
            shown = np.flatnonzero(
                (lx <= visible.right()) & (lx + 80 >= visible.left()) & (ly <= visible.bottom()) & (ly + 12 >= visible.top())
            )
        if not len(shown):
            return
        painter.setFont(self.edge_font)
        painter.setPen(self.theme.edge_label)
        ascent = QFontMetricsF(self.edge_font).ascent()
        labels = s.edge_label
        for j, x, y in zip(shown.tolist(), lx[shown].tolist(), ly[shown].tolist(), strict=True):
            painter.drawText(QPointF(x, y + ascent), labels[j])

    def _paint_outline_boxes(self, painter: QPainter, boxes: np.ndarray, zoom: float, whole: bool, visible: QRectF) -> None:
        """Far out: boxes as plain rectangles in their category's (or metric's) colour, one path per colour."""
        t = self.theme
        g = self.geometry
        overlay = self.overlay
        if overlay is not None:
            groups = self._overlay_outline_groups(overlay, boxes, whole, visible)
        elif whole:
            g.build_whole_paths()
            low, high = g.along(visible)
            groups = [(t.header(category), bands.reaching(low, high), False) for category, bands in g.box_bands.items()]
        else:
            codes = g.category_code[boxes]
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(g.category_names) + 1))
            groups = [
                (t.header(name), [rects_path(self.scene, boxes[order[bounds[c] : bounds[c + 1]]])], False)
                for c, name in enumerate(g.category_names)
                if bounds[c + 1] > bounds[c]
            ]
        for colour, paths, hatched in groups:
            # Below a pixel per box, a 1px outline in the box's colour keeps every box visible as a dot.
            painter.setPen(self._pen(t.border if zoom > 0.05 else colour, 1.0, zoom))
            painter.setBrush(QBrush(colour))
            for path in paths:
                painter.drawPath(path)
            if hatched and zoom > 0.05:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(self._hatch(overlay))
                for path in paths:
                    painter.drawPath(path)

    def _overlay_outline_groups(
        self, overlay: OverlayPaint, boxes: np.ndarray, whole: bool, visible: QRectF
    ) -> list[tuple[QColor, list[QPainterPath], bool]]:
        """(colour, paths, hatched) per colour key of the boxes in view: one path per ramp step."""
        t = self.theme
        if whole:
            low, high = self.geometry.along(visible)
            return [
                (overlay.header(key, t), bands.reaching(low, high), key == NEUTRAL_KEY) for key, bands in overlay.bands(self.geometry).items()
            ]
        keys = overlay.key[boxes]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if len(keys) else np.zeros(0, np.int64)
        ends = np.r_[starts[1:], len(keys)]
        return [
            (overlay.header(int(sorted_keys[a]), t), [rects_path(self.scene, boxes[order[a:b]])], int(sorted_keys[a]) == NEUTRAL_KEY)
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
        ]

    def _hatch(self, overlay: OverlayPaint | None) -> QBrush:
        """Diagonal lines over the grey of boxes with no number (a pattern in screen pixels at any zoom)."""
        colour = overlay.ramp(self.theme).hatch if overlay is not None else self.theme.border
        return QBrush(colour, Qt.BrushStyle.BDiagPattern)

    def _paint_boxes(self, painter: QPainter, boxes: np.ndarray, zoom: float) -> None:
        """Bodies, title bands and outlines as a few paths built in numpy; then the text, box by box."""
        if not len(boxes):
            return
        t = self.theme
        s = self.scene
        g = self.geometry
        x, y, w, h = s.x[boxes], s.y[boxes], s.w[boxes], s.h[boxes]
        io = g.is_io[boxes]
        lined = g.has_lines[boxes] & ~io
        group = g.is_group[boxes]
        codes = g.category_code[boxes]
        border_pen = self._pen(t.border, 1.0, zoom)
        if group.any():
            # A collapsed group looks stacked: a second box peeking out from behind.
            painter.setPen(border_pen)
            painter.setBrush(QBrush(t.fill("group")))
            painter.drawPath(rounded_rects(x[group] + 3, y[group] + 3, w[group], h[group], RADIUS))
        # Boxes with lines get a light body and a coloured title band; one-line boxes are
        # all header colour (like Netron); inputs and outputs are pills. With an overlay the
        # colours are the metric's steps instead of the categories'.
        overlay = self.overlay
        keys = overlay.key[boxes] if overlay is not None else codes
        painter.setPen(Qt.PenStyle.NoPen)
        for key in np.unique(keys).tolist():
            if overlay is not None:
                body, header = overlay.body(key, t), overlay.header(key, t)
            else:
                category = g.category_names[key]
                body, header = t.fill(category), t.header(category)
            mine = keys == key
            for members, colour, radius in (
                (mine & lined, body, RADIUS),
                (mine & ~lined & ~io, header, RADIUS),
                (mine & io, body, None),
            ):
                if members.any():
                    painter.setBrush(QBrush(colour))
                    r = h[members] / 2 if radius is None else radius
                    painter.drawPath(rounded_rects(x[members], y[members], w[members], h[members], r))
            banded = mine & lined
            if banded.any():
                painter.setBrush(QBrush(header))
                painter.drawPath(top_bands(x[banded], y[banded], w[banded], TITLE_HEIGHT, RADIUS))
            if key == NEUTRAL_KEY and overlay is not None:
                # Hatched where the colour would be: the title band, or all of a one-line box.
                painter.setBrush(self._hatch(overlay))
                plain = mine & ~lined
                painter.drawPath(rounded_rects(x[plain], y[plain], w[plain], h[plain], RADIUS))
                painter.drawPath(top_bands(x[banded], y[banded], w[banded], TITLE_HEIGHT, RADIUS))
        painter.setPen(border_pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(rounded_rects(x[~io], y[~io], w[~io], h[~io], RADIUS))
        painter.drawPath(rounded_rects(x[io], y[io], w[io], h[io], h[io] / 2))
        if zoom < TITLE_ZOOM:
            return
        show_lines = zoom >= LINES_ZOOM
        if not show_lines and lined.any():
            self._paint_greeked_lines(painter, boxes[lined])
        line_metrics = QFontMetricsF(self.line_font)
        node = int(ItemKind.NODE)
        title_pens = {key: t.header_text if overlay is None else overlay.title_text(key, t) for key in np.unique(keys).tolist()}
        for i, key, is_io, is_lined, is_group in zip(
            boxes.tolist(), keys.tolist(), io.tolist(), g.has_lines[boxes].tolist(), group.tolist(), strict=True
        ):
            bx, by, bw, bh = float(s.x[i]), float(s.y[i]), float(s.w[i]), float(s.h[i])
            indent = bh / 4 if is_io else 6.0  # inside the pill's rounded end
            band_h = TITLE_HEIGHT if is_lined else bh
            font, metrics, text = self._title_of(i, bw - 2 * indent - (MARKER_SIZE + 6 if is_group else 0.0))
            painter.setFont(font)
            painter.setPen(t.text if is_io else title_pens[key])
            painter.drawText(QPointF(bx + indent, by + (band_h + metrics.ascent() - metrics.descent()) / 2), text)
            if is_group:
                self._paint_marker(painter, i, "+", zoom)
            elif s.kind[i] == node and getattr(s.ref[i], "subgraphs", None):
                self._paint_subgraph_badge(painter, bx, by, bw, band_h)
            if show_lines and is_lined:
                painter.setFont(self.line_font)
                painter.setPen(t.muted_text if is_io else t.text)
                ly = by + TITLE_HEIGHT + 2 + line_metrics.ascent()
                for line in self._lines_of(i, line_metrics, bw - 2 * indent):
                    if ly > by + bh - 2:
                        break
                    painter.drawText(QPointF(bx + indent, ly), line)
                    ly += LINE_HEIGHT

    def _title_of(self, i: int, width: float) -> tuple[QFont, QFontMetricsF, str]:
        """Item ``i``'s title fitted to its box, measured once per item."""
        got = self._titles.get(i)
        if got is None:
            got = self._titles[i] = self._fit_title(self.scene.title[i], width)
        return got

    def _lines_of(self, i: int, metrics: QFontMetricsF, width: float) -> list[str]:
        """Item ``i``'s lines elided to its box, measured once per item."""
        got = self._lines.get(i)
        if got is None:
            got = self._lines[i] = [_elide(metrics, line, width) for line in self.scene.lines[i]]
        return got

    def _paint_subgraph_badge(self, painter: QPainter, x: float, y: float, w: float, band_h: float) -> None:
        """Two stacked squares at the title's right: this node holds graphs (double-click opens)."""
        size = min(8.0, band_h * 0.45)
        right = x + w - 6
        top = y + (min(band_h, TITLE_HEIGHT) - size) / 2 - 1
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(self._pen(self.theme.header_text, 1.0, 1.0))
        painter.drawRect(QRectF(right - size, top + 2, size - 2, size - 2))
        painter.drawRect(QRectF(right - size + 2, top, size - 2, size - 2))

    def _paint_greeked_lines(self, painter: QPainter, boxes: np.ndarray) -> None:
        """Lines too small to read drawn as bars (one path), so a box's body still shows how much it holds."""
        s = self.scene
        g = self.geometry
        counts = g.line_ptr[boxes + 1] - g.line_ptr[boxes]
        owner = np.repeat(boxes, counts)
        k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)  # line number in its box
        chars = g.line_chars[np.repeat(g.line_ptr[boxes], counts) + k]
        top = s.y[owner] + TITLE_HEIGHT + 5 + k * LINE_HEIGHT
        fits = top + GREEK_BAR <= s.y[owner] + s.h[owner]
        width = np.minimum(chars * GREEK_CHAR_WIDTH, s.w[owner] - 12)
        colour = QColor(self.theme.muted_text)
        colour.setAlpha(110)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(colour))
        painter.drawPath(rects(s.x[owner][fits] + 6, top[fits], width[fits], np.full(int(fits.sum()), GREEK_BAR)))

    def _paint_selection(self, painter: QPainter, zoom: float, visible: QRectF) -> None:
        s = self.scene
        t = self.theme
        g = self.geometry
        clip = _rect_tuple(visible)
        if self.selected_edge is not None and self.selected_edge < len(s.edge_src):
            chosen = g.pieces.edge_pieces(np.array([self.selected_edge]))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(self._pen(t.highlight_edge, 3.0, zoom))
            painter.drawPath(g.pieces.path(chosen, clip))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(t.highlight_edge))
            painter.drawPath(arrowheads_path(s.edge_points, s.edge_offsets, np.array([self.selected_edge])))
        i = self.selected_item
        if i is not None and i < s.size and len(s.edge_src) and zoom >= ARROW_ZOOM:
            # The selected box's inputs and outputs stand out from the other edges.
            touching = np.flatnonzero((s.edge_src == i) | (s.edge_dst == i))
            if len(touching):
                chosen = g.pieces.edge_pieces(touching)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(self._pen(t.highlight_edge, 2.0, zoom))
                painter.drawPath(g.pieces.path(chosen, clip))
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QBrush(t.highlight_edge))
                painter.drawPath(arrowheads_path(s.edge_points, s.edge_offsets, touching))
        if i is not None and i < s.size:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(self._pen(t.selection, 3.0, zoom))
            pad = 2.0 / max(zoom, 1e-6)
            painter.drawRoundedRect(QRectF(s.x[i], s.y[i], s.w[i], s.h[i]).adjusted(-pad, -pad, pad, pad), 5, 5)


def _rect_tuple(rect: QRectF) -> tuple[float, float, float, float]:
    return (rect.left(), rect.top(), rect.right(), rect.bottom())
