"""A weight in the side panel: dtype and shape at once, values and statistics on request.

Small tensors load automatically; larger ones wait for "Load values". "Show values…"
opens every value in a table (:mod:`netray_viewer.tensor_table`), paged, with Save
as .npy. A tensor whose bytes cannot be read shows the error's line in the panel
instead. The histogram takes the theme's colours, and takes them again on a switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from netray.errors import FormatError
from netray.ir import Tensor, shape_text
from netray_viewer.theme import Theme

AUTO_LOAD_ELEMENTS = 65_536  # load without asking below this size
STATS_SAMPLE = 4_000_000  # above this many elements statistics use an even sample
HISTOGRAM_BINS = 64
FIRST_VALUES = 12


@dataclass
class TensorStats:
    """Summary of a tensor's values."""

    count: int
    minimum: float
    maximum: float
    mean: float
    std: float
    zeros: int
    non_finite: int
    counts: np.ndarray  # histogram counts
    edges: np.ndarray  # histogram bin edges (len(counts) + 1)
    first: list[str]
    sampled: bool


def tensor_stats(array: np.ndarray) -> TensorStats:
    """Statistics and a histogram of the finite values; large tensors are sampled evenly."""
    flat = np.asarray(array).reshape(-1)
    first = [f"{v:.5g}" if isinstance(v, float) else str(v) for v in flat[:FIRST_VALUES].tolist()]
    sampled = flat.size > STATS_SAMPLE
    if sampled:
        flat = flat[:: int(np.ceil(flat.size / STATS_SAMPLE))]
    if flat.dtype == np.bool_ or not np.issubdtype(flat.dtype, np.number):
        flat = flat.astype(np.float64) if flat.dtype == np.bool_ else np.zeros(0)
    values = flat.astype(np.float64, copy=False)
    finite = values[np.isfinite(values)]
    non_finite = int(values.size - finite.size)
    if finite.size == 0:
        return TensorStats(int(values.size), np.nan, np.nan, np.nan, np.nan, 0, non_finite, np.zeros(0), np.zeros(1), first, sampled)
    # About two bins per sqrt(n) values: a 16-element bias gets 8 bars, not 64 mostly empty ones.
    bins = int(np.clip(2 * np.sqrt(finite.size), 8, HISTOGRAM_BINS))
    counts, edges = np.histogram(finite, bins=bins)
    return TensorStats(
        count=int(values.size),
        minimum=float(finite.min()),
        maximum=float(finite.max()),
        mean=float(finite.mean()),
        std=float(finite.std()),
        zeros=int((finite == 0).sum()),
        non_finite=non_finite,
        counts=counts,
        edges=edges,
        first=first,
        sampled=sampled,
    )


def stats_text(stats: TensorStats) -> str:
    lines = [
        f"min {stats.minimum:.5g}   max {stats.maximum:.5g}",
        f"mean {stats.mean:.5g}   std {stats.std:.5g}",
        f"zeros {stats.zeros:,}" + (f"   non-finite {stats.non_finite:,}" if stats.non_finite else ""),
        "first: " + ", ".join(stats.first) + (" …" if stats.count > len(stats.first) else ""),
    ]
    if stats.sampled:
        lines.append(f"(statistics over an even sample of {stats.count:,} values)")
    return "\n".join(lines)


class WeightView(QWidget):
    """One weight: header line, then statistics and a histogram once loaded."""

    def __init__(self, name: str, tensor: Tensor, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.tensor: Tensor = tensor
        self.theme = theme
        self.values_dialog: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        size = f", {tensor.byte_size:,} bytes" if tensor.byte_size else ""
        self.header = QLabel(f"<b>{escape(name)}</b><br><tt>{tensor.dtype or '?'} {shape_text(tensor.shape)}</tt>{size}")
        self.header.setWordWrap(True)
        layout.addWidget(self.header)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.button = QPushButton("Load values")
        self.button.clicked.connect(self.load_values)
        buttons.addWidget(self.button)
        self.table_button = QPushButton("Show values…")
        self.table_button.setToolTip("Every value in a table, read a page at a time; Save as .npy")
        self.table_button.clicked.connect(self.show_table)
        buttons.addWidget(self.table_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.plot: pg.PlotWidget | None = None
        self.stats: TensorStats | None = None
        if not tensor.has_data:
            self.button.setVisible(False)
            self.table_button.setVisible(False)
            self._show("values are not stored in the file")
        elif (tensor.size or 0) <= AUTO_LOAD_ELEMENTS and tensor.size is not None:
            self.load_values()

    def _show(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(True)

    def load_values(self) -> None:
        """Read the bytes, show statistics and a histogram; errors become a message."""
        self.button.setVisible(False)
        try:
            array = self.tensor.numpy()
            self.stats = tensor_stats(array)
        except FormatError as exc:
            self._show(f"cannot read values: {exc.reason}")
            return
        except (ValueError, TypeError, MemoryError) as exc:
            self._show(f"cannot read values: {exc}")
            return
        self._show(stats_text(self.stats))
        if self.stats.counts.size:
            self.plot = pg.PlotWidget()
            self.plot.setFixedHeight(110)
            self.plot.setMenuEnabled(False)
            self.plot.setMouseEnabled(x=False, y=False)
            self.plot.hideButtons()
            self.plot.plot(self.stats.edges, self.stats.counts, stepMode="center", fillLevel=0, brush=(80, 140, 220, 150))
            if self.theme is not None:
                self.apply_theme(self.theme)
            layout = self.layout()
            if layout is not None:
                layout.addWidget(self.plot)

    def apply_theme(self, theme: Theme) -> None:
        """The histogram's background, axes and labels in the theme's colours."""
        self.theme = theme
        if self.plot is None:
            return
        self.plot.setBackground(QColor(theme.background))
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen(QColor(theme.muted_text)))
            axis.setTextPen(pg.mkPen(QColor(theme.text)))

    def show_table(self) -> None:
        """Open every value in a table (paged, read as shown) with Save as .npy."""
        from netray_viewer.tensor_table import TensorValuesDialog

        try:
            dialog = TensorValuesDialog(self.name, self.tensor, self.window())
        except (FormatError, ValueError, TypeError, MemoryError) as exc:
            self._show(f"cannot read values: {getattr(exc, 'reason', exc)}")
            return
        self.values_dialog = dialog
        dialog.show()
