"""Box texts and sizes shared by the layout and the viewer."""

from __future__ import annotations

from pathlib import Path

import pytest

import netray
from netray.ir import Attribute, AttrKind, Graph, Node, Port, Tensor, TensorType
from netray.labels import box_size, format_count, group_lines, node_lines, node_title, value_lines


def _conv(graph: Graph, attrs: list[Attribute], bias: bool = True) -> Node:
    w = graph.value("w", TensorType("float32", (64, 3, 7, 7)))
    w.initializer = Tensor("w", "float32", (64, 3, 7, 7))
    inputs = [Port("X", [graph.value("x")]), Port("W", [w])]
    if bias:
        b = graph.value("b", TensorType("float32", (64,)))
        b.initializer = Tensor("b", "float32", (64,))
        inputs.append(Port("B", [b]))
    return graph.add_node(Node("Conv", "conv1", inputs=inputs, outputs=[Port("Y", [graph.value("y")])], attributes=attrs))


def test_conv_box_shows_window_then_weights() -> None:
    node = _conv(
        Graph(),
        [
            Attribute("kernel_shape", AttrKind.INTS, [7, 7]),
            Attribute("strides", AttrKind.INTS, [2, 2]),
            Attribute("pads", AttrKind.INTS, [3, 3, 3, 3]),
            Attribute("dilations", AttrKind.INTS, [1, 1]),
            Attribute("group", AttrKind.INT, 1),
        ],
    )
    assert node_title(node) == "Conv"
    assert node_lines(node) == ["7x7 /2 pad 3", "W 64x3x7x7", "B 64"]


def test_unit_stride_and_zero_pad_are_left_out_and_other_attributes_listed() -> None:
    node = _conv(
        Graph(),
        [
            Attribute("kernel_shape", AttrKind.INTS, [3, 1]),
            Attribute("strides", AttrKind.INTS, [1, 1]),
            Attribute("pads", AttrKind.INTS, [0, 0, 0, 0]),
            Attribute("alpha", AttrKind.FLOAT, 0.25),
        ],
        bias=False,
    )
    assert node_lines(node) == ["3x1", "alpha=0.25", "W 64x3x7x7"]


def test_lines_are_capped_and_say_what_is_hidden() -> None:
    attrs = [Attribute(f"a{k}", AttrKind.INT, k) for k in range(9)]
    node = _conv(Graph(), attrs)
    lines = node_lines(node, max_lines=4)
    assert len(lines) == 4
    assert lines[-2:] == ["W 64x3x7x7", "B 64"]
    assert lines[1] == "+8 more"
    long = node_lines(Node("Custom", attributes=[Attribute("path", AttrKind.STRING, "x" * 200)]))
    assert len(long[0]) <= 28 and long[0].endswith("…")


def test_box_size_grows_with_text() -> None:
    w1, h1 = box_size("Relu", [])
    w2, h2 = box_size("Relu", ["a much longer line of text"])
    _, h3 = box_size("Relu", ["x", "y"])
    assert w2 > w1 and h2 > h1 and h3 > h2
    assert w1 >= 44  # a box never gets narrower than a short op name needs


def test_group_and_value_texts() -> None:
    lines = group_lines(120, 1_234_567, [("MatMul", 32), ("Add", 20), ("Softmax", 1)])
    assert lines[0] == "120 ops · 1.2M params"
    assert lines[1] == "MatMul ×32, Add ×20"
    assert lines[2] == "Softmax"
    assert group_lines(3, 0, [])[0] == "3 ops"
    assert format_count(999) == "999" and format_count(64_000) == "64K"
    assert value_lines("float32", (1, "batch", 224)) == ["float32 1xbatchx224"]
    assert value_lines(None, None) == []


def test_labels_of_a_real_onnx_conv(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((16, 3, 5, 5), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[5, 5], strides=[2, 2], pads=[2, 2, 2, 2])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph), path)
    try:
        model = netray.load_model(path)
    except netray.NoReaderError:
        pytest.skip("the ONNX plugin is not installed")
    conv = model.main.nodes[0]
    lines = node_lines(conv)
    assert lines[0] == "5x5 /2 pad 2"
    assert any(line.endswith("16x3x5x5") for line in lines)


@pytest.mark.parametrize(
    ("relative", "op", "window"),
    [
        ("darknet/pjreddie_darknet/tiny.cfg", "maxpool", "2 /2 pad 1"),  # Darknet's size, with a stride beside it
        ("ncnn/nanodet/nanodet-ELite0_320.param", "Convolution", "3 /2 pad 1"),  # ncnn's kernel_w, stride_w, pad_left
        ("coreml/r4ghu_mnist/mnistCNN.mlmodel", "pooling", "2x2 /2"),  # Core ML's kernelSize
    ],
)
def test_real_files_of_other_formats_show_their_window(shared_models: Path, relative: str, op: str, window: str) -> None:
    path = shared_models / relative
    if not path.exists():
        pytest.fail(f"{relative} is not among the shared models")
    model = netray.load_model(path)
    node = next(n for n in model.main.nodes if n.op == op)
    assert node_lines(node)[0] == window
