"""Metric overlays in the window: colours by value, the legend, the Metric menu, node data files, CSV, the panel."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QPoint
from PyQt6.QtWidgets import QDialog, QFileDialog
from test_viewer_models import conv_net
from test_viewer_support import (
    capture_warnings,
    menu_action,
    node_named,
    open_and_wait,
    settle,
    show_item,
    trigger,
    window_factory,
)

from netray.metrics import Metric, format_number
from netray.scene import ItemKind
from netray_viewer.dimensions import DimensionsDialog
from netray_viewer.overlay import NEUTRAL_KEY, OFF_SCALE_KEY
from netray_viewer.window import MainWindow

RESNET = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx"


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return capture_warnings(monkeypatch)


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Any:
    return window_factory(qtbot, tmp_path)


def ranked(window: MainWindow, name: str = "rank") -> Metric:
    """A metric numbering the main graph's operations 1, 2, 3, ... in order."""
    assert window.model is not None
    return Metric(name, {n.id: float(k + 1) for k, n in enumerate(window.model.main.nodes)}, unit="u", description="test numbers")


def box_colour(window: MainWindow, i: int) -> str:
    """The colour painted at the left end of item ``i``'s title band, clear of its text."""
    show_item(window, i, zoom=1.0)
    window.canvas.zoom_by(1.0 / window.canvas.zoom())
    scene = window.scene
    assert scene is not None
    point = window.canvas.map_to_widget(float(scene.x[i] + 3), float(scene.y[i] + 4)).toPoint()
    return window.canvas.grab().toImage().pixelColor(point).name()


def items_of(window: MainWindow, kind: ItemKind) -> list[int]:
    scene = window.scene
    assert scene is not None
    return [i for i in range(scene.size) if scene.kind[i] == kind]


def test_a_metric_colours_each_box_by_its_number_with_a_legend(make_window: Any, tmp_path: Path, shown: list[str]) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert not window.overlays.legend.isVisible()
    window.overlays.add_metrics([ranked(window)])
    window.overlays.choose("rank")
    paint = window.overlays.paint
    assert paint is not None and window.canvas.scene_painter is not None and window.canvas.scene_painter.overlay is paint
    nodes = items_of(window, ItemKind.NODE)
    first, last = min(nodes, key=lambda i: paint.values[i]), max(nodes, key=lambda i: paint.values[i])
    assert paint.key[first] == 0 and paint.key[last] > paint.key[first]
    low, high = box_colour(window, first), box_colour(window, last)
    assert low != high
    assert low == paint.header(int(paint.key[first]), window.theme).name()
    # The legend names the metric and shows the range of the boxes shown, formatted with the unit.
    legend = window.overlays.legend
    assert legend.isVisible() and legend.parent() is window.canvas
    text = legend.text()
    count = len(window.model.main.nodes)  # type: ignore[union-attr]
    assert "rank (u)" in text and format_number(1.0, "u") in text and format_number(float(count), "u") in text
    assert "linear scale, sequential" in text
    # Back to the usual colours.
    window.overlays.choose(None)
    assert window.canvas.scene_painter.overlay is None and not legend.isVisible()
    assert shown == []


def test_collapsed_groups_take_their_members_total(make_window: Any, tmp_path: Path) -> None:
    window = make_window("none")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    window.overlays.add_metrics([ranked(window)])
    window.overlays.choose("rank")
    level = window.level
    paint = window.overlays.paint
    assert level is not None and paint is not None
    groups = items_of(window, ItemKind.GROUP)
    assert groups
    nodes = level.graph.nodes
    metric = window.overlays.state.metric
    assert metric is not None
    for i in groups:
        group = window.scene.ref[i]  # type: ignore[union-attr]
        members = [nodes[k].id for k in level.hierarchy.order[group.start : group.end].tolist()]
        assert paint.values[i] == metric.group_value(members)
    # The panel of a group says its total.
    window.select_item(groups[0])
    assert "Coloured by" in window.panel.plain_text() and "rank" in window.panel.plain_text()


