"""Layout: scenes at full and partial expansion, routes, frames, caching, cancelling, real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netray
from netray.hierarchy import Group, Hierarchy
from netray.ir import Graph, Node, Port, TensorType, Value, shape_text
from netray.layout import LayoutCache, LayoutCancelled, layout_scene
from netray.layout import synthetic as syn
from netray.scene import ItemKind, Scene

SOLID = (ItemKind.NODE, ItemKind.GROUP, ItemKind.INPUT, ItemKind.OUTPUT)


def _data_edges(graph: Graph) -> set[tuple[int, int, int]]:
    """(producer index, consumer index, id(value)) for every op-to-op data edge."""
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    edges = set()
    for j, node in enumerate(graph.nodes):
        for v in node.input_values():
            if v.producer is not None and v.producer is not node:
                edges.add((index[id(v.producer)], j, id(v)))
    return edges


def _visible_item(scene: Scene, hierarchy: Hierarchy, node_index: int) -> int:
    """The item that shows the node: its own box, or the box of the outermost collapsed group holding it."""
    for group in hierarchy.ancestors(node_index):
        if group.id not in scene.expanded:
            item = scene.item_of(group)
            assert item is not None
            return item
    item = scene.item_of(scene.graph.nodes[node_index])
    assert item is not None
    return item


def _scene_edges(scene: Scene) -> set[tuple[int, int, int]]:
    return {
        (int(s), int(d), id(v))
        for s, d, v in zip(scene.edge_src, scene.edge_dst, scene.edge_value, strict=True)
        if v is not None
    }


def _assert_boxes_nest_or_part(scene: Scene) -> None:
    """Any two items are disjoint, or a frame holds the other: no overlaps within a level."""
    x0, y0 = scene.x, scene.y
    x1, y1 = scene.x + scene.w, scene.y + scene.h
    eps = 1e-6
    for i in range(scene.size):
        overlap = (x0[i] < x1 - eps) & (x0 < x1[i] - eps) & (y0[i] < y1 - eps) & (y0 < y1[i] - eps)
        overlap[i] = False
        for j in np.flatnonzero(overlap):
            i_holds_j = x0[i] <= x0[j] + eps and y0[i] <= y0[j] + eps and x1[j] <= x1[i] + eps and y1[j] <= y1[i] + eps
            j_holds_i = x0[j] <= x0[i] + eps and y0[j] <= y0[i] + eps and x1[i] <= x1[j] + eps and y1[i] <= y1[j] + eps
            assert (scene.kind[i] == ItemKind.FRAME and i_holds_j) or (scene.kind[j] == ItemKind.FRAME and j_holds_i), (
                f"{scene.title[i]!r} overlaps {scene.title[j]!r}"
            )


def _assert_frames_enclose_members(scene: Scene, hierarchy: Hierarchy) -> None:
    frame_of = {scene.ref[i].id: i for i in range(scene.size) if scene.kind[i] == ItemKind.FRAME}
    for i in range(scene.size):
        ref = scene.ref[i]
        if scene.kind[i] == ItemKind.NODE:
            holders = [g for g in hierarchy.ancestors(ref.index)]
        elif scene.kind[i] in (ItemKind.GROUP, ItemKind.FRAME):
            holders = []
            g = ref.parent
            while g is not None and g.parent is not None:
                holders.append(g)
                g = g.parent
        else:
            continue
        for g in holders:
            f = frame_of[g.id]
            assert scene.x[f] <= scene.x[i] and scene.y[f] <= scene.y[i]
            assert scene.x[i] + scene.w[i] <= scene.x[f] + scene.w[f] + 1e-6
            assert scene.y[i] + scene.h[i] <= scene.y[f] + scene.h[f] + 1e-6
            if scene.kind[i] != ItemKind.FRAME:
                assert scene.depth[i] > scene.depth[f]


def _assert_routes_join_their_ends(scene: Scene, direction: str = "TB") -> None:
    for j in range(len(scene.edge_src)):
        pts = scene.edge_polyline(j)
        s, d = int(scene.edge_src[j]), int(scene.edge_dst[j])
        assert len(pts) >= 2
        if direction == "TB":
            start = (scene.x[s] + scene.w[s] / 2, scene.y[s] + scene.h[s])
            end = (scene.x[d] + scene.w[d] / 2, scene.y[d])
        else:
            start = (scene.x[s] + scene.w[s], scene.y[s] + scene.h[s] / 2)
            end = (scene.x[d], scene.y[d] + scene.h[d] / 2)
        assert np.allclose(pts[0], start) and np.allclose(pts[-1], end)


@pytest.mark.parametrize("make", [lambda: syn.decoder(3, scoped=True), lambda: syn.decoder(3), lambda: syn.layered_dag(600)])
def test_full_expansion_shows_every_node_once_and_keeps_every_edge(make) -> None:  # type: ignore[no-untyped-def]
    graph = make()
    h = Hierarchy.build(graph)
    scene = layout_scene(graph, h, h.all_group_ids())
    nodes = [scene.ref[i] for i in range(scene.size) if scene.kind[i] == ItemKind.NODE]
    assert len(nodes) == len(graph.nodes)
    assert {id(n) for n in nodes} == {id(n) for n in graph.nodes}
    item_of_node = {scene.ref[i].index: i for i in range(scene.size) if scene.kind[i] == ItemKind.NODE}
    wanted = {(item_of_node[p], item_of_node[c], v) for p, c, v in _data_edges(graph)}
    assert wanted <= _scene_edges(scene)
    # Inputs and outputs have boxes of their own, joined to their consumers and producers.
    assert (scene.kind == ItemKind.INPUT).sum() == len(graph.inputs)
    assert (scene.kind == ItemKind.OUTPUT).sum() == len(graph.outputs)
    for i in np.flatnonzero(scene.kind == ItemKind.OUTPUT):
        assert (scene.edge_dst == i).any()
    # No frame-less group: every group shows as a frame.
    assert (scene.kind == ItemKind.FRAME).sum() == len(h.groups) - 1
    _assert_boxes_nest_or_part(scene)
    _assert_frames_enclose_members(scene, h)
    _assert_routes_join_their_ends(scene)
    # An acyclic graph flows strictly downward: every target starts below its source's bottom.
    src, dst = scene.edge_src, scene.edge_dst
    assert (scene.y[dst] >= scene.y[src] + scene.h[src]).all()


def test_edges_attach_to_collapsed_groups_once_per_value() -> None:
    graph = syn.decoder(4, scoped=True)
    h = Hierarchy.build(graph)
    expanded = frozenset({h.root.id, "model", "model/layers.1"})
    scene = layout_scene(graph, h, expanded)
    wanted = set()
    for p, c, v in _data_edges(graph):
        a, b = _visible_item(scene, h, p), _visible_item(scene, h, c)
        if a != b:
            wanted.add((a, b, v))
    got = _scene_edges(scene)
    assert got == wanted | {e for e in got if scene.kind[e[0]] == ItemKind.INPUT or scene.kind[e[1]] == ItemKind.OUTPUT}
    triples = list(zip(scene.edge_src.tolist(), scene.edge_dst.tolist(), [id(v) for v in scene.edge_value], strict=True))
    assert len(triples) == len(set(triples))
    layer0 = scene.item_of(h.groups["model/layers.0"])
    assert layer0 is not None and scene.kind[layer0] == ItemKind.GROUP
    assert scene.lines[layer0][0].startswith(f"{h.groups['model/layers.0'].op_count} ops")
    assert (scene.edge_src == layer0).any() and (scene.edge_dst == layer0).any()
    _assert_boxes_nest_or_part(scene)
    _assert_frames_enclose_members(scene, h)
    _assert_routes_join_their_ends(scene)


def test_edge_labels_are_shapes_and_control_edges_are_marked() -> None:
    g = Graph("ctl")
    x = g.value("x", TensorType("float32", (1, "n", 8)))
    g.inputs = [x]
    a = g.add_node(Node("Relu", "a", inputs=[Port("X", [x])], outputs=[Port("Y", [g.value("a", TensorType("float32", None))])]))
    b = g.add_node(Node("Exp", "b", inputs=[Port("X", [x])], outputs=[Port("Y", [g.value("b", TensorType("float32", (1, "n", 8)))])]))
    c = g.add_node(Node("Add", "c", inputs=[Port("A", [g.values["a"]]), Port("B", [g.values["b"]])], outputs=[Port("Y", [g.value("c")])]))
    b.control_inputs.append(a)
    g.outputs = [g.values["c"]]
    g.link()
    scene = layout_scene(g, Hierarchy.build(g), frozenset({""}))
    item = {id(r): i for i, r in enumerate(scene.ref)}
    by_pair = {(int(s), int(d)): j for j, (s, d) in enumerate(zip(scene.edge_src, scene.edge_dst, strict=True))}
    j = by_pair[(item[id(x)], item[id(b)])]
    assert scene.edge_label[j] == shape_text((1, "n", 8)) == "1xnx8"
    assert scene.edge_label[by_pair[(item[id(a)], item[id(c)])]] == ""  # unknown shape
    ctl = by_pair[(item[id(a)], item[id(b)])]
    assert scene.edge_control[ctl] and scene.edge_value[ctl] is None
    assert scene.edge_control.sum() == 1
    # The control dependency orders the rows too: a above b.
    assert scene.y[item[id(a)]] + scene.h[item[id(a)]] < scene.y[item[id(b)]]


def _segment_hits_box(p: np.ndarray, q: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    """Whether the segment p-q passes through the inside of the box (Liang-Barsky clipping)."""
    x0, y0, x1, y1 = box[0] + 1, box[1] + 1, box[0] + box[2] - 1, box[1] + box[3] - 1
    d = q - p
    t0, t1 = 0.0, 1.0
    for pk, qk in ((-d[0], p[0] - x0), (d[0], x1 - p[0]), (-d[1], p[1] - y0), (d[1], y1 - p[1])):
        if pk == 0:
            if qk < 0:
                return False
        else:
            t = qk / pk
            if pk < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
    return t0 < t1


def test_long_edges_route_around_boxes() -> None:
    # A residual chain: each block's input skips its three ops.
    g = Graph("res")
    g.inputs = [g.value("x", TensorType("float32", (1, 8)))]
    prev = "x"
    for k in range(6):
        a = g.add_node(Node("Conv", f"c{k}", inputs=[Port("X", [g.value(prev)])], outputs=[Port("Y", [g.value(f"c{k}")])]))
        r = g.add_node(Node("Relu", f"r{k}", inputs=[Port("X", [g.value(f"c{k}")])], outputs=[Port("Y", [g.value(f"r{k}")])]))
        s = g.add_node(Node("Conv", f"d{k}", inputs=[Port("X", [g.value(f"r{k}")])], outputs=[Port("Y", [g.value(f"d{k}")])]))
        g.add_node(Node("Add", f"a{k}", inputs=[Port("A", [g.value(prev)]), Port("B", [g.value(f"d{k}")])], outputs=[Port("Y", [g.value(f"a{k}")])]))
        del a, r, s
        prev = f"a{k}"
    g.outputs = [g.values[prev]]
    g.link()
    scene = layout_scene(g, Hierarchy.build(g), frozenset({""}))
    boxes = [(scene.x[i], scene.y[i], scene.w[i], scene.h[i]) for i in range(scene.size)]
    for j in range(len(scene.edge_src)):
        pts = scene.edge_polyline(j)
        ends = {int(scene.edge_src[j]), int(scene.edge_dst[j])}
        for i, box in enumerate(boxes):
            if i in ends:
                continue
            assert not any(_segment_hits_box(pts[k], pts[k + 1], box) for k in range(len(pts) - 1)), (
                f"edge {scene.title[int(scene.edge_src[j])]}->{scene.title[int(scene.edge_dst[j])]} crosses {scene.title[i]}"
            )


def test_left_to_right_is_the_transposed_picture() -> None:
    graph = syn.decoder(2, scoped=True)
    h = Hierarchy.build(graph)
    tb = layout_scene(graph, h, h.all_group_ids())
    lr = layout_scene(graph, h, h.all_group_ids(), direction="LR")
    assert lr.size == tb.size
    nodes = np.flatnonzero(lr.kind == ItemKind.NODE)
    # Boxes keep their sizes; data flows to the right.
    assert np.allclose(sorted(lr.w[nodes]), sorted(tb.w[nodes]))
    _assert_boxes_nest_or_part(lr)
    _assert_frames_enclose_members(lr, h)
    _assert_routes_join_their_ends(lr, "LR")
    first = lr.item_of(graph.nodes[0])
    last = lr.item_of(graph.nodes[-1])
    assert first is not None and last is not None and lr.x[first] < lr.x[last]
    with pytest.raises(ValueError):
        layout_scene(graph, h, h.all_group_ids(), direction="XY")


def test_cache_relays_out_only_the_changed_groups() -> None:
    graph = syn.decoder(6, scoped=True)
    h = Hierarchy.build(graph)
    cache = LayoutCache(graph, h)
    base = frozenset({h.root.id, "model"})
    first = cache.scene(base)
    built = len(cache._blocks)
    opened = cache.scene(base | {"model/layers.2"})
    # The opened layer, its parent and the root: three new blocks, nothing else.
    assert len(cache._blocks) == built + 3
    assert opened.size == first.size + h.groups["model/layers.2"].member_count
    again = cache.scene(base)
    assert len(cache._blocks) == built + 3
    assert np.array_equal(again.x, first.x) and np.array_equal(again.y, first.y)
    # Same expansion from a fresh layout: same picture.
    fresh = layout_scene(graph, h, base | {"model/layers.2"})
    assert np.allclose(fresh.x, opened.x) and np.allclose(fresh.edge_points, opened.edge_points)


def test_cancel_stops_and_progress_reaches_one() -> None:
    graph = syn.decoder(4, scoped=True)
    h = Hierarchy.build(graph)
    seen: list[float] = []
    layout_scene(graph, h, h.all_group_ids(), progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    calls = []

    def cancel_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(LayoutCancelled):
        layout_scene(graph, h, h.all_group_ids(), cancel=cancel_after_two)


def test_collapsed_overview_of_a_flat_graph_is_small() -> None:
    graph = syn.decoder(40, shape_ops=2)
    h = Hierarchy.build(graph)
    scene = layout_scene(graph, h, h.default_expanded())
    assert scene.size <= 400
    groups = [scene.ref[i] for i in np.flatnonzero(scene.kind == ItemKind.GROUP)]
    assert groups and all(isinstance(g, Group) for g in groups)
    _assert_boxes_nest_or_part(scene)


def test_reveal_makes_a_deep_node_visible() -> None:
    graph = syn.decoder(8, scoped=True)
    h = Hierarchy.build(graph)
    target = next(i for i, n in enumerate(graph.nodes) if "layers.6" in n.scope and n.op == "Softmax")
    cache = LayoutCache(graph, h)
    assert cache.scene(frozenset({h.root.id})).item_of(graph.nodes[target]) is None
    scene = cache.scene(h.reveal(frozenset({h.root.id}), target))
    assert scene.item_of(graph.nodes[target]) is not None


def test_a_cycle_is_drawn_not_looped_forever() -> None:
    g = Graph("loop")
    x = g.value("x")
    g.inputs = [x]
    a = Node("Add", "a", inputs=[Port("A", [x]), Port("B", [g.value("b")])], outputs=[Port("Y", [g.value("a")])])
    b = Node("NextIteration", "b", inputs=[Port("X", [g.value("a")])], outputs=[Port("Y", [g.value("b")])])
    g.add_node(a)
    g.add_node(b)
    g.outputs = [g.values["a"]]
    g.link()
    scene = layout_scene(g, Hierarchy.build(g), frozenset({""}))
    assert (scene.kind == ItemKind.NODE).sum() == 2
    assert len(scene.edge_src) == 4
    _assert_boxes_nest_or_part(scene)


def test_empty_graph() -> None:
    g = Graph("empty")
    scene = layout_scene(g, Hierarchy.build(g), frozenset())
    assert scene.size == 0 and len(scene.edge_src) == 0


REAL_FILES = [
    "mxnet/insightface/genderage-symbol.json",
    "mxnet/insightface/det4-symbol.json",
    "mxnet/apache_mxnet/test_mkldnn_test_mkldnn_model_model1.json",
    "tflite/tf2onnx/regression.tflite",
    "torchscript/silero_vad/silero_number_detector.jit",
    "tensorflow/frozen/tf2onnx/gru_frozen.pb",
    "tensorflow/savedmodel/tf_serving/saved_model_half_plus_two_mkl",
    "keras/face_classification/fer2013_mini_XCEPTION.102-0.66.hdf5",
]


@pytest.mark.parametrize("name", REAL_FILES)
def test_real_models_lay_out_cleanly(shared_models: Path, name: str) -> None:
    path = shared_models / name
    if not path.exists():
        pytest.skip(f"{name} not in the shared models")
    try:
        model = netray.load_model(path)
    except netray.NoReaderError as exc:
        pytest.skip(f"no plugin installed for {name}: {exc}")
    graph = model.main
    h = Hierarchy.build(graph)
    for expanded in (h.default_expanded(), h.all_group_ids()):
        scene = layout_scene(graph, h, expanded)
        _assert_boxes_nest_or_part(scene)
        _assert_frames_enclose_members(scene, h)
        _assert_routes_join_their_ends(scene)
        values: list[Value | None] = list(scene.edge_value)
        assert len(values) == len(scene.edge_src)
    full = layout_scene(graph, h, h.all_group_ids())
    assert (full.kind == ItemKind.NODE).sum() == len(graph.nodes)


def test_a_cancelled_layout_leaves_the_cache_usable() -> None:
    graph = syn.decoder(5, scoped=True)
    h = Hierarchy.build(graph)
    cache = LayoutCache(graph, h, direction="LR")
    calls: list[int] = []

    def cancel_midway() -> bool:
        calls.append(1)
        return len(calls) == 6

    with pytest.raises(LayoutCancelled):
        cache.scene(h.all_group_ids(), cancel=cancel_midway)
    resumed = cache.scene(h.all_group_ids())
    fresh = layout_scene(graph, h, h.all_group_ids(), direction="LR")
    assert resumed.size == fresh.size
    assert np.allclose(resumed.x, fresh.x) and np.allclose(resumed.y, fresh.y)
    assert np.allclose(resumed.edge_points, fresh.edge_points)


def test_frames_start_their_members_just_below_the_title() -> None:
    """Ports of entering edges sit just under the frame's title: no empty row above the first member."""
    from netray.layout.blocks import FRAME_PAD, FRAME_TITLE
    from netray.layout.layered import RANK_SEP

    graph = syn.decoder(3, scoped=True)
    h = Hierarchy.build(graph)
    scene = layout_scene(graph, h, h.all_group_ids())
    frames = np.flatnonzero(scene.kind == ItemKind.FRAME)
    assert len(frames) > 3
    most = FRAME_TITLE + max(RANK_SEP, FRAME_PAD) + 1e-6  # it was 100 (pad, title, an empty row, a row gap)
    for f in frames:
        inside = (
            (scene.x >= scene.x[f]) & (scene.x + scene.w <= scene.x[f] + scene.w[f])
            & (scene.y >= scene.y[f]) & (scene.y + scene.h <= scene.y[f] + scene.h[f])
            & (scene.depth > scene.depth[f])
        )
        assert inside.any()
        gap = float((scene.y[inside] - scene.y[f]).min())
        assert FRAME_TITLE < gap <= most, (scene.title[f], gap)
