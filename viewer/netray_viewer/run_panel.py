"""What the last run found about one value, in the side panel: statistics, a histogram, feature maps.

:class:`RunView` shows a value's statistics (shape, dtype, min, max, mean, std,
NaN/Inf, zeros), the histogram of its finite values, its gradient's statistics and histogram after
a backward run and its difference from the other runtime after a comparison. A 4-D
activation also shows as a grid of feature-map images (:class:`FeatureGrid`): the
first sample, up to 64 channels, each channel normalised to its own range (0.5th to 99.5th percentile) and
painted with the theme's sequential ramp (the overlay's viridis); NaN and Inf in red.
Images are made with numpy (:func:`feature_grid_array`), one QImage per grid.
"""

from __future__ import annotations

import math
import warnings
from html import escape

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPoint, QRect, QSize, Qt
from PyQt6.QtGui import QColor, QHelpEvent, QImage, QPainter, QPaintEvent
from PyQt6.QtWidgets import QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from netray.runtime import Difference, ValueStats
from netray_viewer.colour_scale import SEQUENTIAL
from netray_viewer.theme import Theme

GAP = 1  # pixels between feature maps
MAX_TILE = 96  # a feature map larger than this is subsampled to about this size before drawing
CLIP_PERCENTILES = (0.5, 99.5)  # each channel's range for its colours: outliers beyond are clipped
NONFINITE_RGB = (230, 40, 40)
HISTOGRAM_HEIGHT = 100


def _number(x: float | None) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.5g}"


def ramp(theme_name: str, size: int = 256) -> np.ndarray:
    """The theme's sequential ramp as ``size`` RGB rows (uint8), low to high."""
    stops = SEQUENTIAL.get(theme_name, SEQUENTIAL["light"])
    colours = np.array([[int(s[i : i + 2], 16) for i in (1, 3, 5)] for s in stops], dtype=np.float64)
    at = np.linspace(0.0, len(stops) - 1, size)
    low = np.floor(at).astype(int).clip(0, len(stops) - 2)
    t = (at - low)[:, None]
    return np.round(colours[low] * (1 - t) + colours[low + 1] * t).astype(np.uint8)


def grid_columns(channels: int) -> int:
    """Columns of the grid: one row for a few maps, else about square (64 maps: 8 by 8)."""
    return channels if channels <= 4 else math.ceil(math.sqrt(channels))


