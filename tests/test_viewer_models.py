"""ONNX models for the viewer tests, built with onnx.helper and saved as real .onnx files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _weight(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> onnx.TensorProto:
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def conv_net(path: Path, blocks: int = 3, channels: int = 16) -> Path:
    """A small ResNet-like stem: per block Conv -> BatchNormalization -> Relu, named by scope
    (``/backbone/block1/conv/Conv``, like the TorchScript exporter), then pooling and a Gemm head."""
    rng = np.random.default_rng(0)
    nodes = []
    inits = []
    current = "input"
    in_ch = 3
    for b in range(blocks):
        scope = f"/backbone/block{b}"
        w, bias = f"backbone.block{b}.conv.weight", f"backbone.block{b}.conv.bias"
        inits += [_weight(w, (channels, in_ch, 3, 3), rng), _weight(bias, (channels,), rng)]
        conv_out = f"{scope}/conv/Conv_output_0"
        nodes.append(
            helper.make_node(
                "Conv", [current, w, bias], [conv_out], name=f"{scope}/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]
            )
        )
        bn = [f"backbone.block{b}.bn.{p}" for p in ("weight", "bias", "running_mean", "running_var")]
        inits += [_weight(bn[0], (channels,), rng), _weight(bn[1], (channels,), rng), _weight(bn[2], (channels,), rng)]
        inits.append(numpy_helper.from_array(np.abs(rng.standard_normal(channels)).astype(np.float32) + 0.5, bn[3]))
        bn_out = f"{scope}/bn/BatchNormalization_output_0"
        nodes.append(helper.make_node("BatchNormalization", [conv_out, *bn], [bn_out], name=f"{scope}/bn/BatchNormalization", epsilon=1e-5))
        relu_out = f"{scope}/relu/Relu_output_0"
        nodes.append(helper.make_node("Relu", [bn_out], [relu_out], name=f"{scope}/relu/Relu"))
        current, in_ch = relu_out, channels
    nodes.append(helper.make_node("GlobalAveragePool", [current], ["pooled"], name="/head/pool/GlobalAveragePool"))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"], name="/head/Flatten", axis=1))
    inits += [_weight("head.fc.weight", (10, channels), rng), _weight("head.fc.bias", (10,), rng)]
    nodes.append(helper.make_node("Gemm", ["flat", "head.fc.weight", "head.fc.bias"], ["logits"], name="/head/fc/Gemm", transB=1))
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="netray-tests", opset_imports=[helper.make_opsetid("", 17)])
    model.doc_string = "a small conv net for the viewer tests"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def if_model(path: Path) -> Path:
    """``y = If(sum(x) > 0) then x * 2 else -x``: a main graph with one If node and two bodies."""
    then_graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["two"], name="then_two", value=helper.make_tensor("two_value", TensorProto.FLOAT, [], [2.0])),
            helper.make_node("Mul", ["x", "two"], ["then_out"], name="then_mul"),
        ],
        "then_branch",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [4])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["else_out"], name="else_neg")],
        "else_branch",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [4])],
    )
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["total"], name="sum", keepdims=0),
        helper.make_node("Constant", [], ["zero"], name="zero", value=helper.make_tensor("zero_value", TensorProto.FLOAT, [], [0.0])),
        helper.make_node("Greater", ["total", "zero"], ["positive"], name="is_positive"),
        helper.make_node("If", ["positive"], ["y"], name="If_3", then_branch=then_graph, else_branch=else_graph),
    ]
    graph = helper.make_graph(
        nodes,
        "if_main",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    model = helper.make_model(graph, producer_name="netray-tests", opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_conv_net_loads_with_scopes_and_lazy_weights(tmp_path: Path) -> None:
    import netray

    model = netray.load_model(conv_net(tmp_path / "conv.onnx", blocks=2))
    graph = model.main
    assert [n.op for n in graph.nodes][:3] == ["Conv", "BatchNormalization", "Relu"]
    assert graph.nodes[0].scope == ("backbone", "block0", "conv")
    conv_weight = graph.nodes[0].weights()[0].initializer
    assert conv_weight is not None and conv_weight.shape == (16, 3, 3, 3)


def test_if_model_loads_with_two_bodies(tmp_path: Path) -> None:
    import netray

    model = netray.load_model(if_model(tmp_path / "if.onnx"))
    node = next(n for n in model.main.nodes if n.op == "If")
    assert sorted(g.name for g in node.subgraphs) == ["else_branch", "then_branch"]
