"""The tensors of a model as a tree by module path: what a weights-only model shows.

Built from :func:`netray.tensortree.tensor_tree`. Rows are created when their parent
is expanded, so a model of 100,000 tensors opens at once. A repeated block reads
``layers.0 … layers.31 ×32``. Clicking a tensor shows it in the properties panel
with its statistics and histogram; clicking a module shows its totals. The filter
box lists the tensors whose names contain the typed text.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QHeaderView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from netray.ir import Model, Tensor, shape_text
from netray.tensortree import TensorNode, tensor_tree
from netray.units import human_bytes

MAX_FILTERED = 2000  # rows the filter lists at most
AUTO_OPEN_ROWS = 60  # single-child chains and small levels open on their own up to this many rows
_PLACEHOLDER = "…"


class TensorTree(QWidget):
    """A filter box over a lazily filled tree: name, shape, type, parameters, size."""

    tensor_chosen = pyqtSignal(str, object)  # full name, Tensor
    module_chosen = pyqtSignal(object)  # TensorNode

    COLUMNS = ("name", "shape", "type", "parameters", "size")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root: TensorNode | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter tensors by name")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._refill)
        layout.addWidget(self.filter)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(self.COLUMNS))
        self.tree.setHeaderLabels(list(self.COLUMNS))
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        if header is not None:
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
            header.setStretchLastSection(False)
        self.tree.itemExpanded.connect(self._fill_children)
        self.tree.currentItemChanged.connect(self._chosen)
        layout.addWidget(self.tree, 1)

    # -- content ------------------------------------------------------------------------
    def set_model(self, model: Model | None) -> None:
        self.root = tensor_tree(model.all_tensors()) if model is not None else None
        self.filter.clear()
        self._refill()

    def _refill(self) -> None:
        self.tree.clear()
        if self.root is None:
            return
        text = self.filter.text().strip().lower()
        if text:
            self._fill_filtered(text)
            return
        self._add_children(self.tree.invisibleRootItem(), self.root)
        self._auto_open()

    def _fill_filtered(self, text: str) -> None:
        assert self.root is not None
        shown = 0
        for node in self.root.walk():
            for name, tensor in node.tensors:
                if text in name.lower():
                    self.tree.addTopLevelItem(self._tensor_item(name, name, tensor))
                    shown += 1
                    if shown >= MAX_FILTERED:
                        self.tree.addTopLevelItem(QTreeWidgetItem([f"… more than {MAX_FILTERED:,} matches: type more"]))
                        return

    def _module_item(self, node: TensorNode) -> QTreeWidgetItem:
        label = node.label
        if node.repeat and node.uniform:
            label += "  (identical blocks)"
        count = f"{node.count:,} tensor" + ("" if node.count == 1 else "s")
        item = QTreeWidgetItem([label, count, "", f"{node.parameters:,}", human_bytes(node.bytes, 1)])
        item.setData(0, Qt.ItemDataRole.UserRole, node)
        item.addChild(QTreeWidgetItem([_PLACEHOLDER]))  # filled on expansion
        return item

    def _tensor_item(self, label: str, name: str, tensor: Tensor) -> QTreeWidgetItem:
        size = tensor.byte_size
        item = QTreeWidgetItem(
            [label, shape_text(tensor.shape), tensor.dtype or "?", f"{tensor.size or 0:,}", human_bytes(size, 1) if size is not None else ""]
        )
        item.setData(0, Qt.ItemDataRole.UserRole, (name, tensor))
        item.setToolTip(0, name)
        return item

    def _add_children(self, parent: QTreeWidgetItem | None, node: TensorNode) -> None:
        if parent is None:
            return
        for child in node.children.values():
            if not child.children and len(child.tensors) == 1:  # "norm › weight" reads better as "norm.weight"
                name, tensor = child.tensors[0]
                parent.addChild(self._tensor_item(self._relative(name, node), name, tensor))
            else:
                parent.addChild(self._module_item(child))
        for name, tensor in node.tensors:
            parent.addChild(self._tensor_item(self._relative(name, node), name, tensor))

    @staticmethod
    def _relative(name: str, node: TensorNode) -> str:
        """``name`` without the module path shown above it."""
        if node.path and name.startswith(node.path):
            return name[len(node.path) :].lstrip("./") or name
        return name

    def _fill_children(self, item: QTreeWidgetItem | None) -> None:
        if item is None or item.childCount() != 1 or item.child(0).text(0) != _PLACEHOLDER:  # type: ignore[union-attr]
            return
        node = item.data(0, Qt.ItemDataRole.UserRole)
        item.takeChild(0)
        if isinstance(node, TensorNode):
            self._add_children(item, node)

    def _auto_open(self) -> None:
        """Open levels breadth first while few rows show: a model's top levels are visible at once."""
        queue = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        rows = len(queue)
        while queue:
            item = queue.pop(0)
            node = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
            if item is None or not isinstance(node, TensorNode) or node.repeat:
                continue
            extra = len(node.children) + len(node.tensors)
            if rows + extra > AUTO_OPEN_ROWS:
                continue
            item.setExpanded(True)
            rows += extra
            queue.extend(item.child(k) for k in range(item.childCount()))

    # -- selection -----------------------------------------------------------------------
    def _chosen(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if isinstance(data, TensorNode):
            self.module_chosen.emit(data)
        elif isinstance(data, tuple):
            self.tensor_chosen.emit(data[0], data[1])

    def select_tensor(self, name: str) -> bool:
        """Show and select the tensor called ``name`` (opening its modules); whether it exists."""
        self.filter.clear()
        parent: QTreeWidgetItem | None = self.tree.invisibleRootItem()
        while parent is not None:
            match = None
            for k in range(parent.childCount()):
                child = parent.child(k)
                data = child.data(0, Qt.ItemDataRole.UserRole) if child is not None else None
                if isinstance(data, tuple) and data[0] == name:
                    self.tree.setCurrentItem(child)
                    self.tree.scrollToItem(child)
                    return True
                if isinstance(data, TensorNode) and name.startswith(data.path) and name[len(data.path) : len(data.path) + 1] in (".", "/"):
                    match = child
            if match is None:
                return False
            match.setExpanded(True)
            parent = match
        return False
