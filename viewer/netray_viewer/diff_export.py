"""A picture of a comparison: model A and model B side by side with their changes marked (``netray diff A B -o``).

Each side is its main graph laid out as ``netray export`` would (``auto`` expansion),
with every group holding a change expanded so the changed boxes show (collapsed
groups that remain say how many changes they hold), drawn by the viewer's painter
with the marks of :mod:`netray_viewer.diff_marks`. A title over each side names its
file; a key under the titles gives the colours and the counts. PNG and PDF come
from QPainter on an image or a PDF writer; SVG from Qt's SVG generator with the same
painter, so the marks are there too (text stays text). No display is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QMarginsF, QPointF, QRectF, QSize, QSizeF, Qt
from PyQt6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPageLayout,
    QPageSize,
    QPaintDevice,
    QPainter,
    QPdfWriter,
)
from PyQt6.QtSvg import QSvgGenerator

from netray.atomic import replacing
from netray.hierarchy import Hierarchy
from netray.ir import Model
from netray.layout import LayoutCache
from netray.scene import Scene
from netray_viewer.diff_marks import KINDS, LABELS, DiffMarks, mark_colour
from netray_viewer.export import MARGIN, MAX_PDF_SIDE, _buffer, png_scale, with_font_fallbacks
from netray_viewer.painter import DETAIL_LIMIT, ScenePainter
from netray_viewer.theme import Theme, theme_named

GAP = 80.0  # scene units between the two sides
TITLE_BAND = 70.0  # the side's title and the key above each graph
TITLE_PX = 20
KEY_PX = 12
SUMMARY_KEYS = {"added": "added", "removed": "removed", "changed": "changed", "weights": "weights_changed"}


@dataclass
class Side:
    """One side of the picture: its title, scene and marks, and where it goes."""

    title: str
    scene: Scene
    marks: DiffMarks
    left: float  # picture units

    @property
    def bounds(self) -> QRectF:
        left, top, right, bottom = self.scene.bounds()
        return QRectF(left - MARGIN, top - MARGIN, right - left + 2 * MARGIN, bottom - top + 2 * MARGIN)


def diff_models_of(result: Any, models: Sequence[Model | None] | None = None) -> tuple[Model, Model]:
    """Models A and B: as given, or as the result holds them."""
    if models is not None and all(m is not None for m in models):
        a, b = models
        assert a is not None and b is not None
        return a, b
    for names in (("a", "b"), ("model_a", "model_b"), ("a_model", "b_model")):
        a, b = (getattr(result, n, None) for n in names)
        if isinstance(a, Model) and isinstance(b, Model):
            return a, b
    raise ValueError("the comparison does not say which models it compared: pass models=(a, b)")


def side_scene(model: Model, status: Mapping[str, str], expand: str = "auto") -> tuple[Scene, DiffMarks]:
    """The model's main graph laid out with every group holding a change expanded, and its marks."""
    graph = model.main
    hierarchy = Hierarchy.build(graph)
    expanded = frozenset(hierarchy.expanded_for(expand))
    for node in graph.nodes:
        if status.get(node.id, "same") != "same":
            expanded = hierarchy.reveal(expanded, node.index)
    scene = LayoutCache(graph, hierarchy).scene(expanded)
    return scene, DiffMarks.of(scene, hierarchy, status)


def sides_of(result: Any, models: Sequence[Model | None] | None = None) -> list[Side]:
    a, b = diff_models_of(result, models)
    sides: list[Side] = []
    left = 0.0
    for letter, model, status in (("A", a, result.status_a()), ("B", b, result.status_b())):
        scene, marks = side_scene(model, status)
        name = model.source.name if model.source is not None else (model.main.name or "model")
        side = Side(f"{letter} — {name}", scene, marks, left)
        sides.append(side)
        left += side.bounds.width() + GAP
    return sides


def picture_size(sides: Sequence[Side]) -> QSizeF:
    width = sides[-1].left + sides[-1].bounds.width()
    height = TITLE_BAND + max(s.bounds.height() for s in sides)
    return QSizeF(width, height)


