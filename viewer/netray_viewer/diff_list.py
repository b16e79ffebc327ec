"""The split view's list of changes: a summary line, the changes grouped by scope, and the chosen one's details.

Choosing an entry (click, or arrow keys) emits :attr:`ChangeList.chosen` with the
change; the split view then shows it on both sides. The list reads only what
:class:`netray.diff.DiffResult` gives: ``summary()`` and ``changes`` (kind, nodes in
A and in B, fields, scope).
"""

from __future__ import annotations

from html import escape
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import QDockWidget, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from netray_viewer.diff_marks import KINDS, LABELS, mark_colour

CHANGE_ROLE = Qt.ItemDataRole.UserRole
SUMMARY_KEYS = (("matched", "matched"), ("changed", "changed"), ("added", "added"), ("removed", "removed"), ("weights_changed", "weights changed"))


def change_title(change: Any) -> str:
    """``removed  Conv conv2`` — the kind, then the op and name on the side that has the node."""
    nodes = list(change.a or change.b or [])
    names = ", ".join(f"{n.op} {n.name}".strip() for n in nodes[:3]) + (" …" if len(nodes) > 3 else "")
    if change.a and change.b and len(change.a) + len(change.b) > 2:
        names += f" ⇄ {len(change.b)} in B"
    return f"{LABELS.get(change.kind, change.kind)}: {names or '(graph)'}"


def field_text(field: Any) -> str:
    """One changed field as a line: ``attribute:epsilon: 1e-05 -> 0.001``, as the engine words it."""
    if callable(getattr(field, "text", None)):
        return str(field.text())
    a, b = _short(getattr(field, "a", None)), _short(getattr(field, "b", None))
    detail = getattr(field, "detail", "") or ""
    text = f"{field.field}: {a} → {b}" if (a or b) else f"{field.field}"
    return f"{text} ({detail})" if detail else text


def _short(value: Any, limit: int = 60) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def swatch(kind: str, theme_name: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(mark_colour(kind, theme_name) if kind in KINDS else QColor(0, 0, 0, 0))
    return QIcon(pixmap)


class ChangeList(QDockWidget):
    """Every change of a diff, grouped by scope; choosing one asks the split view to show it."""

    chosen = pyqtSignal(object)  # a netray.diff Change

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Changes", parent)
        self.setObjectName("changes")
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(4, 4, 4, 4)
        self.summary = QLabel("Comparing…")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setMinimumHeight(90)
        column.addWidget(self.summary)
        column.addWidget(self.tree, 1)
        column.addWidget(self.details)
        self.setWidget(body)
        self.items: list[QTreeWidgetItem] = []  # one per change, in the result's order
        self._changes: list[Any] = []
        self.tree.itemClicked.connect(lambda item, _col: self._choose(item))
        self.tree.currentItemChanged.connect(lambda item, _prev: self._choose(item) if item is not None and self.tree.hasFocus() else None)

    def set_result(self, result: Any, theme_name: str = "light") -> None:
        """Fill the list from ``result``, scopes in the order their first change comes."""
        self.tree.clear()
        self.items = []
        self._changes = list(result.changes)
        summary = result.summary()
        parts = [f"{summary.get(key, 0):,} {label}" for key, label in SUMMARY_KEYS if key in summary]
        head = "<b>The models are the same.</b>" if getattr(result, "same", False) else f"<b>{len(self._changes):,} changes</b>"
        self.summary.setText(head + ("<br>" + " · ".join(parts) if parts else ""))
        scopes: dict[str, QTreeWidgetItem] = {}
        for k, change in enumerate(self._changes):
            scope = change.scope or "(top level)"
            parent = scopes.get(scope)
            if parent is None:
                parent = scopes[scope] = QTreeWidgetItem(self.tree, [scope])
                parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item = QTreeWidgetItem(parent, [change_title(change)])
            item.setIcon(0, swatch(change.kind, theme_name))
            item.setData(0, CHANGE_ROLE, k)
            item.setToolTip(0, "\n".join(field_text(f) for f in change.fields) or change_title(change))
            self.items.append(item)
        model_changes = list(getattr(result, "model_changes", []) or [])
        if model_changes:
            parent = QTreeWidgetItem(self.tree, ["(the models)"])
            parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for f in model_changes:
                QTreeWidgetItem(parent, [field_text(f)]).setFlags(Qt.ItemFlag.ItemIsEnabled)
            scopes["(the models)"] = parent
        for scope, parent in scopes.items():
            parent.setText(0, f"{scope}  ({parent.childCount()})")
        self.tree.expandAll()
        self.details.setText("")

    def set_failed(self, message: str) -> None:
        self.tree.clear()
        self.items = []
        self._changes = []
        self.summary.setText(f"<b>Not compared:</b> {escape(message)}")

    def change_at(self, item: QTreeWidgetItem | None) -> Any:
        k = item.data(0, CHANGE_ROLE) if item is not None else None
        return self._changes[k] if isinstance(k, int) and 0 <= k < len(self._changes) else None

    def choose(self, k: int) -> None:
        """Choose the ``k``-th change as a click does."""
        self._choose(self.items[k])

    def _choose(self, item: QTreeWidgetItem | None) -> None:
        change = self.change_at(item)
        if change is None:
            return
        self.show_change(change)
        self.chosen.emit(change)

    def show_change(self, change: Any) -> None:
        """Mark ``change`` current in the list (without emitting) and show its fields."""
        k = next((j for j, c in enumerate(self._changes) if c is change), None)
        if k is not None:
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(self.items[k])
            self.tree.blockSignals(False)
            self.tree.scrollToItem(self.items[k])
        lines = [f"<b>{escape(change_title(change))}</b>"]
        if change.a:
            lines.append("A: " + escape(", ".join(n.name or n.op for n in change.a)))
        if change.b:
            lines.append("B: " + escape(", ".join(n.name or n.op for n in change.b)))
        lines += [escape(field_text(f)) for f in change.fields]
        self.details.setText("<br>".join(lines))

    def change_of_node(self, side: str, node_id: str) -> Any:
        """The change holding the node with ``node_id`` on ``side`` ("a" or "b"), if any."""
        for change in self._changes:
            if any(n.id == node_id for n in (change.a if side == "a" else change.b) or []):
                return change
        return None
