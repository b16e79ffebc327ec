"""The ONNX runtime hook: onnxruntime captures every value exactly, onnx's reference evaluator agrees,
a NaN shows first where it is made, gradients through onnx2torch equal finite differences."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import netray
from netray.runtime import RunCancelled, RunError, Runtime, RuntimeMissing

ort = pytest.importorskip("onnxruntime")

from netray_onnx import plugin  # noqa: E402
from netray_onnx.runtime import (  # noqa: E402
    MAX_CAPTURE_BYTES,
    MIN_CAPTURE_BYTES,
    OrtRuntime,
    ReferenceRuntime,
    batches,
    capture_budget,
)

RESNET = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
IN_CI = os.environ.get("CI") == "true"


def _needs_onnx2torch() -> None:
    from netray_onnx.autograd import onnx2torch_available

    if not onnx2torch_available():
        if IN_CI:
            pytest.fail("onnx2torch is not installed")
        pytest.skip("onnx2torch is not installed")


def _run(runtime: Runtime, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    captured: dict[str, np.ndarray] = {}

    def capture(name: str, array: np.ndarray) -> None:
        assert name not in captured, f"{name} captured twice"
        captured[name] = np.array(array)

    outputs = runtime.forward(inputs, capture, lambda: False)
    return captured, outputs


def _alone(path: Path, names: list[str], inputs: dict[str, np.ndarray], level: object) -> dict[str, np.ndarray]:
    """What onnxruntime returns for ``names`` made the graph's only outputs."""
    proto = onnx.load(str(path))
    del proto.graph.output[:]
    for name in names:
        proto.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return dict(zip(names, session.run(names, inputs), strict=True))


def _plain(path: Path, inputs: dict[str, np.ndarray], level: object) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs), strict=True))


