"""A weight in the side panel: dtype and shape at once, values and statistics on request.

Small tensors load automatically; larger ones wait for "Load values". A tensor
whose bytes cannot be read shows the error's line in the panel instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from netray.errors import FormatError
from netray.ir import Tensor, shape_text

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

    def __init__(self, name: str, tensor: Tensor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tensor: Tensor = tensor
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
        self.button = QPushButton("Load values")
        self.button.clicked.connect(self.load_values)
        layout.addWidget(self.button)
        self.plot: pg.PlotWidget | None = None
        self.stats: TensorStats | None = None
        if not tensor.has_data:
            self.button.setVisible(False)
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
            self.plot = pg.PlotWidget(background=None)  # the panel's own colour, in either theme
            self.plot.setFixedHeight(110)
            self.plot.setMenuEnabled(False)
            self.plot.setMouseEnabled(x=False, y=False)
            self.plot.hideButtons()
            self.plot.plot(self.stats.edges, self.stats.counts, stepMode="center", fillLevel=0, brush=(80, 140, 220, 150))
            layout = self.layout()
            if layout is not None:
                layout.addWidget(self.plot)
