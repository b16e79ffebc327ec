"""The legend of the metric overlay, in a corner of the canvas.

It names the metric and its unit, shows the ramp in the steps the boxes are painted
with, labelled with the smallest and largest number shown (and 0 at the centre of a
diverging scale), says which scale, and shows the hatched grey of boxes with no number.
"""

from __future__ import annotations

import math

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QWidget

from netray.metrics import format_number
from netray_viewer.colour_scale import BINS
from netray_viewer.overlay import OverlayPaint
from netray_viewer.theme import Theme

BAR_WIDTH = 220
BAR_HEIGHT = 12
PAD = 8
SWATCH = 12


class Legend(QWidget):
    """Paints the legend of an :class:`OverlayPaint`; hidden without one. Clicks pass through to the graph."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.overlay: OverlayPaint | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.title_font = QFont()
        self.title_font.setPixelSize(12)
        self.title_font.setBold(True)
        self.text_font = QFont()
        self.text_font.setPixelSize(11)
        self.setVisible(False)

    # -- content ----------------------------------------------------------------------------
    def set_overlay(self, overlay: OverlayPaint | None, theme: Theme) -> None:
        self.overlay = overlay
        self.theme = theme
        self.setVisible(overlay is not None)
        if overlay is not None:
            self.setFixedSize(self.sizeHint())
        self.update()

    def title(self) -> str:
        metric = self.overlay.state.metric if self.overlay is not None else None
        if metric is None:
            return ""
        return f"{metric.name} ({metric.unit})" if metric.unit else metric.name

    def tick_labels(self) -> list[str]:
        """The numbers under the ramp: low and high, and 0 in between on a diverging scale."""
        overlay = self.overlay
        if overlay is None or overlay.scale is None or overlay.state.metric is None:
            return []
        scale = overlay.scale
        unit = overlay.state.metric.unit
        low = format_number(scale.low, unit)
        if scale.diverging:
            return [low, format_number(0.0, unit), format_number(scale.high, unit)]
        return [low, format_number(scale.high, unit)]

    def scale_text(self) -> str:
        overlay = self.overlay
        if overlay is None:
            return ""
        state = overlay.state
        return ("log" if state.log else "linear") + " scale, " + ("diverging around 0" if state.diverging else "sequential")

    def unknown_text(self) -> str:
        count = self.overlay.unknown_count if self.overlay is not None else 0
        return f"no number or unknown ({count:,} shown)" if count else "no number or unknown"

    def off_scale_text(self) -> str:
        """The swatch of zero on a log scale, when boxes shown have it."""
        count = self.overlay.off_scale_count if self.overlay is not None else 0
        return f"0 or less: off the log scale ({count:,} shown)" if count else ""

    def text(self) -> str:
        """Everything the legend says, one line each (tests, accessibility)."""
        lines = [self.title(), "  ".join(self.tick_labels()), self.scale_text(), self.off_scale_text(), self.unknown_text()]
        return "\n".join(line for line in lines if line)

    # -- drawing ----------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        title = QFontMetricsF(self.title_font)
        text = QFontMetricsF(self.text_font)
        widths = [title.horizontalAdvance(self.title()), BAR_WIDTH, text.horizontalAdvance(self.scale_text())]
        swatches = [s for s in (self.off_scale_text(), self.unknown_text()) if s]
        widths += [SWATCH + 6 + text.horizontalAdvance(s) for s in swatches]
        width = max(widths) + 2 * PAD
        row = max(SWATCH, text.height()) + 2
        height = PAD + title.height() + 6 + BAR_HEIGHT + 2 + text.height() + 4 + text.height() + 4 + row * len(swatches) + PAD
        return QSize(math.ceil(width), math.ceil(height))

    def paintEvent(self, a0: QPaintEvent | None) -> None:
        overlay = self.overlay
        if overlay is None:
            return
        t = self.theme
        ramp = overlay.ramp(t)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        panel = QColor(t.background)
        panel.setAlpha(235)
        p.setPen(QPen(t.frame_border, 1.0))
        p.setBrush(QBrush(panel))
        p.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 6, 6)
        title_metrics = QFontMetricsF(self.title_font)
        text_metrics = QFontMetricsF(self.text_font)
        y = float(PAD)
        p.setFont(self.title_font)
        p.setPen(t.text)
        p.drawText(QPointF(PAD, y + title_metrics.ascent()), self.title())
        y += title_metrics.height() + 6
        step = BAR_WIDTH / BINS
        p.setPen(Qt.PenStyle.NoPen)
        for k, colour in enumerate(ramp.fills):
            p.setBrush(QBrush(colour))
            p.drawRect(QRectF(PAD + k * step, y, step + 0.6, BAR_HEIGHT))  # a hair of overlap: no seams
        p.setPen(QPen(t.border, 1.0))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(PAD, y, BAR_WIDTH, BAR_HEIGHT))
        y += BAR_HEIGHT + 2
        p.setFont(self.text_font)
        p.setPen(t.text)
        labels = self.tick_labels()
        baseline = y + text_metrics.ascent()
        for k, label in enumerate(labels):
            width = text_metrics.horizontalAdvance(label)
            share = k / (len(labels) - 1) if len(labels) > 1 else 0.0
            x = PAD + share * BAR_WIDTH - share * width  # left-aligned at the left end, right-aligned at the right
            if 0 < k < len(labels) - 1:
                x = PAD + share * BAR_WIDTH - width / 2
            p.drawText(QPointF(x, baseline), label)
        y += text_metrics.height() + 4
        p.setPen(t.muted_text)
        p.drawText(QPointF(PAD, y + text_metrics.ascent()), self.scale_text())
        y += text_metrics.height() + 4
        row = max(SWATCH, text_metrics.height())
        swatches = [(self.off_scale_text(), ramp.off_scale, False), (self.unknown_text(), ramp.neutral, True)]
        for label, colour, hatched in swatches:
            if not label:
                continue
            swatch = QRectF(PAD, y + (row - SWATCH) / 2, SWATCH, SWATCH)
            p.setPen(QPen(t.border, 1.0))
            p.setBrush(QBrush(colour))
            p.drawRect(swatch)
            if hatched:
                p.setBrush(QBrush(ramp.hatch, Qt.BrushStyle.BDiagPattern))
                p.drawRect(swatch)
            p.setPen(t.text)
            p.drawText(QPointF(PAD + SWATCH + 6, y + (row + text_metrics.ascent() - text_metrics.descent()) / 2), label)
            y += row + 2
        p.end()
