"""View settings through the real View menu: what boxes show, direction, theme, folded constants; remembered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QGuiApplication
from test_viewer_models import conv_net, if_model
from test_viewer_support import (
    capture_warnings,
    menu_action,
    node_named,
    open_and_wait,
    settle,
    trigger,
    window_factory,
)

from netray.scene import ItemKind
from netray_viewer.window import MainWindow


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Any:
    shown = capture_warnings(monkeypatch)
    yield shown
    assert shown == [], f"unexpected messages: {shown}"


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Any:
    return window_factory(qtbot, tmp_path)


def lines_of(window: MainWindow, name: str) -> list[str]:
    s = window.scene
    assert s is not None
    i = s.item_of(node_named(window, name))
    assert i is not None
    return s.lines[i]


def test_defaults_are_netrons_and_shown_checked(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    checked = {label: menu_action(window, "View", label).isChecked() for label in ("Show Names", "Show Attributes", "Show Weights", "Show Edge Shapes", "Fold Constants into Their Users")}
    assert checked == {"Show Names": False, "Show Attributes": True, "Show Weights": True, "Show Edge Shapes": True, "Fold Constants into Their Users": True}
    assert menu_action(window, "View", "Layout Direction", "Top to Bottom").isChecked()
    assert not menu_action(window, "View", "Layout Direction", "Left to Right").isChecked()
    assert menu_action(window, "View", "Theme", "Light").isChecked()


def test_names_attributes_and_weights_in_boxes_are_toggled_and_remembered(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    conv = "/backbone/block1/conv/Conv"
    assert lines_of(window, conv) == ["3x3 pad 1", "W 16x16x3x3", "B 16"]
    trigger(window, "View", "Show Names")
    settle(window)
    assert lines_of(window, conv)[0] == conv
    trigger(window, "View", "Show Attributes")
    settle(window)
    assert lines_of(window, conv) == [conv, "W 16x16x3x3", "B 16"]
    trigger(window, "View", "Show Weights")
    settle(window)
    assert lines_of(window, conv) == [conv]
    window.close()
    # A new window with the same settings file: the same choices, checked, and boxes drawn by them.
    again = make_window("all")
    assert menu_action(again, "View", "Show Names").isChecked() and not menu_action(again, "View", "Show Weights").isChecked()
    open_and_wait(again, conv_net(tmp_path / "conv2.onnx"))
    assert lines_of(again, conv) == [conv]


def test_edge_shapes_toggle_repaints_without_relayout(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    s = window.scene
    assert s is not None
    j = int(np.flatnonzero(np.isfinite(s.edge_label_x))[0])
    x, y = float(s.edge_label_x[j]), float(s.edge_label_y[j])
    window.canvas.centre_on(x, y, min_zoom=2.0)

    top_left = window.canvas.map_to_widget(x, y).toPoint()
    bottom_right = window.canvas.map_to_widget(x + 40, y + 11).toPoint()

    def label_area() -> list[int]:
        image = window.canvas.grab().toImage()
        return [image.pixel(px, py) for px in range(top_left.x(), bottom_right.x()) for py in range(top_left.y(), bottom_right.y())]

    shown = label_area()
    trigger(window, "View", "Show Edge Shapes")
    assert not window.busy and window.scene is s  # a repaint, not a new layout
    hidden = label_area()
    assert sum(a != b for a, b in zip(shown, hidden, strict=True)) > 20  # the text was there, and is gone
    assert len(set(hidden)) <= 3  # plain fill (and at most an edge's pixels) where the label was
    trigger(window, "View", "Show Edge Shapes")
    assert label_area() == shown


def test_left_to_right_layout_from_the_menu_keeps_labels_clear(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    trigger(window, "View", "Layout Direction", "Left to Right")
    settle(window)
    assert menu_action(window, "View", "Layout Direction", "Left to Right").isChecked()
    s = window.scene
    assert s is not None and s.direction == "LR"
    left, top, right, bottom = s.bounds()
    assert right - left > 3 * (bottom - top)  # the chain of blocks runs across
    boxes = [QRectF(s.x[i], s.y[i], s.w[i], s.h[i]) for i in range(s.size) if s.kind[i] != ItemKind.FRAME]
    placed = np.flatnonzero(np.isfinite(s.edge_label_x))
    labelled = [j for j in range(len(s.edge_label)) if s.edge_label[j]]
    assert len(placed) == len(labelled)  # every shape found a place, none cut short
    for j in placed.tolist():
        rect = QRectF(s.edge_label_x[j], s.edge_label_y[j], len(s.edge_label[j]) * 5.6, 11)
        assert not any(rect.intersects(b) for b in boxes), s.edge_label[j]
    window.close()
    assert make_window("all").view_settings.direction == "LR"  # remembered


def test_theme_is_a_checked_choice_and_can_follow_the_system(make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netray_viewer import appearance

    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    window.select_ref("node", node_named(window, "/backbone/block0/relu/Relu"))  # a panel with links
    trigger(window, "View", "Theme", "Dark")
    assert menu_action(window, "View", "Theme", "Dark").isChecked() and not menu_action(window, "View", "Theme", "Light").isChecked()
    assert window.canvas.grab().toImage().pixelColor(3, 3).lightness() < 60
    link = QGuiApplication.palette().link().color().name()
    assert link == "#6ea8ff" and f"color:{link}" in window.panel.html()  # links readable on the dark panel
    monkeypatch.setattr(appearance, "system_theme_name", lambda: "light")
    trigger(window, "View", "Theme", "Follow the System")
    assert menu_action(window, "View", "Theme", "Follow the System").isChecked()
    assert window.theme.name == "light" and window.canvas.grab().toImage().pixelColor(3, 3).lightness() > 200
    # The desktop switches to dark: the window follows.
    monkeypatch.setattr(appearance, "system_theme_name", lambda: "dark")
    window.appearance.system_changed()
    assert window.theme.name == "dark" and window.canvas.grab().toImage().pixelColor(3, 3).lightness() < 60
    assert window.settings.value("view/theme") == "system"


def test_constants_fold_into_their_users_with_values_shown(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, if_model(tmp_path / "if.onnx"))
    s = window.scene
    zero = node_named(window, "zero")
    greater = node_named(window, "is_positive")
    assert s is not None and s.item_of(zero) is None  # no box of its own
    assert "B = 0" in lines_of(window, "is_positive")  # its value, in its user's box
    window.select_ref("node", greater)
    text = window.panel.plain_text()
    assert "folded constant zero (Constant), drawn in this box" in text
    assert any(v.tensor is zero.attributes[0].value for v in window.panel.weight_views)
    # Folding off (View menu): the constant is a box again, its value in it, and an edge to its user.
    trigger(window, "View", "Fold Constants into Their Users")
    settle(window)
    s = window.scene
    i = s.item_of(zero)  # type: ignore[union-attr]
    assert i is not None and s.lines[i] == ["value = 0"]  # type: ignore[union-attr]
    assert "B = 0" not in lines_of(window, "is_positive")
    window.select_ref("node", zero)
    assert "float32 scalar: 0\n" in window.panel.plain_text()  # a value, not a Python repr
    assert "Tensor(" not in window.panel.plain_text()


def test_tensorflow_consts_fold_away(make_window: Any, shared_models: Path) -> None:
    path = shared_models / "tensorflow" / "frozen" / "tf2onnx" / "lstm_frozen.pb"
    if not path.is_file():
        pytest.skip(f"{path} is not in the shared models")
    window = make_window("all")
    open_and_wait(window, path)
    s = window.scene
    assert s is not None and window.model is not None
    consts = [n for n in window.model.main.nodes if n.op == "Const"]
    assert len(consts) > 50
    drawn = {s.ref[i].op for i in range(s.size) if s.kind[i] == ItemKind.NODE}
    assert "Const" not in drawn
    unfolded = make_window("all", settings_file=Path(window.settings.fileName()).with_name("other.ini"), fold_constants=False)
    open_and_wait(unfolded, path)
    again = unfolded.scene
    assert again is not None
    assert sum(1 for i in range(again.size) if again.kind[i] == ItemKind.NODE and again.ref[i].op == "Const") == len(consts)