def _check_every_value(path: Path, runtime: OrtRuntime, inputs: dict[str, np.ndarray], groups: int) -> None:
    """Every captured value against onnxruntime asked for it with few others (``groups`` sessions,
    values spread over them), and the first, middle and last values each alone."""
    captured, outputs = _run(runtime, inputs)
    assert set(captured) == set(runtime.names)
    # A plain run of the file under the runtime's options (graph optimizations off): bit for bit.
    none = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    plain = _plain(path, inputs, none)
    assert plain.keys() == outputs.keys()
    for name, array in plain.items():
        assert array.dtype == outputs[name].dtype and np.array_equal(array, outputs[name]), name
        assert np.array_equal(captured[name], array)
    # onnxruntime's default (fused kernels) rounds differently in places, never by more than float32 noise.
    for name, array in _plain(path, inputs, ort.GraphOptimizationLevel.ORT_ENABLE_ALL).items():
        assert np.allclose(array, outputs[name], rtol=1e-5, atol=1e-5), name
    names = runtime.names
    for k in range(groups):
        chosen = names[k::groups]
        for name, array in _alone(path, chosen, inputs, none).items():
            assert captured[name].dtype == array.dtype and np.array_equal(captured[name], array, equal_nan=True), name
    for name in {names[0], names[len(names) // 2], names[-1]}:
        array = _alone(path, [name], inputs, none)[name]
        assert np.array_equal(captured[name], array, equal_nan=True), name


@pytest.fixture(scope="module")
def resnet() -> tuple[netray.Model, dict[str, np.ndarray]]:
    model = netray.load_model(RESNET)
    x = np.random.default_rng(13).standard_normal((1, 3, 224, 224)).astype(np.float32)
    return model, {model.main.inputs[0].name: x}


def test_hook_gives_onnxruntime_and_reference(resnet: tuple[netray.Model, dict[str, np.ndarray]]) -> None:
    model, _ = resnet
    runtime = plugin.netray_runtime(model, "")
    assert isinstance(runtime, OrtRuntime) and isinstance(runtime, Runtime) and runtime.name == "onnxruntime"
    assert isinstance(plugin.netray_runtime(model, "reference"), ReferenceRuntime)
    assert plugin.netray_runtime(model, "litert") is None
    other = netray.Model("TFLite")
    assert plugin.netray_runtime(other, "") is None


def test_missing_onnxruntime_says_what_to_install(
    resnet: tuple[netray.Model, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    answer = plugin.netray_runtime(resnet[0], "")
    assert answer == RuntimeMissing(runtime="onnxruntime", install="pip install netray-plugin-onnx[run]")


def test_resnet_every_value_exact(resnet: tuple[netray.Model, dict[str, np.ndarray]]) -> None:
    model, inputs = resnet
    runtime = OrtRuntime(model)
    assert len(runtime.names) == len([v for n in model.main.nodes for v in n.output_values()])
    _check_every_value(RESNET, runtime, inputs, groups=6)


def test_batched_capture_equals_all_at_once(resnet: tuple[netray.Model, dict[str, np.ndarray]]) -> None:
    model, inputs = resnet
    whole, outputs = _run(OrtRuntime(model), inputs)
    small = OrtRuntime(model, max_capture_bytes=64 * 1024 * 1024)  # ResNet-50's 252 MB in several runs
    parts, outputs2 = _run(small, inputs)
    assert whole.keys() == parts.keys()
    assert all(np.array_equal(whole[n], parts[n]) for n in whole)
    assert all(np.array_equal(outputs[n], outputs2[n]) for n in outputs)
    assert batches([3, 3, 3, 10, 1], 6) == [range(0, 2), range(2, 3), range(3, 4), range(4, 5)]
    assert MIN_CAPTURE_BYTES <= capture_budget() <= MAX_CAPTURE_BYTES


def test_reference_agrees_with_onnxruntime(resnet: tuple[netray.Model, dict[str, np.ndarray]]) -> None:
    model, inputs = resnet
    ours, outputs = _run(OrtRuntime(model), inputs)
    theirs, reference_outputs = _run(ReferenceRuntime(model), inputs)
    assert theirs.keys() == ours.keys() and reference_outputs.keys() == outputs.keys()
    for name, array in ours.items():
        other = theirs[name]
        scale = max(1.0, float(np.abs(array).max()) if array.size else 1.0)
        assert other.shape == array.shape
        assert np.allclose(other, array, rtol=1e-4, atol=1e-4 * scale), name


def test_cancelled_before_running(resnet: tuple[netray.Model, dict[str, np.ndarray]]) -> None:
    model, inputs = resnet
    with pytest.raises(RunCancelled):
        OrtRuntime(model).forward(inputs, lambda n, a: None, lambda: True)


def _gpt2_block(folder: Path) -> Path:
    """A tiny GPT-2-style block (token and position embeddings, LayerNorm, causal self-attention,
    GELU MLP, LM head), random weights, exported with torch.onnx.export."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)

    class Block(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(50, 16), nn.Embedding(8, 16)
            self.ln1, self.ln2 = nn.LayerNorm(16), nn.LayerNorm(16)
            self.qkv, self.proj = nn.Linear(16, 48), nn.Linear(16, 16)
            self.fc, self.out = nn.Linear(16, 64), nn.Linear(64, 16)
            self.head = nn.Linear(16, 50, bias=False)

        def forward(self, ids: Any) -> Any:
            t = ids.shape[1]
            x = self.wte(ids) + self.wpe(torch.arange(t))
            q, k, v = self.qkv(self.ln1(x)).split(16, dim=-1)
            q, k, v = (z.view(1, t, 2, 8).transpose(1, 2) for z in (q, k, v))
            a = torch.softmax((q @ k.transpose(-1, -2)) / 8**0.5 + torch.triu(torch.full((t, t), -1e9), 1), dim=-1)
            x = x + self.proj((a @ v).transpose(1, 2).reshape(1, t, 16))
            x = x + self.out(nn.functional.gelu(self.fc(self.ln2(x))))
            return self.head(x)

    path = folder / "gpt2_block.onnx"
    torch.onnx.export(Block().eval(), (torch.randint(0, 50, (1, 8)),), str(path), input_names=["ids"], dynamo=False)
    return path


def test_transformer_every_value_exact(tmp_path: Path) -> None:
    path = _gpt2_block(tmp_path)
    model = netray.load_model(path)
    runtime = OrtRuntime(model)
    inputs = {"ids": np.random.default_rng(1).integers(0, 50, (1, 8)).astype(np.int64)}
    _check_every_value(path, runtime, inputs, groups=3)


def _nan_graph(folder: Path) -> Path:
    """30 finite nodes, then Log of a value made negative (the NaN), then 10 more nodes."""
    nodes, last = [], "x"
    for i in range(30):
        op = ("Relu", "Sigmoid", "Tanh")[i % 3]
        nodes.append(helper.make_node(op, [last], [f"v{i}"], name=f"n{i}"))
        last = f"v{i}"
    nodes.append(helper.make_node("Neg", [last], ["negative"], name="neg"))
    nodes.append(helper.make_node("Log", ["negative"], ["log_out"], name="the_log"))
    last = "log_out"
    for i in range(10):
        nodes.append(helper.make_node("Relu" if i % 2 else "Tanh", [last], [f"w{i}"], name=f"m{i}"))
        last = f"w{i}"
    graph = helper.make_graph(
        nodes,
        "nan",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, [2, 4])],
    )
    path = folder / "nan.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_nan_first_at_the_log(tmp_path: Path) -> None:
    model = netray.load_model(_nan_graph(tmp_path))
    order: list[str] = []
    captured: dict[str, np.ndarray] = {}

    def capture(name: str, array: np.ndarray) -> None:
        order.append(name)
        captured[name] = array

    x = np.random.default_rng(2).uniform(0.5, 2.0, (2, 4)).astype(np.float32)
    OrtRuntime(model).forward({"x": x}, capture, lambda: False)
    first = next(name for name in order if not np.isfinite(captured[name]).all())
    assert first == "log_out"
    assert model.main.values[first].producer.name == "the_log"  # type: ignore[union-attr]
    assert np.isfinite(captured["negative"]).all()


def _float64_model(
    folder: Path, name: str, nodes: list, weights: dict[str, np.ndarray], x_shape: list[int], y: str, y_shape: list[int]
) -> Path:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, x_shape)],
        [helper.make_tensor_value_info(y, TensorProto.DOUBLE, y_shape)],
        [numpy_helper.from_array(w, k) for k, w in weights.items()],
    )
    path = folder / f"{name}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _mlp(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    weights = {
        "w1": rng.standard_normal((5, 7)),
        "b1": rng.standard_normal(7),
        "w2": rng.standard_normal((7, 3)),
        "b2": rng.standard_normal(3),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="add1"),
        helper.make_node("Tanh", ["hb"], ["t"], name="tanh"),
        helper.make_node("MatMul", ["t", "w2"], ["o"], name="mm2"),
        helper.make_node("Add", ["o", "b2"], ["y"], name="add2"),
    ]
    return _float64_model(folder, "mlp", nodes, weights, [4, 5], "y", [4, 3])


def _conv_gemm(folder: Path) -> Path:
    rng = np.random.default_rng(4)
    weights = {
        "cw": rng.standard_normal((3, 2, 3, 3)) * 0.5,
        "cb": rng.standard_normal(3),
        "gw": rng.standard_normal((4, 3 * 4 * 4)) * 0.3,  # Gemm with transB=1
        "gb": rng.standard_normal(4),
        "shape": np.array([1, -1], dtype=np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "cw", "cb"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
        helper.make_node("MaxPool", ["s"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "gw", "gb"], ["g"], name="gemm", transB=1),
        helper.make_node("Tanh", ["g"], ["y"], name="tanh"),
    ]
    return _float64_model(folder, "convgemm", nodes, weights, [1, 2, 8, 8], "y", [1, 4])


def _loss(path: Path, x: np.ndarray, weights: dict[str, np.ndarray], target: np.ndarray | None) -> float:
    """The loss by onnx's reference evaluator with ``weights`` replaced (float64 throughout)."""
    proto = onnx.load(str(path))
    for tensor in proto.graph.initializer:
        if tensor.name in weights:
            tensor.CopyFrom(numpy_helper.from_array(weights[tensor.name], tensor.name))
    from onnx.reference import ReferenceEvaluator

    (y,) = ReferenceEvaluator(proto).run(None, {"x": x})
    return float(((y - target) ** 2).sum()) if target is not None else float(y.sum())  # type: ignore[union-attr]


def _reference_output(path: Path, x: np.ndarray) -> np.ndarray:
    from onnx.reference import ReferenceEvaluator

    (y,) = ReferenceEvaluator(onnx.load(str(path))).run(None, {"x": x})
    return np.asarray(y)


@pytest.mark.parametrize("make", [_mlp, _conv_gemm])
@pytest.mark.parametrize("with_target", [False, True])
def test_gradients_equal_finite_differences(tmp_path: Path, make: object, with_target: bool) -> None:
    _needs_onnx2torch()
    path = make(tmp_path)  # type: ignore[operator]
    model = netray.load_model(path)
    runtime = OrtRuntime(model)
    assert runtime.backward_supported
    rng = np.random.default_rng(5)
    x = rng.standard_normal(tuple(model.main.inputs[0].type.shape))  # type: ignore[arg-type, union-attr]
    out_name = model.main.outputs[0].name
    out_shape = tuple(model.main.outputs[0].type.shape)  # type: ignore[arg-type, union-attr]
    target = rng.standard_normal(out_shape) if with_target else None
    grads: dict[str, np.ndarray] = {}
    weights = runtime.backward(
        {"x": x}, {out_name: target} if target is not None else None, grads.__setitem__, lambda: False
    )
    base = {
        t.name: numpy_helper.to_array(t)
        for t in onnx.load(str(path)).graph.initializer
        if t.data_type == TensorProto.DOUBLE
    }
    assert weights.keys() == base.keys()
    eps = 1e-6
    for name, w in base.items():
        numeric = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            up, down = w.copy(), w.copy()
            up[index] += eps
            down[index] -= eps
            numeric[index] = (_loss(path, x, {name: up}, target) - _loss(path, x, {name: down}, target)) / (2 * eps)
        error = np.abs(weights[name] - numeric).max() / max(np.abs(numeric).max(), 1e-12)
        assert error < 1e-3, (name, error)
    # Intermediates: every float node output has a gradient; the output's is dloss/dy.
    produced = [
        v.name for n in model.main.nodes for v in n.output_values() if v.type and v.type.dtype.startswith("float")
    ]  # type: ignore[union-attr]
    assert set(produced) <= set(grads)
    y = _reference_output(path, x)  # onnxruntime has no float64 Conv
    expected = 2 * (y - target) if target is not None else np.ones(out_shape)
    assert np.allclose(grads[out_name], expected, rtol=1e-9)


def test_unconvertible_op_is_named(tmp_path: Path) -> None:
    _needs_onnx2torch()
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Hardmax", ["r"], ["h"], name="the_hardmax"),
        helper.make_node("Add", ["h", "x"], ["y"], name="add"),
    ]
    graph = helper.make_graph(
        nodes,
        "hardmax",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    path = tmp_path / "hardmax.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    runtime = OrtRuntime(netray.load_model(path))
    x = np.ones((2, 3), np.float32)
    _run(runtime, {"x": x})  # forward runs: onnxruntime has the op
    with pytest.raises(RunError, match="Hardmax") as info:
        runtime.backward({"x": x}, None, lambda n, a: None, lambda: False)
    assert "the_hardmax" in str(info.value)


def test_cancelled_while_running(resnet: tuple[netray.Model, dict[str, np.ndarray]]) -> None:
    """The first poll (before the run) says go on; every later one, during or after it, says stop."""
    model, inputs = resnet
    polls = []

    def cancelled() -> bool:
        polls.append(1)
        return len(polls) > 1

    runtime = OrtRuntime(model)
    with pytest.raises(RunCancelled):
        runtime.forward(inputs, lambda n, a: None, cancelled)
    outputs = runtime.forward(inputs, lambda n, a: None, lambda: False)  # the same runtime runs again
    assert outputs


def test_a_second_capture_writes_the_same_values_and_leaves_the_first_outputs_alone(
    resnet: tuple[netray.Model, dict[str, np.ndarray]],
) -> None:
    """The runtime has onnxruntime write a capture into the previous capture's arrays: the values
    are the same as a fresh run's, and the outputs it returned before stay as they were."""
    model, inputs = resnet
    runtime = OrtRuntime(model)
    first, outputs = _run(runtime, inputs)
    kept = {name: array.copy() for name, array in outputs.items()}
    other = {name: (array * 0.5).astype(array.dtype) for name, array in inputs.items()}
    second_other, _ = _run(runtime, other)  # through the reused arrays (same shapes)
    again, outputs_again = _run(runtime, inputs)
    assert all(np.array_equal(first[n], again[n]) for n in first)
    assert all(np.array_equal(outputs[n], kept[n]) and np.array_equal(outputs_again[n], kept[n]) for n in kept)
    fresh, _ = _run(OrtRuntime(model), other)
    assert all(np.array_equal(second_other[n], fresh[n]) for n in fresh)


def test_a_shape_that_depends_on_the_data_is_captured_afresh(tmp_path: Path) -> None:
    """NonZero's output has as many columns as the input has non-zeros: same input shape, new output shape."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["where"]), helper.make_node("Shape", ["where"], ["n"])],
        "nonzero",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6])],
        [helper.make_tensor_value_info("n", TensorProto.INT64, [2])],
    )
    path = tmp_path / "nonzero.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    runtime = OrtRuntime(netray.load_model(path))
    for x, count in (([1, -1, 2, 0, 3, -2], 3), ([1, 1, 1, 1, 1, -1], 5), ([-1] * 6, 0), ([1, 2, -3, 0, 0, 0], 2)):
        captured, outputs = _run(runtime, {"x": np.array(x, np.float32)})
        assert captured["where"].shape == (1, count) and outputs["n"].tolist() == [1, count]


def test_a_sequence_value_is_not_captured(tmp_path: Path) -> None:
    """A value typed as a sequence has no array: the capture leaves it out, whether its type is
    inferred from the file's own bytes or from the proto."""
    from netray_onnx.runtime import load_proto, non_tensor_values

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("SequenceConstruct", ["r", "x"], ["seq"]), helper.make_node("SequenceAt", ["seq", "i"], ["y"])],
        "sequence",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [helper.make_tensor("i", TensorProto.INT64, [], [0])],
    )
    path = tmp_path / "sequence.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    model = netray.load_model(path)
    proto, _ = load_proto(model, "test", with_onnx=False)
    assert non_tensor_values(proto, model) == non_tensor_values(proto) == {"seq"}
    captured, outputs = _run(OrtRuntime(model), {"x": np.array([-1.0, 2.0], np.float32)})
    assert set(captured) == {"r", "y"} and outputs["y"].tolist() == [0.0, 2.0]
