"""A small overview of the whole scene with the view's rectangle; click or drag to move."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QWidget

from netray_viewer.painter import ScenePainter

SIZE = 180  # the longer side, in pixels


class Minimap(QWidget):
    """Renders the scene once into an image (per scene and theme), then only the rectangle moves."""

    centre_requested = pyqtSignal(float, float)  # scene coordinates

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.painter: ScenePainter | None = None
        self.image: QImage | None = None
        self.view_rect = QRectF()
        self._scale = 1.0
        self._origin = QPointF()
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setVisible(False)

    def set_painter(self, painter: ScenePainter | None) -> None:
        self.painter = painter
        self.image = None
        if painter is None:
            self.setVisible(False)
            return
        left, top, right, bottom = painter.scene.bounds()
        width, height = max(right - left, 1.0), max(bottom - top, 1.0)
        self._scale = SIZE / max(width, height)
        self._origin = QPointF(left, top)
        self.setFixedSize(max(int(width * self._scale), 24) + 4, max(int(height * self._scale), 24) + 4)
        self.update()

    def set_view_rect(self, rect: QRectF) -> None:
        """Move the view rectangle; the minimap hides while the whole scene is in view."""
        self.view_rect = QRectF(rect)
        if self.painter is not None:
            left, top, right, bottom = self.painter.scene.bounds()
            self.setVisible(not rect.contains(QRectF(left, top, right - left, bottom - top)))
        self.update()

    def _render(self) -> QImage:
        assert self.painter is not None
        image = QImage(self.width() - 4, self.height() - 4, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        p = QPainter(image)
        p.scale(self._scale, self._scale)
        p.translate(-self._origin)
        left, top, right, bottom = self.painter.scene.bounds()
        selected = (self.painter.selected_item, self.painter.selected_edge)
        self.painter.selected_item = self.painter.selected_edge = None  # the overview shows no selection
        self.painter.paint(p, QRectF(left, top, right - left, bottom - top), self._scale)
        self.painter.selected_item, self.painter.selected_edge = selected
        p.end()
        return image

    def _to_map(self, x: float, y: float) -> QPointF:
        return QPointF((x - self._origin.x()) * self._scale + 2, (y - self._origin.y()) * self._scale + 2)

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
        p.drawImage(2, 2, self.image)
        if not self.view_rect.isNull():
            top_left = self._to_map(self.view_rect.left(), self.view_rect.top())
            bottom_right = self._to_map(self.view_rect.right(), self.view_rect.bottom())
            p.setPen(QPen(theme.view_rect, 1.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(top_left, bottom_right).intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        p.end()

    def _move_to(self, pos: QPointF) -> None:
        x = (pos.x() - 2) / self._scale + self._origin.x()
        y = (pos.y() - 2) / self._scale + self._origin.y()
        self.centre_requested.emit(x, y)

    def mousePressEvent(self, a0: QMouseEvent | None) -> None:
        if a0 is not None and self.painter is not None:
            self._move_to(a0.position())

    def mouseMoveEvent(self, a0: QMouseEvent | None) -> None:
        if a0 is not None and self.painter is not None and a0.buttons() & Qt.MouseButton.LeftButton:
            self._move_to(a0.position())
