"""Search the whole model by node name, op type or tensor name (Ctrl+F), subgraphs included.

Each result says where it is: the node's scope (``model / layers.3 / self_attn``), or
for nodes a flat export left without scopes, the groups netray folded them into
(``block.3 › Add … MatMul``), after the subgraph it lives in (``If_3 › then_branch``).
In the dock, Up and Down move through the results, Enter shows the chosen one, Esc
closes the search and returns to the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import QDockWidget, QHeaderView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from netray.hierarchy import Hierarchy
from netray.ir import Graph, Model, Node, Value

MAX_RESULTS = 500
IMMEDIATE_NODES = 5_000  # models up to this size are searched on every keystroke
DEBOUNCE_MS = 150

Path = tuple[tuple[str, int], ...]  # from the main graph: (node id, subgraph index) per step
HierarchyOf = Callable[[Path], "Hierarchy | None"]


@dataclass
class SearchHit:
    """One result: a node, or a tensor (value) with the node to show it at, and where it lives."""

    text: str
    node: Node | None
    value: Value | None = None
    path: Path = ()  # the graph holding it
    scope: str = ""  # where it is, for the reader

    @property
    def op(self) -> str:
        return "tensor" if self.value is not None else (self.node.op if self.node is not None else "")

    @property
    def name(self) -> str:
        if self.value is not None:
            return self.value.name
        return self.node.name if self.node is not None else ""


def graphs_with_paths(main: Graph) -> Iterator[tuple[Graph, Path, str]]:
    """The main graph and every subgraph under its nodes, with its path and a readable label."""
    stack: list[tuple[Graph, Path, str]] = [(main, (), "")]
    while stack:
        graph, path, label = stack.pop()
        yield graph, path, label
        for node in reversed(graph.nodes):
            for k, sub in reversed(list(enumerate(node.subgraphs))):
                step = f"{node.name or node.op} › {sub.name or f'graph {k}'}"
                stack.append((sub, (*path, (node.id, k)), f"{label} › {step}" if label else step))


def scope_text(node: Node, index: int, hierarchy: Hierarchy | None) -> str:
    """Where a node is: its scope, else the groups it was folded into."""
    if node.scope:
        return " / ".join(s for s in node.scope if s)
    if hierarchy is None or index >= len(hierarchy.node_group):
        return ""
    return " › ".join(g.label for g in hierarchy.ancestors(index))


def search_model(model: Model, query: str, hierarchy_of: HierarchyOf | None = None, limit: int = MAX_RESULTS) -> list[SearchHit]:
    """Nodes whose name or op contains ``query`` (case-insensitive), in every graph, then tensors by name.

    Exact matches come first, so "Conv" lists convolutions before "ConvTranspose".
    """
    if not model.graphs:
        return []
    return search_graphs(list(graphs_with_paths(model.main)), query, hierarchy_of, limit)


def search_graph(graph: Graph, query: str, limit: int = MAX_RESULTS) -> list[SearchHit]:
    """One graph and its subgraphs (see :func:`search_model`)."""
    return search_graphs(list(graphs_with_paths(graph)), query, None, limit)


def search_graphs(graphs: list[tuple[Graph, Path, str]], query: str, hierarchy_of: HierarchyOf | None, limit: int) -> list[SearchHit]:
    q = query.strip().lower()
    if not q:
        return []
    exact: list[SearchHit] = []
    partial: list[SearchHit] = []
    for graph, path, label in graphs:
        hierarchy = hierarchy_of(path) if hierarchy_of is not None else None
        for index, node in enumerate(graph.nodes):
            name = node.name.lower()
            op = node.op.lower()
            is_exact = q == op or q == name
            if not is_exact and q not in name and q not in op:
                continue
            where = scope_text(node, index, hierarchy)
            scope = f"{label} › {where}" if label and where else (label or where)
            hit = SearchHit(f"{node.op}  {node.name}", node, None, path, scope)
            (exact if is_exact else partial).append(hit)
            if len(exact) >= limit:
                break
    hits = (exact + partial)[:limit]
    for graph, path, label in graphs:
        for value in graph.values.values():
            if len(hits) >= limit:
                return hits
            if q in value.name.lower():
                anchor = value.producer or (value.consumers[0] if value.consumers else None)
                hits.append(SearchHit(f"tensor  {value.name}", anchor, value, path, label))
    return hits


class SearchPanel(QDockWidget):
    """A line edit and its results (op, name, where); choosing a result emits ``chosen``."""

    chosen = pyqtSignal(object)  # SearchHit
    closed = pyqtSignal()  # Esc: the user is done searching

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Search", parent)
        self.setObjectName("search")
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("node name, op type or tensor name")
        self.edit.setClearButtonEnabled(True)
        self.results = QTreeWidget()
        self.results.setColumnCount(3)
        self.results.setHeaderLabels(["Op", "Name", "Where"])
        self.results.setRootIsDecorated(False)
        self.results.setUniformRowHeights(True)
        self.results.setAllColumnsShowFocus(True)
        header = self.results.header()
        if header is not None:
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
            header.setStretchLastSection(True)
        layout.addWidget(self.edit)
        layout.addWidget(self.results)
        self.setWidget(body)
        self.model: Model | None = None
        self.hierarchy_of: HierarchyOf | None = None
        self._size = 0
        self.hits: list[SearchHit] = []
        # On a large model a query scans every node and tensor: wait for a pause in typing.
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.run_query(self.edit.text()))
        self.edit.textChanged.connect(self._text_changed)
        self.results.itemActivated.connect(self._choose_item)
        self.results.itemClicked.connect(self._choose_item)
        self.edit.installEventFilter(self)
        self.results.installEventFilter(self)

    def _text_changed(self, text: str) -> None:
        if self._size > IMMEDIATE_NODES:
            self._debounce.start()
        else:
            self.run_query(text)

    def set_model(self, model: Model | None, hierarchy_of: HierarchyOf | None = None) -> None:
        self.model = model
        self.hierarchy_of = hierarchy_of
        graphs = graphs_with_paths(model.main) if model is not None and model.graphs else iter(())
        self._size = sum(len(g.nodes) for g, _, _ in graphs)  # nodes in all graphs: decides the debounce
        self.run_query(self.edit.text())

    def focus(self) -> None:
        self.show()
        self.raise_()
        self.edit.setFocus()
        self.edit.selectAll()

    def run_query(self, text: str) -> None:
        self.results.clear()
        self.hits = search_model(self.model, text, self.hierarchy_of) if self.model is not None else []
        items = []
        for k, hit in enumerate(self.hits):
            item = QTreeWidgetItem([hit.op, hit.name, hit.scope])
            item.setData(0, Qt.ItemDataRole.UserRole, k)
            item.setToolTip(1, hit.name)
            item.setToolTip(2, hit.scope)
            items.append(item)
        self.results.addTopLevelItems(items)
        if items:
            self.results.setCurrentItem(items[0])

    def choose(self, k: int) -> None:
        if 0 <= k < len(self.hits):
            self.chosen.emit(self.hits[k])

    @property
    def current(self) -> int:
        item = self.results.currentItem()
        return int(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else 0

    def _choose_current(self) -> None:
        if self._debounce.isActive():  # Enter before the pause: search now
            self._debounce.stop()
            self.run_query(self.edit.text())
        self.choose(self.current)

    def _choose_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        self.choose(int(item.data(0, Qt.ItemDataRole.UserRole)))

    def _move(self, step: int) -> None:
        count = self.results.topLevelItemCount()
        if count == 0:
            return
        row = min(max(self.current + step, 0), count - 1)
        self.results.setCurrentItem(self.results.topLevelItem(row))

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:
        """Keys in the search field and the results: Up/Down move, Enter shows, Esc closes.

        They are claimed before the window's shortcuts see them (Esc also cancels a layout there).
        """
        if a1 is None or not isinstance(a1, QKeyEvent):
            return False
        key = a1.key()
        if a1.type() == QEvent.Type.ShortcutOverride:
            if key in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter):
                a1.accept()
                return True
            return False
        if a1.type() != QEvent.Type.KeyPress:
            return False
        if key == Qt.Key.Key_Escape:
            self.hide()
            self.closed.emit()
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._choose_current()
            return True
        if a0 is self.edit and key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
            step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 10, Qt.Key.Key_PageUp: -10}[Qt.Key(key)]
            self._move(step)
            return True
        return False
