"""The graph canvas: a pyqtgraph view that paints a Scene and turns input into signals.

One :class:`SceneItem` paints the visible part of the Scene each frame through
:class:`~netray_viewer.painter.ScenePainter`. The ViewBox gives zoom toward the
pointer (wheel) and panning (drag), within limits (:class:`BoundedViewBox`: never so
far out that the graph is a speck, never beyond 8 pixels per unit); keys and pinch
gestures are added here. Clicks are resolved to an item, an edge, a group's +/-
marker, or empty space; a right click asks for a context menu.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QKeyEvent, QNativeGestureEvent, QPainter
from PyQt6.QtWidgets import QGestureEvent, QLabel, QPinchGesture, QStyleOptionGraphicsItem, QWidget

from netray.scene import ItemKind, Scene
from netray_viewer.geometry import SceneGeometry
from netray_viewer.painter import EDGE_LABEL_ZOOM, LINES_ZOOM, ScenePainter, expand_marker_rect
from netray_viewer.picking import nearest_edge
from netray_viewer.theme import Theme

PICK_PIXELS = 6.0  # how near (on screen) a click must be to an edge to pick it
KEY_ZOOM = 1.25
MAX_FIT_ZOOM = 1.25
START_MAX_ZOOM = 1.0  # the first view of a graph never magnifies beyond 1:1
START_MIN_ZOOM = max(LINES_ZOOM, EDGE_LABEL_ZOOM) + 0.1  # ... and shows attribute lines and shapes
KEY_PAN_FRACTION = 0.15
MAX_ZOOM = 8.0  # pixels per scene unit: a box's text at 8x its size is as close as anyone needs
MIN_ZOOM_SHARE = 0.5  # zoomed out, the graph still spans at least half the view along one side
MIN_ZOOM_CEILING = 0.5  # ... but a small graph may always be seen at half size


class BoundedViewBox(pg.ViewBox):
    """A ViewBox whose wheel, drag and pinch zoom stays within ``zoom_limits()`` (pixels per unit)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zoom_limits: tuple[float, float] = (1e-9, MAX_ZOOM)

    def scaleBy(self, s: Any = None, center: Any = None, x: Any = None, y: Any = None) -> None:
        # The aspect is locked: pyqtgraph scales both axes by the y factor when both are given.
        given = (s[1], s[0]) if s is not None else (y, x)
        factor = next((f for f in given if f is not None), None)
        if factor is None:
            return
        rect = self.viewRect()
        pixels = max(self.width(), 1.0)
        zoom = pixels / rect.width() if rect.width() > 0 else 1.0
        low, high = self.zoom_limits
        # A scale s multiplies the view's extent: the new zoom is zoom / s.
        target = min(max(zoom / float(factor), low), high)
        if abs(target - zoom) <= 1e-12 * zoom:
            return
        clamped = zoom / target
        super().scaleBy((clamped, clamped), center)


def hover_text(scene: Scene, i: int) -> str:
    """``Conv — /backbone/block1/conv/Conv`` for a node; the title alone for groups and values."""
    name = getattr(scene.ref[i], "name", "")
    title = scene.title[i]
    return f"{title} — {name}" if name and name != title and scene.kind[i] == ItemKind.NODE else title


class SceneItem(pg.GraphicsObject):
    """Paints one Scene; knows nothing about input."""

    def __init__(self) -> None:
        super().__init__()
        self.painter: ScenePainter | None = None
        self.last_drawn = 0  # boxes drawn in the last frame
        self.frames_painted = 0
        self._bounds = QRectF(0, 0, 1, 1)

    def set_painter(self, painter: ScenePainter | None) -> None:
        self.prepareGeometryChange()
        self.painter = painter
        if painter is not None:
            left, top, right, bottom = painter.scene.bounds()
            self._bounds = QRectF(left, top, right - left, bottom - top).adjusted(-20, -20, 20, 20)
        else:
            self._bounds = QRectF(0, 0, 1, 1)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem | None, widget: QWidget | None = None) -> None:  # type: ignore[override]
        if self.painter is None:
            return
        view = self.getViewBox()
        visible = view.viewRect() if view is not None else self._bounds
        zoom = abs(p.transform().m11()) or 1.0
        self.last_drawn = self.painter.paint(p, visible, zoom)
        self.frames_painted += 1


