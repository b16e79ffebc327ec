"""Running Keras models with Keras 3 on the torch backend (netray_runtime, contract 1.2).

Real files from the shared folder (Keras 2 HDF5 and Keras 3 archives) and models built here
with Keras: every value the IR names is captured, each equals what Keras computes for it
(a ``keras.Model`` cut at that layer), outputs equal ``model.predict`` and ``model(x)`` bit for
bit; a NaN weight shows first at its layer; gradients equal finite differences in float64.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ["KERAS_BACKEND"] = "torch"
keras = pytest.importorskip("keras", reason="keras (netray-plugin-keras[run]) is not installed")
torch = pytest.importorskip("torch")

import netray  # noqa: E402
from netray import Model  # noqa: E402
from netray.plugins import PluginManager  # noqa: E402
from netray.runtime import RunCancelled, RunError, Runtime, RuntimeMissing  # noqa: E402
from netray_keras import plugin as keras_plugin  # noqa: E402
from netray_keras.runtime import KerasRuntime  # noqa: E402

layers = keras.layers

if keras.backend.backend() != "torch":  # pragma: no cover - another test imported Keras first
    pytest.skip(f"Keras was imported with the {keras.backend.backend()} backend", allow_module_level=True)


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(keras_plugin, "keras")
    return pm


def never() -> bool:
    return False


def runtime_for(path: Path) -> tuple[Model, KerasRuntime]:
    model = netray.load_model(path)
    runtime = keras_plugin.netray_runtime(model=model, name="")
    assert isinstance(runtime, Runtime) and isinstance(runtime, KerasRuntime)
    return model, runtime


def run_forward(runtime: Any, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    captured: dict[str, np.ndarray] = {}

    def capture(name: str, array: np.ndarray) -> None:
        assert name not in captured, f"{name} captured twice"
        captured[name] = np.array(array, copy=True)

    return captured, runtime.forward(inputs, capture, never)


def node_outputs(model: Model) -> list[str]:
    return [v.name for node in model.main.nodes for v in node.output_values() if v.initializer is None]


def random_inputs(model: Model, seed: int = 0, batch: int = 2, unknown: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs = {}
    for value in model.main.inputs:
        shape = tuple(d if isinstance(d, int) else (batch if i == 0 else unknown) for i, d in enumerate(value.type.shape or ()))
        inputs[value.name] = rng.standard_normal(shape).astype(value.type.dtype or "float32")
    return inputs


def keras_args(model: Model, runtime: KerasRuntime, inputs: dict[str, np.ndarray]) -> Any:
    arrays = [inputs[v.name] for v in model.main.inputs]
    return arrays[0] if len(arrays) == 1 else arrays


def same_bits(a: np.ndarray, b: Any) -> bool:
    b = np.asarray(b.detach().cpu().numpy() if hasattr(b, "detach") else b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check_against_keras(model: Model, runtime: KerasRuntime, inputs: dict[str, np.ndarray], cut_layers: bool = True) -> dict[str, np.ndarray]:
    """Forward; every IR value captured; outputs equal predict and model(x); each top-level layer's
    output equals a keras.Model cut at that layer."""
    captured, outputs = run_forward(runtime, inputs)
    assert set(captured) == set(node_outputs(model))
    kmodel = runtime.kmodel
    x = keras_args(model, runtime, inputs)
    predicted = kmodel.predict(x, verbose=0)
    called = kmodel(x, training=False)
    predicted = predicted if isinstance(predicted, list) else [predicted]
    called = called if isinstance(called, (list, tuple)) else [called]
    assert list(outputs) == [v.name for v in model.main.outputs]
    for name, p, c in zip(outputs, predicted, called, strict=True):
        assert same_bits(outputs[name], p) and same_bits(outputs[name], c), name
        assert same_bits(captured[name], p), name
    if cut_layers:
        for layer in kmodel.layers:
            if isinstance(layer, layers.InputLayer) or layer.name not in captured:
                continue
            cut = keras.Model(kmodel.inputs, layer.output)
            assert same_bits(captured[layer.name], cut(x, training=False)), layer.name
    return captured


# -- real files -----------------------------------------------------------------------------
REAL = [
    "face_classification/fer2013_big_XCEPTION.54-0.66.hdf5",
    "face_classification/fer2013_mini_XCEPTION.102-0.66.hdf5",
    "face_classification/gender_mini_XCEPTION.21-0.95.hdf5",
    "face_classification/tiny_XCEPTION_KDEF.hdf5",
    "keras3/fashion_mnist_cnn.keras",
    "keras3/melody_lstm.keras",
]


@pytest.mark.parametrize("relative", REAL)
def test_real_files_capture_every_layer_exactly(relative: str, shared_models: Path) -> None:
    model, runtime = runtime_for(shared_models / "keras" / relative)
    assert runtime.name == "keras" and runtime.backward_supported
    check_against_keras(model, runtime, random_inputs(model, seed=1), cut_layers="mini_XCEPTION.102" in relative or "keras3" in relative)
    # Every weight the IR shows is one of the model's variables.
    weights = [v.name for node in model.main.nodes for v in node.input_values() if v.initializer is not None]
    assert sorted(runtime.weights) == sorted(weights)
    for name, variable in runtime.weights.items():
        assert np.array_equal(model.main.values[name].initializer.numpy(), keras.ops.convert_to_numpy(variable)), name  # type: ignore[union-attr]


def test_real_keras2_file_gradients_cover_every_weight(shared_models: Path) -> None:
    model, runtime = runtime_for(shared_models / "keras" / "face_classification" / "tiny_XCEPTION_KDEF.hdf5")
    grads_of_values: dict[str, np.ndarray] = {}
    gradients = runtime.backward(random_inputs(model, seed=2), None, grads_of_values.__setitem__, never)
    assert set(gradients) == set(runtime.weights)
    assert all(np.isfinite(g).all() for g in gradients.values())
    assert set(grads_of_values) == set(node_outputs(model))
    out = model.main.outputs[0].name
    assert np.array_equal(grads_of_values[out], np.ones_like(grads_of_values[out]))
    # Nothing of the run stays behind on the model's variables.
    assert all(v.value.grad is None for v in runtime.weights.values())


def test_real_keras20_list_config_runs_as_keras_loads_its_later_form(shared_models: Path, tmp_path: Path) -> None:
    """mnistCNN.h5 is a Keras 2.0-era Sequential whose config is a bare list of layers, which Keras
    3's loader refuses ("pop expected at most 1 argument"). netray builds it from the config Keras
    2.2+ writes (an InputLayer first); Keras' own loader, given a copy rewritten in that form,
    computes the same numbers. The original file is only read."""
    import hashlib
    import json
    import shutil

    import h5py

    source = shared_models / "keras" / "r4ghu_mnist" / "mnistCNN.h5"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    model, runtime = runtime_for(source)
    copy = tmp_path / "mnistCNN_keras22.h5"
    shutil.copy(source, copy)
    with h5py.File(copy, "r+") as f:
        listed = json.loads(f.attrs["model_config"])["config"]
        shape = listed[0]["config"].pop("batch_input_shape")
        listed.insert(0, {"class_name": "InputLayer", "config": {"batch_input_shape": shape, "dtype": "float32", "name": "input"}})
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential", "layers": listed}})
    reference = keras.saving.load_model(copy, compile=False, safe_mode=True)
    inputs = random_inputs(model, seed=3)
    captured, outputs = run_forward(runtime, inputs)
    assert list(captured) == [node.name for node in model.main.nodes]  # all 9 layers, in order
    [x] = inputs.values()
    [output] = outputs.values()
    assert same_bits(output, reference.predict(x, verbose=0))
    for layer in reference.layers:
        cut = keras.Model(reference.inputs, layer.output)
        assert same_bits(captured[layer.name], cut(x, training=False)), layer.name
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


# -- generated models -----------------------------------------------------------------------
def functional_net(path: Path) -> Path:
    """Two inputs; conv/pool/BN/dropout; a shared Dense called twice; a nested Functional and a nested Sequential; concat."""
    keras.utils.set_random_seed(3)
    image = keras.Input((12, 12, 3), name="image")
    extra = keras.Input((4,), name="extra")
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(image)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    inner_in = keras.Input((6, 6, 6))
    y = layers.Conv2D(4, 3, name="inner_conv")(inner_in)
    y = layers.GlobalAveragePooling2D(name="inner_gap")(y)
    inner = keras.Model(inner_in, y, name="inner")
    z = inner(x)
    side = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="tanh", name="seq_dense"), layers.Dropout(0.5, name="seq_drop")], name="side")
    s = side(extra)
    shared = layers.Dense(3, name="shared")
    a = shared(z)
    b = shared(layers.Dense(4, name="to4")(s))
    flat = layers.Flatten(name="flat")(x)
    joined = layers.Concatenate(name="concat")([a, b, layers.Dense(2, name="head")(flat)])
    out = layers.Dense(3, activation="softmax", name="probs")(joined)
    model = keras.Model([image, extra], [out, a], name="net")
    # Non-trivial batch-norm statistics.
    bn = model.get_layer("bn")
    bn.moving_mean.assign(np.linspace(-0.5, 0.5, 6).astype("float32"))
    bn.moving_variance.assign(np.linspace(0.5, 2.0, 6).astype("float32"))
    model.save(path)
    return path


def test_generated_functional_model_captures_every_value_exactly(tmp_path: Path) -> None:
    path = functional_net(tmp_path / "net.keras")
    model, runtime = runtime_for(path)
    names = node_outputs(model)
    assert {"conv_a", "bn", "pool", "inner/inner_conv", "inner/inner_gap", "side/seq_dense", "side/seq_drop", "shared", "shared@1:0", "concat", "probs"} <= set(names)
    inputs = random_inputs(model, seed=4, batch=3)
    captured = check_against_keras(model, runtime, inputs)
    # The nested models' layers equal Keras' own computation on the nested model's input.
    inner = runtime.kmodel.get_layer("inner")
    inner_cut = keras.Model(inner.inputs, inner.get_layer("inner_conv").output)
    assert same_bits(captured["inner/inner_conv"], inner_cut(captured["pool"]))
    side = runtime.kmodel.get_layer("side")
    assert same_bits(captured["side/seq_dense"], side.get_layer("seq_dense")(inputs["extra"]))
    assert same_bits(captured["side/seq_drop"], captured["side/seq_dense"])  # dropout is the identity at inference
    # The shared layer's second call is its own value.
    shared = runtime.kmodel.get_layer("shared")
    assert same_bits(captured["shared@1:0"], shared(captured["to4"]))


def test_capture_comes_in_execution_order_as_values_appear(tmp_path: Path) -> None:
    model, runtime = runtime_for(functional_net(tmp_path / "net.keras"))
    order: list[str] = []
    runtime.forward(random_inputs(model), lambda name, array: order.append(name), never)
    assert order.index("conv_a") < order.index("bn") < order.index("pool") < order.index("inner/inner_conv") < order.index("probs")


def nan_net(path: Path) -> Path:
    keras.utils.set_random_seed(5)
    x_in = keras.Input((6,), name="x")
    x = layers.Dense(8, activation="relu", name="d1")(x_in)
    x = layers.Dense(8, name="d2")(x)
    x = layers.Dense(8, activation="tanh", name="poisoned")(x)
    x = layers.Dense(4, name="d4")(x)
    out = layers.Dense(2, name="d5")(x)
    model = keras.Model(x_in, out)
    poisoned = model.get_layer("poisoned")
    kernel = keras.ops.convert_to_numpy(poisoned.kernel).copy()
    kernel[3, 5] = np.nan
    poisoned.kernel.assign(kernel)
    model.save(path)
    return path


def test_nan_weight_shows_first_at_its_layer(tmp_path: Path) -> None:
    model, runtime = runtime_for(nan_net(tmp_path / "nan.keras"))
    order: list[tuple[str, bool]] = []
    outputs = runtime.forward(random_inputs(model, seed=6), lambda n, a: order.append((n, bool(np.isfinite(a).all()))), never)
    assert [n for n, _ in order] == ["d1", "d2", "poisoned", "d4", "d5"]
    assert next(n for n, finite in order if not finite) == "poisoned"
    assert all(finite for n, finite in order if n in ("d1", "d2"))
    assert np.isnan(outputs["d5"]).all()


# -- gradients ------------------------------------------------------------------------------
def float64_net(path: Path) -> Path:
    keras.utils.set_random_seed(7)
    x_in = keras.Input((5, 5, 2), name="x", dtype="float64")
    x = layers.Conv2D(3, 3, activation="tanh", name="conv", dtype="float64")(x_in)
    x = layers.BatchNormalization(name="bn", dtype="float64")(x)
    x = layers.AveragePooling2D(2, name="avg", dtype="float64")(x)
    x = layers.Flatten(name="flat", dtype="float64")(x)
    h = layers.Dense(4, activation="sigmoid", name="hidden", dtype="float64")(x)
    out = layers.Dense(2, name="out", dtype="float64")(layers.Concatenate(name="cat", dtype="float64")([h, x]))
    model = keras.Model(x_in, out)
    bn = model.get_layer("bn")
    bn.moving_mean.assign(np.array([0.1, -0.2, 0.3]))
    bn.moving_variance.assign(np.array([0.5, 1.5, 2.0]))
    model.save(path)
    return path


def loss_of(runtime: KerasRuntime, inputs: dict[str, np.ndarray], target: dict[str, np.ndarray] | None) -> float:
    outputs = runtime.forward(inputs, lambda n, a: None, never)
    if target is None:
        return float(sum(o.astype(np.float64).sum() for o in outputs.values()))
    return float(sum(((outputs[k].astype(np.float64) - target[k]) ** 2).sum() for k in outputs))


def finite_difference(runtime: KerasRuntime, variable: Any, inputs: dict[str, np.ndarray], target: dict[str, np.ndarray] | None, eps: float = 1e-6) -> np.ndarray:
    base = keras.ops.convert_to_numpy(variable).copy()
    grad = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        for sign in (1, -1):
            moved = base.copy()
            moved[index] += sign * eps
            variable.assign(moved)
            grad[index] += sign * loss_of(runtime, inputs, target) / (2 * eps)
    variable.assign(base)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


@pytest.fixture
def true_float64(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras 3 on torch computes float64 layers in float32 (its promotion maps float64 to float32, as
    JAX without x64 does); finite differences need real float64, so this test turns that mapping off."""
    from keras.src.backend.common import dtypes

    monkeypatch.setitem(dtypes.BIT64_TO_BIT32_DTYPE, "float64", "float64")


