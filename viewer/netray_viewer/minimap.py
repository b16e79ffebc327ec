"""A small overview of the scene with the view's rectangle: click to go, drag the rectangle to pan.

The overview keeps the graph's aspect. A graph too long to fit at a useful width (a
100-layer decoder is 160 times taller than wide) is drawn at least MIN_WIDTH pixels
wide, and the minimap shows the stretch of it around the view, scrolling as the view
moves. A click or drag never sends the view off the graph: the requested centre is
kept where the view still shows graph.
"""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QWidget

from netray_viewer.painter import ScenePainter

MAX_SIDE = 240  # pixels: the overview's longer side at most
MIN_WIDTH = 60  # pixels: the overview's shorter side at least (a long graph then scrolls)
MAX_IMAGE_SIDE = 8192  # pixels of the rendered overview along the long side
BORDER = 2


class Minimap(QWidget):
    """Renders the scene once into an image (per scene and theme); then only the rectangle moves."""

    centre_requested = pyqtSignal(float, float)  # scene coordinates

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.painter: ScenePainter | None = None
        self.image: QImage | None = None
        self.view_rect = QRectF()
        self.scale = 1.0  # minimap pixels per scene unit
        self.bounds = QRectF()  # the scene's bounds
        self.scrolled = 0.0  # image pixels scrolled along the long axis
        self.vertical = True  # the long axis is y
        self._grab: QPointF | None = None  # where in the view rectangle a drag holds it (scene units)
        self._dragging = False  # a long overview does not scroll under the pointer while dragging
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setVisible(False)

    # -- content ------------------------------------------------------------------------------
    def set_painter(self, painter: ScenePainter | None) -> None:
        self.painter = painter
        self.image = None
        if painter is None:
            self.setVisible(False)
            return
        left, top, right, bottom = painter.scene.bounds()
        self.bounds = QRectF(left, top, max(right - left, 1.0), max(bottom - top, 1.0))
        w, h = self.bounds.width(), self.bounds.height()
        self.vertical = h >= w
        long_side, short_side = max(w, h), min(w, h)
        scale = MAX_SIDE / long_side
        if short_side * scale < MIN_WIDTH:  # too thin to see: wider, and scroll along the long side
            scale = min(MIN_WIDTH / short_side, MAX_IMAGE_SIDE / long_side, MAX_SIDE / short_side)
        self.scale = scale
        shown_w = min(w * scale, MAX_SIDE) if not self.vertical else w * scale
        shown_h = min(h * scale, MAX_SIDE) if self.vertical else h * scale
        self.setFixedSize(max(int(shown_w), 24) + 2 * BORDER, max(int(shown_h), 24) + 2 * BORDER)
        self._follow_view()
        self.update()

    def set_view_rect(self, rect: QRectF) -> None:
        """Move the view rectangle; the minimap hides while the whole scene is in view."""
        self.view_rect = QRectF(rect)
        if self.painter is not None:
            self.setVisible(not rect.contains(self.bounds))
        self._follow_view()
        self.update()

    @property
    def scrolls(self) -> bool:
        """Whether the overview is longer than the minimap (it then shows the part around the view)."""
        long_side = self.bounds.height() if self.vertical else self.bounds.width()
        return long_side * self.scale > (self.height() if self.vertical else self.width()) - 2 * BORDER + 0.5

    def _follow_view(self) -> None:
        """Scroll a long overview so the view's rectangle sits in the middle where it can."""
        if self._dragging:
            return
        if self.painter is None or not self.scrolls or self.view_rect.isNull():
            self.scrolled = 0.0
            return
        if self.vertical:
            total, shown, centre = self.bounds.height() * self.scale, self.height() - 2 * BORDER, (self.view_rect.center().y() - self.bounds.top()) * self.scale
        else:
            total, shown, centre = self.bounds.width() * self.scale, self.width() - 2 * BORDER, (self.view_rect.center().x() - self.bounds.left()) * self.scale
        self.scrolled = min(max(centre - shown / 2, 0.0), max(total - shown, 0.0))

    def _render(self) -> QImage:
        assert self.painter is not None
        width = max(int(self.bounds.width() * self.scale), 1)
        height = max(int(self.bounds.height() * self.scale), 1)
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        p = QPainter(image)
        p.scale(self.scale, self.scale)
        p.translate(-self.bounds.topLeft())
        selected = (self.painter.selected_item, self.painter.selected_edge)
        self.painter.selected_item = self.painter.selected_edge = None  # the overview shows no selection
        self.painter.paint(p, QRectF(self.bounds), self.scale)
        self.painter.selected_item, self.painter.selected_edge = selected
        p.end()
        return image

    # -- coordinates ----------------------------------------------------------------------------
    def to_map(self, x: float, y: float) -> QPointF:
        """Scene -> widget pixels."""
        mx = (x - self.bounds.left()) * self.scale + BORDER - (0.0 if self.vertical else self.scrolled)
        my = (y - self.bounds.top()) * self.scale + BORDER - (self.scrolled if self.vertical else 0.0)
        return QPointF(mx, my)

    def to_scene(self, pos: QPointF) -> QPointF:
        """Widget pixels -> scene."""
        x = (pos.x() - BORDER + (0.0 if self.vertical else self.scrolled)) / self.scale + self.bounds.left()
        y = (pos.y() - BORDER + (self.scrolled if self.vertical else 0.0)) / self.scale + self.bounds.top()
        return QPointF(x, y)

    def kept_on_graph(self, x: float, y: float) -> QPointF:
        """A view centre at (x, y), moved where the view still shows graph (all of it along a side it spans)."""
        half_w, half_h = self.view_rect.width() / 2, self.view_rect.height() / 2
        b = self.bounds

        def clamp(v: float, low: float, high: float, half: float) -> float:
            if high - low <= 2 * half:  # the view spans the graph this way: centre on it
                return (low + high) / 2
            return min(max(v, low + half), high - half)

        return QPointF(clamp(x, b.left(), b.right(), half_w), clamp(y, b.top(), b.bottom(), half_h))

    # -- painting -----------------------------------------------------------------------------
    def paintEvent(self, a0: QPaintEvent | None) -> None:
        if self.painter is None:
            return
        if self.image is None:
            self.image = self._render()
        p = QPainter(self)
        theme = self.painter.theme
        background = QColor(theme.background)
        background.setAlpha(235)
        p.fillRect(self.rect(), background)
        p.setPen(QPen(theme.border, 1))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        inner = QRectF(self.rect()).adjusted(BORDER, BORDER, -BORDER, -BORDER)
        p.setClipRect(inner)
        origin = self.to_map(self.bounds.left(), self.bounds.top())
        p.drawImage(origin, self.image)
        if not self.view_rect.isNull():
            top_left = self.to_map(self.view_rect.left(), self.view_rect.top())
            bottom_right = self.to_map(self.view_rect.right(), self.view_rect.bottom())
            p.setPen(QPen(theme.view_rect, 1.5))
            shade = QColor(theme.view_rect)
            shade.setAlpha(40)  # the view's area shaded: it reads as a window even when wider than the graph
            p.setBrush(shade)
            p.drawRect(QRectF(top_left, bottom_right).intersected(inner.adjusted(-1, -1, 1, 1)))
        p.end()

    # -- input --------------------------------------------------------------------------------
    def _go(self, pos: QPointF) -> None:
        point = self.to_scene(pos)
        if self._grab is not None:  # dragging the rectangle: keep the spot it was held at under the pointer
            point = QPointF(point.x() - self._grab.x(), point.y() - self._grab.y())
        centre = self.kept_on_graph(point.x(), point.y())
        self.centre_requested.emit(centre.x(), centre.y())

    def mousePressEvent(self, a0: QMouseEvent | None) -> None:
        if a0 is None or self.painter is None or a0.button() != Qt.MouseButton.LeftButton:
            return
        self._dragging = True
        point = self.to_scene(a0.position())
        if self.view_rect.contains(point):
            centre = self.view_rect.center()
            self._grab = QPointF(point.x() - centre.x(), point.y() - centre.y())
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        else:
            self._grab = None
            self._go(a0.position())
        a0.accept()

    def mouseMoveEvent(self, a0: QMouseEvent | None) -> None:
        if a0 is not None and self.painter is not None and a0.buttons() & Qt.MouseButton.LeftButton:
            self._go(a0.position())
            a0.accept()

    def mouseReleaseEvent(self, a0: QMouseEvent | None) -> None:
        self._grab = None
        self._dragging = False
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._follow_view()
        self.update()