def test_nodes_without_a_number_are_grey_and_hatched_not_the_low_end(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert window.model is not None
    nodes = window.model.main.nodes
    metric = Metric("some", {nodes[0].id: 1.0, nodes[1].id: 10.0}, unknown=frozenset({nodes[2].id}))
    window.overlays.add_metrics([metric])
    window.overlays.choose("some")
    paint = window.overlays.paint
    assert paint is not None and window.scene is not None
    item = {id(window.scene.ref[i]): i for i in range(window.scene.size)}
    assert paint.key[item[id(nodes[2])]] == NEUTRAL_KEY  # unknown
    assert paint.key[item[id(nodes[3])]] == NEUTRAL_KEY  # no number
    grey = box_colour(window, item[id(nodes[3])])
    assert grey != box_colour(window, item[id(nodes[0])])
    assert "no number or unknown" in window.overlays.legend.text()


def test_metric_menu_and_toolbar_box_choose_metric_and_scale(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert window.overlays.wait_for_costs()
    names = [a.text() for a in menu_action(window, "Metric").menu().actions()]  # type: ignore[union-attr]
    assert names[0] == "None" and "MACs" in names and "parameters" in names
    trigger(window, "Metric", "MACs")
    state = window.overlays.state
    assert state.metric is not None and state.metric.name == "MACs" and state.log  # costs ask for a log scale
    assert menu_action(window, "Metric", "Log Scale").isChecked()
    trigger(window, "Metric", "Linear Scale")
    assert not window.overlays.state.log and "linear scale" in window.overlays.legend.text()
    trigger(window, "Metric", "Diverging Colours (around 0)")
    assert window.overlays.state.diverging and "diverging" in window.overlays.legend.text()
    combo = window.commands.metric_controls.combo
    assert combo.currentText() == "MACs (MAC)"
    combo.activated.emit(combo.findData("parameters"))
    assert window.overlays.state.metric is not None and window.overlays.state.metric.name == "parameters"
    assert menu_action(window, "Metric", "parameters").isChecked()
    combo.activated.emit(0)
    assert window.overlays.state.metric is None
    assert not menu_action(window, "Metric", "Log Scale").isEnabled()


def test_resnet50_coloured_by_macs(make_window: Any) -> None:
    if not RESNET.exists():
        pytest.skip("onnx's light ResNet-50 is not installed")
    window = make_window("all")
    open_and_wait(window, RESNET)
    assert window.overlays.wait_for_costs()
    window.overlays.choose("MACs")
    paint = window.overlays.paint
    assert paint is not None and window.scene is not None
    convs = [i for i in range(window.scene.size) if window.scene.kind[i] == ItemKind.NODE and window.scene.ref[i].op == "Conv"]
    keys = {int(paint.key[i]) for i in convs}
    assert len(keys) >= 3 and all(k < NEUTRAL_KEY for k in keys)  # 1x1 and 3x3 convolutions differ
    relus = [i for i in range(window.scene.size) if window.scene.kind[i] == ItemKind.NODE and window.scene.ref[i].op == "Relu"]
    assert {int(paint.key[i]) for i in relus} == {OFF_SCALE_KEY}  # no MACs: off the log scale, not its low end
    text = window.overlays.legend.text()
    assert "MACs (MAC)" in text and "MMAC" in text and "log scale" in text


def node_data(tmp_path: Path, window: MainWindow) -> Path:
    """Model Explorer's node data, naming nodes by their outputs."""
    assert window.model is not None
    entries = {n.outputs[0].values[0].name: {"value": float(k)} for k, n in enumerate(window.model.main.nodes)}
    path = tmp_path / "latency.json"
    path.write_text(json.dumps({"results": {"main": {"results": entries}}}), encoding="utf-8")
    return path


def test_node_data_loads_from_the_file_menu(make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown: list[str]) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    path = node_data(tmp_path, window)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    trigger(window, "File", "Load Node Data…")
    assert shown == []
    metric = window.overlays.state.metric
    assert metric is not None and metric.name == "latency"
    nodes = window.model.main.nodes  # type: ignore[union-attr]
    assert metric.values[nodes[3].id] == 3.0 and len(metric.values) == len(nodes)
    assert "latency" in [a.text() for a in menu_action(window, "Metric").menu().actions()]  # type: ignore[union-attr]
    # netray's own form, by node id, with a unit and a diverging scale.
    own = tmp_path / "delta.json"
    own.write_text(json.dumps({"name": "delta", "unit": "s", "diverging": True, "values": {nodes[0].id: -2.0, nodes[1].id: 4.0}}))
    assert window.overlays.load(own)
    assert window.overlays.state.diverging and "delta (s)" in window.overlays.legend.text()
    assert "0 s" in window.overlays.legend.text()


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        ("{not json", "cannot read"),
        (json.dumps({"nobody": 1.0}), "no entry names a node"),
        ("[1, 2, 3]", "no entry names a node"),
    ],
)
def test_a_bad_node_data_file_is_a_message_naming_it(make_window: Any, tmp_path: Path, shown: list[str], content: str, fault: str) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    assert window.overlays.load(bad) == []
    assert len(shown) == 1 and "bad.json" in shown[0] and fault in shown[0]
    assert "Traceback" not in shown[0]
    assert window.overlays.state.metric is None and window.scene is not None
    shown.clear()