@pytest.mark.parametrize("with_target", [False, True])
def test_gradients_equal_finite_differences_in_float64(tmp_path: Path, with_target: bool, true_float64: None) -> None:
    model, runtime = runtime_for(float64_net(tmp_path / "f64.keras"))
    inputs = random_inputs(model, seed=8, batch=2)
    target = {"out": np.random.default_rng(9).standard_normal((2, 2))} if with_target else None
    value_grads: dict[str, np.ndarray] = {}
    gradients = runtime.backward(inputs, target, value_grads.__setitem__, never)
    weights = [v.name for node in model.main.nodes for v in node.input_values() if v.initializer is not None]
    assert sorted(gradients) == sorted(weights)
    assert {"bn/moving_mean", "bn/moving_variance", "conv/kernel", "hidden/bias"} <= set(gradients)
    for name, variable in runtime.weights.items():
        expected = finite_difference(runtime, variable, inputs, target)
        assert gradients[name].dtype == np.float64
        assert relative_error(gradients[name], expected) < 1e-3, name
    # Gradients of values: every value named, with its value's shape; the sum loss gives ones at the output.
    assert set(value_grads) == set(node_outputs(model))
    captured, outputs = run_forward(runtime, inputs)
    for name, grad in value_grads.items():
        assert grad.shape == captured[name].shape, name
    if target is None:
        assert np.array_equal(value_grads["out"], np.ones((2, 2)))
        # d(sum of out)/d(cat) is the kernel's row sums, for every sample.
        kernel = keras.ops.convert_to_numpy(runtime.kmodel.get_layer("out").kernel)
        np.testing.assert_allclose(value_grads["cat"], np.tile(kernel.sum(axis=1), (2, 1)), rtol=1e-12)
    else:
        np.testing.assert_allclose(value_grads["out"], 2 * (outputs["out"] - target["out"]), rtol=1e-12)  # type: ignore[index]


