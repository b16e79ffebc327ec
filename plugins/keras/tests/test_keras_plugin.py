"""The Keras plugin on real files and on models saved here by Keras 3 itself (torch backend).

Keras runs in a subprocess that saves the models and reports Keras' own facts
(layer counts, parameter counts), so this process never imports Keras and
the plugin is checked against the framework, not against itself.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import pickle
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from conftest import SHARED_MODELS
from netray import Category, FormatError, Model
from netray.plugins import PluginManager
from netray.summary import model_summary
from netray_keras import plugin as keras_plugin
from netray_keras.reader import read_keras

REAL_FILES = sorted(p for p in (SHARED_MODELS / "keras").rglob("*") if p.suffix in (".keras", ".h5", ".hdf5"))

KERAS_SCRIPT = r"""
import json, sys, os
os.environ["KERAS_BACKEND"] = "torch"
import keras
from keras import layers

out = sys.argv[1]
facts = {}

def keras_layers(model):
    return sum(1 for layer in model.layers if type(layer).__name__ != "InputLayer")

# Functional with a shared layer and two nested models (one Functional, one Sequential).
inner_in = keras.Input((8,), name="inner_in")
encoder = keras.Model(inner_in, layers.Dense(4, activation="relu", name="inner_dense")(inner_in), name="encoder")
a = keras.Input((8,), name="a")
b = keras.Input((8,), name="b")
shared = layers.Dense(8, name="shared_dense")
merged = layers.Add(name="add")([shared(a), shared(b)])
head = keras.Sequential([layers.Dense(3, name="s1"), layers.Softmax(name="sm")], name="head")
twin = keras.Model([a, b], head(encoder(merged)), name="twin")
for ext in ("keras", "h5"):
    twin.save(os.path.join(out, f"twin.{ext}"))
facts["twin"] = {"layers": keras_layers(twin), "params": twin.count_params(),
                 "flat_layers": keras_layers(twin) - 2 + keras_layers(encoder) + keras_layers(head)}

# A small CNN with batch normalization, whose weights we compare value by value.
x_in = keras.Input((12, 12, 3), name="image")
x = layers.Conv2D(4, 3, padding="same", name="conv")(x_in)
x = layers.BatchNormalization(name="bn")(x)
x = layers.ReLU(name="relu")(x)
x = layers.GlobalAveragePooling2D(name="gap")(x)
y = layers.Dense(2, name="logits")(x)
cnn = keras.Model(x_in, y, name="cnn")
cnn.save(os.path.join(out, "cnn.keras"))
facts["cnn"] = {"layers": keras_layers(cnn), "params": cnn.count_params(),
                "weights": {w.path: w.numpy().tolist() for w in cnn.weights}}

# Recurrent wrappers (weights nested below the layer) in a Sequential with an Input.
rnn = keras.Sequential([keras.Input((5,), dtype="int32"), layers.Embedding(20, 6), layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
                        layers.TimeDistributed(layers.Dense(3)), layers.GRU(2)], name="rnn")
for ext in ("keras", "h5"):
    rnn.save(os.path.join(out, f"rnn.{ext}"))
facts["rnn"] = {"layers": keras_layers(rnn), "params": rnn.count_params(), "variables": len(rnn.weights)}

# A Lambda layer: its Python bytecode is saved in the config; reading must never run it.
marker = os.path.join(out, "lambda_ran.txt")
def side_effect(t):
    open(marker, "w").write("ran")
    return t
lam_in = keras.Input((4,), name="lam_in")
lam = keras.Model(lam_in, layers.Lambda(side_effect, name="evil_lambda")(lam_in), name="lam")
lam.save(os.path.join(out, "lambda.keras"))
lam.save(os.path.join(out, "lambda.h5"))
os.remove(marker)

