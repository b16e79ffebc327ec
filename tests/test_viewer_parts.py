"""The viewer's parts without the window: painting, picking, statistics, search, panel text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt6")

from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QColor, QImage, QPainter
from test_viewer_models import conv_net

import netray
from netray.ids import assign_ids
from netray.ir import Attribute, AttrKind, Graph, Model, Node, Port, TensorType
from netray.scene import ItemKind, Scene
from netray_viewer import properties
from netray_viewer.edge_paths import arrowheads_path
from netray_viewer.painter import ScenePainter
from netray_viewer.picking import nearest_edge
from netray_viewer.search import search_graph
from netray_viewer.theme import dark_theme, light_theme
from netray_viewer.weights import tensor_stats


def two_box_scene() -> Scene:
    """Relu above Sigmoid, one edge between them, drawn as a three-point polyline."""
    g = Graph("g")
    a = g.value("a", TensorType("float32", (1, 8)))
    b = g.value("b", TensorType("float32", (1, 8)))
    c = g.value("c", TensorType("float32", (1, 8)))
    relu = g.add_node(Node("Relu", "relu", inputs=[Port("X", [a])], outputs=[Port("Y", [b])], category="activation"))
    sig = g.add_node(Node("Sigmoid", "sig", inputs=[Port("X", [b])], outputs=[Port("Y", [c])], category="activation"))
    g.link()
    return Scene(
        graph=g,
        expanded=frozenset(),
        kind=np.array([ItemKind.NODE, ItemKind.NODE], np.int8),
        x=np.array([0.0, 0.0]),
        y=np.array([0.0, 100.0]),
        w=np.array([80.0, 80.0]),
        h=np.array([24.0, 24.0]),
        depth=np.zeros(2, np.int16),
        ref=[relu, sig],
        title=["Relu", "Sigmoid"],
        lines=[[], []],
        category=["activation", "activation"],
        edge_src=np.array([0], np.int64),
        edge_dst=np.array([1], np.int64),
        edge_value=[b],
        edge_label=["1x8"],
        edge_control=np.zeros(1, bool),
        edge_points=np.array([[40.0, 24.0], [40.0, 60.0], [40.0, 100.0]]),
        edge_offsets=np.array([0, 3], np.int64),
    )


def render(scene: Scene, zoom: float, rect: QRectF, dark: bool = False) -> tuple[QImage, int]:
    image = QImage(400, 400, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.scale(zoom, zoom)
    drawn = ScenePainter(scene, dark_theme() if dark else light_theme()).paint(painter, rect, zoom)
    painter.end()
    return image, drawn


def test_painter_culls_to_the_visible_rectangle(qapp: object) -> None:
    scene = two_box_scene()
    _, both = render(scene, 1.0, QRectF(-10, -10, 200, 200))
    _, top_only = render(scene, 1.0, QRectF(-10, -10, 200, 50))
    assert (both, top_only) == (2, 1)


def test_painter_fills_boxes_with_the_category_colour(qapp: object) -> None:
    scene = two_box_scene()
    for theme, dark in ((light_theme(), False), (dark_theme(), True)):
        image, _ = render(scene, 2.0, QRectF(-10, -10, 200, 200), dark)
        # A point inside the Relu box, left of its title text.
        assert QColor(image.pixel(4, 30)).name() == theme.header("activation").name()


def test_arrowhead_tips_sit_on_the_edge_ends() -> None:
    scene = two_box_scene()
    bounds = arrowheads_path(scene.edge_points, scene.edge_offsets, np.array([0])).boundingRect()
    assert bounds.bottom() == pytest.approx(100.0)  # the tip touches the Sigmoid box's top
    assert bounds.top() < 100.0 and bounds.center().x() == pytest.approx(40.0)


def test_edge_picking_is_by_distance_to_the_polyline(qapp: object) -> None:
    scene = two_box_scene()
    geometry = ScenePainter(scene, light_theme()).geometry
    assert nearest_edge(scene, geometry, 43.0, 70.0, tolerance=5.0) == 0
    assert nearest_edge(scene, geometry, 50.0, 70.0, tolerance=5.0) is None


def test_tensor_stats_match_numpy_and_count_non_finite() -> None:
    values = np.random.default_rng(1).standard_normal((32, 16)).astype(np.float32)
    values[0, 0] = np.nan
    values[1, 1] = 0.0
    stats = tensor_stats(values)
    finite = values[np.isfinite(values)].astype(np.float64)
    assert stats.non_finite == 1 and stats.zeros == 1
    assert stats.mean == pytest.approx(finite.mean()) and stats.std == pytest.approx(finite.std())
    assert int(stats.counts.sum()) == finite.size and len(stats.edges) == len(stats.counts) + 1
    assert stats.first[0] == "nan" and not stats.sampled


def test_tensor_stats_of_integers_and_booleans() -> None:
    stats = tensor_stats(np.array([[True, False, True]]))
    assert (stats.minimum, stats.maximum, stats.zeros) == (0.0, 1.0, 1)
    ints = tensor_stats(np.arange(-5, 6, dtype=np.int8))
    assert (ints.minimum, ints.maximum, ints.mean) == (-5.0, 5.0, 0.0)


def test_search_ranks_exact_op_matches_first_and_finds_tensors(tmp_path: Path) -> None:
    graph = netray.load_model(conv_net(tmp_path / "conv.onnx")).main
    hits = search_graph(graph, "conv")
    assert hits[0].node is not None and hits[0].node.op == "Conv"
    assert {h.node.op for h in hits[:3] if h.node is not None} == {"Conv"}
    tensor_hits = [h for h in search_graph(graph, "pooled") if h.value is not None]
    assert tensor_hits and tensor_hits[0].node is not None and tensor_hits[0].node.op == "GlobalAveragePool"
    assert search_graph(graph, "   ") == []


def test_node_html_escapes_names_and_links_subgraphs() -> None:
    g = Graph("g")
    x = g.value("<x>")
    body = Graph("body")
    node = g.add_node(
        Node("Loop", "loop<1>", inputs=[Port("M", [x])], attributes=[Attribute("note", AttrKind.STRING, "a&b")], subgraphs=[body])
    )
    assign_ids(Model("test", [g]))
    html = properties.node_html(node, None)
    assert "loop&lt;1&gt;" in html and "&lt;x&gt;" in html and "a&amp;b" in html
    assert node.id == "loop<1>" and "subgraph:loop%3C1%3E:0" in html  # by stable id, percent-encoded


def test_whole_scene_paths_hold_every_box_and_edge(qapp: object) -> None:
    from netray_viewer.geometry import SceneGeometry

    scene = two_box_scene()
    geometry = SceneGeometry.of(scene)
    geometry.build_whole_paths()
    assert geometry.vertical
    boxes = geometry.box_bands["activation"]
    assert sum(p.elementCount() for p in boxes.paths) == 2 * 5  # two closed rectangles
    united = QRectF()
    for path in boxes.paths:
        united = united.united(path.boundingRect())
    assert united == QRectF(0, 0, 80, 124)
    (edge,) = geometry.edge_bands.paths
    assert edge.elementCount() == 3  # one polyline of three points
    assert edge.boundingRect().top() == 24.0 and edge.boundingRect().bottom() == 100.0
    assert geometry.edge_bands.reaching(-10.0, 20.0) == []  # the edge runs from 24 to 100
    assert len(geometry.edge_bands.reaching(30.0, 40.0)) == 1


def test_whole_scene_paths_come_in_bands_and_a_view_draws_those_reaching_it(qapp: object) -> None:
    from netray.hierarchy import Hierarchy
    from netray.layout import layout_scene
    from netray.layout import synthetic as syn
    from netray_viewer.geometry import BANDS, SceneGeometry

    graph = syn.layered_dag(600)
    h = Hierarchy.build(graph)
    scene = layout_scene(graph, h, h.all_group_ids())
    geometry = SceneGeometry.of(scene)
    geometry.build_whole_paths()
    boxes = int((scene.kind != ItemKind.FRAME).sum())
    assert sum(p.elementCount() for b in geometry.box_bands.values() for p in b.paths) == 5 * boxes
    drawn = int((np.diff(scene.edge_offsets) >= 2).sum())
    points = sum(p.elementCount() for p in geometry.edge_bands.paths)
    assert points == sum(int(n) for n in np.diff(scene.edge_offsets) if n >= 2) and drawn > 100
    left, top, right, bottom = scene.bounds()
    if geometry.vertical:
        tenth = QRectF(left, top, right - left, (bottom - top) / 10)
    else:
        tenth = QRectF(left, top, (right - left) / 10, bottom - top)
    for bands in (*geometry.box_bands.values(), geometry.edge_bands):
        assert len(bands.paths) <= BANDS + 1
        low, high = geometry.along(tenth)
        reached = bands.reaching(low, high)
        # Every band holding an item in view is drawn; on a tall graph, far from all of them.
        for path, a, b in zip(bands.paths, bands.low, bands.high, strict=True):
            if a <= high and b >= low:
                assert path in reached
    total = sum(len(b.paths) for b in geometry.box_bands.values())
    assert sum(len(b.reaching(*geometry.along(tenth))) for b in geometry.box_bands.values()) < total / 2


def test_attribute_of_the_wrong_kind_is_shown_not_raised() -> None:
    broken = Attribute("alpha", AttrKind.FLOAT, None)
    assert properties.attribute_text(broken) == "None"
    g = Graph("g")
    node = g.add_node(Node("LeakyRelu", "lrelu", attributes=[broken]))
    assert "alpha" in properties.node_html(node, None)


def test_hover_text_names_the_node(qapp: object) -> None:
    from netray_viewer.canvas import hover_text

    scene = two_box_scene()
    assert hover_text(scene, 0) == "Relu — relu"


def test_full_detail_painting_draws_every_box_without_culling(qapp: object) -> None:
    scene = two_box_scene()
    image = QImage(200, 200, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    drawn = ScenePainter(scene, light_theme()).paint_full_detail(painter)
    painter.end()
    assert drawn == 2
    # Both boxes are drawn in their category colour (left edge of each, beside the title).
    colour = light_theme().header("activation").name()
    assert QColor(image.pixel(2, 12)).name() == colour and QColor(image.pixel(2, 112)).name() == colour


def test_large_weight_waits_for_load_values(qtbot: object) -> None:
    from netray.ir import Tensor, Value
    from netray_viewer.weights import AUTO_LOAD_ELEMENTS, WeightView

    shape = (AUTO_LOAD_ELEMENTS + 1,)
    values = np.linspace(-1.0, 3.0, shape[0], dtype=np.float32)
    reads: list[int] = []

    def load() -> np.ndarray:
        reads.append(1)
        return values

    weight = Value("big", TensorType("float32", shape))
    weight.initializer = Tensor("big", "float32", shape, loader=load, byte_size=values.nbytes)
    view = WeightView("big", weight.initializer)
    qtbot.addWidget(view)  # type: ignore[attr-defined]
    assert reads == [] and view.stats is None and not view.button.isHidden()
    view.button.click()
    assert reads == [1] and view.stats is not None
    assert (view.stats.minimum, view.stats.maximum) == (-1.0, 3.0)
    assert view.button.isHidden() and view.plot is not None


def test_frame_titles_lie_over_the_edges_that_enter_the_frame(qapp: object) -> None:
    """An edge entering a frame passes under its title, on a patch of the frame's own colour."""
    from netray_viewer.painter import frame_interior

    base = two_box_scene()
    frame = Scene(
        graph=base.graph,
        expanded=frozenset(),
        kind=np.array([ItemKind.FRAME, ItemKind.NODE, ItemKind.NODE], np.int8),
        x=np.array([0.0, 0.0, 0.0]),
        y=np.array([50.0, 0.0, 100.0]),
        w=np.array([190.0, 80.0, 80.0]),
        h=np.array([80.0, 24.0, 24.0]),
        depth=np.array([1, 1, 2], np.int16),
        ref=[base.graph.nodes[1], *base.ref],
        title=["a frame with a long title", *base.title],
        lines=[[], [], []],
        category=["group", "activation", "activation"],
        edge_src=np.array([1], np.int64),
        edge_dst=np.array([2], np.int64),
        edge_value=base.edge_value,
        edge_label=[""],
        edge_control=np.zeros(1, bool),
        edge_points=np.array([[40.25, 24.0], [40.25, 100.0]]),  # on pixel column 80 at zoom 2
        edge_offsets=np.array([0, 2], np.int64),
    )
    for dark in (False, True):
        theme = dark_theme() if dark else light_theme()
        image = QImage(400, 400, QImage.Format.Format_ARGB32)
        image.fill(theme.background)
        painter = QPainter(image)
        painter.scale(2.0, 2.0)
        ScenePainter(frame, theme).paint(painter, QRectF(-10, -10, 200, 200), 2.0)
        painter.end()
        # Where the edge runs outside the frame it is drawn; inside the title's patch (its
        # top margin, above the letters) the frame's colour shows instead.
        assert QColor(image.pixel(80, 80)).name() == theme.edge.name()
        under_title = QColor(image.pixel(80, 107))
        interior = frame_interior(theme, 1)
        assert max(abs(under_title.red() - interior.red()), abs(under_title.green() - interior.green()), abs(under_title.blue() - interior.blue())) <= 3
