"""Costs per node: formulas checked by hand, ResNet-50 against its published count, peak memory."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import netray
from netray.costs import FORMULAS, Formula, compute_costs
from netray.ir import Model
from netray.opkinds import op_kind
from netray.shapes import apply_dims

LIGHT_RESNET50 = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx"
# ResNet-50 v1 at 1x3x224x224: 4.089 G multiply-accumulates (torchvision's model card: 4.09 GFLOPS
# counted as MACs; fvcore and ptflops give 4.09-4.12 G).
RESNET50_MACS = 4.089e9


def _save(tmp_path: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[str], weights: dict[str, np.ndarray], name: str = "m") -> Path:
    graph = helper.make_graph(
        nodes,
        name,
        inputs,
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(w, k) for k, w in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def _float_input(name: str, shape: list[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _rand(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def _macs(model: Model, op: str) -> list[int | None]:
    report = compute_costs(model)
    return [report.nodes[n.id].macs for n in model.main.nodes if n.op == op]


def test_resnet50_macs_match_the_published_count_and_parameters_every_weight() -> None:
    model = netray.load_model(LIGHT_RESNET50)
    report = compute_costs(model)
    total = report.total()
    assert abs(total["macs"] - RESNET50_MACS) / RESNET50_MACS < 0.01
    assert total["unknown_ops"] == 0
    # The light model makes its weights with ConstantOfShape from stored shapes: its parameters are
    # those outputs' elements plus what nodes read from stored tensors, each counted once.
    graph = model.main
    made = sum(math.prod(int(d or 0) for d in v.type.shape or ()) for n in graph.nodes if n.op == "ConstantOfShape" for v in n.output_values())
    stored = {id(v): v.initializer for n in graph.nodes if n.op != "ConstantOfShape" for v in n.weights() if v.initializer is not None}
    assert total["parameters"] == made + sum(t.size or 0 for t in stored.values())
    assert total["weight_bytes"] == 4 * made + sum(t.byte_size or 0 for t in stored.values())  # made ones are float32
    # The peak: a residual block of the first stage holds its input (kept for the skip), a conv's
    # output and the batch norm's, each 1x256x56x56 float32.
    assert report.peak_activation_bytes == 3 * 256 * 56 * 56 * 4


def test_resnet50_with_stored_weights_counts_the_initializers_exactly(tmp_path: Path) -> None:
    """The same network with its weights as initializers (as exporters write it)."""
    proto = onnx.load(LIGHT_RESNET50)
    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in inferred.graph.value_info}
    kept = []
    rng = np.random.default_rng(1)
    for node in proto.graph.node:
        if node.op_type == "ConstantOfShape":
            (out,) = node.output
            proto.graph.initializer.append(numpy_helper.from_array(rng.standard_normal(shapes[out]).astype(np.float32), out))
        else:
            kept.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(kept)
    used = {i for n in kept for i in n.input}
    stored = [t for t in proto.graph.initializer if t.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(stored)
    # As a current exporter writes it: weights are initializers only, not graph inputs as well.
    names = {t.name for t in stored}
    data_inputs = [i for i in proto.graph.input if i.name not in names]
    del proto.graph.input[:]
    proto.graph.input.extend(data_inputs)
    proto.ir_version = 8
    path = tmp_path / "resnet50.onnx"
    onnx.save(proto, path)
    total = compute_costs(netray.load_model(path)).total()
    assert total["parameters"] == sum(math.prod(t.dims) for t in stored)
    assert total["weight_bytes"] == sum(len(t.raw_data) for t in stored)
    assert abs(total["macs"] - RESNET50_MACS) / RESNET50_MACS < 0.01


def test_conv_grouped_and_dilated_by_hand(tmp_path: Path) -> None:
    # N=2, Cin=8, Cout=16, groups=4, 3x3 kernel dilated 2, stride 2, pads 2: 15x15 -> 8x8
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=4, dilations=[2, 2], strides=[2, 2], pads=[2, 2, 2, 2])
    path = _save(tmp_path, [conv], [_float_input("x", [2, 8, 15, 15])], ["y"], {"w": _rand(16, 2, 3, 3), "b": _rand(16)})
    model = netray.load_model(path)
    assert model.main.values["y"].type.shape == (2, 16, 8, 8)
    # each output element: Cin/groups x kh x kw multiply-adds
    assert _macs(model, "Conv") == [2 * 16 * 8 * 8 * (8 // 4) * 3 * 3]
    cost = compute_costs(model).nodes[model.main.nodes[0].id]
    assert cost.parameters == 16 * 2 * 3 * 3 + 16
    assert cost.flops == 2 * cost.macs  # type: ignore[operator]


def test_conv_transpose_by_hand(tmp_path: Path) -> None:
    # 1x4x5x5 -> 1x6x10x10 with a 3x3 kernel, stride 2: every input element meets Cout x 3 x 3 weights
    deconv = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_padding=[1, 1], pads=[1, 1, 1, 1])
    path = _save(tmp_path, [deconv], [_float_input("x", [1, 4, 5, 5])], ["y"], {"w": _rand(4, 6, 3, 3)})
    model = netray.load_model(path)
    assert model.main.values["y"].type.shape == (1, 6, 10, 10)
    assert _macs(model, "ConvTranspose") == [1 * 4 * 5 * 5 * 6 * 3 * 3]


def test_gemm_and_batched_matmul_by_hand(tmp_path: Path) -> None:
    gemm = helper.make_node("Gemm", ["a", "w", "c"], ["g"], transA=1, transB=1)  # a: 7x3 read as 3x7; w: 5x7
    matmul = helper.make_node("MatMul", ["p", "q"], ["m"])
    path = _save(
        tmp_path,
        [gemm, matmul],
        [_float_input("a", [7, 3]), _float_input("p", [2, 3, 4, 7]), _float_input("q", [3, 7, 6])],
        ["g", "m"],
        {"w": _rand(5, 7), "c": _rand(5)},
    )
    model = netray.load_model(path)
    assert _macs(model, "Gemm") == [3 * 5 * 7]
    assert model.main.values["m"].type.shape == (2, 3, 4, 6)
    assert _macs(model, "MatMul") == [2 * 3 * 4 * 6 * 7]  # batch broadcast: every output element is a 7-long dot


def test_attention_matmuls_by_hand(tmp_path: Path) -> None:
    """softmax(Q Kᵀ / √d) V with batch 2, 4 heads, 10 queries, 12 keys, head size 16."""
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"]),
        helper.make_node("Div", ["scores", "scale"], ["scaled"]),
        helper.make_node("Softmax", ["scaled"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["out"]),
    ]
    inputs = [_float_input("q", [2, 4, 10, 16]), _float_input("k", [2, 4, 12, 16]), _float_input("v", [2, 4, 12, 16])]
    path = _save(tmp_path, nodes, inputs, ["out"], {"scale": np.array(4.0, dtype=np.float32)})
    model = netray.load_model(path)
    assert _macs(model, "MatMul") == [2 * 4 * 10 * 12 * 16, 2 * 4 * 10 * 16 * 12]
    report = compute_costs(model)
    softmax = next(n for n in model.main.nodes if n.op == "Softmax")
    assert report.nodes[softmax.id].flops == 4 * 2 * 4 * 10 * 12
    assert report.nodes[softmax.id].macs == 0


def test_named_dims_count_as_one_until_set(tmp_path: Path) -> None:
    matmul = helper.make_node("MatMul", ["x", "w"], ["y"])
    path = _save(tmp_path, [matmul], [_float_input("x", ["batch", "seq", 8])], ["y"], {"w": _rand(8, 4)})
    model = netray.load_model(path)
    assert model.main.values["y"].type.shape == ("batch", "seq", 4)
    assert model.main.values["y"].type.inferred == "onnx shape inference"
    report = compute_costs(model)
    assert report.assumed_dims == {"batch": 1, "seq": 1}
    assert _macs(model, "MatMul") == [8 * 4]
    assert compute_costs(model, dims={"batch": 3, "seq": 5}).total()["macs"] == 3 * 5 * 8 * 4
    apply_dims(model, {"batch": 3})
    assert model.main.values["y"].type.shape == (3, "seq", 4)
    with pytest.raises(netray.FormatError, match="no dimension named bacth"):
        apply_dims(model, {"bacth": 2})


def test_unknown_shape_or_formula_is_unknown_never_zero(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Custom", ["r"], ["y"], domain="my.ops")]
    graph = helper.make_graph(nodes, "g", [_float_input("x", [1, 3])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model_proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(model_proto, path)
    model = netray.load_model(path)
    report = compute_costs(model)
    custom = next(n for n in model.main.nodes if n.op == "Custom")
    assert report.nodes[custom.id].macs is None and report.nodes[custom.id].flops is None
    assert report.unknown_ops == {"Custom": 1}
    assert report.total()["unknown_ops"] == 1


def test_plugin_hook_gives_a_custom_op_a_formula(tmp_path: Path) -> None:
    from netray.plugins import get_manager

    class CustomOps:
        @netray.hookimpl
        def netray_op_cost(self, format: str, domain: str, op: str) -> Formula | str | None:
            if op == "Custom":
                return Formula("FLOPs = 10 per output element", lambda ctx: (0, 10 * math.prod(ctx.outputs[0] or (0,))))
            if op == "Swish":
                return "unary"
            return None

    nodes = [helper.make_node("Custom", ["x"], ["y"], domain="my.ops"), helper.make_node("Swish", ["y"], ["z"], domain="my.ops")]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("y", "z")]
    graph = helper.make_graph(nodes, "g", [_float_input("x", [2, 3])], outputs[1:], value_info=outputs[:1])
    path = tmp_path / "custom.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 1)]), path)
    manager = get_manager()
    manager.register(CustomOps(), "custom-ops-test")
    try:
        model = netray.load_model(path)
        report = compute_costs(model)
    finally:
        manager.unregister("custom-ops-test")
    flops = [report.nodes[n.id].flops for n in model.main.nodes]
    assert flops == [60, 6]


def test_peak_memory_falls_where_most_activations_are_alive(tmp_path: Path) -> None:
    # x(400 B) -> a = Relu(x) (400 B) -> b = Tile(a) x4 (1600 B); c = Add(a, b) needs a, b alive
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Tile", ["a", "reps"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["c"]),
        helper.make_node("ReduceSum", ["c"], ["y"], keepdims=0),
    ]
    path = _save(tmp_path, nodes, [_float_input("x", [1, 100])], ["y"], {"reps": np.array([4, 1], dtype=np.int64)})
    model = netray.load_model(path)
    report = compute_costs(model)
    # At the Add: a (400) + b (1600) + c (1600); x is freed after the Relu.
    assert report.peak_activation_bytes == 400 + 1600 + 1600
    assert model.node(report.peak_node or "").op == "Add"  # type: ignore[union-attr]


def test_kinds_cover_each_formats_spelling() -> None:
    spellings = {
        "conv": ["Conv", "CONV_2D", "DEPTHWISE_CONV_2D", "Conv2D", "aten::_convolution", "aten.convolution.default", "Convolution", "convolutional", "conv2d"],
        "dense": ["FULLY_CONNECTED", "Dense", "InnerProduct", "aten.linear.default", "connected", "fc"],
        "matmul": ["MatMul", "BatchMatMulV2", "aten.bmm.default", "aten::matmul", "matmul_v2"],
        "binary": ["Add", "ADD", "AddV2", "aten.add.Tensor", "elementwise_add", "Eltwise"],
        "data_movement": ["Reshape", "RESHAPE", "aten.view.default", "Concat", "CONCATENATION"],
    }
    for kind, names in spellings.items():
        assert {op_kind(n) for n in names} == {kind}, names
    assert op_kind("SomethingNew") == ""
    assert set(FORMULAS) >= {op_kind(n) for names in spellings.values() for n in names}


def test_info_costs_json_and_text(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from netray.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["info", str(LIGHT_RESNET50), "--costs", "--json"])
    assert result.exit_code == 0, result.output
    costs = json.loads(result.output)["costs"]
    assert set(costs["total"]) >= {"parameters", "weight_bytes", "macs", "flops", "peak_activation_bytes", "unknown_ops"}
    assert len(costs["top"]["macs"]) == 20 and costs["top"]["macs"][0]["op"] == "Conv"
    assert costs["by_op"]["Conv"]["count"] == 53
    assert costs["peak"]["bytes"] == costs["total"]["peak_activation_bytes"]
    text = runner.invoke(cli, ["info", str(LIGHT_RESNET50), "--costs"])
    assert text.exit_code == 0 and "4.09 GMAC" in text.output and "peak memory" in text.output
    bad = runner.invoke(cli, ["info", str(LIGHT_RESNET50), "--costs", "--dim", "batch"])
    assert bad.exit_code == 2 and "NAME=SIZE" in bad.output
    missing = runner.invoke(cli, ["info", str(LIGHT_RESNET50), "--dim", "batch=2"])
    assert missing.exit_code != 0 and "no dimension named batch" in missing.output