# A subclassed model: its graph is Python code, only its config and variables are saved.
@keras.saving.register_keras_serializable(package="netray_test")
class Subclassed(keras.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.proj = layers.Dense(units)
        self.blocks = [layers.Dense(3), layers.Dense(units)]
    def call(self, x):
        return self.proj(x) + self.blocks[1](self.blocks[0](x))
    def get_config(self):
        return {"units": 2, "name": self.name}
sub = Subclassed(name="subclassed")
sub(keras.ops.zeros((1, 3)))
sub.save(os.path.join(out, "subclassed.keras"))
facts["subclassed"] = {"params": sub.count_params(), "variables": len(sub.weights)}

# The in-memory object through the plugin's load_object hook (only this plugin registered).
from netray.plugins import PluginManager
from netray.summary import model_summary
from netray_keras import plugin as keras_plugin
pm = PluginManager(load_entry_points=False)
pm.register(keras_plugin, "keras")
seen = pm.load_object(twin, {})
kernel = seen.graphs[0].values["shared_dense/kernel"].initializer.numpy()
facts["object"] = {"nodes": len(seen.graphs[0].nodes), "params": model_summary(seen)["parameters"],
                   "layers_property": seen.properties.get("layers"), "format": seen.format,
                   "kernel_equal": bool((kernel == shared.kernel.numpy()).all())}

# Keras' own view of the real .keras files.
real = {}
for path in sys.argv[2:]:
    try:
        model = keras.saving.load_model(path, compile=False)
        real[path] = {"layers": keras_layers(model), "params": model.count_params()}
    except Exception as exc:
        real[path] = {"error": str(exc)[:200]}
facts["real"] = real
json.dump(facts, open(os.path.join(out, "facts.json"), "w"))
"""


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(keras_plugin, "keras")
    return pm


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Models saved by Keras 3 and Keras' facts about them and about the real .keras files."""
    for module in ("keras", "torch"):  # looked up, not imported: Keras runs in the subprocess only
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    out = tmp_path_factory.mktemp("keras_models")
    real = [str(p) for p in REAL_FILES if p.suffix == ".keras"]
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", KERAS_SCRIPT, str(out), *real], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return out, json.loads((out / "facts.json").read_text())


def layers_in_config(path: Path) -> list[str]:
    """Class names of the top-level layers, read straight from the file (independent of the plugin)."""
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
    else:
        with h5py.File(path, "r") as f:
            config = json.loads(f.attrs["model_config"])
    inner = config["config"]
    layers = inner if isinstance(inner, list) else inner["layers"]
    return [layer["class_name"] for layer in layers]


def manifest_layers(path: Path) -> int:
    """The ``layers=N`` of MANIFEST.tsv's check note for the file (the config's layer list)."""
    relative = path.relative_to(SHARED_MODELS).as_posix()
    for line in (SHARED_MODELS / "MANIFEST.tsv").read_text().splitlines():
        if line.startswith(relative + "\t"):
            return int(line.rsplit("layers=", 1)[1].split()[0])
    raise AssertionError(f"{relative} not in MANIFEST.tsv")


def h5_parameter_count(path: Path) -> int:
    """Elements of every dataset under model_weights (Keras 2) or layers/ (Keras 3), via h5py."""
    total = 0

    def add(name: str, obj: object) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            total += int(np.prod(obj.shape))

    if path.suffix == ".keras":
        import io

        with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            f["layers"].visititems(add)
    else:
        with h5py.File(path, "r") as f:
            f["model_weights"].visititems(add)
    return total


# -- real files -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_file_counts_keras_layers(shared_models: Path, manager: PluginManager, path: Path) -> None:
    model = manager.load(path)
    summary = model_summary(model)
    classes = layers_in_config(path)
    assert len(classes) == manifest_layers(path)  # MANIFEST's layers=N is the config's layer list
    assert summary["graphs"][0]["nodes"] == manifest_layers(path) - classes.count("InputLayer")
    assert summary["format"].startswith("Keras ")
    assert summary["parameters"] == h5_parameter_count(path)
    assert model.graphs[0].inputs and model.graphs[0].outputs
    for node in model.graphs[0].nodes:
        assert node.category is not Category.CUSTOM, node.op


def test_real_keras3_files_match_keras_itself(shared_models: Path, manager: PluginManager, generated: tuple[Path, dict[str, Any]]) -> None:
    _, facts = generated
    checked = 0
    for path_text, fact in facts["real"].items():
        if "error" in fact:
            continue
        summary = model_summary(manager.load(path_text))
        assert summary["graphs"][0]["nodes"] == fact["layers"], path_text
        assert summary["parameters"] == fact["params"], path_text
        checked += 1
    assert checked >= 1


def test_keras2_xception_is_a_dag_with_residual_adds(shared_models: Path, manager: PluginManager) -> None:
    model = manager.load(shared_models / "keras" / "face_classification" / "fer2013_mini_XCEPTION.102-0.66.hdf5")
    graph = model.graphs[0]
    adds = [n for n in graph.nodes if n.op == "Add"]
    assert adds and all(len(n.inputs[0].values) == 2 for n in adds)
    assert all(v.producer is not None for n in graph.nodes for v in n.inputs[0].values if v not in graph.inputs)
    conv = next(n for n in graph.nodes if n.op == "SeparableConv2D")
    assert {p.name for p in conv.inputs} >= {"depthwise_kernel", "pointwise_kernel"}
    assert model.format_version == "2.0.5" and model.properties["backend"] == "tensorflow"


def test_real_weights_are_lazy_slices_of_the_file(shared_models: Path, manager: PluginManager) -> None:
    path = shared_models / "keras" / "keras3" / "fashion_mnist_cnn.keras"
    model = manager.load(path)
    kernel = model.graphs[0].values["conv2d/kernel"].initializer
    assert kernel is not None and "@" in kernel.location  # stored member: memory-mapped slice
    import io

    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        expected = f["layers/conv2d/vars/0"][()]
    assert np.array_equal(kernel.numpy(), expected)


# -- generated by Keras ---------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_shared_layer_and_nested_models(manager: PluginManager, generated: tuple[Path, dict[str, Any]], ext: str) -> None:
    out, facts = generated
    model = manager.load(out / f"twin.{ext}")
    graph = model.graphs[0]
    assert model.properties["layers"] == str(facts["twin"]["layers"])  # Keras' top-level count
    assert len(graph.nodes) == facts["twin"]["flat_layers"]  # nested models are groups of their layers
    assert model_summary(model)["parameters"] == facts["twin"]["params"]
    shared = next(n for n in graph.nodes if n.name == "shared_dense")
    assert shared.metadata["calls"] == "2"
    assert [v.name for v in shared.inputs[0].values] == ["a"] and [v.name for v in shared.inputs[1].values] == ["b"]
    add = next(n for n in graph.nodes if n.op == "Add")
    assert {v.producer for v in add.inputs[0].values} == {shared}
    inner = next(n for n in graph.nodes if n.name == "inner_dense")
    assert inner.scope == ("encoder",) and inner.inputs[0].values[0].producer is add
    sm = next(n for n in graph.nodes if n.name == "sm")
    assert sm.scope == ("head",) and graph.outputs == list(sm.output_values())
    assert [v.name for v in graph.inputs] == ["a", "b"]
    assert graph.inputs[0].type.shape == ("batch", 8)


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_recurrent_wrappers(manager: PluginManager, generated: tuple[Path, dict[str, Any]], ext: str) -> None:
    out, facts = generated
    model = manager.load(out / f"rnn.{ext}")
    graph = model.graphs[0]
    assert len(graph.nodes) == facts["rnn"]["layers"]
    assert model_summary(model)["parameters"] == facts["rnn"]["params"]
    assert len(list(graph.weights())) == facts["rnn"]["variables"]
    assert [n.op for n in graph.nodes] == ["Embedding", "Bidirectional", "TimeDistributed", "GRU"]
    assert graph.inputs[0].type.dtype == "int32"
    bidirectional = graph.nodes[1]
    ports = [p.name for p in bidirectional.inputs[1:]]
    assert len(ports) == len(set(ports)) == 6  # forward and backward kernels told apart


def test_weights_match_keras_values(manager: PluginManager, generated: tuple[Path, dict[str, Any]]) -> None:
    out, facts = generated
    model = manager.load(out / "cnn.keras")
    assert len(model.graphs[0].nodes) == facts["cnn"]["layers"]
    expected = facts["cnn"]["weights"]
    found = {v.name: v.initializer for v in model.graphs[0].weights()}
    assert set(found) == set(expected)  # Keras 3 variable paths: "conv/kernel", "bn/moving_mean"...
    for name, tensor in found.items():
        assert tensor is not None
        assert np.allclose(tensor.numpy(), np.asarray(expected[name], dtype=np.float32))
    bn = next(n for n in model.graphs[0].nodes if n.op == "BatchNormalization")
    assert bn.category is Category.NORMALIZATION
    assert [p.name for p in bn.inputs[1:]] == ["gamma", "beta", "moving_mean", "moving_variance"]


def test_compressed_archive_reads_weights_on_demand(tmp_path: Path, manager: PluginManager, generated: tuple[Path, dict[str, Any]]) -> None:
    out, _ = generated
    deflated = tmp_path / "cnn_deflated.keras"
    with zipfile.ZipFile(out / "cnn.keras") as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    stored = {v.name: v.initializer for v in manager.load(out / "cnn.keras").graphs[0].weights()}
    packed = {v.name: v.initializer for v in manager.load(deflated).graphs[0].weights()}
    assert set(stored) == set(packed)
    for name, tensor in packed.items():
        assert tensor is not None and "@" not in tensor.location
        assert np.array_equal(tensor.numpy(), stored[name].numpy())  # type: ignore[union-attr]


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_lambda_bytecode_is_shown_never_run(manager: PluginManager, generated: tuple[Path, dict[str, Any]], ext: str) -> None:
    out, _ = generated
    model = manager.load(out / f"lambda.{ext}")
    (node,) = model.graphs[0].nodes
    assert node.op == "Lambda" and node.category is Category.CUSTOM
    assert node.attribute("function") is not None or any(a.name.startswith("function") for a in node.attributes)
    assert not (out / "lambda_ran.txt").exists()


def test_subclassed_model_is_a_safe_partial_view(manager: PluginManager, generated: tuple[Path, dict[str, Any]]) -> None:
    out, facts = generated
    model = manager.load(out / "subclassed.keras")
    (node,) = model.graphs[0].nodes
    assert node.op == "Subclassed" and node.category is Category.CUSTOM
    assert "call()" in node.metadata["note"]
    assert model_summary(model)["parameters"] == facts["subclassed"]["params"]
    assert len(node.weights()) == facts["subclassed"]["variables"]


def test_in_memory_keras_model(generated: tuple[Path, dict[str, Any]]) -> None:
    _, facts = generated
    seen = facts["object"]
    assert seen["format"] == "Keras"
    assert seen["nodes"] == facts["twin"]["flat_layers"] and seen["params"] == facts["twin"]["params"]
    assert seen["layers_property"] == str(facts["twin"]["layers"])
    assert seen["kernel_equal"]


def test_operator_info(manager: PluginManager) -> None:
    info = manager.operator_info("Keras", "", "Conv2D")
    assert info is not None and info.category is Category.LAYER
    assert manager.operator_info("Keras", "", "NoSuchLayer") is None
    # Layers whose shapes the rules know are in the table too (category and summary), 3-D ones included.
    for name, category in (("ConvLSTM3D", Category.LAYER), ("ZeroPadding3D", Category.SHAPE), ("Cropping3D", Category.SHAPE),
                           ("UpSampling3D", Category.SHAPE), ("Resizing", Category.SHAPE), ("CenterCrop", Category.SHAPE)):
        info = manager.operator_info("Keras", "", name)
        assert info is not None and info.category is category and info.summary, name


def test_every_layer_with_a_shape_rule_has_a_category() -> None:
    from netray_keras.layers import LAYERS
    from netray_keras.shapes import RULES

    assert sorted(set(RULES) - set(LAYERS)) == []


# -- hostile input ----------------------------------------------------------------------------
def keras_archive(path: Path, config: dict[str, Any], extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.99.0"}))
        z.writestr("config.json", json.dumps(config))
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def hostile_functional() -> dict[str, Any]:
    """A Functional config naming classes from os and from a module that must never be imported."""

    def tensor(layer: str) -> dict[str, Any]:
        return {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "float32", "keras_history": [layer, 0, 0]}}

    return {
        "module": "keras",
        "class_name": "Functional",
        "config": {
            "name": "hostile",
            "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [None, 4], "dtype": "float32"}, "inbound_nodes": []},
                {
                    "module": "os",
                    "class_name": "system",
                    "registered_name": "os>system",
                    "name": "shell",
                    "config": {"name": "shell", "command": "touch /tmp/netray_pwned"},
                    "inbound_nodes": [{"args": [tensor("x")], "kwargs": {}}],
                },
                {
                    "module": "netray_never_imported_module_7f3a",
                    "class_name": "EvilLayer",
                    "registered_name": "Custom>EvilLayer",
                    "name": "evil",
                    "config": {"name": "evil", "units": 3, "payload": {"nested": {"depth": 2}}},
                    "inbound_nodes": [{"args": [tensor("shell")], "kwargs": {}}],
                },
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["evil", 0, 0]],
        },
    }