def test_backward_leaves_the_model_as_it_was(tmp_path: Path) -> None:
    model, runtime = runtime_for(float64_net(tmp_path / "f64.keras"))
    inputs = random_inputs(model, seed=10)
    before, _ = run_forward(runtime, inputs)
    flags = {name: v.value.requires_grad for name, v in runtime.weights.items()}
    runtime.backward(inputs, None, lambda n, a: None, never)
    after, _ = run_forward(runtime, inputs)
    assert all(before[k].tobytes() == after[k].tobytes() for k in before)
    assert {name: v.value.requires_grad for name, v in runtime.weights.items()} == flags
    assert not flags["bn/moving_mean"]  # non-trainable variables take part only during backward


# -- refusals and the hook ------------------------------------------------------------------
def test_lambda_layer_is_refused_naming_the_layer(tmp_path: Path) -> None:
    x_in = keras.Input((3,))
    y = layers.Lambda(lambda t: t * 2, name="double_it")(layers.Dense(3, name="d")(x_in))
    path = tmp_path / "lambda.keras"
    keras.Model(x_in, y).save(path)
    model = netray.load_model(path)
    with pytest.raises(RunError, match=r"layer 'double_it' is a Lambda layer .*safe_mode=True"):
        keras_plugin.netray_runtime(model=model, name="")


