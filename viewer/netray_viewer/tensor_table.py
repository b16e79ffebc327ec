"""A tensor's values in a scrollable table, a page of rows at a time, and "Save as .npy".

The table shows any tensor as rows by columns: its last dimension across, every
other dimension down (a row header says which index, ``[3, 1, :]``); a vector is
wrapped in rows of 16. Cells are read when Qt asks for them, a block of rows at a
time, from the array :meth:`netray.ir.Tensor.numpy` returns: for memory-mapped
tensors (ONNX external data, safetensors, GGUF, ``.netray``) only the pages shown
are ever read. A tensor of more than PAGE_ROWS rows is shown a page at a time.
Saving writes the ``.npy`` header and then the rows in chunks, beside the target and
renamed into place, so a 2 GB tensor is never held in memory twice.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt
from PyQt6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from netray.errors import FormatError
from netray.ir import Tensor, shape_text

PAGE_ROWS = 1_000_000  # rows per page: Qt's views count rows in 32-bit ints and size headers per row
BLOCK_ROWS = 256  # rows read at once while scrolling
VECTOR_COLUMNS = 16  # a 1-d tensor is wrapped in rows this wide
SAVE_CHUNK_BYTES = 16 << 20


def table_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """Rows and columns the table shows a tensor of ``shape`` as."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return max(math.ceil(shape[0] / VECTOR_COLUMNS), 1 if shape[0] else 0), min(shape[0], VECTOR_COLUMNS)
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    return rows, int(shape[-1])


def cell_text(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


class TensorTableModel(QAbstractTableModel):
    """One page of a tensor's values as a Qt table model, read a block of rows at a time."""

    def __init__(self, array: np.ndarray, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.array = array
        self.shape = tuple(int(d) for d in array.shape)
        self.total_rows, self.columns = table_shape(self.shape)
        self.page = 0
        self._block_start = -1
        self._block: np.ndarray | None = None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total_rows / PAGE_ROWS))

    def set_page(self, page: int) -> None:
        self.beginResetModel()
        self.page = min(max(page, 0), self.pages - 1)
        self._block = None
        self._block_start = -1
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return int(min(PAGE_ROWS, self.total_rows - self.page * PAGE_ROWS))

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return self.columns

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Table rows ``start:stop`` (absolute, across pages): 2-d, or for a vector the flat values they wrap."""
        a = self.array
        if a.ndim == 0:
            return a.reshape(1, 1)
        if a.ndim == 1:
            return a[start * VECTOR_COLUMNS : stop * VECTOR_COLUMNS]
        return a.reshape(self.total_rows, self.columns)[start:stop]

    def value(self, row: int, column: int) -> Any:
        """The value at a row of the current page and a column; None past a vector's end."""
        absolute = self.page * PAGE_ROWS + row
        start = absolute - absolute % BLOCK_ROWS
        if self._block is None or self._block_start != start:
            self._block = np.asarray(self.rows(start, min(start + BLOCK_ROWS, self.total_rows)))
            self._block_start = start
        if self.array.ndim == 1:
            k = (absolute - start) * VECTOR_COLUMNS + column
            cell = self._block[k] if k < len(self._block) else None
        else:
            cell = self._block[absolute - start, column]
        return cell.item() if isinstance(cell, np.generic) else cell

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            value = self.value(index.row(), index.column())
            return "" if value is None else cell_text(value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return str(section)
        row = self.page * PAGE_ROWS + section
        if len(self.shape) <= 1:
            return str(row * VECTOR_COLUMNS) if len(self.shape) == 1 else ""
        index = np.unravel_index(row, self.shape[:-1])
        return "[" + ", ".join(str(int(i)) for i in index) + ", :]"


def npy_array(array: np.ndarray) -> np.ndarray:
    """What ``.npy`` can hold without pickling: strings become a unicode array."""
    if array.dtype == object:
        return np.asarray([cell_text(v) for v in array.reshape(-1).tolist()], dtype=str).reshape(array.shape)
    return array


def save_npy(array: np.ndarray, path: str | Path, progress: Callable[[int, int], bool] | None = None) -> Path:
    """Write ``array`` as ``.npy`` in chunks along its first axis (a memory-mapped array is read a chunk at a time).

    ``progress(done, total)`` may return False to stop (the file is then not written).
    Written beside ``path`` and renamed into place.
    """
    target = Path(path)
    array = npy_array(array)
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False, "shape": array.shape}
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            if _needs_v2(header):
                np.lib.format.write_array_header_2_0(f, header)
            else:
                np.lib.format.write_array_header_1_0(f, header)
            if array.ndim == 0:
                f.write(np.ascontiguousarray(array).tobytes())
            else:
                per_row = max(1, array.dtype.itemsize * int(np.prod(array.shape[1:], dtype=np.int64)))
                step = max(1, SAVE_CHUNK_BYTES // per_row)
                total = array.shape[0]
                for start in range(0, total, step):
                    f.write(np.ascontiguousarray(array[start : start + step]).tobytes())
                    if progress is not None and not progress(min(start + step, total), total):
                        raise InterruptedError("saving cancelled")
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def _needs_v2(header: dict[str, Any]) -> bool:
    """Whether the header is too long for format 1.0 (more than 65535 bytes: absurdly many dimensions)."""
    return len(repr(header)) > 65000


class TensorValuesDialog(QDialog):
    """A tensor's values: the table, its pages, and Save as .npy."""

    def __init__(self, name: str, tensor: Tensor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{name} — values")
        self.resize(760, 520)
        self.name = name
        self.tensor = tensor
        self.array = tensor.numpy()  # memory-mapped where the file allows: nothing is read until shown
        self.model = TensorTableModel(self.array, self)
        layout = QVBoxLayout(self)
        rows, columns = self.model.total_rows, self.model.columns
        summary = f"{tensor.dtype or self.array.dtype} {shape_text(tensor.shape)}: {rows:,} rows × {columns:,} columns"
        if str(self.array.dtype) != (tensor.dtype or ""):
            summary += f" (shown as {self.array.dtype})"
        layout.addWidget(QLabel(summary))
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        vertical = self.table.verticalHeader()
        if vertical is not None:
            vertical.setDefaultSectionSize(20)
        layout.addWidget(self.table, 1)
        bar = QHBoxLayout()
        self.page_box = QSpinBox()
        self.page_box.setRange(1, self.model.pages)
        self.page_box.valueChanged.connect(lambda page: self.model.set_page(page - 1))
        self.page_label = QLabel(f"of {self.model.pages:,} pages of {PAGE_ROWS:,} rows")
        if self.model.pages > 1:
            bar.addWidget(QLabel("Page"))
            bar.addWidget(self.page_box)
            bar.addWidget(self.page_label)
        bar.addStretch(1)
        self.save_button = QPushButton("Save as .npy…")
        self.save_button.clicked.connect(self.ask_save)
        bar.addWidget(self.save_button)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        bar.addWidget(close)
        layout.addLayout(bar)

    def ask_save(self) -> None:
        default = str(Path.home() / (self.name.replace("/", "_").replace(":", "_") + ".npy"))
        path, _ = QFileDialog.getSaveFileName(self, "Save tensor as .npy", default, "NumPy arrays (*.npy)")
        if path:
            self.save(path)

    def save(self, path: str | Path) -> Path | None:
        """Write the tensor to ``path``; errors become a message."""
        try:
            return save_npy(self.array, path)
        except (OSError, ValueError, FormatError, InterruptedError) as exc:
            QMessageBox.warning(self, "netray — cannot save", f"{path}: {exc}")
            return None