class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "executed"))


def test_custom_classes_are_shown_and_never_imported(tmp_path: Path, manager: PluginManager) -> None:
    marker = tmp_path / "pickle_ran.txt"
    payload = pickle.dumps(_WritesMarker(marker))
    config = hostile_functional()
    config["config"]["layers"][2]["config"]["blob"] = base64.b64encode(payload).decode()
    path = keras_archive(tmp_path / "hostile.keras", config, {"assets/evil.pkl": payload})
    model = manager.load(path)
    shell, evil = model.graphs[0].nodes
    assert shell.op == "system" and shell.category is Category.CUSTOM and shell.domain == "os"
    command = shell.attribute("command")
    assert command is not None and command.value == "touch /tmp/netray_pwned"
    assert evil.category is Category.CUSTOM
    nested = evil.attribute("payload.nested.depth")
    assert nested is not None and nested.value == 2
    assert "netray_never_imported_module_7f3a" not in sys.modules
    assert not marker.exists() and not Path("/tmp/netray_pwned").exists()
    assert len(model.graphs[0].nodes) == 2


def test_pickle_disguised_as_keras_file(tmp_path: Path, manager: PluginManager) -> None:
    marker = tmp_path / "marker.txt"
    for name in ("evil.keras", "evil.h5"):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(_WritesMarker(marker)))
        with pytest.raises(FormatError):
            manager.load(path)
        with pytest.raises(FormatError):
            read_keras(path)
    assert not marker.exists()


