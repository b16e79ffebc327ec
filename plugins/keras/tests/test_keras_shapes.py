"""Layer output shapes inferred from Keras configs (netray_keras.shapes), without Keras.

Checked three ways: on the real files (hand-computed chains and class counts), against
the shapes the Keras 3 files state themselves, and against Keras' own ``layer.output``
for a model built and saved by Keras in a subprocess (this process never imports Keras).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import h5py
import pytest

from netray import Graph, Model, TensorType
from netray.ir import Shape
from netray.plugins import PluginManager
from netray_keras import plugin as keras_plugin
from netray_keras.builder import GraphBuilder
from netray_keras.shapes import INFERRED, NoShape, infer_shapes, layer_outputs

# Every Keras file of the shared models, with the last dimension of its model output.
REAL_OUTPUTS = {
    "face_classification/fer2013_big_XCEPTION.54-0.66.hdf5": 7,
    "face_classification/fer2013_mini_XCEPTION.102-0.66.hdf5": 7,
    "face_classification/gender_mini_XCEPTION.21-0.95.hdf5": 2,
    "face_classification/tiny_XCEPTION_KDEF.hdf5": 7,
    "keras3/fashion_mnist_cnn.keras": 10,
    "keras3/melody_lstm.keras": 41,
    "r4ghu_mnist/mnistCNN.h5": 10,
}


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(keras_plugin, "keras")
    return pm


def plain(shape: Shape | None) -> tuple[int | None, ...] | None:
    """A shape with every symbolic dimension (the builder's ``batch``) as None, as Keras writes it."""
    return None if shape is None else tuple(d if isinstance(d, int) else None for d in shape)


def read_config(path: Path) -> dict[str, Any]:
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            config: dict[str, Any] = json.loads(z.read("config.json"))
            return config
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        return config


def rules_only(path: Path) -> Graph:
    """The file's graph with every shape but the inputs' forgotten, then inferred again."""
    graph = Graph("rules")
    builder = GraphBuilder(graph, None)
    graph.outputs = builder.build_model(read_config(path), (), None)
    graph.link()
    for value in graph.values.values():
        if value not in graph.inputs:
            value.type = TensorType()
    infer_shapes(graph, builder.layers)
    return graph


# -- real files ------------------------------------------------------------------------------------
def test_every_shared_keras_file_is_listed(shared_models: Path) -> None:
    found = {p.relative_to(shared_models / "keras").as_posix() for p in (shared_models / "keras").rglob("*") if p.suffix in (".h5", ".hdf5", ".keras")}
    assert found == set(REAL_OUTPUTS)


@pytest.mark.parametrize("relative", sorted(REAL_OUTPUTS))
def test_real_file_has_every_layer_output_shape(shared_models: Path, manager: PluginManager, relative: str) -> None:
    model: Model = manager.load(shared_models / "keras" / relative)
    graph = model.graphs[0]
    for node in graph.nodes:
        for value in node.output_values():
            shape = value.type.shape
            assert shape is not None and all(isinstance(d, int) for d in shape[1:]), f"{node.op} {value.name}: {value.type}"
            assert shape[0] in ("batch", None), value.type  # the batch stays symbolic
            assert value.type.dtype == "float32", value.type
    (output,) = graph.outputs
    assert output.type.shape is not None and output.type.shape[1:] == (REAL_OUTPUTS[relative],)
    assert output.type.inferred == INFERRED  # no file states its final output's shape


def test_mnist_cnn_shapes_by_hand(shared_models: Path, manager: PluginManager) -> None:
    graph = manager.load(shared_models / "keras" / "r4ghu_mnist" / "mnistCNN.h5").graphs[0]
    shapes = [plain(v.type.shape) for n in graph.nodes for v in n.output_values()]
    assert shapes == [
        (None, 24, 24, 32),  # 5x5 valid conv of 28x28
        (None, 12, 12, 32),
        (None, 10, 10, 64),
        (None, 5, 5, 64),
        (None, 5, 5, 128),
        (None, 2, 2, 128),  # 2x2 pooling floors 5 to 2
        (None, 512),
        (None, 128),
        (None, 10),
    ]
    assert all(v.type.inferred == INFERRED for n in graph.nodes for v in n.output_values())


@pytest.mark.parametrize("relative", ["keras3/fashion_mnist_cnn.keras", "keras3/melody_lstm.keras"])
def test_rules_agree_with_the_input_shapes_keras3_files_state(shared_models: Path, relative: str) -> None:
    """Keras 3 writes the input shape each layer was built for (``build_config``): the previous layer's output."""
    path = shared_models / "keras" / relative
    layers = read_config(path)["config"]["layers"]
    built = {layer["config"]["name"]: (layer.get("build_config") or {}).get("input_shape") for layer in layers}
    compared = 0
    for node in rules_only(path).nodes:
        (taken,) = node.inputs[0].values
        expected = built.get(node.name)
        if expected is not None:
            assert plain(taken.type.shape) == tuple(expected), node.name
            compared += 1
    assert compared >= 2


# -- rules without Keras ---------------------------------------------------------------------------
def test_rules_on_configs() -> None:
    assert layer_outputs("Conv3D", {"filters": 5, "kernel_size": 3, "strides": [1, 2, 2], "padding": "same"}, [(None, 8, 9, 10, 3)]) == [(None, 8, 5, 5, 5)]
    assert layer_outputs("MaxPooling2D", {"pool_size": [2, 2], "data_format": "channels_first"}, [(None, 3, 9, 8)]) == [(None, 3, 4, 4)]
    assert layer_outputs("GlobalAveragePooling1D", {"data_format": "channels_first", "keepdims": True}, [(None, 6, 20)]) == [(None, 6, 1)]
    assert layer_outputs("Reshape", {"target_shape": [-1, 3]}, [(None, None, 6)]) == [(None, None, 3)]
    assert layer_outputs("GRU", {"units": 4, "return_state": True, "time_major": True, "return_sequences": True}, [(7, 2, 3)]) == [(7, 2, 4), (2, 4)]
    assert layer_outputs("Bidirectional", {"layer": {"class_name": "LSTM", "config": {"units": 3, "return_state": True}}, "merge_mode": None}, [(None, 5, 2)]) == [
        (None, 3),
        (None, 3),
        *[(None, 3)] * 4,
    ]
    assert layer_outputs("Add", {}, [("batch", 4, 1), ("batch", 1, 5)]) == [("batch", 4, 5)]
    assert layer_outputs("Embedding", {"output_dim": 8, "input_length": 12}, [(None, None)]) == [(None, 12, 8)]
    assert layer_outputs("Dense", {"units": 3}, [(4, 2)]) == [(4, 3)]  # a batch the config fixes is kept


@pytest.mark.parametrize(
    ("class_name", "config", "inputs"),
    [
        ("Lambda", {"function": "...", "output_shape": [3]}, [(None, 3)]),  # never guessed, whatever it declares
        ("MyLayer", {}, [(None, 3)]),
        ("TimeDistributed", {"layer": {"class_name": "Dense", "module": "my_package", "config": {"units": 2}}}, [(None, 4, 3)]),
        ("Conv2D", {"filters": 2, "kernel_size": 5}, [(None, 3, 3, 1)]),  # no room for the kernel
        ("Reshape", {"target_shape": [4, -1]}, [(None, 6)]),
        ("Dense", {"units": True}, [(None, 6)]),
        ("Dense", {"units": 2}, [None]),
    ],
)
def test_rules_refuse_what_they_cannot_know(class_name: str, config: dict[str, Any], inputs: list[Shape | None]) -> None:
    with pytest.raises(NoShape):
        layer_outputs(class_name, config, inputs)


def test_wrappers_nesting_without_end_are_refused() -> None:
    layer: dict[str, Any] = {"class_name": "Dense", "config": {"units": 2}}
    for _ in range(50):
        layer = {"class_name": "TimeDistributed", "config": {"layer": layer}}
    with pytest.raises(NoShape):
        layer_outputs(layer["class_name"], layer["config"], [(None, *(2,) * 60)])


# -- against Keras itself --------------------------------------------------------------------------
KERAS_SCRIPT = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "torch"
import keras
from keras import layers

out = sys.argv[1]
image = keras.Input((28, 28, 3), name="image")
x = layers.Conv2D(8, 3, strides=2, padding="same", name="conv_same")(image)
x = layers.Conv2D(8, 3, dilation_rate=2, name="conv_dilated")(x)
x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)
x = layers.SeparableConv2D(12, 3, strides=2, name="separable")(x)
x = layers.Conv2DTranspose(6, 3, strides=2, padding="same", name="deconv_same")(x)
x = layers.Conv2DTranspose(6, 3, strides=2, output_padding=1, name="deconv_padded")(x)
x = layers.ZeroPadding2D(((1, 2), (0, 3)), name="pad")(x)
x = layers.Cropping2D((2, 1), name="crop")(x)
x = layers.UpSampling2D((2, 1), name="up")(x)
x = layers.MaxPooling2D(3, strides=2, padding="same", name="max_same")(x)
x = layers.AveragePooling2D(2, name="avg")(x)
x = layers.BatchNormalization(name="bn")(x)
x = layers.Conv2D(4, 1, data_format="channels_first", name="conv_first")(x)
kept = layers.GlobalAveragePooling2D(keepdims=True, name="gap_keep")(x)
flat = layers.Flatten(name="flatten")(x)
feat = layers.Dense(32, activation="relu", name="dense")(flat)
feat = layers.Dropout(0.1, name="drop")(feat)
seq = layers.Reshape((-1, 4), name="reshape")(feat)
seq = layers.Permute((2, 1), name="permute")(seq)
whole, h, c = layers.LSTM(5, return_sequences=True, return_state=True, name="lstm")(seq)
both = layers.Bidirectional(layers.GRU(3, return_sequences=True), name="bigru")(whole)
summed = layers.Bidirectional(layers.SimpleRNN(2), merge_mode="sum", name="birnn")(both)
td = layers.TimeDistributed(layers.Dense(7), name="td")(both)
pooled = layers.GlobalMaxPooling1D(name="gmp")(td)
conv1 = layers.Conv1D(6, 3, padding="causal", name="conv1d")(td)
conv1 = layers.MaxPooling1D(2, name="pool1d")(conv1)
conv1 = layers.UpSampling1D(3, name="up1d")(conv1)
conv1 = layers.ZeroPadding1D((1, 2), name="pad1d")(conv1)
conv1 = layers.Cropping1D((2, 0), name="crop1d")(conv1)
attended = layers.MultiHeadAttention(2, 4, name="mha")(conv1, td)
shared = layers.Dense(5, name="shared")
merged = layers.Concatenate(name="concat")([layers.Flatten(name="flat_att")(attended), pooled, shared(h), shared(c), summed])
scale = layers.Dense(1, name="scale")(merged)
merged = layers.Multiply(name="broadcast_mul")([merged, scale])
merged = layers.Add(name="add")([merged, layers.Dense(merged.shape[-1], name="skip")(merged)])
repeated = layers.RepeatVector(3, name="repeat")(merged)
dotted = layers.Dot(axes=(2, 2), name="dot")([repeated, repeated])
tokens = keras.Input((None,), dtype="int32", name="tokens")
encoded = layers.LSTM(6, name="encode")(layers.Embedding(50, 6, name="embed")(tokens))
head = keras.Sequential([layers.Dense(16, name="head_dense"), layers.LayerNormalization(name="head_norm")], name="head")
logits = layers.Dense(10, name="logits")(head(layers.Concatenate(name="join")([merged, encoded])))
probs = layers.Softmax(name="probs")(logits)
doubled = layers.Lambda(lambda t: t * 2, name="lambda")(probs)
model = keras.Model([image, tokens], [probs, dotted, kept, doubled], name="shapes")

