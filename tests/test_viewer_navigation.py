"""Navigation through real keys, clicks and menus: Back and Forward, links, subgraphs, search, anchors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QPoint, Qt
from test_viewer_models import conv_net, if_model
from test_viewer_support import (
    capture_warnings,
    click,
    item_point,
    menu_action,
    node_named,
    open_and_wait,
    settle,
    show_item,
    trigger,
    view_centre,
    window_factory,
)

import netray
from netray.ids import assign_ids
from netray.ir import Model
from netray.layout import synthetic as syn
from netray.scene import ItemKind
from netray_viewer.places import anchor_point
from netray_viewer.window import MainWindow


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Any:
    shown = capture_warnings(monkeypatch)
    yield shown
    assert shown == [], f"unexpected messages: {shown}"


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Any:
    return window_factory(qtbot, tmp_path)


def links_in(window: MainWindow) -> dict[str, str]:
    """Link text -> href in the panel (Qt's HTML wraps link text in a span)."""
    html = window.panel.html()
    return {text: href for href, text in re.findall(r'<a href="([^"]+)">(?:<span[^>]*>)?([^<]+)', html)}


def alt(qtbot: Any, window: MainWindow, key: Qt.Key) -> None:
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, key, Qt.KeyboardModifier.AltModifier)
    settle(window)