class GraphCanvas(pg.GraphicsView):
    """The zoomable, pannable view of the current Scene."""

    item_clicked = pyqtSignal(int)
    item_double_clicked = pyqtSignal(int)
    marker_clicked = pyqtSignal(int)  # a group's +/- marker or a frame's label
    edge_clicked = pyqtSignal(int)
    empty_clicked = pyqtSignal()
    context_requested = pyqtSignal(int, QPoint)  # item (-1: empty space), global position
    view_changed = pyqtSignal()
    resized = pyqtSignal()

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setBackground(theme.background)
        self.view_box = BoundedViewBox(invertY=True, lockAspect=True, enableMenu=False)
        self.setCentralItem(self.view_box)
        self.item = SceneItem()
        self.view_box.addItem(self.item)
        self.view_box.sigRangeChanged.connect(lambda *_: self.view_changed.emit())
        self.scene().sigMouseClicked.connect(self._on_click)
        self.scene().sigMouseMoved.connect(self._on_hover)
        self._hovered: int | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().grabGesture(Qt.GestureType.PinchGesture)
        self.scene_data: Scene | None = None
        self.placeholder = QLabel("Open a model file: File › Open…, or drop it here", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet(f"color: {theme.muted_text.name()}; font-size: 15px;")

    # -- content --------------------------------------------------------------------
    @property
    def scene_painter(self) -> ScenePainter | None:
        return self.item.painter

    def set_scene(self, scene: Scene | None, fit: bool = True, geometry: SceneGeometry | None = None, edge_labels: bool = True) -> None:
        self.scene_data = scene
        self._hovered = None
        self.placeholder.setVisible(scene is None)
        painter = ScenePainter(scene, self.theme, geometry) if scene is not None else None
        if painter is not None:
            painter.show_edge_labels = edge_labels
        self.item.set_painter(painter)
        self._update_zoom_limits()
        if fit:
            self.show_start()
        self.view_changed.emit()

    def fit_zoom(self) -> float:
        """The zoom at which the whole scene just fits the view."""
        if self.scene_data is None:
            return 1.0
        left, top, right, bottom = self.scene_data.bounds()
        width, height = max(self.view_box.width(), 1.0), max(self.view_box.height(), 1.0)
        return min(width / max(right - left, 1.0), height / max(bottom - top, 1.0))

    def _update_zoom_limits(self) -> None:
        """Zoomed out, the graph keeps at least half the view; zoomed in, at most MAX_ZOOM."""
        low = min(self.fit_zoom() * MIN_ZOOM_SHARE, MIN_ZOOM_CEILING)
        self.view_box.zoom_limits = (low, MAX_ZOOM)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        self.placeholder.setStyleSheet(f"color: {theme.muted_text.name()}; font-size: 15px;")
        if self.item.painter is not None:
            self.item.painter.theme = theme
        self.item.update()

    def select(self, item: int | None = None, edge: int | None = None) -> None:
        painter = self.item.painter
        if painter is not None:
            painter.selected_item = item
            painter.selected_edge = edge
            self.item.update()

    # -- view -----------------------------------------------------------------------
    def zoom(self) -> float:
        """Screen pixels per scene unit."""
        w = self.view_box.viewRect().width()
        return self.view_box.width() / w if w > 0 else 1.0

    def fit(self) -> None:
        """Show the whole scene, but never magnified beyond MAX_FIT_ZOOM (small graphs stay crisp, not huge)."""
        if self.scene_data is None:
            return
        left, top, right, bottom = self.scene_data.bounds()
        rect = QRectF(left, top, right - left, bottom - top)
        width, height = max(self.view_box.width(), 1.0), max(self.view_box.height(), 1.0)
        min_w, min_h = width / MAX_FIT_ZOOM, height / MAX_FIT_ZOOM
        if rect.width() < min_w and rect.height() < min_h:
            centre = rect.center()
            rect = QRectF(0, 0, min_w, min_h)
            rect.moveCenter(centre)
            self.view_box.setRange(rect, padding=0)
            return
        self.view_box.setRange(rect, padding=0.04)

    def show_start(self) -> None:
        """The first view of a graph: all of it if its attribute lines stay readable, else
        its top (the inputs) at a readable zoom, as Netron opens; F fits the whole graph."""
        if self.scene_data is None:
            return
        left, top, right, bottom = self.scene_data.bounds()
        width, height = max(self.view_box.width(), 1.0), max(self.view_box.height(), 1.0)
        margin = 24.0
        fit_width = width / (right - left + 2 * margin)
        zoom = max(min(fit_width, START_MAX_ZOOM), START_MIN_ZOOM)
        if (bottom - top + 2 * margin) * zoom <= height and fit_width >= START_MIN_ZOOM:
            self.fit()
            return
        view_w, view_h = width / zoom, height / zoom
        # Centre on the top rows' boxes, not on the whole graph's bounds: a wide middle
        # must not push the inputs out of view.
        band = self.scene_data.items_in(left, top, right, top + view_h)
        centres = self.scene_data.x[band] + self.scene_data.w[band] / 2
        # The middle box by sort order (np.median would import numpy.ma: ~10 ms of start-up).
        cx = float(np.sort(centres)[band.size // 2]) if band.size else (left + right) / 2
        cx = min(max(cx, left - margin + view_w / 2), right + margin - view_w / 2) if view_w < right - left else cx
        self.view_box.setRange(QRectF(cx - view_w / 2, top - margin, view_w, view_h), padding=0)

    def centre_on(self, x: float, y: float, min_zoom: float = 0.0) -> None:
        """Move the view's centre to (x, y); zoom in to at least ``min_zoom`` if farther out."""
        rect = self.view_box.viewRect()
        zoom = self.zoom()
        if min_zoom and zoom < min_zoom:
            factor = zoom / min_zoom
            rect = QRectF(0, 0, rect.width() * factor, rect.height() * factor)
        rect.moveCenter(QPointF(x, y))
        self.view_box.setRange(rect, padding=0)

    def zoom_by(self, factor: float, centre: QPointF | None = None) -> None:
        """Zoom in by ``factor`` (>1) or out (<1) around ``centre`` (scene units)."""
        c = centre if centre is not None else self.view_box.viewRect().center()
        self.view_box.scaleBy((1 / factor, 1 / factor), center=c)

    def map_to_widget(self, x: float, y: float) -> QPointF:
        """Scene units -> this widget's pixel coordinates (used by tests and the minimap)."""
        scene_pos = self.view_box.mapViewToScene(QPointF(x, y))
        return QPointF(self.mapFromScene(scene_pos))

    def resizeEvent(self, ev: Any) -> None:
        super().resizeEvent(ev)
        placeholder = getattr(self, "placeholder", None)  # pyqtgraph resizes during its own __init__
        if placeholder is not None:
            placeholder.setGeometry(self.rect())
            self._update_zoom_limits()
        self.resized.emit()

    # -- input ----------------------------------------------------------------------
    def _on_click(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.RightButton and self.scene_data is not None:
            pos = self.view_box.mapSceneToView(ev.scenePos())
            i = self.scene_data.item_at(pos.x(), pos.y())
            ev.accept()
            self.context_requested.emit(-1 if i is None else i, ev.screenPos().toPoint())
            return
        if ev.button() != Qt.MouseButton.LeftButton or self.scene_data is None:
            return
        pos = self.view_box.mapSceneToView(ev.scenePos())
        self.setFocus()
        self.handle_click(pos.x(), pos.y(), double=bool(ev.double()))

    def _on_hover(self, scene_pos: QPointF) -> None:
        """Tooltip with the item's full title and name: what the box cannot show when far out."""
        scene = self.scene_data
        if scene is None:
            return
        pos = self.view_box.mapSceneToView(scene_pos)
        i = scene.item_at(pos.x(), pos.y())
        if i == self._hovered:
            return
        self._hovered = i
        viewport = self.viewport()
        if viewport is not None:
            viewport.setToolTip(hover_text(scene, i) if i is not None else "")

    def handle_click(self, x: float, y: float, double: bool = False) -> None:
        """Resolve a click at scene point (x, y) to a signal."""
        scene = self.scene_data
        painter = self.item.painter
        if scene is None or painter is None:
            return
        i = scene.item_at(x, y)
        if i is not None and scene.kind[i] in (ItemKind.GROUP, ItemKind.FRAME):
            if expand_marker_rect(scene.x[i], scene.y[i], scene.w[i]).adjusted(-3, -3, 3, 3).contains(QPointF(x, y)):
                self.marker_clicked.emit(i)
                return
        if i is not None and scene.kind[i] != ItemKind.FRAME:
            (self.item_double_clicked if double else self.item_clicked).emit(i)
            return
        j = nearest_edge(scene, painter.geometry, x, y, PICK_PIXELS / max(self.zoom(), 1e-6))
        if j is not None and not double:
            self.edge_clicked.emit(j)
            return
        if i is not None:  # inside a frame: double-click collapses, click selects the group
            (self.marker_clicked if double else self.item_clicked).emit(i)
            return
        if not double:
            self.empty_clicked.emit()

    def keyPressEvent(self, ev: QKeyEvent | None) -> None:
        if ev is None:
            return
        key = ev.key()
        rect = self.view_box.viewRect()
        step_x = rect.width() * KEY_PAN_FRACTION
        step_y = rect.height() * KEY_PAN_FRACTION
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(KEY_ZOOM)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_by(1 / KEY_ZOOM)
        elif key in (Qt.Key.Key_F, Qt.Key.Key_0):
            self.fit()
        elif key == Qt.Key.Key_Left:
            self.view_box.translateBy(x=-step_x)
        elif key == Qt.Key.Key_Right:
            self.view_box.translateBy(x=step_x)
        elif key == Qt.Key.Key_Up:
            self.view_box.translateBy(y=-step_y)
        elif key == Qt.Key.Key_Down:
            self.view_box.translateBy(y=step_y)
        else:
            super().keyPressEvent(ev)
            return
        ev.accept()

    def viewportEvent(self, ev: QEvent | None) -> bool:
        """Pinch to zoom: Qt gestures (touch screens) and native zoom (trackpads)."""
        if ev is not None and ev.type() == QEvent.Type.Gesture and isinstance(ev, QGestureEvent):
            pinch = ev.gesture(Qt.GestureType.PinchGesture)
            if isinstance(pinch, QPinchGesture):
                factor = pinch.scaleFactor()
                if factor > 0:
                    centre = self.view_box.mapSceneToView(self.mapToScene(pinch.centerPoint().toPoint()))
                    self.zoom_by(factor, centre)
                ev.accept()
                return True
        if ev is not None and ev.type() == QEvent.Type.NativeGesture and isinstance(ev, QNativeGestureEvent):
            if ev.gestureType() == Qt.NativeGestureType.ZoomNativeGesture:
                centre = self.view_box.mapSceneToView(self.mapToScene(ev.position().toPoint()))
                self.zoom_by(1.0 + ev.value(), centre)
                return True
        return super().viewportEvent(ev)
