"""The viewer window, driven offscreen through its real widgets with pytest-qt."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QPoint, QSettings, Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QMessageBox
from test_viewer_models import conv_net, if_model

import netray_viewer
from netray.ir import Node
from netray.plugins import get_manager
from netray.scene import ItemKind
from netray_viewer.window import MainWindow

LAYOUT_TIMEOUT_S = 30


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Warnings the window shows, captured instead of blocking in a modal dialog.

    A test that expects one takes it out of the list; any left over fail the test.
    """
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k: shown.append(text))
    yield shown
    assert shown == [], f"unexpected messages: {shown}"


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Any:
    """A shown main window with a private settings file (no touching the user's recent files)."""

    def make(expand: str = "all") -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(expand=expand, settings=settings)
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


def open_and_wait(window: MainWindow, path: Path) -> None:
    assert window.open_file(path, block=True, timeout_s=LAYOUT_TIMEOUT_S)
    assert window.scene is not None


def node_named(window: MainWindow, name: str) -> Node:
    assert window.level is not None
    return next(n for n in window.level.graph.nodes if n.name == name)


def item_centre(window: MainWindow, i: int) -> QPoint:
    """Widget pixel position of an item's centre (its title band, away from any marker)."""
    s = window.scene
    assert s is not None
    x = float(s.x[i] + min(s.w[i] / 2, 20))
    y = float(s.y[i] + min(s.h[i] / 2, 10))
    return window.canvas.map_to_widget(x, y).toPoint()


def click(qtbot: Any, window: MainWindow, pos: QPoint, double: bool = False) -> None:
    viewport = window.canvas.viewport()
    if double:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=pos)
        qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=pos)
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=pos)
    else:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=pos)


def zoom_to_item(window: MainWindow, i: int) -> None:
    s = window.scene
    assert s is not None
    window.canvas.centre_on(float(s.x[i] + s.w[i] / 2), float(s.y[i] + s.h[i] / 2), min_zoom=1.0)