def paint_diff(painter: QPainter, sides: Sequence[Side], theme: Theme, result: Any) -> None:
    """Both sides with titles, the key and the marks, in picture units (one per scene unit)."""
    size = picture_size(sides)
    painter.fillRect(QRectF(0, 0, size.width(), size.height()), theme.background)
    title_font = QFont()
    title_font.setPixelSize(TITLE_PX)
    title_font.setBold(True)
    key_font = QFont()
    key_font.setPixelSize(KEY_PX)
    key_metrics = QFontMetricsF(key_font)
    summary = _summary(result)
    for side in sides:
        painter.setFont(title_font)
        painter.setPen(theme.text)
        painter.drawText(QPointF(side.left + MARGIN, MARGIN + TITLE_PX), side.title)
        # The key: each kind's colour and how many of its boxes this side shows.
        x = side.left + MARGIN
        y = MARGIN + TITLE_PX + 12
        painter.setFont(key_font)
        for kind in KINDS:
            shown = sum(1 for k in side.marks.kind if k == kind)
            total = summary.get(SUMMARY_KEYS[kind])
            text = f"{LABELS[kind]} {total if total is not None else shown}"
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(mark_colour(kind, theme.name)))
            painter.drawRoundedRect(QRectF(x, y, 12, 12), 2, 2)
            painter.setPen(theme.muted_text)
            painter.drawText(QPointF(x + 16, y + 10), text)
            x += 16 + key_metrics.horizontalAdvance(text) + 18
        bounds = side.bounds
        painter.save()
        painter.translate(side.left - bounds.left(), TITLE_BAND - bounds.top())
        scene_painter = ScenePainter(side.scene, theme)
        scene_painter.marks = side.marks
        if side.scene.size <= DETAIL_LIMIT:
            scene_painter.paint(painter, bounds, 1.0)
        else:
            scene_painter.paint_full_detail(painter, 1.0)
        painter.restore()
    if len(sides) == 2:  # a rule between the sides
        x = sides[1].left - GAP / 2
        colour = QColor(theme.border)
        painter.setPen(colour)
        painter.drawLine(QPointF(x, MARGIN), QPointF(x, size.height() - MARGIN))


def _summary(result: Any) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in result.summary().items() if isinstance(v, (int, np.integer))}
    except Exception:
        return {}


def _paint_on(device: QPaintDevice, sides: Sequence[Side], theme: Theme, result: Any, scale: float) -> None:
    painter = QPainter()
    if not painter.begin(device):
        raise OSError("Qt could not start painting the comparison")
    try:
        painter.scale(scale, scale)
        paint_diff(painter, sides, theme, result)
    finally:
        painter.end()


def diff_bytes(result: Any, fmt: str, *, theme: str = "light", models: Sequence[Model | None] | None = None) -> bytes:
    """The comparison as ``fmt`` (".png", ".pdf" or ".svg") bytes."""
    from netray_viewer.app import application

    application()
    if fmt not in (".png", ".pdf", ".svg"):
        raise ValueError(f"not a picture format: {fmt!r}")
    palette = theme_named(theme)
    sides = sides_of(result, models)
    size = picture_size(sides)
    data, buffer = _buffer()
    if fmt == ".png":
        scale = png_scale(QRectF(0, 0, size.width(), size.height()))
        image = QImage(max(1, int(np.ceil(size.width() * scale))), max(1, int(np.ceil(size.height() * scale))), QImage.Format.Format_ARGB32_Premultiplied)
        if image.isNull():
            raise MemoryError(f"cannot allocate a {image.width()}x{image.height()} image")
        image.fill(palette.background)
        _paint_on(image, sides, palette, result, scale)
        if not image.save(buffer, "PNG"):
            raise OSError("Qt could not encode the PNG")
    elif fmt == ".pdf":
        scale = min(1.0, MAX_PDF_SIDE / size.width(), MAX_PDF_SIDE / size.height())
        writer = QPdfWriter(buffer)
        writer.setTitle("netray comparison")
        writer.setCreator("netray")
        writer.setResolution(72)
        writer.setPageLayout(
            QPageLayout(QPageSize(QSizeF(size.width() * scale, size.height() * scale), QPageSize.Unit.Point), QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0))
        )
        _paint_on(writer, sides, palette, result, scale)
        del writer
    else:
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(QSize(int(np.ceil(size.width())), int(np.ceil(size.height()))))
        generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
        generator.setResolution(96)
        generator.setTitle(" ⇄ ".join(s.title for s in sides))
        generator.setDescription("Drawn by netray")
        _paint_on(generator, sides, palette, result, 1.0)
    buffer.close()
    out = bytes(data.data())
    return with_font_fallbacks(out) if fmt == ".svg" else out


def write_diff(result: Any, path: str | Path, *, theme: str = "light", models: Sequence[Model | None] | None = None) -> Path:
    """Write the comparison's picture to ``path`` (its extension picks the format), renamed into place."""
    target = Path(path)
    data = diff_bytes(result, target.suffix.lower(), theme=theme, models=models)
    with replacing(target) as tmp:
        tmp.write_bytes(data)
    return target
