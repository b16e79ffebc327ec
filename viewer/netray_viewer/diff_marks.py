"""Changes between two models drawn on a scene: a coloured outline and a tag per changed box.

A diff (:func:`netray.diff.diff_models`) gives each node of either side a status:
``added``, ``removed``, ``changed``, ``weights`` or ``same``. :class:`DiffMarks`
turns that table into a status per item of one scene: an operation's box takes its
node's status; a collapsed group's box counts the changed operations inside it and
takes the colour of their kind (amber when kinds are mixed). The painter draws the
marks over the boxes (:func:`paint_marks`), on screen and in exports alike, in both
themes: a thick outline, a stripe down the box's left side and, when readable, a
small tag above its top-right corner ("removed", "3 changes").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen

from netray.hierarchy import Hierarchy
from netray.scene import ItemKind, Scene

KINDS = ("added", "removed", "changed", "weights")
LABELS = {"added": "added", "removed": "removed", "changed": "changed", "weights": "weights changed"}
# (light, dark): strong enough on both backgrounds, told apart by hue and by the tag's word.
COLOURS = {
    "added": ("#1f9d3a", "#4cd26b"),
    "removed": ("#d93025", "#ff6b60"),
    "changed": ("#e69500", "#ffc23d"),
    "weights": ("#1a66d9", "#5ea4ff"),
}
TAG_ZOOM = 0.32  # tags appear with the titles
TAG_FONT_PX = 9
STRIPE = 5.0  # scene units
OUTSIDE = 6.0  # pixels between a box and its mark's outline


def mark_colour(kind: str, theme_name: str) -> QColor:
    """The colour of a kind of change in the named theme."""
    light, dark = COLOURS.get(kind, COLOURS["changed"])
    return QColor(dark if theme_name == "dark" else light)


@dataclass
class DiffMarks:
    """Each item's mark in one scene: its kind ("" for none) and, for a collapsed group, how many changes it holds."""

    scene: Scene
    kind: list[str]
    count: np.ndarray  # changed operations inside a collapsed group; 1 for a changed operation

    @classmethod
    def of(cls, scene: Scene, hierarchy: Hierarchy | None, status: Mapping[str, str]) -> DiffMarks:
        kinds = [""] * scene.size
        count = np.zeros(scene.size, np.int64)
        node, group = int(ItemKind.NODE), int(ItemKind.GROUP)
        nodes = scene.graph.nodes
        for i, (k, ref) in enumerate(zip(scene.kind.tolist(), scene.ref, strict=True)):
            if k == node:
                s = status.get(ref.id, "same")
                if s in KINDS:
                    kinds[i] = s
                    count[i] = 1
            elif k == group and hierarchy is not None:
                members = hierarchy.order[ref.start : ref.end].tolist()
                found = Counter(status.get(nodes[m].id, "same") for m in members if m < len(nodes))
                changes = {s: n for s, n in found.items() if s in KINDS}
                total = sum(changes.values())
                if total:
                    kinds[i] = next(iter(changes)) if len(changes) == 1 else "changed"
                    count[i] = total
        return cls(scene, kinds, count)

    def status_of(self, i: int) -> str:
        """Item ``i``'s mark: a kind of change, or "same"."""
        return self.kind[i] or "same"

    def tag(self, i: int) -> str:
        """The words in item ``i``'s tag."""
        if self.scene.kind[i] == ItemKind.GROUP:
            n = int(self.count[i])
            return f"{n} change" if n == 1 else f"{n} changes"
        return LABELS.get(self.kind[i], "")

    @property
    def marked(self) -> np.ndarray:
        return np.flatnonzero(self.count > 0)


def paint_marks(painter: QPainter, marks: DiffMarks, theme_name: str, zoom: float, visible: QRectF | None = None) -> None:
    """Outline, stripe and tag of every marked item (in ``visible`` if given); pens stay a few pixels wide at any zoom."""
    s = marks.scene
    items = marks.marked
    if visible is not None and len(items):
        inside = (s.x[items] <= visible.right()) & (s.x[items] + s.w[items] >= visible.left())
        inside &= (s.y[items] <= visible.bottom()) & (s.y[items] + s.h[items] >= visible.top())
        items = items[inside]
    if not len(items):
        return
    font = QFont()
    font.setPixelSize(TAG_FONT_PX)
    font.setBold(True)
    metrics = QFontMetricsF(font)
    pad = OUTSIDE / max(zoom, 1e-6)  # outside the selection's outline (2 px out, 3 px wide)
    for i in items.tolist():
        colour = mark_colour(marks.kind[i], theme_name)
        rect = QRectF(float(s.x[i]), float(s.y[i]), float(s.w[i]), float(s.h[i]))
        pen = QPen(colour)
        pen.setCosmetic(True)
        pen.setWidthF(3.0)
        if marks.kind[i] == "removed":
            pen.setStyle(Qt.PenStyle.DashLine)  # gone in the other model: drawn dashed, not only red
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(-pad, -pad, pad, pad), 5, 5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(colour))
        painter.drawRect(QRectF(rect.left(), rect.top(), min(STRIPE, rect.width() / 4), rect.height()))
        if zoom < TAG_ZOOM:
            continue
        text = marks.tag(i)
        width = metrics.horizontalAdvance(text) + 8
        height = metrics.height() + 2
        tag = QRectF(rect.right() + pad - width, rect.top() - pad - height + 2, width, height)
        painter.setBrush(QBrush(colour))
        painter.drawRoundedRect(tag, 3, 3)
        painter.setFont(font)
        painter.setPen(QColor("#101010") if theme_name == "dark" else QColor("#ffffff"))
        painter.drawText(QPointF(tag.left() + 4, tag.top() + 1 + metrics.ascent()), text)
