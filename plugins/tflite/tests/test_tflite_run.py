"""Running TFLite models with ai-edge-litert (netray_runtime, contract 1.2).

Real files from the shared folder that the interpreter runs, and models built here with
the TFLite schema's object API (ai-edge-litert's ``schema_py_generated``): a small conv /
pool / reshape / fully connected / concatenation net, a NaN injected by LOG of a negative
value, and a quantized (int8) chain. No TFLite converter is installed (tensorflow and
ai-edge-torch are not), so nothing is converted from Keras or torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netray
from netray import Model
from netray.plugins import PluginManager
from netray.runtime import RunCancelled, RunError, Runtime, RuntimeMissing
from netray_tflite import plugin as tflite_plugin
from netray_tflite.runtime import LiteRtRuntime

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (netray-plugin-tflite[run]) is not installed")
schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
OpResolverType = litert.OpResolverType


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(tflite_plugin, "tflite")
    return pm


def never() -> bool:
    return False


def run_forward(runtime: Any, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    captured: dict[str, np.ndarray] = {}

    def capture(name: str, array: np.ndarray) -> None:
        assert name not in captured, f"{name} captured twice"
        captured[name] = np.array(array, copy=True)

    outputs = runtime.forward(inputs, capture, never)
    return captured, outputs


def plain_outputs(path: Path, feeds: dict[int, np.ndarray], resolver: Any = None) -> list[np.ndarray]:
    """What a plain interpreter (nothing preserved) returns, outputs in the file's order."""
    kwargs = {} if resolver is None else {"experimental_op_resolver_type": resolver}
    interpreter = litert.Interpreter(model_path=str(path), **kwargs)
    interpreter.allocate_tensors()
    for index, array in feeds.items():
        interpreter.set_tensor(index, array)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def random_inputs(model: Model, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs = {}
    for value in model.main.inputs:
        shape = tuple(d if isinstance(d, int) else 1 for d in (value.type.shape or ()))
        dtype = np.dtype(value.type.dtype or "float32")
        inputs[value.name] = rng.standard_normal(shape).astype(dtype) if dtype.kind == "f" else rng.integers(0, 10, shape).astype(dtype)
    return inputs


def feeds_by_index(model: Model, inputs: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    return {int(v.metadata["tensor_index"]): inputs[v.name] for v in model.main.inputs}


def node_outputs(model: Model) -> list[str]:
    return [v.name for node in model.main.nodes for v in node.output_values() if v.initializer is None]


# -- building .tflite files with the schema's object API ------------------------------------
class Builder:
    """Tensors, operators and buffers of one subgraph, packed into a TFLite flatbuffer."""

    def __init__(self) -> None:
        self.tensors: list[Any] = []
        self.buffers: list[Any] = [schema.BufferT()]  # buffer 0: the empty sentinel
        self.operators: list[Any] = []
        self.opcodes: list[int] = []

    def tensor(self, name: str, shape: Sequence[int], dtype: int = schema.TensorType.FLOAT32, data: np.ndarray | None = None,
               scale: float | None = None, zero_point: int = 0) -> int:
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), dtype, 0
        if data is not None:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.buffers.append(buffer)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = schema.QuantizationParametersT()
            q.scale, q.zeroPoint = [scale], [zero_point]
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0, options: Any = None) -> None:
        if code not in self.opcodes:
            self.opcodes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = self.opcodes.index(code), inputs, outputs
        if options is not None:
            op.builtinOptionsType, op.builtinOptions = options_type, options
        self.operators.append(op)

    def save(self, path: Path, inputs: list[int], outputs: list[int]) -> Path:
        import flatbuffers

        sg = schema.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = self.tensors, inputs, outputs, self.operators, "main"
        model = schema.ModelT()
        model.version, model.description = 3, "built by netray's tests"
        model.subgraphs, model.buffers = [sg], self.buffers
        codes = []
        for code in self.opcodes:
            oc = schema.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
            codes.append(oc)
        model.operatorCodes = codes
        fb = flatbuffers.Builder(1024)
        fb.Finish(model.Pack(fb), file_identifier=b"TFL3")
        path.write_bytes(bytes(fb.Output()))
        return path


OP = schema.BuiltinOperator
OPTIONS = schema.BuiltinOptions
ACT = schema.ActivationFunctionType