def test_back_and_forward_across_search_links_and_groups(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("none")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    start_expanded = window.level.expanded  # type: ignore[union-attr]
    assert not menu_action(window, "Go", "Back").isEnabled() and not window.commands.back.isEnabled()

    # 1. Search (Ctrl+F, type, Enter in the dock) jumps to a node hidden in collapsed groups.
    window.activateWindow()
    qtbot.keyClick(window.canvas, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(window.search.edit, "block2/relu")
    qtbot.keyClick(window.search.edit, Qt.Key.Key_Return)
    settle(window)
    relu = node_named(window, "/backbone/block2/relu/Relu")
    assert window.selected == ("node", relu)
    after_search = window.level.expanded  # type: ignore[union-attr]
    assert after_search != start_expanded and menu_action(window, "Go", "Back").isEnabled()

    # 2. The panel's input link goes to the producer.
    bn = node_named(window, "/backbone/block2/bn/BatchNormalization")
    href = links_in(window)[bn.name]
    assert href == "node:" + quote(bn.id, safe="")
    window.panel.follow(href)
    settle(window)
    assert window.selected == ("node", bn)
    at_bn = view_centre(window)

    # 3. Collapse all (View menu).
    trigger(window, "View", "Collapse All Groups")
    settle(window)
    assert window.level.expanded == window.level.hierarchy.expanded_to_depth(0)  # type: ignore[union-attr]

    # Back (Alt+Left) undoes each move, in turn; the view and the selection come back.
    alt(qtbot, window, Qt.Key.Key_Left)
    assert window.level.expanded == after_search and window.selected == ("node", bn)  # type: ignore[union-attr]
    assert view_centre(window) == pytest.approx(at_bn, abs=1.0)
    alt(qtbot, window, Qt.Key.Key_Left)
    assert window.selected == ("node", relu)
    # Mouse button 4 (back) on the canvas.
    qtbot.mousePress(window.canvas.viewport(), Qt.MouseButton.BackButton, pos=QPoint(50, 50))
    settle(window)
    assert window.level.expanded == start_expanded and window.selected is None  # type: ignore[union-attr]
    assert not window.commands.back.isEnabled() and window.commands.forward.isEnabled()

    # Forward: Alt+Right, then mouse button 5, then the toolbar's button.
    alt(qtbot, window, Qt.Key.Key_Right)
    assert window.selected == ("node", relu)
    qtbot.mousePress(window.canvas.viewport(), Qt.MouseButton.ForwardButton, pos=QPoint(50, 50))
    settle(window)
    assert window.selected == ("node", bn)
    toolbar_forward = window.commands.toolbar.widgetForAction(window.commands.forward)
    assert toolbar_forward is not None
    qtbot.mouseClick(toolbar_forward, Qt.MouseButton.LeftButton)
    settle(window)
    assert window.level.expanded == window.level.hierarchy.expanded_to_depth(0)  # type: ignore[union-attr]
    assert not window.commands.forward.isEnabled()
    # A new move forgets what lay ahead.
    alt(qtbot, window, Qt.Key.Key_Left)
    assert window.commands.forward.isEnabled()
    window.expand_all()
    settle(window)
    assert not window.commands.forward.isEnabled()


def test_subgraphs_back_forward_and_the_panel_follows_the_breadcrumbs(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, if_model(tmp_path / "if.onnx"))
    main = window.level.graph  # type: ignore[union-attr]
    if_node = node_named(window, "If_3")
    i = window.scene.item_of(if_node)  # type: ignore[union-attr]
    assert i is not None
    show_item(window, i)
    click(qtbot, window, item_point(window, i), double=True)
    settle(window)
    then = if_node.subgraphs[0]
    assert window.level.graph is then  # type: ignore[union-attr]
    # Entering: the panel shows the subgraph, not the main graph.
    text = window.panel.plain_text()
    assert f"Graph {then.name}" in text and then.outputs[0].name in text
    # The breadcrumbs lead back; the panel then shows the node whose subgraph was left.
    qtbot.mouseClick(window.breadcrumbs.buttons[0], Qt.MouseButton.LeftButton)
    settle(window)
    assert window.level.graph is main and window.selected == ("node", if_node)
    assert "If" in window.panel.plain_text().split("\n")[0]
    alt(qtbot, window, Qt.Key.Key_Left)
    assert window.level.graph is then and window.breadcrumbs.isVisible()
    alt(qtbot, window, Qt.Key.Key_Left)
    assert window.level.graph is main and not window.breadcrumbs.isVisible()
    alt(qtbot, window, Qt.Key.Key_Right)
    assert window.level.graph is then
    # Backspace: to the parent graph, as the breadcrumbs.
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Backspace)
    settle(window)
    assert window.level.graph is main


def test_node_panel_links_producers_and_consumers(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    relu = node_named(window, "/backbone/block0/relu/Relu")
    i = window.scene.item_of(relu)  # type: ignore[union-attr]
    assert i is not None
    show_item(window, i)
    click(qtbot, window, item_point(window, i))
    text = window.panel.plain_text()
    assert "from /backbone/block0/bn/BatchNormalization" in text
    assert "to /backbone/block1/conv/Conv" in text
    consumer = node_named(window, "/backbone/block1/conv/Conv")
    window.panel.follow(links_in(window)[consumer.name])
    settle(window)
    assert window.selected == ("node", consumer)
    j = window.scene.item_of(consumer)  # type: ignore[union-attr]
    assert j is not None and window.canvas.scene_painter.selected_item == j  # type: ignore[union-attr]
    rect = window.canvas.view_box.viewRect()
    x, y = anchor_point(window.scene, j)  # type: ignore[arg-type]
    assert rect.contains(x, y)  # the view went to it


def test_expand_all_and_collapse_all_keep_the_place(make_window: Any, tmp_path: Path) -> None:
    window = make_window("1")  # backbone open, its blocks collapsed
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    s = window.scene
    assert s is not None
    block1 = next(g for g in window.level.hierarchy.groups.values() if g.label == "block1")  # type: ignore[union-attr]
    i = s.item_of(block1)
    assert i is not None and s.kind[i] == ItemKind.GROUP
    show_item(window, i, zoom=1.2)
    zoom = window.canvas.zoom()
    before = window.canvas.map_to_widget(*anchor_point(s, i))
    trigger(window, "View", "Expand All Groups")
    settle(window)
    s = window.scene
    assert s is not None
    j = s.item_of(block1)
    assert j is not None and s.kind[j] == ItemKind.FRAME
    after = window.canvas.map_to_widget(*anchor_point(s, j))
    assert (after - before).manhattanLength() < 3  # still where it was on screen
    assert window.canvas.zoom() == pytest.approx(zoom, rel=1e-6)
    # Collapse all: what was at the view's centre is now inside the collapsed backbone box,
    # and that box sits where it was.
    centre_thing = window.places.anchor()
    assert centre_thing is not None
    ref, dx, dy = centre_thing
    rect = window.canvas.view_box.viewRect()
    spot = window.canvas.map_to_widget(rect.center().x() + dx, rect.center().y() + dy)
    trigger(window, "View", "Collapse All Groups")
    settle(window)
    s = window.scene
    k = window.places.item_showing(ref)
    assert k is not None and s.ref[k] is block1.parent  # type: ignore[union-attr]
    assert (window.canvas.map_to_widget(*anchor_point(s, k)) - spot).manhattanLength() < 3  # type: ignore[arg-type]
    assert window.canvas.zoom() == pytest.approx(zoom, rel=1e-6)


def test_search_shows_scopes_finds_nodes_in_subgraphs_and_uses_keys(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, if_model(tmp_path / "if.onnx"))
    window.activateWindow()
    trigger(window, "Edit", "Find…")
    assert window.search.isVisible() and window.search.edit.hasFocus()
    qtbot.keyClicks(window.search.edit, "mul")
    rows = window.search.results
    hit = rows.topLevelItem(0)
    assert hit is not None and hit.text(0) == "Mul" and hit.text(1) == "then_mul"
    assert hit.text(2) == "If_3 › then_branch"  # where: the subgraph it lives in
    qtbot.keyClick(window.search.edit, Qt.Key.Key_Return)
    settle(window)
    mul = node_named(window, "then_mul")
    assert window.level.graph.name == "then_branch" and window.selected == ("node", mul)  # type: ignore[union-attr]
    assert window.scene is not None and window.scene.item_of(mul) is not None
    # Arrow keys move through the results; Enter shows the current one; Esc closes the search.
    window.search.focus()
    window.search.edit.setText("e")
    count = rows.topLevelItemCount()
    assert count >= 3
    qtbot.keyClick(window.search.edit, Qt.Key.Key_Down)
    qtbot.keyClick(window.search.edit, Qt.Key.Key_Down)
    qtbot.keyClick(window.search.edit, Qt.Key.Key_Up)
    assert window.search.current == 1
    chosen = window.search.hits[1]
    qtbot.keyClick(window.search.edit, Qt.Key.Key_Return)
    settle(window)
    assert window.selected is not None and window.selected[1] in (chosen.node, chosen.value)
    qtbot.keyClick(window.search.edit, Qt.Key.Key_Escape)
    assert not window.search.isVisible() and window.canvas.hasFocus()
    assert not window.busy


def test_search_results_of_a_flat_export_say_which_folded_block_they_are_in(make_window: Any, tmp_path: Path) -> None:
    model = Model("synthetic", [syn.decoder(8)])
    assign_ids(model)
    path = netray.save_model(model, tmp_path / "decoder.netray")
    window = make_window("auto")
    open_and_wait(window, path)
    window.search.focus()
    window.search.edit.setText("Softmax")
    rows = [window.search.results.topLevelItem(k) for k in range(window.search.results.topLevelItemCount())]
    wheres = [row.text(2) for row in rows if row is not None and row.text(0) == "Softmax"]
    assert len(wheres) == 8 and len(set(wheres)) == 8  # eight Softmax rows, each saying which block
    assert all(re.fullmatch(r"block\.0 … block\.7 ×8 › block\.\d", w) for w in wheres), wheres
