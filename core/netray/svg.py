"""A :class:`netray.scene.Scene` as SVG, written without Qt.

The picture follows the viewer's painter (``netray_viewer.painter``) at full detail:
translucent nested frames with their titles on patches, edges with rounded bends,
arrowheads and shape labels, boxes with a coloured title band over their attribute
and weight lines, stacked outlines for collapsed groups, pills for inputs and
outputs. Text stays text (searchable, selectable). Sizes come from the same
character-width estimates the layout used (:mod:`netray.labels`), so no font
metrics are needed: titles that would not fit shrink to 9px, then are cut with "…".
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape

import numpy as np

from netray.labels import CHAR_WIDTH, TITLE_CHAR_WIDTH
from netray.palette import Palette, frame_interior, rgba
from netray.scene import ItemKind, Scene

MARGIN = 24.0  # scene units of background around the graph
TITLE_HEIGHT = 22.0  # the painter's header band of a box with further lines
LINE_HEIGHT = 14.0
TITLE_PX = 11
LINE_PX = 10
EDGE_PX = 9
ARROW_LENGTH = 7.0
ARROW_HALF_WIDTH = 3.5
MARKER_SIZE = 12.0
RADIUS = 4.0
FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"


def _n(x: float) -> str:
    """A coordinate, short: two decimals at most."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _paint(colour: str, attribute: str) -> str:
    """``fill="#rrggbb"`` (with ``fill-opacity`` for ``#rrggbbaa``)."""
    r, g, b, a = rgba(colour)
    text = f'{attribute}="#{r:02x}{g:02x}{b:02x}"'
    return text + (f' {attribute}-opacity="{_n(a / 255)}"' if a < 255 else "")