def conv_net(tmp_path: Path, output: str | None = None, nan: bool = False) -> Path:
    """input [1,8,8,3] -> CONV_2D 3x3 relu -> MAX_POOL 2x2 -> RESHAPE [1,64] -> FC 10 (-> LOG) ; CONCAT with FC 6 of the input."""
    rng = np.random.default_rng(1)
    b = Builder()
    x = b.tensor("input", [1, 8, 8, 3])
    w = b.tensor("conv/filter", [4, 3, 3, 3], data=rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    bias = b.tensor("conv/bias", [4], data=rng.standard_normal(4).astype(np.float32))
    conv = b.tensor("conv", [1, 8, 8, 4])
    opts = schema.Conv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH, opts.fusedActivationFunction = schema.Padding.SAME, 1, 1, ACT.RELU
    b.op(OP.CONV_2D, [x, w, bias], [conv], OPTIONS.Conv2DOptions, opts)
    pool = b.tensor("pool", [1, 4, 4, 4])
    popts = schema.Pool2DOptionsT()
    popts.padding, popts.strideW, popts.strideH, popts.filterWidth, popts.filterHeight = schema.Padding.VALID, 2, 2, 2, 2
    b.op(OP.MAX_POOL_2D, [conv], [pool], OPTIONS.Pool2DOptions, popts)
    shape = b.tensor("flat/shape", [2], schema.TensorType.INT32, data=np.array([1, 64], np.int32))
    flat = b.tensor("flat", [1, 64])
    ropts = schema.ReshapeOptionsT()
    ropts.newShape = [1, 64]
    b.op(OP.RESHAPE, [pool, shape], [flat], OPTIONS.ReshapeOptions, ropts)
    fw = b.tensor("fc/weights", [10, 64], data=(rng.standard_normal((10, 64)) / 8).astype(np.float32))
    fb_ = b.tensor("fc/bias", [10], data=rng.standard_normal(10).astype(np.float32))
    fc = b.tensor("fc", [1, 10])
    b.op(OP.FULLY_CONNECTED, [flat, fw, fb_], [fc], OPTIONS.FullyConnectedOptions, schema.FullyConnectedOptionsT())
    last = fc
    if nan:
        log = b.tensor("log", [1, 10])
        b.op(OP.LOG, [fc], [log])
        last = log
    side_w = b.tensor("side/weights", [6, 192], data=(rng.standard_normal((6, 192)) / 8).astype(np.float32))
    side_flat = b.tensor("side/flat", [1, 192])
    sopts = schema.ReshapeOptionsT()
    sopts.newShape = [1, 192]
    side_shape = b.tensor("side/shape", [2], schema.TensorType.INT32, data=np.array([1, 192], np.int32))
    b.op(OP.RESHAPE, [x, side_shape], [side_flat], OPTIONS.ReshapeOptions, sopts)
    side = b.tensor("side", [1, 6])
    b.op(OP.FULLY_CONNECTED, [side_flat, side_w, -1], [side], OPTIONS.FullyConnectedOptions, schema.FullyConnectedOptionsT())
    out = b.tensor("output", [1, 16])
    copts = schema.ConcatenationOptionsT()
    copts.axis = 1
    b.op(OP.CONCATENATION, [last, side], [out], OPTIONS.ConcatenationOptions, copts)
    names = [t.name for t in b.tensors]
    outputs = [names.index(output)] if output else [out]
    return b.save(tmp_path / f"conv_net{'_' + output.replace('/', '_') if output else ''}{'_nan' if nan else ''}.tflite", [x], outputs)


def quantized_net(tmp_path: Path) -> Path:
    """float input -> QUANTIZE int8 -> ADD int8 (x + x) -> DEQUANTIZE."""
    b = Builder()
    x = b.tensor("input", [1, 16])
    q = b.tensor("quantized", [1, 16], schema.TensorType.INT8, scale=0.05, zero_point=3)
    b.op(OP.QUANTIZE, [x], [q])
    s = b.tensor("sum", [1, 16], schema.TensorType.INT8, scale=0.1, zero_point=-2)
    b.op(OP.ADD, [q, q], [s], OPTIONS.AddOptions, schema.AddOptionsT())
    y = b.tensor("output", [1, 16])
    b.op(OP.DEQUANTIZE, [s], [y])
    return b.save(tmp_path / "quantized.tflite", [x], [y])


def runtime_for(path: Path, manager: PluginManager) -> tuple[Model, Any]:
    model = netray.load_model(path)
    runtime = tflite_plugin.netray_runtime(model=model, name="")
    assert isinstance(runtime, Runtime) and isinstance(runtime, LiteRtRuntime)
    return model, runtime


# -- tests -----------------------------------------------------------------------------------
def test_conv_net_captures_every_operator_output_exactly(tmp_path: Path, manager: PluginManager) -> None:
    path = conv_net(tmp_path)
    model, runtime = runtime_for(path, manager)
    assert runtime.name == "litert" and runtime.backward_supported is False
    inputs = random_inputs(model, seed=3)
    captured, outputs = run_forward(runtime, inputs)
    # Every value an operator writes, named as the IR names it; no inputs, no weights.
    assert list(captured) == node_outputs(model) == ["conv", "pool", "flat", "fc", "side/flat", "side", "output"]
    assert list(outputs) == ["output"]
    plain = plain_outputs(path, feeds_by_index(model, inputs), OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    assert np.array_equal(outputs["output"], plain[0]) and outputs["output"].tobytes() == plain[0].tobytes()
    assert np.array_equal(captured["output"], outputs["output"])
    # Each intermediate equals what a plain interpreter returns when that tensor is the model's output.
    for name in ("conv", "pool", "flat", "fc", "side/flat", "side"):
        cut = conv_net(tmp_path, output=name)
        expected = plain_outputs(cut, {0: inputs["input"]}, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)[0]
        assert captured[name].tobytes() == expected.tobytes(), name
    # Shapes as the graph declares them.
    for name, array in captured.items():
        assert tuple(array.shape) == model.main.values[name].type.shape


def test_fc_output_is_captured_through_its_consumer(tmp_path: Path, manager: PluginManager) -> None:
    """The FC value feeds a CONCATENATION: it is captured by name and equals the cut model's output."""
    path = conv_net(tmp_path)
    model, runtime = runtime_for(path, manager)
    assert "fc" in node_outputs(model)
    inputs = random_inputs(model, seed=4)
    captured, _ = run_forward(runtime, inputs)
    cut = conv_net(tmp_path, output="fc")
    expected = plain_outputs(cut, {0: inputs["input"]}, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)[0]
    assert captured["fc"].tobytes() == expected.tobytes()


def test_default_interpreter_agrees_closely(tmp_path: Path, manager: PluginManager) -> None:
    """The default interpreter (XNNPACK) computes the same outputs up to float rounding."""
    path = conv_net(tmp_path)
    model, runtime = runtime_for(path, manager)
    inputs = random_inputs(model, seed=5)
    _, outputs = run_forward(runtime, inputs)
    default = plain_outputs(path, feeds_by_index(model, inputs))[0]
    np.testing.assert_allclose(outputs["output"], default, rtol=1e-5, atol=1e-5)


def test_repeated_runs_are_independent(tmp_path: Path, manager: PluginManager) -> None:
    path = conv_net(tmp_path)
    model, runtime = runtime_for(path, manager)
    a = random_inputs(model, seed=6)
    b = random_inputs(model, seed=7)
    first, _ = run_forward(runtime, a)
    run_forward(runtime, b)
    again, _ = run_forward(runtime, a)
    assert all(first[k].tobytes() == again[k].tobytes() for k in first)


def test_nan_first_appears_at_the_log(tmp_path: Path, manager: PluginManager) -> None:
    path = conv_net(tmp_path, nan=True)
    model, runtime = runtime_for(path, manager)
    inputs = random_inputs(model, seed=8)
    order: list[tuple[str, bool]] = []
    runtime.forward(inputs, lambda name, array: order.append((name, bool(np.isfinite(array).all()))), never)
    first_bad = next(name for name, finite in order if not finite)
    assert first_bad == "log"  # some of the FC's outputs are negative: their log is NaN
    producers = {v.name: node for node in model.main.nodes for v in node.output_values()}
    assert producers[first_bad].op == "LOG"
    assert all(finite for name, finite in order if name in ("conv", "pool", "flat", "fc", "side", "side/flat"))


def test_quantized_tensors_are_the_stored_integers(tmp_path: Path, manager: PluginManager) -> None:
    path = quantized_net(tmp_path)
    model, runtime = runtime_for(path, manager)
    assert runtime.quantized_values == "stored integers"
    x = np.linspace(-2, 2, 16, dtype=np.float32).reshape(1, 16)
    captured, outputs = run_forward(runtime, {"input": x})
    assert captured["quantized"].dtype == np.int8 and captured["sum"].dtype == np.int8
    expected_q = np.clip(np.round(x / 0.05) + 3, -128, 127).astype(np.int8)
    assert np.array_equal(captured["quantized"], expected_q)
    q = model.main.values["sum"].quantization
    assert q is not None and q.scale == [pytest.approx(0.1)] and q.zero_point == [-2]
    dequantized = (captured["sum"].astype(np.float32) - q.zero_point[0]) * np.float32(q.scale[0])
    np.testing.assert_allclose(dequantized, outputs["output"], rtol=1e-6)  # DEQUANTIZE's own rounding aside
    plain = plain_outputs(path, {0: x}, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)[0]
    assert outputs["output"].tobytes() == plain.tobytes()


def test_backward_is_refused_with_the_reason(tmp_path: Path, manager: PluginManager) -> None:
    model, runtime = runtime_for(conv_net(tmp_path), manager)
    with pytest.raises(RunError, match="TFLite has no gradients; convert"):
        runtime.backward(random_inputs(model), None, lambda n, a: None, never)


def test_cancel_stops_the_run(tmp_path: Path, manager: PluginManager) -> None:
    model, runtime = runtime_for(conv_net(tmp_path), manager)
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(RunCancelled):
        runtime.forward(random_inputs(model), lambda n, a: None, cancelled)


def test_missing_input_is_a_run_error(tmp_path: Path, manager: PluginManager) -> None:
    _, runtime = runtime_for(conv_net(tmp_path), manager)
    with pytest.raises(RunError, match="no array given for input 'input'"):
        runtime.forward({}, lambda n, a: None, never)


def test_hook_answers_only_for_tflite_and_its_runtime_names(tmp_path: Path, manager: PluginManager, monkeypatch: pytest.MonkeyPatch) -> None:
    model = netray.load_model(conv_net(tmp_path))
    assert tflite_plugin.netray_runtime(model=model, name="reference") is None
    other = Model("ONNX", model.graphs)
    assert tflite_plugin.netray_runtime(model=other, name="") is None
    assert isinstance(manager.runtime(model, ""), LiteRtRuntime)
    from netray_tflite import runtime as runtime_module

    monkeypatch.setattr(runtime_module, "interpreter_class", lambda: None)
    missing = tflite_plugin.netray_runtime(model=model, name="")
    assert missing == RuntimeMissing(runtime="ai-edge-litert", install="pip install netray-plugin-tflite[run]")


STATIC = ["tf2onnx/test_api_model.tflite", "tf_serving/half_plus_two.tflite", "tf_serving/half_plus_two_with_sigdef.tflite"]


@pytest.mark.parametrize("relative", STATIC)
def test_real_files_run_and_equal_a_plain_interpreter(relative: str, shared_models: Path, manager: PluginManager) -> None:
    path = shared_models / "tflite" / relative
    model, runtime = runtime_for(path, manager)
    inputs = random_inputs(model, seed=11)
    captured, outputs = run_forward(runtime, inputs)
    assert list(captured) == node_outputs(model)
    plain = plain_outputs(path, feeds_by_index(model, inputs), OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    assert [o.tobytes() for o in outputs.values()] == [p.tobytes() for p in plain]
    for name, array in outputs.items():
        assert captured[name].tobytes() == array.tobytes()
    if "half_plus_two" in relative:
        x = next(iter(inputs.values()))
        assert np.array_equal(outputs["y"], x * np.float32(0.5) + np.float32(2))


def test_real_file_with_unknown_rank_runs_with_the_given_shape(shared_models: Path, manager: PluginManager) -> None:
    """regression.tflite's input has no rank in the file: the interpreter is resized to the array given."""
    path = shared_models / "tflite" / "tf2onnx" / "regression.tflite"
    model, runtime = runtime_for(path, manager)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    captured, outputs = run_forward(runtime, {"X:0": x})
    assert list(captured) == node_outputs(model)
    assert outputs["pred:0"].shape == (2, 3)


def test_real_file_with_a_custom_op_fails_readably(shared_models: Path, manager: PluginManager) -> None:
    model = netray.load_model(shared_models / "tflite" / "tf_serving" / "parse_example.tflite")
    with pytest.raises(RunError, match=r"litert: cannot load parse_example\.tflite: .*ParseExampleV2"):
        tflite_plugin.netray_runtime(model=model, name="")
