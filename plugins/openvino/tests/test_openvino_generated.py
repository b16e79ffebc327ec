"""The OpenVINO IR plugin on IRs written by OpenVINO itself (the ``openvino`` package from PyPI).

Models are built with ``openvino.opset13`` (or converted from a small torch module), saved with
``openvino.save_model``, read back with netray, and compared with what they were built from: the
numpy arrays given to the constants, and OpenVINO's own inference for what netray decodes
(packed types, NNCF-style compressed weights).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
from netray import Category, FormatError
from netray.plugins import PluginManager

netray_openvino = pytest.importorskip("netray_openvino")
ov = pytest.importorskip("openvino")
from netray_openvino import plugin  # noqa: E402

op = pytest.importorskip("openvino.opset13")


def load(path: Path) -> netray.Model:
    manager = PluginManager(load_entry_points=False)
    manager.register(plugin, "openvino")
    return manager.load(path)


def infer(model: object, inputs: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """OpenVINO's own results for ``model``, output by output."""
    # Full f32 arithmetic: no bf16/f16 inference, no dynamic int8 quantization of activations.
    config = {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}
    compiled = ov.Core().compile_model(model, "CPU", config)
    results = compiled(inputs or {})
    return [np.asarray(results[out]) for out in compiled.outputs]


def small_cnn(rng: np.random.Generator) -> tuple[object, dict[str, np.ndarray]]:
    """image -> Convolution + bias -> ReLU -> Reshape -> MatMul -> SoftMax, with named layers."""
    weights = {
        "conv.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "conv.bias": rng.standard_normal((1, 4, 1, 1)).astype(np.float32),
        "fc.weight": rng.standard_normal((256, 10)).astype(np.float32),
    }
    x = op.parameter([1, 3, 8, 8], np.float32, name="image")
    conv = op.convolution(
        x, op.constant(weights["conv.weight"], name="conv.weight"), [1, 1], [1, 1], [1, 1], [1, 1], name="backbone.conv"
    )
    add = op.add(conv, op.constant(weights["conv.bias"], name="conv.bias"), name="backbone.conv.add")
    relu = op.relu(add, name="backbone.relu")
    flat = op.reshape(relu, op.constant(np.array([1, -1], np.int64), name="flat_shape"), False, name="flatten")
    fc = op.matmul(flat, op.constant(weights["fc.weight"], name="fc.weight"), False, False, name="head.fc")
    probs = op.softmax(fc, 1, name="head.softmax")
    model = ov.Model([op.result(probs, name="probs")], [x], "small_cnn")
    model.set_rt_info("unit test", ["framework", "name"])
    model.set_rt_info("42", "answer")
    return model, weights


def test_f32_constants_read_back_as_built(tmp_path: Path) -> None:
    model, weights = small_cnn(np.random.default_rng(0))
    ov.save_model(model, tmp_path / "cnn.xml", compress_to_fp16=False)
    loaded = load(tmp_path / "cnn.xml")
    graph = loaded.main
    assert (loaded.format, loaded.format_version, loaded.producer) == ("OpenVINO IR", "v11", "OpenVINO")
    assert [n.op for n in graph.nodes] == ["Convolution", "Add", "ReLU", "Reshape", "MatMul", "SoftMax"]
    assert [(v.name, v.type.dtype, v.type.shape) for v in graph.inputs] == [("image", "float32", (1, 3, 8, 8))]
    assert [(v.name, v.type.shape) for v in graph.outputs] == [("probs", (1, 10))]
    by_name = {n.name: n for n in graph.nodes}
    conv, matmul = by_name["backbone.conv"], by_name["head.fc"]
    assert conv.scope == ("backbone", "conv") and by_name["backbone.relu"].scope == ("backbone",)
    assert conv.attribute("pads_begin").value == [1, 1] and matmul.attribute("transpose_b").value is False
    assert by_name["head.softmax"].domain == "opset8" and by_name["head.softmax"].category is Category.ACTIVATION
    for node, port, name in (
        (conv, "filter", "conv.weight"),
        (by_name["backbone.conv.add"], "b", "conv.bias"),
        (matmul, "B", "fc.weight"),
    ):
        (value,) = next(p for p in node.inputs if p.name == port).values
        assert value.name == name
        assert np.array_equal(value.initializer.numpy(), weights[name])
    shape = by_name["flatten"].weights()[0].initializer.numpy()
    assert shape.dtype == np.int64 and shape.tolist() == [1, -1]
    assert loaded.metadata["framework/name"] == "unit test" and loaded.metadata["answer"] == 42
    assert "decoding" not in " ".join(loaded.properties)


