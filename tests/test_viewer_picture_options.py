"""What the picture shows, decided in the core (no Qt): folded constants, box text, label places, groups by name."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from netray.hierarchy import Hierarchy, foldable_constants
from netray.ir import Attribute, AttrKind, Graph, Node, Port, Tensor, TensorType
from netray.labels import EDGE_CHAR_WIDTH, EDGE_LABEL_HEIGHT, BoxText, node_lines, values_text
from netray.layout import LayoutCache
from netray.layout import synthetic as syn
from netray.scene import ItemKind, Scene


def tensor(values: np.ndarray, name: str = "t") -> Tensor:
    array = np.asarray(values)
    return Tensor(name, str(array.dtype), tuple(array.shape), loader=lambda: array, byte_size=array.nbytes)


def constant_graph() -> tuple[Graph, dict[str, Node]]:
    """x -> Reshape(shape from a Constant) -> Add(scalar Const) -> Concat(three branches of one shape) -> y."""
    g = Graph("g")
    x = g.value("x", TensorType("float32", (1, 64, 16)))
    g.inputs = [x]
    nodes: dict[str, Node] = {}

    def add(node: Node) -> Node:
        nodes[node.name] = g.add_node(node)
        return node

    shape = g.value("shape", TensorType("int64", (3,)))
    add(Node("Constant", "shape_const", outputs=[Port("output", [shape])], attributes=[Attribute("value", AttrKind.TENSOR, tensor(np.array([1, 16, 64])))]))
    r = g.value("r", TensorType("float32", (1, 16, 64)))
    add(Node("Reshape", "reshape", inputs=[Port("data", [x]), Port("shape", [shape])], outputs=[Port("reshaped", [r])]))
    half = g.value("half", TensorType("float32", ()))
    add(Node("Const", "half", outputs=[Port("output", [half])], attributes=[Attribute("value", AttrKind.TENSOR, tensor(np.float32(0.5)))]))
    fill = g.value("fill", TensorType("float32", ()))
    add(Node("fill_constant", "fill", outputs=[Port("out", [fill])], attributes=[Attribute("value", AttrKind.FLOAT, 2.0)]))
    branches = []
    for k in range(3):
        out = g.value(f"b{k}", TensorType("float32", (1, 16, 64)))
        add(Node("Add" if k == 0 else "Mul", f"branch{k}", inputs=[Port("A", [r]), Port("B", [half if k != 2 else fill])], outputs=[Port("C", [out])]))
        branches.append(out)
    y = g.value("y", TensorType("float32", (3, 16, 64)))
    add(Node("Concat", "concat", inputs=[Port("inputs", branches)], outputs=[Port("concat_result", [y])], attributes=[Attribute("axis", AttrKind.INT, 0)]))
    # Not foldable: a constant that is a graph output, and one nobody reads.
    out_const = g.value("out_const", TensorType("float32", ()))
    add(Node("Constant", "as_output", outputs=[Port("output", [out_const])], attributes=[Attribute("value", AttrKind.TENSOR, tensor(np.float32(1)))]))
    unused = g.value("unused", TensorType("float32", ()))
    add(Node("Constant", "unused", outputs=[Port("output", [unused])], attributes=[Attribute("value", AttrKind.TENSOR, tensor(np.float32(1)))]))
    g.outputs = [y, out_const]
    g.link()
    return g, nodes


def test_which_nodes_are_foldable_constants() -> None:
    g, _ = constant_graph()
    foldable = {g.nodes[i].name for i in np.flatnonzero(foldable_constants(g))}
    assert foldable == {"shape_const", "half", "fill"}


def test_folded_constants_leave_the_picture_and_show_in_their_users_boxes() -> None:
    g, nodes = constant_graph()
    h = Hierarchy.build(g)
    shown = LayoutCache(g, h, fold_constants=True).scene(h.all_group_ids())
    every = LayoutCache(g, h, fold_constants=False).scene(h.all_group_ids())
    for name in ("shape_const", "half", "fill"):
        assert shown.item_of(nodes[name]) is None and every.item_of(nodes[name]) is not None
    others = [n for n in g.nodes if n.name not in ("shape_const", "half", "fill")]
    assert all(shown.item_of(n) is not None for n in others)
    assert shown.size == every.size - 3
    # Every edge between drawn things is kept; those from folded constants are gone.
    drawn = {(shown.ref[a], shown.ref[b]) for a, b in zip(shown.edge_src.tolist(), shown.edge_dst.tolist(), strict=True)}
    kept = {(every.ref[a], every.ref[b]) for a, b in zip(every.edge_src.tolist(), every.edge_dst.tolist(), strict=True)}
    assert drawn == {pair for pair in kept if not (isinstance(pair[0], Node) and pair[0].name in ("shape_const", "half", "fill"))}
    lines = {n.name: shown.lines[shown.item_of(n)] for n in others if shown.item_of(n) is not None}  # type: ignore[index]
    assert lines["reshape"] == ["shape = [1, 16, 64]"]
    assert lines["branch0"] == ["B = 0.5"] and lines["branch2"] == ["B = 2"]
    # Unfolded, a Constant's own box shows its value, not "<scalar>".
    assert every.lines[every.item_of(nodes["half"])] == ["value = 0.5"]  # type: ignore[index]


def test_box_text_options() -> None:
    g, _ = constant_graph()
    conv = Node(
        "Conv",
        "/model/layers.0/conv/Conv",
        inputs=[Port("X", [g.value("a")]), Port("W", [g.value("w")])],
        attributes=[Attribute("kernel_shape", AttrKind.INTS, [3, 3])],
    )
    conv.inputs[1].values[0].initializer = tensor(np.zeros((8, 4, 3, 3), np.float32), "w")
    assert node_lines(conv) == ["3x3", "W 8x4x3x3"]
    assert node_lines(conv, text=BoxText(names=True)) == ["/model/layers.0/conv/Conv", "3x3", "W 8x4x3x3"]
    assert node_lines(conv, text=BoxText(attributes=False)) == ["W 8x4x3x3"]
    assert node_lines(conv, text=BoxText(weights=False)) == ["3x3"]
    long_name = Node("MatMul", "/model/decoder/layers.31/self_attn/q_proj/MatMul")
    assert node_lines(long_name, text=BoxText(names=True))[0] == "…" + long_name.name[-27:]  # the end of a path says most


def test_values_text_reads_only_small_numeric_tensors() -> None:
    assert values_text(tensor(np.float32(0.25))) == "0.25"
    assert values_text(tensor(np.array([1, 64, 16]))) == "[1, 64, 16]"
    assert values_text(tensor(np.array([True, False]))) == "[true, false]"
    assert values_text(tensor(np.zeros(9))) is None  # larger than a box shows
    assert values_text(tensor(np.array(["a"], dtype=object))) is None
    reads: list[int] = []
    big = Tensor("big", "float32", (4096,), loader=lambda: reads.append(1) or np.zeros(4096), byte_size=16384)  # type: ignore[func-returns-value]
    assert values_text(big) is None and reads == []  # never read to decide it is too big

    def broken() -> np.ndarray:
        raise OSError("gone")

    assert values_text(Tensor("x", "float32", (2,), loader=broken, byte_size=8)) is None


def label_rects(scene: Scene) -> list[tuple[int, tuple[float, float, float, float]]]:
    placed = np.flatnonzero(np.isfinite(scene.edge_label_x))
    return [
        (j, (scene.edge_label_x[j], scene.edge_label_y[j], scene.edge_label_x[j] + len(scene.edge_label[j]) * EDGE_CHAR_WIDTH, scene.edge_label_y[j] + EDGE_LABEL_HEIGHT))
        for j in placed.tolist()
    ]


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_edge_labels_never_collide_with_each_other_or_boxes(direction: str) -> None:
    for graph in (constant_graph()[0], syn.layered_dag(300, seed=5), syn.decoder(2)):
        h = Hierarchy.build(graph)
        scene = LayoutCache(graph, h, direction=direction, fold_constants=True).scene(h.all_group_ids())
        rects = label_rects(scene)
        assert rects, "some labels are placed"
        for (_, a), (_, b) in itertools.combinations(rects, 2):
            assert not overlap(a, b)
        boxes = [(scene.x[i], scene.y[i], scene.x[i] + scene.w[i], scene.y[i] + scene.h[i]) for i in range(scene.size) if scene.kind[i] != ItemKind.FRAME]
        for _, r in rects:
            assert not any(overlap(r, b) for b in boxes)


def test_merging_edges_keep_their_labels_apart() -> None:
    g, nodes = constant_graph()
    h = Hierarchy.build(g)
    scene = LayoutCache(g, h, fold_constants=True).scene(h.all_group_ids())
    concat = scene.item_of(nodes["concat"])
    into = [j for j in range(len(scene.edge_dst)) if scene.edge_dst[j] == concat]
    assert len(into) == 3 and all(scene.edge_label[j] == "1x16x64" for j in into)
    placed = [j for j in into if np.isfinite(scene.edge_label_x[j])]
    assert placed  # at least one says the shape ...
    spots = {(round(float(scene.edge_label_x[j])), round(float(scene.edge_label_y[j]))) for j in placed}
    assert len(spots) == len(placed)  # ... and no two sit on each other ("1x16x641x16x64")


def test_groups_by_id_label_or_pattern() -> None:
    graph = syn.decoder(2, scoped=True)
    h = Hierarchy.build(graph)
    ids = sorted(h.groups)
    some = next(i for i in ids if i.count("/") >= 2)
    parent = some.rsplit("/", 1)[0]
    opened = h.with_groups(h.expanded_to_depth(0), expand=[some])
    assert some in opened and parent in opened  # the groups around it open too
    label = h.groups[some].label
    assert h.groups[some] in h.find_groups(label)
    assert set(h.find_groups(parent + "/*")) >= {h.groups[some]}
    closed = h.with_groups(h.all_group_ids(), collapse=[parent])
    assert parent not in closed and h.root.id in closed
    with pytest.raises(ValueError, match="no group matches 'nothing'"):
        h.find_groups("nothing")


def test_a_frame_cut_out_of_a_scene() -> None:
    graph = syn.decoder(2, scoped=True)
    h = Hierarchy.build(graph)
    scene = LayoutCache(graph, h).scene(h.all_group_ids())
    frame = next(i for i in range(scene.size) if scene.kind[i] == ItemKind.FRAME and scene.depth[i] == scene.depth.min())
    part = scene.within(frame)
    x0, y0, x1, y1 = scene.x[frame], scene.y[frame], scene.x[frame] + scene.w[frame], scene.y[frame] + scene.h[frame]
    assert 1 < part.size < scene.size and part.kind[0] == ItemKind.FRAME
    left, top, right, bottom = part.bounds()
    assert (left, top, right, bottom) == (x0, y0, x1, y1)
    assert len(part.edge_src) and part.edge_src.max() < part.size and len(part.edge_offsets) == len(part.edge_src) + 1
    assert np.all((part.edge_points[:, 0] >= x0 - 1) & (part.edge_points[:, 0] <= x1 + 1))