facts = {}
def collect(m, scope):
    for layer in m.layers:
        if isinstance(layer, keras.Model):
            collect(layer, (*scope, layer.name))
        elif type(layer).__name__ != "InputLayer":
            facts["/".join((*scope, layer.name))] = [
                [list(t.shape) for t in keras.tree.flatten(node.output_tensors)] for node in layer._inbound_nodes
            ]
collect(model, ())
for ext in ("keras", "h5"):
    model.save(os.path.join(out, f"shapes.{ext}"))
json.dump(facts, open(os.path.join(out, "facts.json"), "w"))
"""


@pytest.fixture(scope="module")
def keras_saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[list[list[int | None]]]]]:
    """A model Keras 3 saved, and Keras' own output shapes of each call of each layer."""
    for module in ("keras", "torch"):  # looked up, not imported: Keras runs in the subprocess only
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: cannot compare with Keras' own shapes")
    out = tmp_path_factory.mktemp("keras_shapes")
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", KERAS_SCRIPT, str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return out, json.loads((out / "facts.json").read_text())


def compare_with_keras(graph: Graph, facts: dict[str, list[list[list[int | None]]]]) -> int:
    compared = 0
    for node in graph.nodes:
        calls = facts["/".join((*node.scope, node.name))]
        ports = [p for p in node.outputs if p.name == "output" or p.name.startswith("output@")]
        assert len(ports) == len(calls), node.name
        for port, expected in zip(ports, calls, strict=True):
            for value, shape in zip(port.values, expected, strict=False):
                if node.op == "Lambda":
                    assert value.type.shape is None  # its function is code: never guessed
                    continue
                assert plain(value.type.shape) == tuple(shape), f"{node.name} {value.name}"
                compared += 1
    return compared


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_shapes_match_keras_itself(manager: PluginManager, keras_saved: tuple[Path, dict[str, Any]], ext: str) -> None:
    out, facts = keras_saved
    path = out / f"shapes.{ext}"
    assert compare_with_keras(manager.load(path).graphs[0], facts) >= 45
    assert compare_with_keras(rules_only(path), facts) >= 45  # from the inputs alone, not what the file states


def test_inferred_dtypes_follow_the_layers(manager: PluginManager, keras_saved: tuple[Path, dict[str, Any]]) -> None:
    graph = manager.load(keras_saved[0] / "shapes.keras").graphs[0]
    assert graph.values["tokens"].type.dtype == "int32"
    assert graph.values["embed"].type.dtype == "float32"
    dot = graph.values["dot"].type  # a model output: no consumer states its shape
    assert dot.dtype == "float32" and dot.inferred == INFERRED