def test_metrics_export_as_csv_and_read_back(make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown: list[str]) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert window.overlays.wait_for_costs()
    window.overlays.add_metrics([ranked(window)])
    out = tmp_path / "metrics.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    trigger(window, "File", "Export Metrics as CSV…")
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    nodes = window.model.main.nodes  # type: ignore[union-attr]
    assert len(rows) == len(nodes)
    assert {"id", "name", "op", "MACs (MAC)", "parameters", "rank (u)"} <= set(rows[0])
    conv = next(r for r in rows if r["op"] == "Conv")
    assert int(conv["MACs (MAC)"]) > 0 and int(conv["parameters"]) == 16 * 3 * 3 * 3 + 16
    assert [float(r["rank (u)"]) for r in rows] == [float(k + 1) for k in range(len(nodes))]
    assert shown == []


def test_the_panel_shows_a_node_costs_next_to_its_shapes(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert window.overlays.wait_for_costs()
    conv = node_named(window, "/backbone/block0/conv/Conv")
    window.select_ref("node", conv)
    text = window.panel.plain_text()
    assert "Costs" in text and "MACs" in text and "FLOPs" in text and "activations" in text and "intensity" in text
    cost = window.overlays.report.nodes[conv.id]
    assert format_number(cost.macs, "MAC") in text and f"{cost.macs:,}" in text
    assert cost.formula and cost.formula in text
    assert text.index("Outputs") < text.index("Costs")
    # With a metric chosen, the panel says the node's number in it.
    window.overlays.choose("MACs")
    assert "Coloured by" in window.panel.plain_text()


def test_unknown_costs_say_unknown_and_inferred_shapes_say_so(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert window.overlays.wait_for_costs()
    relu = node_named(window, "/backbone/block0/relu/Relu")
    out = relu.outputs[0].values[0]
    out.type.inferred = "onnx shape inference"
    window.overlays.report.nodes[relu.id].macs = None
    window.select_ref("node", relu)
    text = window.panel.plain_text()
    assert "unknown" in text and "(inferred)" in text
    browser = window.panel.text
    document = browser.document()
    assert document is not None
    position = document.toPlainText().index("(inferred)") + 2
    cursor = browser.textCursor()
    cursor.setPosition(position)
    rect = browser.cursorRect(cursor)
    assert browser.tooltip_at(QPoint(rect.center().x(), rect.center().y())) == "inferred by onnx shape inference"


def test_a_new_model_keeps_the_chosen_metric(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert window.overlays.wait_for_costs()
    window.overlays.choose("parameters")
    open_and_wait(window, conv_net(tmp_path / "wide.onnx", blocks=2, channels=32))
    assert window.overlays.wait_for_costs()
    state = window.overlays.state
    assert state.metric is not None and state.metric.name == "parameters"
    paint = window.overlays.paint
    assert paint is not None and paint.scene is window.scene
    assert np.isfinite(paint.values).any()


def test_named_dimensions_set_in_the_window_change_shapes_and_costs(
    make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown: list[str]
) -> None:
    window = make_window("all", show_edge_shapes=True)
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert window.overlays.wait_for_costs()
    conv = node_named(window, "/backbone/block0/conv/Conv")
    macs_at_one = window.overlays.report.nodes[conv.id].macs
    assert window.overlays.dimension_names() == ["batch"]
    sizes = iter([8, 2])

    def accept(dialog: DimensionsDialog) -> int:
        assert list(dialog.boxes) == ["batch"]
        dialog.boxes["batch"].setValue(next(sizes))
        return int(QDialog.DialogCode.Accepted)

    monkeypatch.setattr(DimensionsDialog, "exec", accept)
    trigger(window, "View", "Dimensions…")
    settle(window)
    assert window.overlays.wait_for_costs()
    assert conv.outputs[0].values[0].type.shape == (8, 16, 32, 32)
    assert window.overlays.report.nodes[conv.id].macs == 8 * macs_at_one
    assert "8x16x32x32" in window.scene.edge_label  # type: ignore[union-attr]
    window.select_ref("node", conv)
    assert "8x16x32x32" in window.panel.plain_text()
    # Changed again: from the file's shapes, not from the last change.
    trigger(window, "View", "Dimensions…")
    settle(window)
    assert window.overlays.wait_for_costs()
    assert conv.outputs[0].values[0].type.shape == (2, 16, 32, 32)
    assert window.overlays.report.nodes[conv.id].macs == 2 * macs_at_one
    assert "2x16x32x32" in window.scene.edge_label  # type: ignore[union-attr]
    assert shown == []


def test_the_overlay_follows_the_theme(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    window.overlays.add_metrics([ranked(window)])
    window.overlays.choose("rank")
    paint = window.overlays.paint
    assert paint is not None and window.scene is not None
    node = items_of(window, ItemKind.NODE)[0]
    light = box_colour(window, node)
    window.apply_theme("dark")
    assert window.overlays.legend.theme is window.theme and window.theme.name == "dark"
    dark = box_colour(window, node)
    assert dark == paint.header(int(paint.key[node]), window.theme).name() != light
    background = window.overlays.legend.grab().toImage().pixelColor(window.overlays.legend.width() // 2, 3)
    assert background.lightness() < 80  # the legend is dark too