def test_custom_layer_is_refused_naming_the_layer(tmp_path: Path) -> None:
    @keras.saving.register_keras_serializable(package="netray_tests")
    class Twice(layers.Layer):  # type: ignore[misc,name-defined]
        def call(self, x: Any) -> Any:
            return x * 2

    x_in = keras.Input((3,))
    path = tmp_path / "custom.keras"
    keras.Model(x_in, Twice(name="twice")(x_in)).save(path)
    model = netray.load_model(path)
    with pytest.raises(RunError, match=r"layer 'twice' is class Twice from .*no custom objects"):
        keras_plugin.netray_runtime(model=model, name="")


def test_keras_imported_with_another_backend_is_a_run_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = netray.load_model(nan_net(tmp_path / "m.keras"))
    fake = types.SimpleNamespace(backend=types.SimpleNamespace(backend=lambda: "jax"))
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(RunError, match=r"already imported with the jax backend.*KERAS_BACKEND=torch"):
        keras_plugin.netray_runtime(model=model, name="")


def test_cancel_stops_the_walk(tmp_path: Path) -> None:
    model, runtime = runtime_for(functional_net(tmp_path / "net.keras"))
    calls: list[int] = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(RunCancelled):
        runtime.forward(random_inputs(model), lambda n, a: None, cancelled)
    with pytest.raises(RunCancelled):
        calls.clear()
        runtime.backward(random_inputs(model), None, lambda n, a: None, cancelled)


def test_missing_input_is_a_run_error(tmp_path: Path) -> None:
    _, runtime = runtime_for(nan_net(tmp_path / "m.keras"))
    with pytest.raises(RunError, match="no array given for input 'x'"):
        runtime.forward({}, lambda n, a: None, never)


def test_hook_answers_for_keras_models_only(tmp_path: Path, manager: PluginManager, monkeypatch: pytest.MonkeyPatch) -> None:
    model = netray.load_model(nan_net(tmp_path / "m.keras"))
    assert isinstance(manager.runtime(model, ""), KerasRuntime)
    assert keras_plugin.netray_runtime(model=model, name="reference") is None
    assert keras_plugin.netray_runtime(model=Model("ONNX", model.graphs), name="") is None
    from netray_keras import runtime as runtime_module

    monkeypatch.setattr(runtime_module, "missing_packages", lambda: ["torch"])
    assert keras_plugin.netray_runtime(model=model, name="") == RuntimeMissing(runtime="torch", install="pip install netray-plugin-keras[run]")