def test_truncated_archive(shared_models: Path, tmp_path: Path, manager: PluginManager) -> None:
    data = (shared_models / "keras" / "keras3" / "melody_lstm.keras").read_bytes()
    for cut in (10, 100, 4000, len(data) // 2, len(data) - 100):
        path = tmp_path / f"cut{cut}.keras"
        path.write_bytes(data[:cut])
        with pytest.raises(FormatError) as info:
            read_keras(path)
        assert "Keras" in str(info.value) and str(path) in str(info.value)


def test_corrupt_and_truncated_hdf5(shared_models: Path, tmp_path: Path, manager: PluginManager) -> None:
    data = (shared_models / "keras" / "r4ghu_mnist" / "mnistCNN.h5").read_bytes()
    rng = random.Random(7)
    cases = {"truncated.h5": data[: len(data) // 3], "header_only.h5": data[:512]}
    for i in range(6):
        corrupt = bytearray(data)
        start = rng.randrange(8, 4096)
        corrupt[start : start + 64] = rng.randbytes(64)
        cases[f"corrupt{i}.h5"] = bytes(corrupt)
    for name, blob in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        try:
            model = read_keras(path)
        except FormatError as exc:
            assert "Keras" in str(exc)
        else:  # a safe partial view; reading its weights must fail cleanly or succeed
            assert isinstance(model, Model)
            for v in model.graphs[0].weights():
                try:
                    v.initializer.numpy()  # type: ignore[union-attr]
                except FormatError:
                    pass


def test_random_bytes_and_bad_json(tmp_path: Path, manager: PluginManager) -> None:
    random_path = tmp_path / "noise.h5"
    random_path.write_bytes(random.Random(3).randbytes(2048))
    with pytest.raises(FormatError):
        manager.load(random_path)
    bad_json = tmp_path / "bad.keras"
    with zipfile.ZipFile(bad_json, "w") as z:
        z.writestr("metadata.json", "{}")
        z.writestr("config.json", "{not json")
    with pytest.raises(FormatError, match=r"config\.json"):
        manager.load(bad_json)
    deep = tmp_path / "deep.keras"
    with zipfile.ZipFile(deep, "w") as z:
        z.writestr("metadata.json", "{}")
        z.writestr("config.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(FormatError):
        manager.load(deep)


def test_weights_only_hdf5_explains(tmp_path: Path, manager: PluginManager) -> None:
    path = tmp_path / "weights_only.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        f.create_group("dense").attrs["weight_names"] = [b"dense/kernel:0"]
    with pytest.raises(FormatError, match="weights only"):
        manager.load(path)


def test_file_is_not_modified(shared_models: Path, tmp_path: Path, manager: PluginManager) -> None:
    path = tmp_path / "copy.h5"
    path.write_bytes((shared_models / "keras" / "r4ghu_mnist" / "mnistCNN.h5").read_bytes())
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    model = manager.load(path)
    for v in model.graphs[0].weights():
        v.initializer.numpy()  # type: ignore[union-attr]
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_real_keras_files_are_present(shared_models: Path) -> None:
    """Guards the parametrised real-file tests against silently collecting nothing."""
    assert {p.suffix for p in REAL_FILES} >= {".keras", ".h5", ".hdf5"}
