"""Shapes of TensorFlow graphs: what the file states, then what netray propagates over the common ops.

Generated graphs are built with TensorFlow's own protobuf messages (tensorboard's copies);
the expected shapes are those TensorFlow's shape functions give for the same ops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

netray_tensorflow = pytest.importorskip("netray_tensorflow")
from tensorboard.compat.proto import attr_value_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2, types_pb2  # noqa: E402

import netray  # noqa: E402
from netray import Graph, Model, Shape  # noqa: E402
from netray.propagate import INFERRED  # noqa: E402
from netray_tensorflow.protos import GraphDef  # noqa: E402
from netray_tensorflow.reader import model_from_graph_def  # noqa: E402

FLOAT, INT32 = types_pb2.DT_FLOAT, types_pb2.DT_INT32


def shape_proto(shape: Shape | None) -> tensor_shape_pb2.TensorShapeProto:
    if shape is None:
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d) for d in shape])


TYPE_ATTRS = ("out_type", "Tshape", "DstT")


def attr(value: object, key: str = "") -> attr_value_pb2.AttrValue:
    if key in TYPE_ATTRS and isinstance(value, int):
        return attr_value_pb2.AttrValue(type=value)  # type: ignore[arg-type]
    if isinstance(value, bool):
        return attr_value_pb2.AttrValue(b=value)
    if isinstance(value, int):
        return attr_value_pb2.AttrValue(i=value)
    if isinstance(value, str):
        return attr_value_pb2.AttrValue(s=value.encode())
    if isinstance(value, list):
        return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=value))
    raise TypeError(value)


class Builder:
    """A GraphDef written node by node."""

    def __init__(self) -> None:
        self.graph_def = GraphDef()

    def add(self, name: str, op: str, *inputs: str, t: int = FLOAT, **attrs: object) -> str:
        nd = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
        nd.attr["T"].CopyFrom(attr_value_pb2.AttrValue(type=t))
        for key, value in attrs.items():
            nd.attr[key].CopyFrom(attr(value, key))
        self.graph_def.node.append(nd)
        return name

    def placeholder(self, name: str, shape: Shape | None, dtype: int = FLOAT) -> str:
        nd = node_def_pb2.NodeDef(name=name, op="Placeholder")
        nd.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=dtype))
        nd.attr["shape"].CopyFrom(attr_value_pb2.AttrValue(shape=shape_proto(shape)))
        self.graph_def.node.append(nd)
        return name

    def const(self, name: str, array: np.ndarray) -> str:
        dtype = INT32 if array.dtype == np.int32 else FLOAT
        proto = tensor_pb2.TensorProto(dtype=dtype, tensor_content=array.tobytes())
        for d in array.shape:
            proto.tensor_shape.dim.add(size=d)
        nd = node_def_pb2.NodeDef(name=name, op="Const")
        nd.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=dtype))
        nd.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=proto))
        self.graph_def.node.append(nd)
        return name

    def ints(self, name: str, *values: int) -> str:
        return self.const(name, np.array(values, dtype=np.int32))

    def scalar(self, name: str, value: int) -> str:
        return self.const(name, np.array(value, dtype=np.int32))

    def weight(self, name: str, *shape: int) -> str:
        return self.const(name, np.zeros(shape, dtype=np.float32))

    def model(self, tmp_path: Path) -> Model:
        return model_from_graph_def(self.graph_def, tmp_path / "g.pb", "g")


def shape(graph: Graph, name: str) -> Shape | None:
    return graph.values[name].type.shape


def test_convolutions_and_pools_follow_padding_strides_dilations_and_layout(tmp_path: Path) -> None:
    b = Builder()
    x = b.placeholder("x", (None, 224, 224, 3))
    b.add("same", "Conv2D", x, b.weight("w", 7, 7, 3, 64), strides=[1, 2, 2, 1], padding="SAME")
    b.add("valid", "Conv2D", x, "w", strides=[1, 2, 2, 1], padding="VALID")
    b.add("dilated", "Conv2D", x, b.weight("w3", 3, 3, 3, 8), strides=[1, 1, 1, 1], dilations=[1, 2, 2, 1], padding="VALID")
    b.add("explicit", "Conv2D", x, "w3", strides=[1, 1, 1, 1], padding="EXPLICIT", explicit_paddings=[0, 0, 1, 2, 3, 4, 0, 0])
    b.add("dw", "DepthwiseConv2dNative", "same:0", b.weight("dw_w", 3, 3, 64, 2), strides=[1, 1, 1, 1], padding="SAME")
    b.add("pool", "MaxPool", "same:0", ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="VALID")
    b.add("avg", "AvgPool", "same:0", ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    nchw = b.placeholder("nchw", (1, 3, 32, 32))
    b.add("conv_nchw", "Conv2D", nchw, b.weight("w5", 5, 5, 3, 16), strides=[1, 1, 2, 2], padding="VALID", data_format="NCHW")
    g = b.model(tmp_path).main
    assert shape(g, "same:0") == (None, 112, 112, 64)
    assert shape(g, "valid:0") == (None, 109, 109, 64)
    assert shape(g, "dilated:0") == (None, 220, 220, 8)
    assert shape(g, "explicit:0") == (None, 225, 229, 8)
    assert shape(g, "dw:0") == (None, 112, 112, 128)
    assert shape(g, "pool:0") == (None, 55, 55, 64)
    assert shape(g, "avg:0") == (None, 56, 56, 64)
    assert shape(g, "conv_nchw:0") == (1, 16, 14, 14)
    assert g.values["same:0"].type.inferred == INFERRED
    assert g.values["same:0"].type.dtype == "float32"
    assert g.values["x:0"].type.inferred == ""  # the placeholder's shape is stated


def test_matmuls_elementwise_and_normalisation(tmp_path: Path) -> None:
    b = Builder()
    a = b.placeholder("a", (None, 16))
    b.add("mm", "MatMul", a, b.weight("w", 10, 16), transpose_b=True)
    b.add("mm_t", "MatMul", b.weight("at", 16, 4), b.weight("bt", 16, 5), transpose_a=True)
    q = b.placeholder("q", (None, 8, 128, 64))
    b.add("scores", "BatchMatMulV2", q, b.placeholder("k", (1, 8, 128, 64)), adj_y=True)
    b.add("bias", "BiasAdd", "mm:0", b.weight("bv", 10))
    b.add("sum", "AddV2", "bias:0", b.weight("row", 1, 10))
    b.add("relu", "Relu", "sum:0")
    b.add("cmp", "Greater", "relu:0", b.weight("zero"))
    b.add("soft", "Softmax", "scores:0")
    nd = node_def_pb2.NodeDef(name="bn", op="FusedBatchNormV3", input=["soft:0", "scale", "offset", "mean", "var"])
    for n in ("scale", "offset", "mean", "var"):
        b.weight(n, 128)
    b.graph_def.node.append(nd)
    b.add("use_bn", "Identity", "bn:0")
    b.add("use_mean", "Identity", "bn:1")
    g = b.model(tmp_path).main
    assert shape(g, "mm:0") == (None, 10)
    assert shape(g, "mm_t:0") == (4, 5)
    assert shape(g, "scores:0") == (None, 8, 128, 128)
    assert shape(g, "sum:0") == (None, 10)
    assert shape(g, "relu:0") == (None, 10)
    assert shape(g, "cmp:0") == (None, 10)
    assert g.values["cmp:0"].type.dtype == "bool"
    assert shape(g, "soft:0") == (None, 8, 128, 128)
    assert shape(g, "bn:0") == (None, 8, 128, 128)
    assert shape(g, "bn:1") == (128,)


def test_shape_ops_follow_constant_contents(tmp_path: Path) -> None:
    b = Builder()
    x = b.placeholder("x", (None, 784))
    b.add("shape", "Shape", x, t=FLOAT, out_type=INT32)
    b.add("batch", "StridedSlice", "shape:0", b.ints("b0", 0), b.ints("b1", 1), b.ints("b2", 1), t=INT32, shrink_axis_mask=1)
    b.add("target", "Pack", "batch:0", b.scalar("h", 28), b.scalar("w", 28), t=INT32, N=3, axis=0)
    g_reshape = b.add("image", "Reshape", x, "target:0")
    b.add("flat", "Reshape", g_reshape, b.ints("minus", -1, 28), Tshape=INT32)
    b.add("t", "Transpose", "image:0", b.ints("perm", 0, 2, 1))
    b.add("cat", "ConcatV2", "image:0", "image:0", b.scalar("axis", 2), N=2)
    b.add("mean", "Mean", "image:0", b.ints("axes", 1, 2), keep_dims=True)
    b.add("sum", "Sum", "image:0", b.ints("axis1", -1))
    b.add("sq", "Squeeze", "mean:0", squeeze_dims=[1])
    b.add("ed", "ExpandDims", "sum:0", b.scalar("zero", 0))
    b.add("pad", "Pad", "image:0", b.const("pads", np.array([[0, 0], [1, 1], [2, 3]], dtype=np.int32)))
    b.add("parts", "Split", b.scalar("split_axis", 1), "image:0", num_split=4)
    b.add("use3", "Identity", "parts:3")
    b.add("rows", "Unpack", "image:0", num=28, axis=1)
    b.add("use_row", "Identity", "rows:5")
    b.add("slice", "StridedSlice", "image:0", b.ints("s0", 0, 2), b.ints("s1", 0, 10), b.ints("s2", 1, 2), begin_mask=1, end_mask=1)
    b.add("fill", "Fill", "target:0", b.weight("one"), t=FLOAT)
    b.add("tiled", "Tile", "image:0", b.ints("times", 1, 2, 3))
    g = b.model(tmp_path).main
    assert shape(g, "shape:0") == (2,)
    assert g.values["shape:0"].type.dtype == "int32"
    assert shape(g, "batch:0") == ()
    assert shape(g, "image:0") == (None, 28, 28)
    assert shape(g, "flat:0") == (None, 28)  # -1 stays unknown: the batch is unknown
    assert shape(g, "t:0") == (None, 28, 28)
    assert shape(g, "cat:0") == (None, 28, 56)
    assert shape(g, "mean:0") == (None, 1, 1)
    assert shape(g, "sum:0") == (None, 28)
    assert shape(g, "sq:0") == (None, 1)
    assert shape(g, "ed:0") == (1, None, 28)
    assert shape(g, "pad:0") == (None, 30, 33)
    assert shape(g, "parts:3") == (None, 7, 28)
    assert shape(g, "rows:5") == (None, 28)
    assert shape(g, "slice:0") == (None, 4, 28)
    assert shape(g, "fill:0") == (None, 28, 28)
    assert shape(g, "tiled:0") == (None, 56, 84)


def test_reshape_resolves_minus_one_from_a_full_input(tmp_path: Path) -> None:
    b = Builder()
    b.add("r", "Reshape", b.placeholder("x", (4, 6, 8)), b.ints("s", 2, -1, 8))
    assert shape(b.model(tmp_path).main, "r:0") == (2, 12, 8)


def test_what_the_file_states_wins_and_unknown_rank_stays_unknown(tmp_path: Path) -> None:
    b = Builder()
    b.add("relu", "Relu", b.placeholder("x", (None, 5)))
    b.graph_def.node[-1].attr["_output_shapes"].list.shape.append(shape_proto((None, 5)))
    b.add("unranked", "Relu", b.placeholder("u", None))
    b.add("mixed", "Mul", "unranked:0", b.weight("s", 3))
    g = b.model(tmp_path).main
    assert shape(g, "relu:0") == (None, 5)
    assert g.values["relu:0"].type.inferred == ""
    assert shape(g, "unranked:0") is None
    assert shape(g, "mixed:0") is None


def test_output_types_give_each_output_its_dtype(tmp_path: Path) -> None:
    b = Builder()
    b.add("u", "Unique", b.placeholder("x", (None,)))
    b.graph_def.node[-1].attr["_output_types"].list.type.extend([FLOAT, INT32])
    b.add("values", "Identity", "u:0")
    b.add("index", "Identity", "u:1", t=INT32)
    g = b.model(tmp_path).main
    assert [g.values["u:0"].type.dtype, g.values["u:1"].type.dtype] == ["float32", "int32"]


def test_ops_without_outputs_have_no_values(tmp_path: Path) -> None:
    b = Builder()
    b.add("assign", "AssignVariableOp", b.placeholder("h", ()), b.placeholder("v", (3,)))
    g = b.model(tmp_path).main
    assert g.nodes[-1].op == "AssignVariableOp"
    assert list(g.nodes[-1].output_values()) == []


# -- real files ------------------------------------------------------------------------------------


def coverage(model: Model) -> tuple[int, int, int]:
    """(node outputs, with a known rank, with every dimension known) over every graph of the model."""
    outputs = [v for g in model.all_graphs() for n in g.nodes for v in n.output_values()]
    ranked = [v for v in outputs if v.type.shape is not None]
    full = [v for v in ranked if all(d is not None for d in v.type.shape or ())]
    return len(outputs), len(ranked), len(full)


# path -> (outputs, rank known, fully known) as measured; before propagation the ranks known were
# 9, 7, 132, 107, 2, 84, 19, 99, 23, 67, 132, 125 (the last counted 114 extra values that were not outputs).
REAL = {
    "frozen/tf2onnx/ae0_frozen.pb": (30, 30, 16),
    "frozen/tf2onnx/fc-layers_frozen.pb": (24, 24, 12),
    "frozen/tf2onnx/gru_frozen.pb": (603, 594, 140),
    "frozen/tf2onnx/lstm_frozen.pb": (640, 632, 121),
    "frozen/tf2onnx/regression_frozen.pb": (8, 4, 4),
    "metagraph/tf2onnx/regression_model.meta": (125, 84, 60),
    "metagraph/tf_serving/bad_half_plus_two_export.meta": (23, 21, 21),
    "savedmodel/tf2onnx/regression": (142, 103, 79),
    "savedmodel/tf_serving/saved_model_counter": (25, 24, 24),
    "savedmodel/tf_serving/saved_model_half_plus_two_cpu": (73, 72, 59),
    "savedmodel/tf_serving/saved_model_half_plus_two_mkl": (148, 147, 135),
    "savedmodel/tf_serving/saved_model_half_plus_two_tf2_cpu": (128, 122, 98),
}


@pytest.mark.parametrize("relative", sorted(REAL))
def test_real_files_shape_coverage(shared_models: Path, relative: str) -> None:
    assert coverage(netray.load_model(shared_models / "tensorflow" / relative)) == REAL[relative]


def test_real_dense_graphs_know_every_shape_but_the_batch(shared_models: Path) -> None:
    for name, output in (("ae0_frozen.pb", (None, 784)), ("fc-layers_frozen.pb", (None, 10))):
        model = netray.load_model(shared_models / "tensorflow" / "frozen" / "tf2onnx" / name)
        for node in model.main.nodes:
            for v in node.output_values():
                assert v.type.shape is not None and v.type.dtype == "float32", (name, v.name)
                assert all(d is not None for d in v.type.shape[1:]), (name, v.name, v.type.shape)
        assert model.main.outputs[0].type.shape == output


def test_real_rnn_unknowns_are_the_batch_and_the_unranked_placeholders(shared_models: Path) -> None:
    """gru's X and both files' keep_prob are placeholders of unknown rank; every other output has a rank."""
    for name, unranked in (("gru_frozen.pb", {"X:0", "keep_prob:0"}), ("lstm_frozen.pb", {"keep_prob:0"})):
        model = netray.load_model(shared_models / "tensorflow" / "frozen" / "tf2onnx" / name)
        graph = model.main
        for v in graph.inputs:
            assert (v.type.shape is None) == (v.name in unranked)
        cell = graph.values["model/rnn/gru_cell/mul:0" if name == "gru_frozen.pb" else "model/rnn/basic_lstm_cell/Mul:0"]
        assert cell.type.shape == (None, 128) and cell.type.inferred == INFERRED


def test_real_saved_model_restore_takes_the_checkpoints_shapes(shared_models: Path) -> None:
    model = netray.load_model(shared_models / "tensorflow" / "savedmodel" / "tf_serving" / "saved_model_half_plus_two_mkl")
    restored = [v for n in model.main.nodes if n.op == "RestoreV2" for v in n.output_values()]
    assert len(restored) == 9 and all(v.type.shape is not None and v.type.inferred == "" for v in restored)


def test_real_tf2_function_bodies_carry_their_stated_shapes(shared_models: Path) -> None:
    model = netray.load_model(shared_models / "tensorflow" / "savedmodel" / "tf_serving" / "saved_model_half_plus_two_tf2_cpu")
    predict = next(g for g in model.functions if g.name.startswith("__inference_predict_"))
    assert [str(v.type) for v in predict.inputs] == ["float32[1]", "resource", "resource"]
    assert {v.name: v.type.shape for n in predict.nodes for v in n.output_values()} == {
        "Mul/ReadVariableOp:value:0": (),
        "Mul:z:0": (1,),
        "Add/ReadVariableOp:value:0": (),
        "Add:z:0": (1,),
        "Identity:output:0": (1,),
    }
