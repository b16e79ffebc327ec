"""Shapes of TF.js graph models: the TensorFlow plugin's propagation over the GraphDef in model.json,
with Const values (now weights of their readers) read from the weights manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("netray_tensorflow")
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tfjs_writer import save_graph_as_tfjs

import netray
from netray import Model
from netray.propagate import INFERRED


def _node(name: str, op: str, *inputs: str, **attrs: attr_value_pb2.AttrValue) -> node_def_pb2.NodeDef:
    nd = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        nd.attr[key].CopyFrom(value)
    return nd


def _const(name: str, array: np.ndarray) -> node_def_pb2.NodeDef:
    dtype = types_pb2.DT_INT32 if array.dtype == np.int32 else types_pb2.DT_FLOAT
    proto = tensor_pb2.TensorProto(dtype=dtype, tensor_content=array.tobytes())
    for d in array.shape:
        proto.tensor_shape.dim.add(size=d)
    return _node(name, "Const", dtype=attr_value_pb2.AttrValue(type=dtype), value=attr_value_pb2.AttrValue(tensor=proto))


def test_generated_graph_model_shapes_follow_manifest_constants(tmp_path: Path) -> None:
    f32 = attr_value_pb2.AttrValue(type=types_pb2.DT_FLOAT)
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in (-1, 28, 28, 1)])
    values = {
        "kernel": np.ones((3, 3, 1, 8), np.float32),
        "flat_shape": np.array([-1, 14 * 14 * 8], np.int32),
        "dense": np.ones((14 * 14 * 8, 10), np.float32),
    }
    g = graph_pb2.GraphDef()
    g.node.extend(
        [
            _node("image", "Placeholder", dtype=f32, shape=attr_value_pb2.AttrValue(shape=shape)),
            *(_const(name, array) for name, array in values.items()),
            _node(
                "conv",
                "Conv2D",
                "image",
                "kernel",
                T=f32,
                strides=attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=[1, 2, 2, 1])),
                padding=attr_value_pb2.AttrValue(s=b"SAME"),
            ),
            _node("flat", "Reshape", "conv", "flat_shape", T=f32),
            _node("logits", "MatMul", "flat", "dense", T=f32),
            _node("probs", "Softmax", "logits", T=f32),
        ]
    )
    model = netray.load_model(save_graph_as_tfjs(g, tmp_path / "m", values=values))
    types = {v.name: v.type for n in model.main.nodes for v in n.output_values()}
    assert types["conv:0"].shape == (None, 14, 14, 8)
    assert types["flat:0"].shape == (None, 1568)
    assert types["probs:0"].shape == (None, 10)
    assert types["probs:0"].dtype == "float32" and types["probs:0"].inferred == INFERRED


def coverage(model: Model) -> tuple[int, int, int]:
    """(node outputs, with a known rank, with every dimension known) over every graph of the model."""
    outputs = [v for g in model.all_graphs() for n in g.nodes for v in n.output_values()]
    ranked = [v for v in outputs if v.type.shape is not None]
    full = [v for v in ranked if all(d is not None for d in v.type.shape or ())]
    return len(outputs), len(ranked), len(full)


def test_real_angular_prefetch_knows_every_shape_but_the_batch(shared_models: Path) -> None:
    """Before propagation 3 of its 12 outputs had a shape (the placeholders and the signature's output)."""
    model = netray.load_model(shared_models / "tfjs" / "angular_prefetch" / "model.json")
    assert coverage(model) == (12, 12, 0)
    for node in model.main.nodes:
        for v in node.output_values():
            assert v.type.shape is not None and v.type.shape[0] is None and None not in v.type.shape[1:], v.name
    softmax = next(n for n in model.main.nodes if n.op == "Softmax")
    assert [str(v.type) for v in softmax.output_values()] == ["float32[?x101]"]


def test_real_pose_detection_without_its_weight_shards(shared_models: Path) -> None:
    """Its weight shards are not in the folder, so constant axes and sizes are unknown: ranks mostly
    follow, sizes only where no constant decides them. Before propagation 2 of 153 outputs had a shape."""
    model = netray.load_model(shared_models / "tfjs" / "pose_detection_graph" / "model.json")
    assert coverage(model) == (153, 149, 10)
    cast = model.main.values["StatefulPartitionedCall/Cast:0"]
    assert cast.type.shape == (1, 192, 192, 3) and cast.type.dtype == "float32"
