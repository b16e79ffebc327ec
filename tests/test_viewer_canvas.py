"""The canvas through real mouse and wheel events: minimap, zoom limits, toolbar and the right-click menu."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QGuiApplication, QWheelEvent
from PyQt6.QtWidgets import QApplication, QMenu, QToolButton
from test_viewer_models import conv_net
from test_viewer_support import (
    capture_warnings,
    click,
    item_point,
    node_named,
    open_and_wait,
    settle,
    show_item,
    window_factory,
)

import netray
from netray.ids import assign_ids
from netray.ir import Model
from netray.layout import synthetic as syn
from netray.scene import ItemKind
from netray_viewer import minimap as minimap_module
from netray_viewer.canvas import MAX_ZOOM
from netray_viewer.window import MainWindow


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Any:
    shown = capture_warnings(monkeypatch)
    yield shown
    assert shown == [], f"unexpected messages: {shown}"


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Any:
    return window_factory(qtbot, tmp_path)


@pytest.fixture
def tall_model(tmp_path: Path) -> Path:
    """A 24-layer decoder, flat: fully expanded it is dozens of times taller than wide."""
    model = Model("synthetic", [syn.decoder(24)])
    assign_ids(model)
    return netray.save_model(model, tmp_path / "tall.netray")


def wheel(window: MainWindow, notches: int) -> None:
    """Real wheel events on the canvas's centre: positive notches zoom in."""
    viewport = window.canvas.viewport()
    assert viewport is not None
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    for _ in range(abs(notches)):
        event = QWheelEvent(
            centre,
            viewport.mapToGlobal(centre),
            QPoint(0, 0),
            QPoint(0, 120 if notches > 0 else -120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(viewport, event)


def graph_share_of_view(window: MainWindow) -> float:
    s = window.scene
    assert s is not None
    left, top, right, bottom = s.bounds()
    view = window.canvas.view_box.viewRect()
    return max((right - left) / view.width(), (bottom - top) / view.height())


def test_wheel_zoom_stops_before_the_graph_is_a_speck_and_at_eight_to_one(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    window.canvas.fit()
    fitted = window.canvas.zoom()
    wheel(window, -12)
    assert window.canvas.zoom() < fitted  # it did zoom out ...
    assert graph_share_of_view(window) >= 0.49  # ... but the graph still spans half the view
    wheel(window, -12)
    assert graph_share_of_view(window) >= 0.49
    wheel(window, 60)
    assert window.canvas.zoom() == pytest.approx(MAX_ZOOM, rel=1e-3)
    wheel(window, 5)
    assert window.canvas.zoom() <= MAX_ZOOM * 1.001


def test_minimap_keeps_the_aspect_of_a_tall_graph_and_shows_it_wide_enough(make_window: Any, tall_model: Path) -> None:
    window = make_window("all")
    open_and_wait(window, tall_model)
    s = window.scene
    assert s is not None
    left, top, right, bottom = s.bounds()
    assert (bottom - top) > 20 * (right - left)
    m = window.minimap
    window.canvas.centre_on((left + right) / 2, top + 400, min_zoom=1.0)
    assert m.isVisible()
    assert m.width() - 2 * minimap_module.BORDER >= minimap_module.MIN_WIDTH  # not a strip of a few pixels
    assert m.height() <= minimap_module.MAX_SIDE + 2 * minimap_module.BORDER
    m.repaint()
    image = m.image
    assert image is not None
    assert image.width() / image.height() == pytest.approx((right - left) / (bottom - top), rel=0.03)
    # The graph is drawn across the overview, not in its leftmost pixel.
    columns = {x for x in range(image.width()) for y in range(0, min(image.height(), 600), 3) if image.pixelColor(x, y).alpha() > 0}
    assert len(columns) > image.width() * 0.5
    assert m.scrolls  # too long for the minimap: it shows the stretch around the view


def test_minimap_clicks_and_drags_keep_the_view_on_the_graph(make_window: Any, qtbot: Any, tall_model: Path) -> None:
    window = make_window("all")
    open_and_wait(window, tall_model)
    s = window.scene
    assert s is not None
    left, top, right, bottom = s.bounds()
    window.canvas.centre_on((left + right) / 2, top + 2000, min_zoom=1.0)
    m = window.minimap
    # A click in the minimap's far corner: the view goes there, but stays on the graph.
    qtbot.mouseClick(m, Qt.MouseButton.LeftButton, pos=QPoint(m.width() - 2, m.height() - 2))
    view = window.canvas.view_box.viewRect()
    assert view.right() <= right + 1 or view.width() >= right - left
    assert left - 1 <= view.center().x() <= right + 1 and top <= view.center().y() <= bottom
    # Drag the view's rectangle: it follows the pointer without jumping to centre on it.
    rect = view
    grab = m.to_map(rect.center().x() + rect.width() / 4, rect.center().y())
    start = grab.toPoint()
    qtbot.mousePress(m, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(m, pos=start + QPoint(0, 20))
    qtbot.mouseRelease(m, Qt.MouseButton.LeftButton, pos=start + QPoint(0, 20))
    moved = window.canvas.view_box.viewRect()
    assert moved.center().y() - rect.center().y() == pytest.approx(20 / m.scale, rel=0.1)
    assert moved.center().x() == pytest.approx(rect.center().x(), abs=2 / m.scale)


def test_toolbar_has_the_daily_actions(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    bar = window.commands.toolbar
    texts = [a.text().replace("&", "") for a in bar.actions() if a.text()]
    assert texts[:5] == ["Open…", "Back", "Forward", "Fit to Window", "Find…"]
    export = next(w for w in bar.findChildren(QToolButton) if w.text() == "Export")
    menu = export.menu()
    assert menu is not None and [a.text() for a in menu.actions()] == ["PNG image…", "SVG drawing…", "PDF document…"]
    assert not export.isEnabled()  # nothing to export yet
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert export.isEnabled()
    window.canvas.zoom_by(3.0)
    fit = bar.widgetForAction(window.commands.fit)
    assert fit is not None
    qtbot.mouseClick(fit, Qt.MouseButton.LeftButton)
    left, top, right, bottom = window.scene.bounds()  # type: ignore[union-attr]
    view = window.canvas.view_box.viewRect()
    assert view.left() <= left and view.right() >= right and view.top() <= top and view.bottom() >= bottom
    find = bar.widgetForAction(window.commands.find)
    assert find is not None
    qtbot.mouseClick(find, Qt.MouseButton.LeftButton)
    assert window.search.isVisible()


def popup(window: MainWindow) -> QMenu:
    menus = [m for m in window.findChildren(QMenu) if m.isVisible() and m.parent() is window]
    assert len(menus) == 1
    return menus[0]


def choose(menu: QMenu, *path: str) -> None:
    for k, label in enumerate(path):
        action = next((a for a in menu.actions() if a.text().startswith(label)), None)
        assert action is not None, f"{label!r} not in {[a.text() for a in menu.actions()]}"
        if k < len(path) - 1:
            sub = action.menu()
            assert isinstance(sub, QMenu)
            menu = sub
        else:
            assert action.isEnabled()
            action.trigger()


def test_right_click_menus_on_groups_and_nodes(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("1")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    s = window.scene
    assert s is not None
    i = next(k for k in range(s.size) if s.kind[k] == ItemKind.GROUP and s.ref[k].label == "block1")
    group = s.ref[i]
    show_item(window, i)
    click(qtbot, window, item_point(window, i), button=Qt.MouseButton.RightButton)
    menu = popup(window)
    labels = [a.text() for a in menu.actions() if a.text()]
    assert labels[:3] == ["Expand", "Expand All Inside", "Copy Name"] and "Export This Group…" in labels
    assert any(t.startswith("Producers (1)") for t in labels) and any(t.startswith("Consumers (1)") for t in labels)
    choose(menu, "Expand")
    menu.close()
    settle(window)
    assert group.id in window.level.expanded  # type: ignore[union-attr]
    # On a node: jump to its producer, and copy its name.
    relu = node_named(window, "/backbone/block1/relu/Relu")
    j = window.scene.item_of(relu)  # type: ignore[union-attr]
    assert j is not None
    show_item(window, j)
    click(qtbot, window, item_point(window, j), button=Qt.MouseButton.RightButton)
    menu = popup(window)
    choose(menu, "Producers", "BatchNormalization")
    menu.close()
    settle(window)
    assert window.selected == ("node", node_named(window, "/backbone/block1/bn/BatchNormalization"))
    assert window.commands.back.isEnabled()  # a jump Back undoes
    j = window.scene.item_of(relu)  # type: ignore[union-attr]
    assert j is not None
    show_item(window, j)
    click(qtbot, window, item_point(window, j), button=Qt.MouseButton.RightButton)
    menu = popup(window)
    choose(menu, "Copy Name")
    menu.close()
    clipboard = QGuiApplication.clipboard()
    assert clipboard is not None and clipboard.text() == relu.name


def test_edges_far_off_screen_cost_nothing_and_the_frame_draws_them_clipped(make_window: Any, tall_model: Path) -> None:
    window = make_window("all")
    open_and_wait(window, tall_model)
    painter = window.canvas.scene_painter
    assert painter is not None
    pieces = painter.geometry.pieces
    s = window.scene
    assert s is not None
    left, top, right, bottom = s.bounds()
    # A view of a tenth of the graph asks for a small share of the pieces.
    tenth = pieces.pieces_in(left, top, right, top + (bottom - top) / 10)
    assert 0 < len(tenth) < pieces.size * 0.3
    assert np.all(np.diff(tenth) > 0)
