"""The canvas's right-click menu: for a node, a group, an input or output, or empty space.

A node: copy its name, jump to any of its producers or consumers, open its
subgraphs. A group: expand or collapse it (or all inside it), copy its name, jump to
what feeds it or reads it, export its picture. Empty space: fit, expand or
collapse all, export the picture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from PyQt6.QtWidgets import QMenu

from netray.hierarchy import Group
from netray.ir import Node
from netray.scene import ItemKind

if TYPE_CHECKING:
    from netray_viewer.window import MainWindow

MAX_LISTED = 20  # producers or consumers listed in a submenu


def _add(menu: QMenu, text: str, slot: Callable[[], Any], enabled: bool = True) -> None:
    action = menu.addAction(text)
    assert action is not None
    action.triggered.connect(lambda _=False: slot())
    action.setEnabled(enabled)


def _node_label(node: Node) -> str:
    return f"{node.op}  {node.name}" if node.name and node.name != node.op else node.op


def _jump_menu(window: MainWindow, menu: QMenu, title: str, nodes: Iterable[Node]) -> None:
    """A submenu listing ``nodes``, each a jump to it; disabled when there are none."""
    nodes = list(dict.fromkeys(nodes))
    sub = menu.addMenu(f"{title} ({len(nodes)})")
    assert sub is not None
    sub.setEnabled(bool(nodes))
    for node in nodes[:MAX_LISTED]:
        _add(sub, _node_label(node), _jumper(window, node))
    if len(nodes) > MAX_LISTED:
        _add(sub, f"… and {len(nodes) - MAX_LISTED} more", lambda: None, enabled=False)


def _jumper(window: MainWindow, node: Node) -> Callable[[], None]:
    return lambda: window.reveal_node(node)


def producers(node: Node) -> list[Node]:
    return [v.producer for v in node.input_values() if v.producer is not None]


def consumers(node: Node) -> list[Node]:
    return [c for v in node.output_values() for c in v.consumers]


def group_neighbours(window: MainWindow, group: Group) -> tuple[list[Node], list[Node]]:
    """Nodes outside ``group`` that feed it, and nodes outside it that read from it."""
    level = window.level
    if level is None:
        return [], []
    nodes = level.graph.nodes
    inside = {id(nodes[i]) for g in group.walk() for i in g.nodes}
    feeding: list[Node] = []
    reading: list[Node] = []
    for g in group.walk():
        for i in g.nodes:
            node = nodes[i]
            feeding.extend(p for p in producers(node) if id(p) not in inside)
            reading.extend(c for c in consumers(node) if id(c) not in inside)
    return feeding, reading


def _opener(window: MainWindow, node: Node, k: int) -> Callable[[], None]:
    return lambda: window.enter_subgraph(node, k)


def item_menu(window: MainWindow, item: int) -> QMenu:
    """The menu for scene item ``item`` (-1: empty space)."""
    menu = QMenu(window)
    scene = window.scene
    if scene is None or item < 0 or item >= scene.size:
        _add(menu, "Fit to Window", window.canvas.fit)
        _add(menu, "Expand All Groups", window.expand_all)
        _add(menu, "Collapse All Groups", window.collapse_all)
        menu.addSeparator()
        _add(menu, "Export Picture…", lambda: window.export_dialog(".png"))
        return menu
    kind = scene.kind[item]
    ref = scene.ref[item]
    if kind == ItemKind.NODE:
        window.select_item(item)
        _add(menu, "Copy Name", lambda: window.copy_text(ref.name or ref.op))
        _jump_menu(window, menu, "Producers", producers(ref))
        _jump_menu(window, menu, "Consumers", consumers(ref))
        for k, sub in enumerate(ref.subgraphs):
            _add(menu, f"Open Subgraph {sub.name or k}", _opener(window, ref, k))
    elif kind in (ItemKind.GROUP, ItemKind.FRAME):
        window.select_item(item)
        expanded = kind == ItemKind.FRAME
        _add(menu, "Collapse" if expanded else "Expand", lambda: window.toggle_group(ref, expand=not expanded))
        _add(menu, "Expand All Inside", lambda: window.expand_inside(ref))
        _add(menu, "Copy Name", lambda: window.copy_text(ref.label))
        feeding, reading = group_neighbours(window, ref)
        _jump_menu(window, menu, "Producers", feeding)
        _jump_menu(window, menu, "Consumers", reading)
        menu.addSeparator()
        _add(menu, "Export This Group…", lambda: window.export_group(ref))
    else:  # a graph input or output
        window.select_item(item)
        _add(menu, "Copy Name", lambda: window.copy_text(ref.name))
        if kind == ItemKind.INPUT:
            _jump_menu(window, menu, "Consumers", ref.consumers)
        elif ref.producer is not None:
            _jump_menu(window, menu, "Producers", [ref.producer])
    return menu
