"""The shared shape propagation: the same shapes as onnx's own inference, and further by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import netray
from netray.ir import Graph, Shape, TensorType
from netray.propagate import INFERRED, broadcast, propagate, window_size

LIGHT_RESNET50 = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx"


def _forget_inferred(graph: Graph) -> dict[str, Shape | None]:
    """Drop every shape onnx inferred; return them by value name."""
    truth: dict[str, Shape | None] = {}
    for node in graph.nodes:
        for v in node.output_values():
            if v.type.inferred:
                truth[v.name] = v.type.shape
                v.type = TensorType(v.type.dtype, None)
    return truth


def test_resnet50_propagation_equals_onnx_inference() -> None:
    graph = netray.load_model(LIGHT_RESNET50).main
    truth = _forget_inferred(graph)
    assert len(truth) == 414
    assert propagate(graph) == 414
    assert {name: graph.values[name].type.shape for name in truth} == truth
    assert all(graph.values[name].type.inferred == INFERRED for name in truth)


def test_cnn_rules_equal_onnx_inference(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.standard_normal((16, 3, 5, 5)).astype(np.float32),
        "w2": rng.standard_normal((16, 4, 3, 3)).astype(np.float32),
        "wt": rng.standard_normal((16, 8, 4, 4)).astype(np.float32),
        "fc": rng.standard_normal((10, 8 * 6 * 6)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], strides=[2, 2], pads=[1, 2, 1, 2]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], group=4, dilations=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("MaxPool", ["c2"], ["p"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        helper.make_node("ConvTranspose", ["p", "wt"], ["t"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["t"], ["g"]),
        helper.make_node("AveragePool", ["t"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["a"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1),
        helper.make_node("ReduceMean", ["t"], ["r"], axes=[2, 3], keepdims=0),
        helper.make_node("Transpose", ["t"], ["tt"], perm=[0, 2, 3, 1]),
        helper.make_node("Concat", ["g", "g"], ["cc"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 33, 31])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("y", "r", "tt", "cc")],
        [numpy_helper.from_array(w, k) for k, w in weights.items()],
    )
    path = tmp_path / "cnn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    loaded = netray.load_model(path).main
    truth = _forget_inferred(loaded)
    assert truth["y"] == (2, 10)
    propagate(loaded)
    assert {name: loaded.values[name].type.shape for name in truth} == truth


def test_named_dimensions_followed_through_shape_arithmetic(tmp_path: Path) -> None:
    """What exporters write for attention: sizes read with Shape, sliced, concatenated, reshaped to -1."""
    const: dict[str, np.ndarray] = {
        "one": np.array(1, dtype=np.int64),
        "heads": np.array([2, 2], dtype=np.int64),
        "minus": np.array([-1], dtype=np.int64),
        "axis0": np.array([0], dtype=np.int64),
        "start": np.array([0], dtype=np.int64),
        "end": np.array([1], dtype=np.int64),
        "zero_f": np.array(0.0, dtype=np.float32),
        "one_f": np.array(1.0, dtype=np.float32),
        "freq": np.ones(8, dtype=np.float32),
    }
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),  # [batch, seq, 64]
        helper.make_node("Gather", ["s", "one"], ["seq"], axis=0),
        helper.make_node("Slice", ["s", "start", "end"], ["batch"]),
        helper.make_node("Unsqueeze", ["seq", "axis0"], ["seq1"]),
        helper.make_node("Concat", ["batch", "minus", "seq1", "heads"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["r"]),  # [batch, -1, seq, 2, 2] -> -1 = 16
        helper.make_node("Cast", ["seq"], ["seq_f"], to=TensorProto.FLOAT),
        helper.make_node("Range", ["zero_f", "seq_f", "one_f"], ["positions"]),
        helper.make_node("Einsum", ["positions", "freq"], ["angles"], equation="i,j->ij"),
    ]
    graph = helper.make_graph(
        nodes,
        "attention_shapes",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 64])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("r", "angles")],
        [numpy_helper.from_array(v, k) for k, v in const.items()],
    )
    path = tmp_path / "named.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    model = netray.load_model(path)  # onnx's inference, then the propagation for what it left open
    values = model.main.values
    assert values["r"].type.shape == ("batch", 16, "seq", 2, 2)
    assert values["positions"].type.shape == ("seq",)
    assert values["angles"].type.shape == ("seq", 8)


def test_broadcast_and_windows() -> None:
    assert broadcast((2, 1, 5), (3, 1)) == (2, 3, 5)
    assert broadcast(("batch", 1), (1, 7)) == ("batch", 7)
    assert broadcast((None, 4), (3, 4)) == (3, 4)
    assert broadcast((2, 3), None) is None
    assert broadcast((2, 3), (4, 3)) == (None, 3)  # incompatible: unknown, never a guess
    assert window_size(224, 7, 2, 1, (3, 3)) == 112
    assert window_size(15, 3, 2, 2, (2, 2)) == 8
    assert window_size(9, 3, 2, 1, (0, 0), ceil=True) == 4
    assert window_size(10, 3, 3, 1, (0, 0), same=True) == 4
    assert window_size("seq", 3, 1, 1, (1, 1)) is None