def test_fp16_compression_is_shown_as_float16_weights(tmp_path: Path) -> None:
    """save_model's default writes f16 Consts with a Convert each; the Converts are part of the weight."""
    model, weights = small_cnn(np.random.default_rng(1))
    ov.save_model(model, tmp_path / "cnn16.xml")  # compress_to_fp16=True
    loaded = load(tmp_path / "cnn16.xml")
    graph = loaded.main
    assert "Convert" not in [n.op for n in graph.nodes]
    conv = next(n for n in graph.nodes if n.op == "Convolution")
    (weight,) = conv.weights()
    assert weight.name == "conv.weight"  # the original name, not the stored "conv.weight_compressed"
    assert (weight.initializer.dtype, weight.type.dtype) == ("float16", "float32")
    assert weight.metadata["decoded by"] == "Convert to f32"
    assert np.array_equal(weight.initializer.numpy(), weights["conv.weight"].astype(np.float16))
    assert "3 Convert" in loaded.properties["layers shown as weights"]


def nncf_style_linear(
    x: object, name: str, weight: np.ndarray, storage: str, group: int | None, rng: np.random.Generator
) -> tuple[object, dict[str, np.ndarray]]:
    """A MatMul whose weight is decoded as NNCF's compress_weights writes it (seen in NNCF 3.4 output):
    Const(u4/u8/i8 [O, G, group] or [O, I]) -> Convert(f16) [-> Subtract(Convert(zero point))]
    -> Multiply(f16 scale) [-> Reshape [O, I]] -> Convert(f32) -> MatMul(transpose_b)."""
    out_dim, in_dim = weight.shape
    signed = storage.startswith("i")
    bits = 4 if storage.endswith("4") else 8
    shape = (out_dim, in_dim // group, group) if group else (out_dim, in_dim)
    w = weight.reshape(shape)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    reduce = (
        (w.max(axis=-1, keepdims=True) - w.min(axis=-1, keepdims=True))
        if not signed
        else np.abs(w).max(axis=-1, keepdims=True) * 2
    )
    scale = (reduce / (hi - lo)).astype(np.float16)
    zero_point = (
        None if signed else np.clip(np.round(-w.min(axis=-1, keepdims=True) / scale.astype(np.float32)), lo, hi)
    )
    q = np.round(w / scale.astype(np.float32) + (0 if zero_point is None else zero_point))
    q = np.clip(q, lo, hi).astype(np.int8 if signed else np.uint8)
    ov_type = getattr(ov.Type, storage)
    stored = ov.op.Constant(ov_type, ov.Shape(list(shape)), q.reshape(-1).tolist())
    stored.set_friendly_name(f"{name}.weight")
    decoded = op.convert(stored, "f16")
    parts = {"q": q, "scale": scale}
    if zero_point is not None:
        zp = ov.op.Constant(ov_type, ov.Shape(list(zero_point.shape)), zero_point.astype(np.uint8).reshape(-1).tolist())
        zp.set_friendly_name(f"{name}.weight/zero_point")
        decoded = op.subtract(decoded, op.convert(zp, "f16"), name=f"{name}.weight/zero_point/subtract")
        parts["zero_point"] = zero_point.astype(np.uint8)
    decoded = op.multiply(decoded, op.constant(scale, name=f"{name}.weight/scale"), name=f"{name}.weight/fq_weights_1")
    if group:
        decoded = op.reshape(decoded, op.constant(np.array([out_dim, in_dim], np.int64)), False)
    decoded = op.convert(decoded, "f32", name=f"{name}.weight/fq_weights_1/convert")
    return op.matmul(x, decoded, False, True, name=name), parts


def test_nncf_style_compressed_weights_read_as_their_consumers_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = op.parameter([1, 4, 64], np.float32, name="x")
    fc1, q1 = nncf_style_linear(x, "layers.0.fc1", rng.standard_normal((128, 64)).astype(np.float32), "u4", 32, rng)
    act = op.gelu(fc1, "erf", name="layers.0.act")
    fc2, q2 = nncf_style_linear(act, "layers.0.fc2", rng.standard_normal((64, 128)).astype(np.float32), "u8", None, rng)
    head, q3 = nncf_style_linear(fc2, "head", rng.standard_normal((32, 64)).astype(np.float32), "i8", None, rng)
    model = ov.Model([op.result(head, name="logits")], [x], "mlp")
    ov.save_model(model, tmp_path / "mlp.xml", compress_to_fp16=False)
    loaded = load(tmp_path / "mlp.xml")
    graph = loaded.main
    assert [n.op for n in graph.nodes] == ["MatMul", "Gelu", "MatMul", "MatMul"]
    fc1_node, _, fc2_node, head_node = graph.nodes
    assert [p.name for p in fc1_node.inputs] == ["A", "B", "zero_point", "scale"]
    assert [p.name for p in head_node.inputs] == ["A", "B", "scale"]  # symmetric: no zero point

    def port(node: netray.Node, name: str) -> netray.Value:
        return next(p for p in node.inputs if p.name == name).values[0]

    weight = port(fc1_node, "B")
    assert weight.name == "layers.0.fc1.weight" and weight.type.shape == (128, 64) and weight.type.dtype == "float32"
    tensor = weight.initializer
    assert (tensor.dtype, tensor.shape, tensor.byte_size) == ("uint4", (128, 2, 32), 128 * 64 // 2)
    assert (
        tensor.quantization is not None
        and tensor.quantization.scheme == "block"
        and tensor.quantization.block_size == 32
    )
    assert tensor.quantization.details["scale"] == "layers.0.fc1.weight/scale"
    assert "Subtract zero_point" in tensor.quantization.details["decompression"]
    assert np.array_equal(tensor.numpy().astype(np.uint8), q1["q"])
    assert np.array_equal(port(fc1_node, "zero_point").initializer.numpy().astype(np.uint8), q1["zero_point"])
    assert np.array_equal(port(fc1_node, "scale").initializer.numpy(), q1["scale"])
    fc2_q = port(fc2_node, "B").initializer
    assert fc2_q.dtype == "uint8" and fc2_q.quantization.axis == 0 and fc2_q.quantization.scheme == "affine"
    assert np.array_equal(fc2_q.numpy(), q2["q"])
    head_q = port(head_node, "B").initializer
    assert head_q.dtype == "int8" and np.array_equal(head_q.numpy(), q3["q"])
    assert loaded.properties["compressed weights"] == "1 int8, 1 uint4, 1 uint8"

    # Decode the weights from what netray read, run the MLP in numpy, compare with OpenVINO's inference.
    def dense(node: netray.Node) -> np.ndarray:
        names = [p.name for p in node.inputs]
        q = port(node, "B").initializer.numpy().astype(np.float32)
        zp = port(node, "zero_point").initializer.numpy().astype(np.float32) if "zero_point" in names else 0.0
        scale = port(node, "scale").initializer.numpy().astype(np.float32)
        return ((q - zp) * scale).reshape(port(node, "B").type.shape)

    import math

    data = rng.standard_normal((1, 4, 64)).astype(np.float32)
    hidden = data @ dense(fc1_node).T
    hidden = 0.5 * hidden * (1 + np.vectorize(math.erf)(hidden / math.sqrt(2)))
    expected = (hidden @ dense(fc2_node).T) @ dense(head_node).T
    (actual,) = infer(ov.Core().read_model(tmp_path / "mlp.xml"), {"x": data})
    np.testing.assert_allclose(expected, actual, rtol=2e-3, atol=2e-3)


PACKED = [
    ("u1", [1, 0, 1, 1, 0, 0, 0, 1, 1, 1], "uint1"),
    ("u2", [0, 1, 2, 3, 3, 1], "uint2"),
    ("u3", [1, 2, 3, 4, 5, 6, 7, 0, 5], "uint3"),
    ("u4", [1, 2, 3, 15, 7], "uint4"),
    ("u6", [1, 2, 63, 4, 17], "uint6"),
    ("i4", [-8, -1, 0, 7, 3], "int4"),
    ("nf4", [0.0, 1.0, -1.0, 0.5, 0.2], "nf4"),
    ("f4e2m1", [0.5, 1.0, 6.0, -3.0, 0.0], "float4_e2m1fn"),
    ("f8e4m3", [1.0, -2.5, 448.0], "float8_e4m3fn"),
    ("f8e5m2", [1.0, -2.5, 0.0625], "float8_e5m2"),
    ("bf16", [1.5, -2.0, 3.25], "bfloat16"),
    ("f16", [1.5, -2.0, 65504.0], "float16"),
    ("boolean", [True, False, True], "bool"),
    ("u16", [0, 65535, 7], "uint16"),
]


def test_every_element_type_reads_as_openvino_decodes_it(tmp_path: Path) -> None:
    """Each type's constant is read by netray and compared with OpenVINO's own Convert to f32."""
    consts, converted = [], []
    for type_name, values, _ in PACKED:
        ov_type = getattr(ov.Type, type_name)
        items = [float(v) for v in values] if ov_type.is_real() or type_name == "nf4" else [int(v) for v in values]
        const = ov.op.Constant(ov_type, ov.Shape([len(values)]), items)
        const.set_friendly_name(f"c_{type_name}")
        consts.append(op.result(const, name=f"raw_{type_name}"))
        converted.append(op.convert(const, "f32"))
    strings = ov.op.Constant(ov.Tensor(np.array(["hello", "wörld", ""])))
    strings.set_friendly_name("strings")
    model = ov.Model([*consts, op.result(strings, name="raw_strings")], [], "types")
    ov.save_model(model, tmp_path / "types.xml", compress_to_fp16=False)
    expected = infer(ov.Model([op.result(c) for c in converted], [], "decoded"))
    loaded = load(tmp_path / "types.xml")
    tensors = {name: t for name, t in loaded.all_tensors()}
    for (type_name, _, dtype), decoded in zip(PACKED, expected, strict=True):
        tensor = tensors[f"c_{type_name}"]
        assert tensor.dtype == dtype, type_name
        values = tensor.numpy()
        assert values.shape == decoded.shape, type_name
        np.testing.assert_allclose(values.astype(np.float32), decoded, rtol=1e-6, err_msg=type_name)
    assert tensors["strings"].numpy().tolist() == ["hello", "wörld", ""]
    netray.testing.check_model(loaded, tmp_path / "check")


def test_if_and_loop_bodies_are_subgraphs(tmp_path: Path) -> None:
    x = op.parameter([2, 3], np.float32, name="x")
    cond = op.parameter([], np.bool_, name="cond")
    then_x = op.parameter([2, 3], np.float32, name="then_x")
    else_x = op.parameter([2, 3], np.float32, name="else_x")
    then_body = ov.Model([op.result(op.relu(then_x, name="then_relu"))], [then_x], "then")
    two = np.full((2, 3), 2.0, np.float32)
    else_body = ov.Model([op.result(op.multiply(else_x, op.constant(two, name="two"), name="twice"))], [else_x], "else")
    branch = op.if_op(cond)
    branch.set_friendly_name("branch")
    branch.set_then_body(then_body)
    branch.set_else_body(else_body)
    branch.set_input(x.output(0), then_x, else_x)
    chosen = branch.set_output(then_body.get_results()[0], else_body.get_results()[0])
    loop = op.loop(op.constant(np.int64(4), name="trip"), op.constant(True, name="go"))
    loop.set_friendly_name("counter")
    body_x = op.parameter([2, 3], np.float32, name="body_x")
    body_i = op.parameter([1], np.int64, name="iteration")
    step = op.add(body_x, op.constant(np.ones((2, 3), np.float32), name="one"), name="step")
    body = ov.Model([op.result(op.constant(True)), op.result(step)], [body_x, body_i], "body")
    loop.set_function(body)
    loop.set_special_body_ports([1, 0])
    loop.set_merged_input(body_x, chosen, body.get_results()[1].input_value(0))
    out = loop.get_iter_value(body.get_results()[1].output(0), -1)
    model = ov.Model([op.result(out, name="y")], [x, cond], "flow")
    ov.save_model(model, tmp_path / "flow.xml", compress_to_fp16=False)
    loaded = load(tmp_path / "flow.xml")
    graph = loaded.main
    assert [n.op for n in graph.nodes] == ["If", "Loop"]
    branch_node, loop_node = graph.nodes
    assert [g.name for g in branch_node.subgraphs] == ["branch/then", "branch/else"]
    then_graph, else_graph = branch_node.subgraphs
    assert [v.name for v in then_graph.inputs] == ["then_x"] and [n.op for n in then_graph.nodes] == ["ReLU"]
    twice = else_graph.nodes[0]
    assert twice.op == "Multiply" and np.array_equal(twice.weights()[0].initializer.numpy(), two)
    then_map = branch_node.metadata["then_port_map"]
    assert then_map[0] == "input 1 → 'then_x'" and then_map[1].startswith("output 2 ← 'Result_")
    (body_graph,) = loop_node.subgraphs
    assert [v.name for v in body_graph.inputs] == ["body_x", "iteration"]
    assert any("purpose=current_iteration" in rule for rule in loop_node.metadata["port_map"])
    assert loop_node.metadata["back_edges"][0].endswith("→ 'body_x'")
    assert [p.name for p in loop_node.inputs] == ["trip_count", "execution_condition", "input2"]
    # 7 layers in the net (x, cond, If, trip, go, Loop, y), 3 + 4 in the If's bodies, 7 in the Loop's.
    assert loaded.properties["layers"] == 21
    netray.testing.check_model(loaded, tmp_path / "check")


def test_dynamic_dimensions(tmp_path: Path) -> None:
    x = op.parameter(ov.PartialShape([-1, ov.Dimension(1, 10), 4]), np.float32, name="x")
    model = ov.Model([op.result(op.sigmoid(x, name="gate"), name="y")], [x], "dynamic")
    ov.save_model(model, tmp_path / "dynamic.xml")
    loaded = load(tmp_path / "dynamic.xml")
    assert loaded.main.inputs[0].type.shape == (None, "1..10", 4)  # the Parameter's own shape attribute
    assert loaded.main.outputs[0].type.shape == (None, None, 4)  # ports write an interval as -1


def test_torch_module_converted_by_openvino(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(16, 16)
            self.norm = torch.nn.LayerNorm(16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(torch.relu(self.fc(x)) + x)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = torch.nn.ModuleList([Block() for _ in range(3)])
            self.head = torch.nn.Linear(16, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for block in self.blocks:
                x = block(x)
            return torch.softmax(self.head(x), -1)

    torch.manual_seed(0)
    net = Net().eval()
    converted = ov.convert_model(net, example_input=torch.randn(2, 16))
    ov.save_model(converted, tmp_path / "net.xml", compress_to_fp16=False)
    loaded = load(tmp_path / "net.xml")
    assert loaded.metadata["conversion_parameters/framework"] == "pytorch"
    assert loaded.properties["converted from"] == "pytorch"
    matmuls = [n for n in loaded.main.nodes if n.op == "MatMul"]
    assert [n.scope for n in matmuls] == [("blocks.0", "fc"), ("blocks.1", "fc"), ("blocks.2", "fc"), ("head",)]
    first = matmuls[0].weights()[0].initializer.numpy()
    assert np.array_equal(first, net.blocks[0].fc.weight.detach().numpy())
    assert [n.op for n in loaded.main.nodes].count("MVN") == 3


def test_the_bin_opens_its_topology(tmp_path: Path) -> None:
    model, _ = small_cnn(np.random.default_rng(3))
    ov.save_model(model, tmp_path / "cnn.xml")
    via_bin = netray.load_model(tmp_path / "cnn.bin")
    via_xml = netray.load_model(tmp_path / "cnn.xml")
    assert via_bin.format == "OpenVINO IR"
    assert [n.id for n in via_bin.main.nodes] == [n.id for n in via_xml.main.nodes]


def test_contract_on_generated_files(tmp_path: Path) -> None:
    model, _ = small_cnn(np.random.default_rng(4))
    ov.save_model(model, tmp_path / "a.xml")
    ov.save_model(model, tmp_path / "b.xml", compress_to_fp16=False)
    netray.testing.check_plugin(
        plugin, [tmp_path / "a.xml", tmp_path / "b.xml", tmp_path / "a.bin"], tmp_path / "check"
    )


def test_a_missing_bin_marks_weights_not_stored(tmp_path: Path) -> None:
    model, _ = small_cnn(np.random.default_rng(5))
    ov.save_model(model, tmp_path / "cnn.xml")
    (tmp_path / "cnn.bin").unlink()
    loaded = load(tmp_path / "cnn.xml")
    assert loaded.properties["weights file"].startswith("absent (cnn.bin)")
    tensors = [t for _, t in loaded.all_tensors()]
    assert tensors and not any(t.has_data for t in tensors)
    with pytest.raises(FormatError, match="not stored"):
        tensors[0].numpy()