def feature_grid_array(maps: np.ndarray, theme_name: str = "light", background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """``maps`` (channels, height, width) as one RGBA picture (rows, columns, 4), channels in a grid.

    Each channel is normalised to its own finite values between their 0.5th and 99.5th
    percentiles (:data:`CLIP_PERCENTILES`), so that a few extreme pixels do not crush the rest
    to one end of the ramp; a constant channel is the ramp's middle, non-finite elements are
    red. Large maps are subsampled to about :data:`MAX_TILE` pixels a side first.
    """
    maps = np.asarray(maps, dtype=np.float32)
    channels, height, width = maps.shape
    step = max(1, math.ceil(max(height, width) / MAX_TILE))
    if step > 1:
        maps = maps[:, ::step, ::step]
        height, width = maps.shape[1:]
    finite = np.isfinite(maps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a channel with no finite value: handled just below
        low, high = np.nanpercentile(np.where(finite, maps, np.nan), CLIP_PERCENTILES, axis=(1, 2))
    low = np.where(np.isfinite(low), low, 0.0)
    high = np.where(np.isfinite(high), high, 0.0)
    span = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span[:, None, None] > 0, (maps - low[:, None, None]) / np.where(span > 0, span, 1.0)[:, None, None], 0.5)
    index = np.clip(np.nan_to_num(scaled, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    rgb = ramp(theme_name)[index]  # channels, height, width, 3
    rgb[~finite] = NONFINITE_RGB
    columns = grid_columns(channels)
    rows = math.ceil(channels / columns)
    picture = np.empty((rows * (height + GAP) - GAP, columns * (width + GAP) - GAP, 4), dtype=np.uint8)
    picture[..., :3] = background
    picture[..., 3] = 255
    for c in range(channels):
        r, k = divmod(c, columns)
        y, x = r * (height + GAP), k * (width + GAP)
        picture[y : y + height, x : x + width, :3] = rgb[c]
    return picture


def to_qimage(picture: np.ndarray) -> QImage:
    """An RGBA uint8 array as a QImage owning its pixels."""
    picture = np.ascontiguousarray(picture, dtype=np.uint8)
    rows, columns = int(picture.shape[0]), int(picture.shape[1])
    image = QImage(picture.tobytes(), columns, rows, columns * 4, QImage.Format.Format_RGBA8888)
    return image.copy()  # its own pixels: the bytes above are freed


class FeatureGrid(QWidget):
    """The grid of feature maps, as wide as the panel, tall as its aspect needs; a tooltip names the channel."""

    def __init__(self, maps: np.ndarray, theme: Theme | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.maps = maps
        self.channels = int(maps.shape[0])
        self.columns = grid_columns(self.channels)
        self.rows = math.ceil(self.channels / self.columns)
        self.image = QImage()
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setMouseTracking(True)
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme | None) -> None:
        name = theme.name if theme is not None else "light"
        background = theme.background if theme is not None else QColor("white")
        self.image = to_qimage(feature_grid_array(self.maps, name, (background.red(), background.green(), background.blue())))
        self.update()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, a0: int) -> int:
        if self.image.isNull() or self.image.width() == 0:
            return 0
        return max(1, round(a0 * self.image.height() / self.image.width()))

    def sizeHint(self) -> QSize:
        return QSize(280, self.heightForWidth(280))

    def target(self) -> QRect:
        width = self.width()
        return QRect(0, 0, width, self.heightForWidth(width))

    def resizeEvent(self, a0: object) -> None:
        super().resizeEvent(a0)  # type: ignore[arg-type]
        height = self.heightForWidth(self.width())
        if self.minimumHeight() != height:
            self.setMinimumHeight(height)

    def paintEvent(self, a0: QPaintEvent | None) -> None:
        painter = QPainter(self)
        # Upscaled small maps stay crisp pixels; large ones shrink smoothly.
        smooth = self.image.width() > self.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(self.target(), self.image)
        painter.end()

    def channel_at(self, pos: QPoint) -> int | None:
        rect = self.target()
        if rect.width() <= 0 or rect.height() <= 0 or not rect.contains(pos):
            return None
        k = int(pos.x() * self.columns / rect.width())
        r = int(pos.y() * self.rows / rect.height())
        c = r * self.columns + k
        return c if 0 <= c < self.channels else None

    def event(self, a0: object) -> bool:
        if isinstance(a0, QHelpEvent):
            c = self.channel_at(a0.pos())
            if c is None:
                QToolTip.hideText()
            else:
                m = self.maps[c]
                finite = m[np.isfinite(m)]
                span = f"min {finite.min():.4g}, max {finite.max():.4g}" if finite.size else "no finite values"
                QToolTip.showText(a0.globalPos(), f"channel {c}: {span}", self)
            return True
        return super().event(a0)  # type: ignore[arg-type]


def stats_rows(stats: ValueStats) -> list[tuple[str, str]]:
    size = stats.size
    zeros = f"{stats.zeros:,}" + (f" ({100.0 * stats.zeros / size:.3g} %)" if size else "")
    return [
        ("shape", "(" + ", ".join(str(d) for d in stats.shape) + ")"),
        ("dtype", stats.dtype),
        ("min", _number(stats.min)),
        ("max", _number(stats.max)),
        ("mean", _number(stats.mean)),
        ("std", _number(stats.std)),
        ("mean |x|", _number(stats.mean_abs)),
        ("NaN/Inf", f"{stats.nonfinite:,}"),
        ("zeros", zeros),
    ]


def _table(title: str, rows: list[tuple[str, str]], note: str = "") -> str:
    body = "".join(f"<tr><td style='padding-right:10px; white-space:nowrap'><b>{escape(k)}</b></td><td>{v}</td></tr>" for k, v in rows)
    small = f"<br><small>{note}</small>" if note else ""
    return f"<div style='margin-top:4px'><b>{escape(title)}</b>{small}</div><table cellspacing=0 cellpadding=1>{body}</table>"


VALUE_BRUSH = (80, 140, 220, 150)
GRADIENT_BRUSH = (220, 130, 60, 150)


def _histogram_plot(histogram: tuple[list[int], list[float]] | None, brush: tuple[int, int, int, int]) -> pg.PlotWidget | None:
    """A fixed, small histogram of (counts, edges); None when there is nothing to draw."""
    if histogram is None or not any(int(c) for c in histogram[0]):
        return None
    counts, edges = histogram
    plot = pg.PlotWidget()
    plot.setFixedHeight(HISTOGRAM_HEIGHT)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.plot(np.asarray(edges), np.asarray(counts), stepMode="center", fillLevel=0, brush=brush)
    return plot


class RunView(QWidget):
    """One value as the last run saw it: statistics and histogram, gradient, difference, feature maps."""

    def __init__(
        self,
        name: str,
        stats: ValueStats,
        theme: Theme | None = None,
        *,
        title: str = "",
        histogram: tuple[list[int], list[float]] | None = None,
        gradient: ValueStats | None = None,
        difference: Difference | None = None,
        compared_with: str = "",
        diverges: bool = False,
        maps: np.ndarray | None = None,
        maps_note: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.name = name
        self.stats = stats
        self.theme = theme
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        parts = [_table(title or name, [(k, escape(v)) for k, v in stats_rows(stats)])]
        self.header = QLabel("".join(parts))
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.header)
        histogram = histogram or stats.histogram
        self.histogram = histogram
        self.plot = _histogram_plot(histogram, VALUE_BRUSH)
        if self.plot is not None:
            layout.addWidget(self.plot)
        extra = []
        self.gradient_histogram = gradient.histogram if gradient is not None else None
        self.gradient_plot: pg.PlotWidget | None = None
        if gradient is not None:
            rows = [(k, escape(v)) for k, v in stats_rows(gradient) if k not in ("shape", "dtype", "zeros")]
            rows.append(("norm", escape(_number(gradient.norm))))
            gradient_table = QLabel(_table("Gradient", rows, "of the loss (the sum of the outputs) at this value"))
            gradient_table.setWordWrap(True)
            gradient_table.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(gradient_table)
            self.gradient_plot = _histogram_plot(self.gradient_histogram, GRADIENT_BRUSH)
            if self.gradient_plot is not None:
                layout.addWidget(self.gradient_plot)
        self.gradient_label = gradient_table if gradient is not None else None
        if difference is not None:
            rows = [("max |diff|", escape(_number(difference.max_abs))), ("max rel", escape(_number(difference.max_rel)))]
            if difference.shape_mismatch:
                rows.append(("shapes", "differ"))
            note = f"against {escape(compared_with)}" + ("; <b>the first value that diverges</b>" if diverges else "")
            extra.append(_table("Compared", rows, note))
        self.details = QLabel("".join(extra))
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setVisible(bool(extra))
        layout.addWidget(self.details)
        self.grid: FeatureGrid | None = None
        self.maps_label = QLabel(maps_note)
        self.maps_label.setWordWrap(True)
        self.maps_label.setVisible(bool(maps_note) or maps is not None)
        layout.addWidget(self.maps_label)
        if maps is not None:
            self.grid = FeatureGrid(maps, theme)
            layout.addWidget(self.grid)
        if theme is not None:
            self.apply_theme(theme)

    def plain_text(self) -> str:
        """What the view says, without markup (tests, copying)."""
        from PyQt6.QtGui import QTextDocument

        texts = []
        for label in (self.header, self.gradient_label, self.details, self.maps_label):
            if label is None:
                continue
            if label.isVisibleTo(self) or label is self.header:
                doc = QTextDocument()
                doc.setHtml(label.text())
                texts.append(doc.toPlainText())
        return "\n".join(t for t in texts if t)

    def apply_theme(self, theme: Theme) -> None:
        """Histogram and feature maps in the theme's colours."""
        self.theme = theme
        for plot in (self.plot, self.gradient_plot):
            if plot is None:
                continue
            plot.setBackground(QColor(theme.background))
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(QColor(theme.muted_text)))
                axis.setTextPen(pg.mkPen(QColor(theme.text)))
        if self.grid is not None:
            self.grid.apply_theme(theme)