def _fit(text: str, width: float, char_width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` at ``char_width`` per character."""
    room = int(width // char_width)
    if len(text) <= room:
        return text
    return text[: max(room - 1, 0)] + "…" if room > 1 else ""


def _title(text: str, width: float) -> tuple[int, str]:
    """The largest title size (11, 10 or 9 px) at which ``text`` fits ``width``; else cut at 9px."""
    for px in (TITLE_PX, TITLE_PX - 1, TITLE_PX - 2):
        if len(text) * TITLE_CHAR_WIDTH * px / TITLE_PX <= width:
            return px, text
    px = TITLE_PX - 2
    return px, _fit(text, width, TITLE_CHAR_WIDTH * px / TITLE_PX)


def _text(x: float, y: float, text: str, css: str, colour: str, size: int | None = None) -> str:
    sized = f' font-size="{size}"' if size is not None else ""
    return f'<text x="{_n(x)}" y="{_n(y)}" class="{css}"{sized} {_paint(colour, "fill")}>{escape(text)}</text>'


def _baseline(top: float, height: float, px: int) -> float:
    """Where text of ``px`` sits centred in a band (the ascent of sans fonts is ~0.72 of their size)."""
    return top + height / 2 + 0.36 * px


def _edge_path(points: np.ndarray) -> str:
    """One edge as the painter draws it: straight ends, quadratic curves through the bends."""
    x, y = points[:, 0], points[:, 1]
    parts = [f"M{_n(x[0])} {_n(y[0])}"]
    if len(points) == 2:
        parts.append(f"L{_n(x[1])} {_n(y[1])}")
        return "".join(parts)
    for k in range(1, len(points) - 1):
        mx, my = (x[k] + x[k + 1]) / 2, (y[k] + y[k + 1]) / 2
        parts.append(f"Q{_n(x[k])} {_n(y[k])} {_n(mx)} {_n(my)}")
    parts.append(f"L{_n(x[-1])} {_n(y[-1])}")
    return "".join(parts)


def _arrowheads(scene: Scene, edges: np.ndarray) -> str:
    off = scene.edge_offsets
    ends = (off[edges + 1] - 1)[(off[edges + 1] - off[edges]) >= 2]
    if len(ends) == 0:
        return ""
    tip = scene.edge_points[ends]
    d = tip - scene.edge_points[ends - 1]
    length = np.hypot(d[:, 0], d[:, 1])
    length[length == 0] = 1.0
    d = d / length[:, None]
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
    base = tip - d * ARROW_LENGTH
    left, right = base + normal * ARROW_HALF_WIDTH, base - normal * ARROW_HALF_WIDTH
    return "".join(
        f"M{_n(t[0])} {_n(t[1])}L{_n(a[0])} {_n(a[1])}L{_n(b[0])} {_n(b[1])}Z"
        for t, a, b in zip(tip.tolist(), left.tolist(), right.tolist(), strict=True)
    )


class _Writer:
    def __init__(self, scene: Scene, palette: Palette) -> None:
        self.s = scene
        self.p = palette
        self.out: list[str] = []

    def frames(self, frames: np.ndarray) -> None:
        s, p = self.s, self.p
        style = f'{_paint(p.frame_fill, "fill")} {_paint(p.frame_border, "stroke")}'
        for i in frames.tolist():
            self.out.append(f'<rect x="{_n(s.x[i])}" y="{_n(s.y[i])}" width="{_n(s.w[i])}" height="{_n(s.h[i])}" rx="8" {style}/>')

    def frame_titles(self, frames: np.ndarray) -> None:
        s, p = self.s, self.p
        if not len(frames):
            return
        outermost = int(s.depth.min())
        for i in frames.tolist():
            text = _fit(s.title[i], s.w[i] - MARKER_SIZE - 16, TITLE_CHAR_WIDTH)
            patch = _paint(frame_interior(p, int(s.depth[i]) - outermost + 1), "fill")
            width = len(text) * TITLE_CHAR_WIDTH + 8
            self.out.append(f'<rect x="{_n(s.x[i] + 4)}" y="{_n(s.y[i] + 3)}" width="{_n(width)}" height="15" rx="3" {patch}/>')
            self.out.append(_text(s.x[i] + 8, s.y[i] + 15, text, "t", p.frame_text))
            self.marker(i, plus=False)

    def marker(self, i: int, plus: bool) -> None:
        s, p = self.s, self.p
        x, y = s.x[i] + s.w[i] - MARKER_SIZE - 4, s.y[i] + 4
        cx, cy, r = x + MARKER_SIZE / 2, y + MARKER_SIZE / 2, MARKER_SIZE * 0.3
        self.out.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(MARKER_SIZE)}" height="{_n(MARKER_SIZE)}" {_paint(p.background, "fill")} {_paint(p.frame_border, "stroke")}/>')
        sign = f"M{_n(cx - r)} {_n(cy)}H{_n(cx + r)}" + (f"M{_n(cx)} {_n(cy - r)}V{_n(cy + r)}" if plus else "")
        self.out.append(f'<path d="{sign}" fill="none" {_paint(p.text, "stroke")}/>')

    def edges(self) -> None:
        s, p = self.s, self.p
        n = len(s.edge_src)
        if n == 0:
            return
        control = s.edge_control if len(s.edge_control) == n else np.zeros(n, bool)
        for dashed, colour in ((False, p.edge), (True, p.control_edge)):
            chosen = [j for j in np.flatnonzero(control == dashed).tolist() if s.edge_offsets[j + 1] - s.edge_offsets[j] >= 2]
            if chosen:
                d = "".join(_edge_path(s.edge_polyline(j)) for j in chosen)
                dash = ' stroke-dasharray="4 3"' if dashed else ""
                self.out.append(f'<path d="{d}" fill="none" {_paint(colour, "stroke")}{dash}/>')
        heads = _arrowheads(s, np.arange(n))
        if heads:
            self.out.append(f'<path d="{heads}" {_paint(p.edge, "fill")}/>')

    def edge_labels(self) -> None:
        """Shape labels where the layout placed them (:mod:`netray.layout.edge_labels`)."""
        s, p = self.s, self.p
        n = len(s.edge_src)
        if len(s.edge_label) != n or len(s.edge_label_x) != n:
            return
        for j in np.flatnonzero(np.isfinite(s.edge_label_x)).tolist():
            x, y = float(s.edge_label_x[j]), float(s.edge_label_y[j])
            self.out.append(_text(x, y + EDGE_PX * 0.9, s.edge_label[j], "e", p.edge_label))

    def boxes(self, boxes: Iterable[int]) -> None:
        s, p = self.s, self.p
        border = _paint(p.border, "stroke")
        for i in boxes:
            x, y, w, h = float(s.x[i]), float(s.y[i]), float(s.w[i]), float(s.h[i])
            kind, category = s.kind[i], s.category[i]
            rect = f'x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}"'
            if kind in (ItemKind.INPUT, ItemKind.OUTPUT):
                self.out.append(f'<rect {rect} rx="{_n(h / 2)}" {_paint(p.fill(category), "fill")} {border}/>')
                px, text = _title(s.title[i], w - h / 2)
                self.out.append(_text(x + h / 4, _baseline(y, h, px), text, "t", p.text, px))
                continue
            has_lines = bool(s.lines[i]) and h > TITLE_HEIGHT + 2
            body = p.fill(category) if has_lines else p.header(category)
            if kind == ItemKind.GROUP:  # a collapsed group looks stacked: a second box peeking out
                self.out.append(f'<rect x="{_n(x + 3)}" y="{_n(y + 3)}" width="{_n(w)}" height="{_n(h)}" rx="{RADIUS}" {_paint(body, "fill")} {border}/>')
            self.out.append(f'<rect {rect} rx="{RADIUS}" {_paint(body, "fill")} {border}/>')
            band = h
            if has_lines:
                band = TITLE_HEIGHT
                r = RADIUS
                d = f"M{_n(x + 0.5)} {_n(y + band)}V{_n(y + r)}Q{_n(x + 0.5)} {_n(y + 0.5)} {_n(x + r)} {_n(y + 0.5)}H{_n(x + w - r)}Q{_n(x + w - 0.5)} {_n(y + 0.5)} {_n(x + w - 0.5)} {_n(y + r)}V{_n(y + band)}Z"
                self.out.append(f'<path d="{d}" {_paint(p.header(category), "fill")}/>')
            marker_room = MARKER_SIZE + 6 if kind == ItemKind.GROUP else 0.0
            px, text = _title(s.title[i], w - 12 - marker_room)
            self.out.append(_text(x + 6, _baseline(y, band, px), text, "t", p.header_text, px))
            if kind == ItemKind.GROUP:
                self.marker(i, plus=True)
            if has_lines:
                ly = y + TITLE_HEIGHT + 2 + LINE_PX * 0.95
                for line in s.lines[i]:
                    if ly > y + h - 2:
                        break
                    self.out.append(_text(x + 6, ly, _fit(line, w - 12, CHAR_WIDTH * LINE_PX / 11), "l", p.text))
                    ly += LINE_HEIGHT


def scene_svg(scene: Scene, palette: Palette, title: str = "", *, edge_labels: bool = True) -> bytes:
    """The whole scene as a standalone SVG document, one user unit per scene unit.

    ``edge_labels`` draws the tensor shapes on edges (the viewer's Show Edge Shapes).
    """
    left, top, right, bottom = scene.bounds()
    left, top = left - MARGIN, top - MARGIN
    width, height = right - left + MARGIN, bottom - top + MARGIN
    w = _Writer(scene, palette)
    items = np.arange(scene.size)
    frames = items[scene.kind == ItemKind.FRAME]
    frames = frames[np.argsort(scene.depth[frames], kind="stable")]
    boxes = items[scene.kind != ItemKind.FRAME]
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_n(width)}" height="{_n(height)}" viewBox="{_n(left)} {_n(top)} {_n(width)} {_n(height)}">',
        f"<title>{escape(title or 'netray graph')}</title>",
        "<desc>Drawn by netray</desc>",
        f"<style>text{{font-family:{FONT}}} .t{{font-size:{TITLE_PX}px;font-weight:bold}} .l{{font-size:{LINE_PX}px}} .e{{font-size:{EDGE_PX}px}}</style>",
        f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(width)}" height="{_n(height)}" {_paint(palette.background, "fill")}/>',
    ]
    w.frames(frames)
    w.edges()
    if edge_labels:
        w.edge_labels()
    w.frame_titles(frames)
    w.boxes(boxes.tolist())
    return "\n".join([*head, *w.out, "</svg>", ""]).encode("utf-8")
