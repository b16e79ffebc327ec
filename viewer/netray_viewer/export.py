"""Draw a whole graph into SVG, PNG or PDF bytes with the viewer's own painter.

The picture matches the window: the same layout (``netray.layout``), the same
expansion modes (:meth:`netray.hierarchy.Hierarchy.expanded_for`), the same
:class:`~netray_viewer.painter.ScenePainter` and theme, but every item at full
level of detail (titles, attribute lines, edge labels) whatever the scene's size.
With a metric (:class:`Overlay`), boxes take the overlay's colours, as in the window,
and the legend is drawn above the graph. Called through :func:`netray.export`, which
picks the Qt platform first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPoint, QRectF, QSize, QSizeF
from PyQt6.QtGui import QFont, QFontInfo, QImage, QPageLayout, QPageSize, QPaintDevice, QPainter, QPdfWriter
from PyQt6.QtSvg import QSvgGenerator

from netray.exporter import build_scene
from netray.hierarchy import Hierarchy
from netray.ir import Graph
from netray.metrics import Metric
from netray.scene import Scene
from netray_viewer.overlay import OverlayPaint, OverlayState
from netray_viewer.painter import DETAIL_LIMIT, ScenePainter
from netray_viewer.theme import Theme, theme_named

MARGIN = 24.0  # scene units of background around the graph
FULL_DETAIL_ZOOM = 1.0  # above every level-of-detail threshold of the painter
PNG_SCALE = 2.0  # device pixels per scene unit: text stays sharp when zoomed in an image viewer
MAX_PNG_SIDE = 16384  # pixels; larger graphs are scaled down to fit
MAX_PNG_PIXELS = 1 << 27  # 512 MB of ARGB32 at most, whatever the aspect ratio
MAX_PDF_SIDE = 14400.0  # points (200 inches): the largest page PDF readers accept; larger graphs are scaled to fit


@dataclass(frozen=True)
class Overlay:
    """A metric to colour the picture's boxes by, and the hierarchy its collapsed groups total over."""

    metric: Metric
    hierarchy: Hierarchy | None = None


class _Decor:
    """What a picture draws besides the scene: the overlay's colours and its legend (sized before painting)."""

    def __init__(self, scene: Scene, theme: Theme, overlay: Overlay | None) -> None:
        from netray_viewer.legend import Legend

        self.painter = ScenePainter(scene, theme)
        self.legend: Legend | None = None
        if overlay is not None:
            paint = OverlayPaint.of(scene, overlay.hierarchy, OverlayState.of(overlay.metric), self.painter.geometry)
            self.painter.overlay = paint
            self.legend = Legend(theme)
            self.legend.set_overlay(paint, theme)

    def rect(self, scene: Scene) -> QRectF:
        """The scene's bounds plus the margin, and room above for the legend, in scene units."""
        rect = picture_rect(scene)
        if self.legend is not None:
            size = self.legend.size()
            rect.setTop(rect.top() - size.height() - MARGIN / 2)
            rect.setWidth(max(rect.width(), size.width() + 2 * MARGIN))
        return rect


def picture_rect(scene: Scene) -> QRectF:
    """The scene's bounds plus the margin, in scene units."""
    left, top, right, bottom = scene.bounds()
    return QRectF(left - MARGIN, top - MARGIN, right - left + 2 * MARGIN, bottom - top + 2 * MARGIN)


def png_scale(rect: QRectF) -> float:
    """Pixels per scene unit for a PNG of ``rect``: PNG_SCALE, less if a side or the area would be too large."""
    scale = min(PNG_SCALE, MAX_PNG_SIDE / rect.width(), MAX_PNG_SIDE / rect.height())
    area = rect.width() * rect.height() * scale * scale
    if area > MAX_PNG_PIXELS:
        scale *= (MAX_PNG_PIXELS / area) ** 0.5
    return scale


def paint_whole_scene(
    painter: QPainter, scene: Scene, theme: Theme, rect: QRectF, edge_labels: bool = True, decor: _Decor | None = None
) -> None:
    """Paint every item of ``scene`` at full detail, ``rect`` (scene units) filling the painter's window.

    The painter's :meth:`~ScenePainter.paint` switches to outline-only drawing above
    DETAIL_LIMIT items, right for a frame on screen but not for an export; such
    scenes go through :meth:`~ScenePainter.paint_full_detail`.
    """
    painter.fillRect(rect, theme.background)
    decor = decor or _Decor(scene, theme, None)
    scene_painter = decor.painter
    scene_painter.show_edge_labels = edge_labels
    if scene.size <= DETAIL_LIMIT:
        scene_painter.paint(painter, rect, FULL_DETAIL_ZOOM)
    else:
        scene_painter.paint_full_detail(painter, FULL_DETAIL_ZOOM)
    if decor.legend is not None:
        decor.legend.render(painter, QPoint(int(rect.left() + MARGIN), int(rect.top() + MARGIN / 2)))


def _paint_on(device: QPaintDevice, scene: Scene, theme: Theme, rect: QRectF, scale: float, edge_labels: bool, decor: _Decor) -> None:
    painter = QPainter()
    if not painter.begin(device):
        raise OSError("Qt could not start painting the export")
    try:
        painter.scale(scale, scale)
        painter.translate(-rect.left(), -rect.top())
        paint_whole_scene(painter, scene, theme, rect, edge_labels, decor)
    finally:
        painter.end()


