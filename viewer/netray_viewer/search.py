"""Search the graph on screen by node name, op type or tensor name (Ctrl+F)."""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QDockWidget, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from netray.ir import Graph, Node, Value

MAX_RESULTS = 500
IMMEDIATE_NODES = 5_000  # graphs up to this size are searched on every keystroke
DEBOUNCE_MS = 150


@dataclass
class SearchHit:
    """One result: a node, or a tensor (value) with the node to show it at."""

    text: str
    node: Node | None
    value: Value | None = None


def search_graph(graph: Graph, query: str, limit: int = MAX_RESULTS) -> list[SearchHit]:
    """Nodes whose name or op contains ``query`` (case-insensitive), then tensors by name.

    Exact op-type matches come first, so "Conv" lists convolutions before "ConvTranspose".
    """
    q = query.strip().lower()
    if not q:
        return []
    exact: list[SearchHit] = []
    partial: list[SearchHit] = []
    for node in graph.nodes:
        name = node.name.lower()
        op = node.op.lower()
        if q == op or q == name:
            exact.append(SearchHit(f"{node.op}  {node.name}", node))
        elif q in name or q in op:
            partial.append(SearchHit(f"{node.op}  {node.name}", node))
        if len(exact) >= limit:
            break
    hits = (exact + partial)[:limit]
    for value in graph.values.values():
        if len(hits) >= limit:
            break
        if q in value.name.lower():
            anchor = value.producer or (value.consumers[0] if value.consumers else None)
            hits.append(SearchHit(f"tensor  {value.name}", anchor, value))
    return hits


class SearchPanel(QDockWidget):
    """A line edit and its results; choosing a result emits ``chosen``."""

    chosen = pyqtSignal(object)  # SearchHit

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Search", parent)
        self.setObjectName("search")
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("node name, op type or tensor name")
        self.edit.setClearButtonEnabled(True)
        self.results = QListWidget()
        layout.addWidget(self.edit)
        layout.addWidget(self.results)
        self.setWidget(body)
        self.graph: Graph | None = None
        self.hits: list[SearchHit] = []
        # On a large graph a query scans every node and tensor: wait for a pause in typing.
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.run_query(self.edit.text()))
        self.edit.textChanged.connect(self._text_changed)
        self.edit.returnPressed.connect(self._choose_first)
        self.results.itemActivated.connect(self._choose_item)
        self.results.itemClicked.connect(self._choose_item)

    def _text_changed(self, text: str) -> None:
        if self.graph is not None and len(self.graph.nodes) > IMMEDIATE_NODES:
            self._debounce.start()
        else:
            self.run_query(text)

    def set_graph(self, graph: Graph | None) -> None:
        self.graph = graph
        self.run_query(self.edit.text())

    def focus(self) -> None:
        self.show()
        self.raise_()
        self.edit.setFocus()
        self.edit.selectAll()

    def run_query(self, text: str) -> None:
        self.results.clear()
        self.hits = search_graph(self.graph, text) if self.graph is not None else []
        for k, hit in enumerate(self.hits):
            item = QListWidgetItem(hit.text)
            item.setData(Qt.ItemDataRole.UserRole, k)
            self.results.addItem(item)

    def choose(self, k: int) -> None:
        if 0 <= k < len(self.hits):
            self.chosen.emit(self.hits[k])

    def _choose_first(self) -> None:
        if self._debounce.isActive():  # Enter before the pause: search now
            self._debounce.stop()
            self.run_query(self.edit.text())
        self.choose(0)

    def _choose_item(self, item: QListWidgetItem) -> None:
        self.choose(int(item.data(Qt.ItemDataRole.UserRole)))