def test_click_node_shows_its_attributes_docs_and_weights(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    assert window.windowTitle().startswith("conv.onnx")
    conv = node_named(window, "/backbone/block1/conv/Conv")
    i = window.scene.item_of(conv)  # type: ignore[union-attr]
    assert i is not None
    zoom_to_item(window, i)
    click(qtbot, window, item_centre(window, i))
    assert window.selected == ("node", conv)
    assert window.canvas.scene_painter is not None and window.canvas.scene_painter.selected_item == i
    text = window.panel.plain_text()
    assert "kernel_shape" in text and "[3, 3]" in text
    assert "backbone / block1 / conv" in text  # scope
    assert "backbone.block1.conv.weight" in text
    info = get_manager().operator_info("ONNX", "", "Conv")
    if info is not None and info.doc:  # the ONNX plugin's operator documentation, folded under its title
        assert window.panel.docs_button.isVisible() and not window.panel.docs.isVisible()
        qtbot.mouseClick(window.panel.docs_button, Qt.MouseButton.LeftButton)
        assert window.panel.docs.isVisible()
        assert " ".join(info.doc.split())[:20] in " ".join(window.panel.plain_text().split())
    # Small weights load at once: statistics match numpy and a histogram is drawn.
    view = next(v for v in window.panel.weight_views if v.tensor.name == "backbone.block1.conv.weight")
    values = conv.weights()[0].initializer.numpy()  # type: ignore[union-attr]
    assert view.stats is not None and view.stats.maximum == pytest.approx(float(values.max()))
    assert view.plot is not None


def test_click_edge_shows_value_producer_and_consumers(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    s = window.scene
    assert s is not None
    j = next(k for k, v in enumerate(s.edge_value) if v is not None and v.name == "pooled")
    line = s.edge_polyline(j)
    mid = (line[len(line) // 2 - 1] + line[len(line) // 2]) / 2 if len(line) > 2 else line.mean(axis=0)
    window.canvas.centre_on(float(mid[0]), float(mid[1]), min_zoom=1.0)
    click(qtbot, window, window.canvas.map_to_widget(float(mid[0]), float(mid[1])).toPoint())
    assert window.selected is not None and window.selected[0] == "value"
    text = window.panel.plain_text()
    assert "pooled" in text and "GlobalAveragePool" in text and "Flatten" in text
    # The consumer is a link by the node's stable id: following it selects that node.
    flatten = node_named(window, "/head/Flatten")
    links = dict((text, href) for href, text in re.findall(r'<a href="([^"]+)">(?:<span[^>]*>)?([^<]+)', window.panel.html()))
    href = links["/head/Flatten"]
    assert href == "node:" + quote(flatten.id, safe="")
    window.panel.follow(href)
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert window.selected == ("node", flatten)


def test_click_empty_space_shows_model_properties(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    conv = node_named(window, "/backbone/block0/conv/Conv")
    window._select_ref("node", conv)
    left, top, _, _ = window.scene.bounds()  # type: ignore[union-attr]
    window.canvas.centre_on(left - 500, top - 500)
    click(qtbot, window, QPoint(window.canvas.width() // 2, window.canvas.height() // 2))
    assert window.selected is None
    text = window.panel.plain_text()
    assert "netray-tests" in text and "ONNX" in text and "logits" in text


def test_search_expands_groups_selects_and_centres(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("none")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    target = node_named(window, "/backbone/block2/relu/Relu")
    assert window.scene.item_of(target) is None  # hidden inside a collapsed group
    window.activateWindow()
    qtbot.keyClick(window.canvas, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.isVisible()
    qtbot.keyClicks(window.search.edit, "block2/relu")
    assert window.search.results.topLevelItemCount() >= 1
    window.search.choose(0)
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert window.selected == ("node", target)
    i = window.scene.item_of(target)  # type: ignore[union-attr]
    assert i is not None
    level = window.level
    assert level is not None
    group_ids = {g.id for g in level.hierarchy.ancestors(target.index)} - {level.hierarchy.root.id}
    assert group_ids and group_ids <= level.expanded
    view = window.canvas.view_box.viewRect()
    s = window.scene
    assert view.contains(float(s.x[i] + s.w[i] / 2), float(s.y[i] + s.h[i] / 2))  # type: ignore[union-attr]


def test_double_click_collapsed_group_expands_it(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("none")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    s = window.scene
    assert s is not None
    i = next(k for k in range(s.size) if s.kind[k] == ItemKind.GROUP)
    group = s.ref[i]
    zoom_to_item(window, i)
    click(qtbot, window, item_centre(window, i), double=True)
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert window.level is not None and group.id in window.level.expanded
    s = window.scene
    frame = s.item_of(group)  # type: ignore[union-attr]
    assert frame is not None and s.kind[frame] == ItemKind.FRAME  # type: ignore[union-attr]
    # The View menu's collapse-all folds it again.
    window.collapse_all()
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert window.scene.kind[window.scene.item_of(group)] == ItemKind.GROUP  # type: ignore[union-attr, index]


def test_open_if_body_and_return_by_breadcrumbs(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, if_model(tmp_path / "if.onnx"))
    main = window.level.graph  # type: ignore[union-attr]
    assert not window.breadcrumbs.isVisible()
    if_node = node_named(window, "If_3")
    i = window.scene.item_of(if_node)  # type: ignore[union-attr]
    assert i is not None
    zoom_to_item(window, i)
    click(qtbot, window, item_centre(window, i), double=True)
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert window.level is not None and window.level.graph is if_node.subgraphs[0]
    assert {n.name for n in window.scene.graph.nodes} == {n.name for n in if_node.subgraphs[0].nodes}  # type: ignore[union-attr]
    assert window.breadcrumbs.isVisible()
    assert [b.text() for b in window.breadcrumbs.buttons] == [main.name, window.level.label]
    qtbot.mouseClick(window.breadcrumbs.buttons[0], Qt.MouseButton.LeftButton)
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert window.level is not None and window.level.graph is main
    assert window.scene is not None and window.scene.graph is main
    assert window.selected == ("node", if_node)
    assert not window.breadcrumbs.isVisible()


def test_corrupt_file_shows_message_and_window_stays_usable(make_window: Any, tmp_path: Path, dialogs: list[str]) -> None:
    window = make_window("auto")
    good = conv_net(tmp_path / "conv.onnx")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(good.read_bytes()[:200] + b"\xff" * 64)
    assert window.open_file(bad, block=True) is False
    shown = [dialogs.pop() for _ in range(len(dialogs))]
    assert len(shown) == 1 and str(bad) in shown[0] and "\n" not in shown[0] and "Traceback" not in shown[0]
    assert window.model is None
    open_and_wait(window, good)
    assert window.model is not None and window.canvas.item.last_drawn >= 0
    assert str(good.resolve()) in window.recent_files() and str(bad.resolve()) not in window.recent_files()


def test_keys_zoom_and_fit(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    window.canvas.setFocus()
    start = window.canvas.zoom()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Plus)
    assert window.canvas.zoom() == pytest.approx(start * 1.25, rel=0.02)
    centre = window.canvas.view_box.viewRect().center()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    assert window.canvas.view_box.viewRect().center().x() > centre.x()
    qtbot.keyClick(window.canvas, Qt.Key.Key_F)
    # Fit to window: the whole graph in view.
    left, top, right, bottom = window.canvas.scene_data.bounds()
    view = window.canvas.view_box.viewRect()
    assert view.left() <= left and view.top() <= top and view.right() >= right and view.bottom() >= bottom


def test_first_view_is_readable_and_starts_at_the_inputs(make_window: Any, tmp_path: Path) -> None:
    """A graph too tall to fit legibly opens at its top at a readable zoom, as Netron does."""
    from netray.scene import ItemKind
    from netray_viewer.painter import LINES_ZOOM

    window = make_window("all")
    window.resize(900, 500)
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    scene = window.canvas.scene_data
    assert window.canvas.zoom() >= LINES_ZOOM
    view = window.canvas.view_box.viewRect()
    first_input = int(np.flatnonzero(scene.kind == ItemKind.INPUT)[0])
    assert view.contains(float(scene.x[first_input] + scene.w[first_input] / 2), float(scene.y[first_input] + 1))


def test_unreadable_weight_shows_message_in_panel(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    conv = node_named(window, "/backbone/block0/conv/Conv")
    tensor = conv.weights()[0].initializer
    assert tensor is not None

    def broken() -> np.ndarray:
        raise OSError("disk went away")

    tensor.loader = broken
    window._select_ref("node", conv)
    view = next(v for v in window.panel.weight_views if v.tensor is tensor)
    assert view.stats is None
    assert "cannot read values" in view.status.text() and "disk went away" in view.status.text()


def _distinct_colours(png: Path) -> int:
    image = QImage(str(png))
    assert not image.isNull()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    return len(colours)


def test_snapshot_writes_a_picture_and_reports(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = conv_net(tmp_path / "conv.onnx")
    out = tmp_path / "conv.png"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    result = netray_viewer.snapshot(str(model), str(out), expand="all", size=(900, 2400))
    assert list(temporary.iterdir()) == []  # its private settings folder is gone
    assert set(result) >= {"ready_s", "nodes", "visible"}
    assert result["nodes"] == 3 * 3 + 3
    assert result["visible"] >= result["nodes"]  # tall enough to fit: every op plus the input and output boxes
    assert result["ready_s"] > 0
    assert QImage(str(out)).width() == 900
    assert _distinct_colours(out) > 20  # boxes of several colours, text, edges: not blank


def test_snapshot_counts_subgraph_ops_and_raises_format_errors(qtbot: Any, tmp_path: Path) -> None:
    import netray

    result = netray_viewer.snapshot(str(if_model(tmp_path / "if.onnx")), str(tmp_path / "if.png"), size=(600, 500))
    assert result["nodes"] == 4 + 2 + 1  # main graph, then branch, else branch
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07" + b"\xff" * 40)
    with pytest.raises(netray.FormatError):
        netray_viewer.snapshot(str(bad), str(tmp_path / "bad.png"))
    assert not (tmp_path / "bad.png").exists()


def test_opening_runs_in_the_background(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("auto")
    path = conv_net(tmp_path / "conv.onnx")
    assert window.open_file(path) is True  # returns at once; reading happens in a worker thread
    assert window.busy
    qtbot.waitUntil(lambda: not window.busy and window.scene is not None, timeout=LAYOUT_TIMEOUT_S * 1000)
    assert window.model is not None and window.model.source == path


def test_esc_cancels_a_running_layout(qtbot: Any) -> None:
    import time

    from netray.layout import LayoutCancelled
    from netray_viewer.layout_worker import LayoutJob
    from netray_viewer.view_settings import LayoutOptions

    class SlowCache:
        """Reports progress, then works until told to stop, as a big layout would."""

        def scene(self, expanded: frozenset[str], cancel: Any = None, progress: Any = None) -> Any:
            progress(0.25)
            while not cancel():
                time.sleep(0.005)
            raise LayoutCancelled()

    class Level:
        def cache(self, options: Any) -> SlowCache:
            return SlowCache()

    job = LayoutJob(7, Level(), LayoutOptions(), frozenset())  # type: ignore[arg-type]
    progress: list[tuple[int, int, int]] = []
    job.progressed.connect(lambda *a: progress.append(a))
    with qtbot.waitSignal(job.cancelled, timeout=5000) as cancelled:
        job.start()
        qtbot.waitUntil(lambda: bool(progress), timeout=5000)
        job.cancel()
    assert cancelled.args == [7]
    assert progress[0] == (7, 250, 1000)
    job.wait(2000)


def test_real_tflite_file_opens_and_its_nodes_are_clickable(make_window: Any, qtbot: Any, shared_models: Path) -> None:
    path = shared_models / "tflite" / "tf_serving" / "half_plus_two.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not in the shared models")
    window = make_window("auto")
    open_and_wait(window, path)
    s = window.scene
    assert s is not None and window.canvas.item.frames_painted > 0
    i = next(k for k in range(s.size) if s.kind[k] == ItemKind.NODE)
    zoom_to_item(window, i)
    click(qtbot, window, item_centre(window, i))
    assert window.selected == ("node", s.ref[i])
    assert s.ref[i].op in window.panel.plain_text()


def test_wheel_zooms_toward_the_pointer(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    from PyQt6.QtCore import QPointF
    from PyQt6.QtGui import QWheelEvent
    from PyQt6.QtWidgets import QApplication

    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    canvas = window.canvas
    before = canvas.zoom()
    pointer = QPointF(canvas.width() * 0.3, canvas.height() * 0.3)
    under = canvas.view_box.mapSceneToView(canvas.mapToScene(pointer.toPoint()))
    event = QWheelEvent(
        pointer,
        QPointF(canvas.mapToGlobal(pointer.toPoint())),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.zoom() > before * 1.1
    after = canvas.view_box.mapSceneToView(canvas.mapToScene(pointer.toPoint()))
    assert (after.x(), after.y()) == pytest.approx((under.x(), under.y()), abs=2.0 / canvas.zoom())


def test_drop_a_file_onto_the_window_opens_it(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    from PyQt6.QtCore import QMimeData, QPointF, QUrl
    from PyQt6.QtGui import QDropEvent

    window = make_window("auto")
    path = if_model(tmp_path / "dropped.onnx")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert window.model is not None and window.model.source == path
    assert window.windowTitle().startswith("dropped.onnx")


def test_frame_marker_collapses_and_depth_menu_expands(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    from netray_viewer.painter import expand_marker_rect

    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    s = window.scene
    assert s is not None
    frame = max((k for k in range(s.size) if s.kind[k] == ItemKind.FRAME), key=lambda k: s.depth[k])
    group = s.ref[frame]
    marker = expand_marker_rect(s.x[frame], s.y[frame], s.w[frame]).center()
    window.canvas.centre_on(marker.x(), marker.y(), min_zoom=1.5)
    click(qtbot, window, window.canvas.map_to_widget(marker.x(), marker.y()).toPoint())
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    assert window.level is not None and group.id not in window.level.expanded
    assert window.scene.kind[window.scene.item_of(group)] == ItemKind.GROUP  # type: ignore[union-attr, index]
    window.expand_to_depth(1)
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)
    depths = {g.depth for g in window.level.hierarchy.groups.values() if g.id in window.level.expanded}
    assert depths and max(depths) <= 1


def test_theme_switch_repaints_and_is_remembered(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    light = window.canvas.grab().toImage().pixelColor(3, 3).lightness()
    window.apply_theme("dark")
    dark = window.canvas.grab().toImage().pixelColor(3, 3).lightness()
    assert light > 200 and dark < 60
    assert window.canvas.scene_painter is not None and window.canvas.scene_painter.theme.name == "dark"
    assert window.settings.value("view/theme") == "dark"


def test_minimap_click_moves_the_view_and_recent_menu_lists_the_file(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    path = conv_net(tmp_path / "conv.onnx")
    open_and_wait(window, path)
    s = window.scene
    assert s is not None
    first = window.scene.item_of(node_named(window, "/backbone/block0/conv/Conv"))
    assert first is not None
    window.canvas.centre_on(float(s.x[first]), float(s.y[first]), min_zoom=2.0)
    assert window.minimap.isVisible()  # only part of the graph is in view
    # Click the minimap near its bottom: the view moves down the graph, to the spot clicked.
    before = window.canvas.view_box.viewRect().center().y()
    spot = QPoint(window.minimap.width() // 2, window.minimap.height() - 4)
    target = window.minimap.to_scene(spot.toPointF())
    qtbot.mouseClick(window.minimap, Qt.MouseButton.LeftButton, pos=spot)
    after = window.canvas.view_box.viewRect().center().y()
    assert after > before + 200 and after == pytest.approx(window.minimap.kept_on_graph(target.x(), target.y()).y(), abs=1)
    assert str(path.resolve()) in [a.text() for a in window.recent_menu.actions()]


def test_trackpad_pinch_zooms(make_window: Any, tmp_path: Path) -> None:
    from PyQt6.QtCore import QPointF
    from PyQt6.QtGui import QNativeGestureEvent, QPointingDevice
    from PyQt6.QtWidgets import QApplication

    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    canvas = window.canvas
    before = canvas.zoom()
    centre = QPointF(canvas.width() / 2, canvas.height() / 2)
    event = QNativeGestureEvent(
        Qt.NativeGestureType.ZoomNativeGesture,
        QPointingDevice.primaryPointingDevice(),
        2,
        centre,
        centre,
        QPointF(canvas.mapToGlobal(centre.toPoint())),
        0.5,
        QPointF(0, 0),
    )
    QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.zoom() == pytest.approx(before * 1.5, rel=0.02)


def test_a_newer_open_supersedes_an_older_one(qtbot: Any, tmp_path: Path) -> None:
    from netray_viewer.jobs import Jobs

    jobs = Jobs()
    first = conv_net(tmp_path / "first.onnx")
    second = if_model(tmp_path / "second.onnx")
    opened: list[Path] = []
    jobs.opened.connect(lambda path, navigation: opened.append(path))
    jobs.open(first, "auto")
    jobs.open(second, "auto")
    assert jobs.wait_until_idle(LAYOUT_TIMEOUT_S)
    jobs.stop_all()
    qtbot.wait(10)  # let the first job's late result arrive, to be dropped
    assert opened == [second]


def weights_only_model(path: Path) -> Path:
    """A weights-only model (as safetensors or GGUF vocab files are) saved as a .netray file."""
    import netray
    from netray.ir import Model, Tensor

    model = Model("TestWeights")
    rng = np.random.default_rng(0)

    def add(name: str, shape: tuple[int, ...]) -> None:
        values = rng.standard_normal(shape).astype(np.float32)
        model.tensors[name] = Tensor(name, "float32", shape, loader=lambda: values, byte_size=values.nbytes)

    add("model.embed_tokens.weight", (50, 8))
    for i in range(10):
        for part in ("self_attn.q_proj", "self_attn.o_proj", "mlp.up_proj", "mlp.down_proj"):
            add(f"model.layers.{i}.{part}.weight", (8, 8))
    add("lm_head.weight", (50, 8))
    model.metadata["format"] = "pt"
    return netray.save_model(model, path)


def test_a_weights_only_model_shows_its_tensor_tree(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("auto")
    assert window.open_file(weights_only_model(tmp_path / "w.netray"), block=True, timeout_s=LAYOUT_TIMEOUT_S)
    assert window.pages.currentWidget() is window.tensors and window.scene is None
    tree = window.tensors.tree
    rows = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]  # type: ignore[union-attr]
    assert rows == ["model", "lm_head.weight"]
    model_row = tree.topLevelItem(0)
    assert model_row is not None and model_row.isExpanded()
    children = [model_row.child(k).text(0) for k in range(model_row.childCount())]  # type: ignore[union-attr]
    assert children == ["embed_tokens.weight", "layers.0 … layers.9 ×10  (identical blocks)"]
    assert "metadata" in window.panel.plain_text().lower() and "weights only" in window.panel.plain_text()
    # A click on a tensor shows its values' statistics in the panel.
    assert window.tensors.select_tensor("model.layers.3.mlp.up_proj.weight")
    text = window.panel.plain_text()
    assert "model.layers.3.mlp.up_proj.weight" in text and "8x8" in text and "mean" in text
    # The filter lists matching tensors flat.
    qtbot.keyClicks(window.tensors.filter, "down_proj")
    assert tree.topLevelItemCount() == 10


def test_an_inferred_graph_says_so_above_the_canvas(make_window: Any, tmp_path: Path) -> None:
    import netray

    model = netray.load_model(conv_net(tmp_path / "conv.onnx"))
    model.main.inferred = "inferred from tensor names (a test)"
    window = make_window("all")
    open_and_wait(window, netray.save_model(model, tmp_path / "inferred.netray"))
    assert window.inferred_banner.isVisible()
    assert "inferred from tensor names (a test)" in window.inferred_banner.text()
    assert "Structure inferred" in window.panel.plain_text()