def _buffer() -> tuple[QByteArray, QBuffer]:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    return data, buffer


def svg_bytes(scene: Scene, theme: Theme, title: str = "", edge_labels: bool = True, overlay: Overlay | None = None) -> bytes:
    """The scene as SVG 1.2 Tiny; labels are <text> elements, so they stay searchable and selectable."""
    decor = _Decor(scene, theme, overlay)
    rect = decor.rect(scene)
    data, buffer = _buffer()
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(QSize(int(np.ceil(rect.width())), int(np.ceil(rect.height()))))
    generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    generator.setResolution(96)  # one scene unit is one CSS pixel in a browser
    generator.setTitle(title or "netray graph")
    generator.setDescription("Drawn by netray")
    _paint_on(generator, scene, theme, rect, 1.0, edge_labels, decor)
    buffer.close()
    return with_font_fallbacks(bytes(data.data()))


def with_font_fallbacks(svg: bytes) -> bytes:
    """Follow each font-family with the font Qt really used and ``sans-serif``.

    Qt names fontconfig aliases such as "Sans Serif", which browsers do not know
    (they would fall back to a serif font and text would overflow its box).
    """
    used = QFontInfo(QFont()).family()
    fallbacks = ", ".join(f for f in (used, "sans-serif") if f)

    def extend(match: re.Match[bytes]) -> bytes:
        family = match.group(1).decode("utf-8")
        listed = {f.strip().lower() for f in family.split(",")}
        extra = [f for f in fallbacks.split(", ") if f.lower() not in listed]
        return b'font-family="' + ", ".join([family, *extra]).encode("utf-8") + b'"'

    return re.sub(rb'font-family="([^"]*)"', extend, svg)


def png_image(scene: Scene, theme: Theme, edge_labels: bool = True, overlay: Overlay | None = None) -> QImage:
    """The scene as an image at PNG_SCALE pixels per unit, scaled down to fit MAX_PNG_SIDE/MAX_PNG_PIXELS."""
    decor = _Decor(scene, theme, overlay)
    rect = decor.rect(scene)
    scale = png_scale(rect)
    image = QImage(max(1, int(np.ceil(rect.width() * scale))), max(1, int(np.ceil(rect.height() * scale))), QImage.Format.Format_ARGB32_Premultiplied)
    if image.isNull():
        raise MemoryError(f"cannot allocate a {image.width()}x{image.height()} image")
    image.fill(theme.background)
    _paint_on(image, scene, theme, rect, scale, edge_labels, decor)
    return image


def png_bytes(scene: Scene, theme: Theme, edge_labels: bool = True, overlay: Overlay | None = None) -> bytes:
    """The scene as a PNG at PNG_SCALE pixels per unit, scaled down to fit MAX_PNG_SIDE/MAX_PNG_PIXELS."""
    image = png_image(scene, theme, edge_labels, overlay)
    data, buffer = _buffer()
    if not image.save(buffer, "PNG"):
        raise OSError("Qt could not encode the PNG")
    buffer.close()
    return bytes(data.data())


def pdf_bytes(scene: Scene, theme: Theme, title: str = "", edge_labels: bool = True, overlay: Overlay | None = None) -> bytes:
    """The scene as a one-page vector PDF, one point per scene unit (less if a side passes MAX_PDF_SIDE)."""
    decor = _Decor(scene, theme, overlay)
    rect = decor.rect(scene)
    scale = min(1.0, MAX_PDF_SIDE / rect.width(), MAX_PDF_SIDE / rect.height())
    data, buffer = _buffer()
    writer = QPdfWriter(buffer)
    writer.setTitle(title or "netray graph")
    writer.setCreator("netray")
    writer.setResolution(72)  # one device unit per point
    writer.setPageLayout(
        QPageLayout(QPageSize(QSizeF(rect.width() * scale, rect.height() * scale), QPageSize.Unit.Point), QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0))
    )
    _paint_on(writer, scene, theme, rect, scale, edge_labels, decor)
    del writer  # the PDF is complete once the writer is gone
    buffer.close()
    return bytes(data.data())


def render_scene(scene: Scene, fmt: str, theme: str = "light", title: str = "", edge_labels: bool = True, overlay: Overlay | None = None) -> bytes:
    """``scene`` as ``fmt`` (".svg", ".png" or ".pdf") bytes in the named theme, coloured by ``overlay``'s metric if given."""
    from netray_viewer.app import application

    application()  # fonts and painting need the (offscreen) QApplication
    palette = theme_named(theme)
    if fmt == ".svg":
        return svg_bytes(scene, palette, title, edge_labels, overlay)
    if fmt == ".png":
        return png_bytes(scene, palette, edge_labels, overlay)
    if fmt == ".pdf":
        return pdf_bytes(scene, palette, title, edge_labels, overlay)
    raise ValueError(f"not a picture format: {fmt!r}")


def render_graph(graph: Graph, fmt: str, *, expand: str = "auto", direction: str = "TB", theme: str = "light") -> bytes:
    """Lay out ``graph`` and draw it as ``fmt`` bytes; see :func:`netray.export`."""
    scene = build_scene(graph, expand, direction)
    return render_scene(scene, fmt, theme, title=graph.name)
