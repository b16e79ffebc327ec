"""The split view (issue 14): two models side by side, changes marked, selection and the change list in step, pictures.

Model A is the viewer tests' small conv net; B is A with three planted edits: block1's
Relu removed, block0's BatchNormalization epsilon changed, block2's Conv weight
scaled by 1.01.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QPoint, QSettings, Qt
from PyQt6.QtGui import QImage
from test_viewer_models import conv_net
from test_viewer_support import LAYOUT_TIMEOUT_S, capture_warnings, menu_action, window_factory

from netray.ir import Model, Node
from netray.scene import ItemKind
from netray_viewer.diff_window import CompareWindow, DiffPane

REMOVED = "/backbone/block1/relu/Relu"
CHANGED = "/backbone/block0/bn/BatchNormalization"
WEIGHTS = "/backbone/block2/conv/Conv"


def planted(a_path: Path, b_path: Path) -> Path:
    """``a_path`` with the three edits, saved as ``b_path``."""
    model = onnx.load(str(a_path))
    graph = model.graph
    relu = next(n for n in graph.node if n.name == REMOVED)
    for n in graph.node:
        for k, name in enumerate(n.input):
            if name == relu.output[0]:
                n.input[k] = relu.input[0]
    graph.node.remove(relu)
    bn = next(n for n in graph.node if n.name == CHANGED)
    next(a for a in bn.attribute if a.name == "epsilon").f = 1e-3
    init = next(t for t in graph.initializer if t.name == "backbone.block2.conv.weight")
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * np.float32(1.01), init.name))
    onnx.checker.check_model(model)
    onnx.save(model, str(b_path))
    return b_path


# -- a stand-in for netray.diff while the engine is not installed --------------------------------
@dataclass
class FieldChange:
    field: str
    a: Any = None
    b: Any = None
    detail: str = ""


@dataclass
class Change:
    kind: str
    a: list[Node]
    b: list[Node]
    fields: list[FieldChange] = field(default_factory=list)
    scope: str = ""


class StandIn:
    """Nodes paired by name; the planted edits stated by hand."""

    def __init__(self, a: Model, b: Model) -> None:
        self.a, self.b = a, b
        by_name = {n.name: n for n in b.main.nodes}
        self.pairs = {n.id: by_name[n.name].id for n in a.main.nodes if n.name in by_name}
        self.back = {v: k for k, v in self.pairs.items()}
        an = {n.name: n for n in a.main.nodes}
        self.changes = [
            Change("removed", [an[REMOVED]], [], [], "backbone/block1"),
            Change("changed", [an[CHANGED]], [by_name[CHANGED]], [FieldChange("epsilon", 1e-5, 1e-3)], "backbone/block0"),
            Change("weights", [an[WEIGHTS]], [by_name[WEIGHTS]], [FieldChange("weight", detail="max abs 0.01")], "backbone/block2"),
        ]
        self.same = False

    def summary(self) -> dict[str, int]:
        return {"matched": len(self.pairs), "changed": 1, "added": 0, "removed": 1, "weights_changed": 1}

    def _status(self, side: str) -> dict[str, str]:
        model = self.a if side == "a" else self.b
        status = {n.id: "same" for n in model.main.nodes}
        for c in self.changes:
            for n in c.a if side == "a" else c.b:
                status[n.id] = c.kind
        return status

    def status_a(self) -> dict[str, str]:
        return self._status("a")

    def status_b(self) -> dict[str, str]:
        return self._status("b")

    def partner_a(self, node_id: str) -> list[str]:
        return [self.pairs[node_id]] if node_id in self.pairs else []

    def partner_b(self, node_id: str) -> list[str]:
        return [self.back[node_id]] if node_id in self.back else []

    def metrics_a(self) -> list[Any]:
        return []

    def metrics_b(self) -> list[Any]:
        return []


def _engine_available() -> bool:
    try:
        import netray.diff  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """The real engine when it is installed, else the stand-in under its name."""
    if _engine_available():
        return "real"
    fake = types.ModuleType("netray.diff")
    fake.diff_models = lambda a, b, weights=True, tolerance=0.0: StandIn(a, b)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "netray.diff", fake)
    return "stand-in"


@pytest.fixture
def models(tmp_path: Path) -> tuple[Path, Path]:
    a = conv_net(tmp_path / "a.onnx")
    return a, planted(a, tmp_path / "b.onnx")


@pytest.fixture
def compare(qtbot: Any, tmp_path: Path, models: tuple[Path, Path], engine: str, monkeypatch: pytest.MonkeyPatch) -> CompareWindow:
    capture_warnings(monkeypatch)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = CompareWindow(settings=settings, theme="light", raise_errors=True)
    qtbot.addWidget(window)
    window.resize(1600, 900)
    window.show()
    qtbot.waitExposed(window)
    window.compare(*models)
    assert window.wait_until_ready(LAYOUT_TIMEOUT_S)
    assert window.result is not None, window.diff_error
    return window


def node(pane: DiffPane, name: str) -> Node:
    assert pane.model is not None
    return next(n for n in pane.model.main.nodes if n.name == name)


def reveal_all(window: CompareWindow) -> None:
    for pane in window.panes:
        pane.expand_all()
        assert pane.wait_until_idle(LAYOUT_TIMEOUT_S)


def click_node(qtbot: Any, pane: DiffPane, target: Node) -> None:
    pane.places.reveal(target, record=False)
    assert pane.wait_until_idle(LAYOUT_TIMEOUT_S)
    scene = pane.scene
    assert scene is not None
    i = scene.item_of(target)
    assert i is not None
    pane.canvas.centre_on(float(scene.x[i] + scene.w[i] / 2), float(scene.y[i] + scene.h[i] / 2), min_zoom=1.0)
    point = pane.canvas.map_to_widget(float(scene.x[i] + min(scene.w[i] / 2, 20)), float(scene.y[i] + min(scene.h[i] / 2, 10))).toPoint()
    qtbot.mouseClick(pane.canvas.viewport(), Qt.MouseButton.LeftButton, pos=point)


def selected_node(pane: DiffPane) -> Node | None:
    return pane.selected[1] if pane.selected is not None and pane.selected[0] == "node" else None


def test_both_sides_open_with_their_names_and_the_changes_listed(compare: CompareWindow) -> None:
    a, b = compare.panes
    assert a.scene is not None and b.scene is not None
    assert "a.onnx" in compare.headers[0].text() and "b.onnx" in compare.headers[1].text()
    assert compare.changes.items, "the change list is empty"
    kinds = {compare.changes.change_at(item).kind for item in compare.changes.items}
    assert {"removed", "changed", "weights"} <= kinds
    scopes = [compare.changes.tree.topLevelItem(k).text(0) for k in range(compare.changes.tree.topLevelItemCount())]
    assert any("block1" in s for s in scopes), scopes


def test_changed_boxes_are_marked_on_both_sides(compare: CompareWindow) -> None:
    reveal_all(compare)
    a, b = compare.panes
    assert a.mark_of(node(a, REMOVED)) == "removed"
    assert a.mark_of(node(a, CHANGED)) == "changed" and b.mark_of(node(b, CHANGED)) == "changed"
    assert a.mark_of(node(a, WEIGHTS)) == "weights" and b.mark_of(node(b, WEIGHTS)) == "weights"
    assert a.mark_of(node(a, "/head/fc/Gemm")) == "same"
    marks = a.marks
    assert marks is not None and a.scene is not None
    marked = {a.scene.ref[i].name for i in marks.marked.tolist() if a.scene.kind[i] == ItemKind.NODE}
    assert marked == {REMOVED, CHANGED, WEIGHTS}


def test_a_collapsed_group_says_how_many_changes_it_holds(compare: CompareWindow) -> None:
    a = compare.panes[0]
    a.collapse_all()
    assert a.wait_until_idle(LAYOUT_TIMEOUT_S)
    marks, scene = a.marks, a.scene
    assert marks is not None and scene is not None
    groups = [i for i in range(scene.size) if scene.kind[i] == ItemKind.GROUP and marks.count[i] > 0]
    assert groups, "no collapsed group is marked"
    assert sum(int(marks.count[i]) for i in groups) == 3
    assert all(marks.tag(i).endswith(("change", "changes")) for i in groups)


def test_clicking_a_changed_node_on_a_selects_its_partner_on_b(qtbot: Any, compare: CompareWindow) -> None:
    a, b = compare.panes
    click_node(qtbot, a, node(a, CHANGED))
    assert selected_node(a) is node(a, CHANGED)
    qtbot.waitUntil(lambda: selected_node(b) is node(b, CHANGED), timeout=LAYOUT_TIMEOUT_S * 1000)
    # B's view is centred on the partner; A kept its own selection.
    scene = b.scene
    assert scene is not None
    i = b.places.item_showing(node(b, CHANGED))
    assert i is not None and b.canvas.view_box.viewRect().contains(float(scene.x[i] + scene.w[i] / 2), float(scene.y[i] + scene.h[i] / 2))
    assert selected_node(a) is node(a, CHANGED)
    assert "epsilon" in compare.changes.details.text()


def test_a_removed_node_has_no_partner_and_clears_the_other_side(qtbot: Any, compare: CompareWindow) -> None:
    a, b = compare.panes
    click_node(qtbot, b, node(b, "/head/fc/Gemm"))
    qtbot.waitUntil(lambda: selected_node(a) is node(a, "/head/fc/Gemm"), timeout=LAYOUT_TIMEOUT_S * 1000)
    click_node(qtbot, a, node(a, REMOVED))
    assert b.selected is None
    assert "no partner" in compare.status_label.text()


def test_choosing_a_change_in_the_list_jumps_on_both_sides(qtbot: Any, compare: CompareWindow) -> None:
    a, b = compare.panes
    a.collapse_all()
    b.collapse_all()
    assert a.wait_until_idle(LAYOUT_TIMEOUT_S) and b.wait_until_idle(LAYOUT_TIMEOUT_S)
    k = next(j for j, item in enumerate(compare.changes.items) if compare.changes.change_at(item).kind == "weights")
    item = compare.changes.items[k]
    compare.changes.tree.scrollToItem(item)
    rect = compare.changes.tree.visualItemRect(item)
    qtbot.mouseClick(compare.changes.tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 30, rect.center().y()))
    for pane in (a, b):
        target = node(pane, WEIGHTS)
        qtbot.waitUntil(lambda p=pane, t=target: selected_node(p) is t and not p.busy, timeout=LAYOUT_TIMEOUT_S * 1000)
        scene = pane.scene
        assert scene is not None
        i = scene.item_of(target)
        assert i is not None, "the group holding the change was not expanded"
        view = pane.canvas.view_box.viewRect()
        assert abs(view.center().x() - float(scene.x[i] + scene.w[i] / 2)) < 0.05 * view.width()
        assert abs(view.center().y() - float(scene.y[i] + scene.h[i] / 2)) < 0.05 * view.height()
    # A removed node: A shows it, B the nearest matched neighbour.
    k = next(j for j, item in enumerate(compare.changes.items) if compare.changes.change_at(item).kind == "removed")
    compare.choose_change(k)
    qtbot.waitUntil(lambda: selected_node(a) is node(a, REMOVED) and selected_node(b) is not None, timeout=LAYOUT_TIMEOUT_S * 1000)


def test_expanding_a_group_on_one_side_expands_its_partner(qtbot: Any, compare: CompareWindow) -> None:
    a, b = compare.panes
    a.collapse_all()
    b.collapse_all()
    assert a.wait_until_idle(LAYOUT_TIMEOUT_S) and b.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert a.level is not None and b.level is not None
    group = next(g for g in a.level.hierarchy.groups.values() if g.label == "backbone")
    assert group.id not in a.level.expanded
    a.toggle_group(group, expand=True)
    qtbot.waitUntil(lambda: b.level is not None and any(b.level.hierarchy.groups[g].label == "backbone" for g in b.level.expanded), timeout=LAYOUT_TIMEOUT_S * 1000)


def test_panning_one_side_centres_the_other_on_the_partner(qtbot: Any, compare: CompareWindow) -> None:
    reveal_all(compare)
    a, b = compare.panes
    qtbot.wait(700)  # past the quiet time after the layouts
    target = node(a, "/head/fc/Gemm")
    scene = a.scene
    assert scene is not None
    i = scene.item_of(target)
    assert i is not None
    a.canvas.centre_on(float(scene.x[i] + scene.w[i] / 2), float(scene.y[i] + scene.h[i] / 2), min_zoom=1.0)
    partner = node(b, "/head/fc/Gemm")

    def followed() -> bool:
        s = b.scene
        j = s.item_of(partner) if s is not None else None
        return j is not None and b.canvas.view_box.viewRect().contains(float(s.x[j] + s.w[j] / 2), float(s.y[j] + s.h[j] / 2))

    qtbot.waitUntil(followed, timeout=5000)
    assert abs(b.canvas.zoom() - a.canvas.zoom()) < 0.05 * a.canvas.zoom()


def test_the_comparison_exports_offscreen_with_its_marks(compare: CompareWindow, tmp_path: Path) -> None:
    from netray_viewer.frontend import render_diff

    a, b = compare.panes
    out = render_diff(compare.result, tmp_path / "report.png", models=(a.model, b.model))
    assert out.exists() and out.stat().st_size > 1000
    image = QImage(str(out)).convertToFormat(QImage.Format.Format_RGB32)
    assert not image.isNull() and image.width() > 200 and image.height() > 200
    bits = image.constBits()
    assert bits is not None
    bits.setsize(image.sizeInBytes())
    pixels = np.frombuffer(bits, np.uint32).reshape(image.height(), -1)[:, : image.width()] & 0xFFFFFF
    assert len(np.unique(pixels[::3, ::3])) > 20, "the picture is blank"
    from netray_viewer.diff_marks import mark_colour

    for kind in ("removed", "changed", "weights"):
        assert (pixels == (mark_colour(kind, "light").rgb() & 0xFFFFFF)).any(), f"no {kind} mark in the picture"
    for fmt in (".pdf", ".svg"):
        other = render_diff(compare.result, tmp_path / f"report{fmt}", models=(a.model, b.model))
        assert other.stat().st_size > 1000
    assert b"removed" in (tmp_path / "report.svg").read_bytes()


def test_file_compare_opens_the_split_view_with_this_model_as_a(qtbot: Any, tmp_path: Path, models: tuple[Path, Path], engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from PyQt6.QtWidgets import QFileDialog

    capture_warnings(monkeypatch)
    window = window_factory(qtbot, tmp_path)("auto")
    assert window.open_file(models[0], block=True, timeout_s=LAYOUT_TIMEOUT_S)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(models[1]), ""))
    action = menu_action(window, "File", "Compare…")
    assert action.isEnabled()
    action.trigger()
    compare = window.compare_windows[-1]
    qtbot.addWidget(compare)
    assert compare.wait_until_ready(LAYOUT_TIMEOUT_S)
    assert compare.panes[0].model is window.model
    assert compare.result is not None and compare.changes.items
