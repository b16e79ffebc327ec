"""The TensorFlow.js plugin on the real model.json files, on models written as the converter writes them, and on hostile input.

Generated layers models come from Keras 3 (torch backend) through the converter's own
steps (tfjs_writer.py); generated graph models are GraphDefs built with TensorFlow's
protobuf messages (tensorboard's copies) whose Const values are Keras weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, types_pb2  # noqa: E402
from tfjs_writer import (  # noqa: E402
    affine_range,
    quantize,
    save_graph_as_tfjs,
    save_keras3_as_tfjs,
    write_weights,
)

import netray.testing  # noqa: E402
from netray import Category, FormatError  # noqa: E402
from netray.plugins import PluginManager  # noqa: E402
from netray_tfjs import plugin  # noqa: E402

# Keras itself warns (numpy 2 __array__ protocol) when handing out its weights.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

LAYERS = "TensorFlow.js layers model"
GRAPH = "TensorFlow.js graph model"


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "tfjs")
    return pm


def real(shared_models: Path, name: str) -> Path:
    return shared_models / "tfjs" / name / "model.json"


def manifest_of(path: Path) -> list[dict]:
    return json.loads(path.read_text())["weightsManifest"]


def dequantized(stored: np.ndarray, q: dict) -> np.ndarray:
    """TensorFlow.js' decodeWeight: q * scale + min in doubles, kept as float32."""
    if q["dtype"] == "float16":
        return stored.astype(np.float32)
    return (stored.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)


# -- real files --------------------------------------------------------------------------------------


def test_every_real_model_json_opens(shared_models: Path, tmp_path: Path) -> None:
    files = sorted((shared_models / "tfjs").glob("*/model.json"))
    assert len(files) == 5
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    formats = {path.parent.name: model.format for path, model in zip(files, models, strict=True)}
    assert formats == {
        "abalone_layers": LAYERS,
        "angular_prefetch": GRAPH,
        "nsfwjs_inception_v3": LAYERS,
        "nsfwjs_mobilenet_v2": LAYERS,
        "pose_detection_graph": GRAPH,
    }


def test_real_layers_model_from_tfjs_layers(shared_models: Path) -> None:
    path = real(shared_models, "abalone_layers")
    model = manager().load(path)
    g = model.main
    assert [n.op for n in g.nodes] == ["Dense"] * 3 and [n.name for n in g.nodes] == [
        f"dense_Dense{i}" for i in (1, 2, 3)
    ]
    assert (
        model.properties["keras version"] == "tfjs-layers 1.3.2"
        and model.producer == "TensorFlow.js tfjs-layers v1.3.2"
    )
    assert [v.name for v in g.inputs] == ["dense_Dense1_input"] and g.inputs[0].type.shape == ("batch", 8)
    first = g.nodes[0]
    assert first.attribute("units").value == 50 and first.attribute("activation").value == "sigmoid"
    assert first.category is Category.LAYER
    # Weights by layer name, values straight from weights.bin (float32, back to back).
    raw = np.fromfile(path.parent / "weights.bin", "<f4")
    offset = 0
    for spec in manifest_of(path)[0]["weights"]:
        layer, variable = spec["name"].split("/")
        node = next(n for n in g.nodes if n.name == layer)
        port = next(p for p in node.inputs if p.name == variable)
        count = int(np.prod(spec["shape"]))
        np.testing.assert_array_equal(port.values[0].initializer.numpy().ravel(), raw[offset : offset + count])
        offset += count
    assert offset * 4 == (path.parent / "weights.bin").stat().st_size and not model.tensors


def test_real_quantized_mobilenet_dequantizes_as_tfjs_does(shared_models: Path) -> None:
    path = real(shared_models, "nsfwjs_mobilenet_v2")
    model = manager().load(path)
    g = model.main
    assert len(g.nodes) == 161 and model.properties["layers"] == 161 and model.producer == "Keras 2.2.4"
    assert model.properties["loss"] == "categorical_crossentropy"
    specs = manifest_of(path)[0]["weights"]
    shard = np.fromfile(path.parent / "group1-shard1of1", np.uint8)
    weights = {
        v.name.split("/", 1)[0] + "/" + p.name: v.initializer
        for n in g.nodes
        for p in n.inputs
        for v in p.values
        if v.initializer
    }
    assert len(weights) == len(specs) == 266
    offset = 0
    for spec in specs:
        count = int(np.prod(spec["shape"]))
        expected = dequantized(shard[offset : offset + count], spec["quantization"]).reshape(spec["shape"])
        offset += count
        tensor = weights[spec["name"]]
        assert tensor.dtype == "float32" and tensor.byte_size == count and tensor.shape == tuple(spec["shape"])
        assert tensor.quantization is not None and tensor.quantization.details["stored_as"] == "uint8"
        assert tensor.quantization.scale == [spec["quantization"]["scale"]]
        np.testing.assert_array_equal(tensor.numpy(), expected)
    assert offset == shard.size  # the manifest covers the shard exactly
    conv = next(n for n in g.nodes if n.name == "Conv1")
    assert [p.name for p in conv.inputs] == ["inputs", "kernel"]
    bn = next(n for n in g.nodes if n.name == "bn_Conv1")
    assert [p.name for p in bn.inputs][1:] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert (bn.inputs[4].values[0].initializer.numpy() >= 0).all()  # variances (uint8 steps round tiny ones to 0)


def test_real_layers_model_without_its_shards_opens_with_weights_not_stored(shared_models: Path) -> None:
    path = real(shared_models, "nsfwjs_inception_v3")
    model = manager().load(path)
    assert len(model.main.nodes) == 317
    weights = [v.initializer for v in model.main.weights()]
    assert len(weights) == 382 and not any(t.has_data for t in weights)
    assert all(t.shape is not None and t.dtype == "float32" for t in weights)
    assert model.properties["weights"].startswith(
        "group1-shard1of6, group1-shard2of6, group1-shard3of6 and 3 more not found"
    )
    with pytest.raises(FormatError, match="not stored"):
        weights[0].numpy()


def test_real_graph_model_draws_the_graphdef_with_manifest_weights(shared_models: Path) -> None:
    path = real(shared_models, "angular_prefetch")
    model = manager().load(path)
    g = model.main
    doc = json.loads(path.read_text())
    ops = [n["op"] for n in doc["modelTopology"]["node"]]
    assert len(g.nodes) == len(ops) - ops.count("Const")  # constants are weights of their readers, not boxes
    assert [v.name for v in g.inputs] == ["cur_page:0", "session_index:0"] and g.inputs[0].type.dtype == "int64"
    assert [v.name for v in g.outputs] == ["Identity:0"] and g.outputs[0].type.shape == (None, 101)
    dense = next(n for n in g.nodes if n.name == "StatefulPartitionedCall/model/dense/Relu")
    assert dense.op == "_FusedMatMul" and dense.category is Category.LAYER
    assert dense.attribute("fused_ops").value == ["BiasAdd", "Relu"]
    assert dense.attribute("transpose_b").value is False and dense.attribute("T").value == "float32"
    assert [p.name for p in dense.inputs] == ["a", "b", "bias"]
    kernel = dense.inputs[1].values[0]
    assert kernel.name == "StatefulPartitionedCall/model/dense/MatMul/ReadVariableOp" and kernel.producer is None
    raw = (path.parent / "group1-shard1of1.bin").read_bytes()
    offsets, offset = {}, 0
    for spec in manifest_of(path)[0]["weights"]:
        offsets[spec["name"]] = offset
        offset += int(np.prod(spec["shape"])) * 4
    start = offsets[kernel.name]
    np.testing.assert_array_equal(kernel.initializer.numpy(), np.frombuffer(raw, "<f4", 11 * 50, start).reshape(11, 50))
    axis = g.values["StatefulPartitionedCall/model/embedding/embedding_lookup/axis"].initializer
    assert (
        axis.dtype == "int32"
        and axis.shape == ()
        and int(axis.numpy()) == int.from_bytes(raw[offsets[axis.name] : offsets[axis.name] + 4], "little")
    )
    assert scope_of(g, "StatefulPartitionedCall/model/dense_1/Softmax") == (
        "StatefulPartitionedCall",
        "model",
        "dense_1",
    )
    assert (
        model.properties["signature"]
        == "(cur_page:0 int64[?], session_index:0 int64[?]) -> (Identity:0 float32[?x101])"
    )
    info = manager().operator_info(GRAPH, "", "_FusedMatMul")
    assert info is not None and info.category is Category.LAYER


def scope_of(graph, name: str) -> tuple[str, ...]:
    return next(n for n in graph.nodes if n.name == name).scope


def test_real_graph_model_without_shards_keeps_float16_quantization(shared_models: Path) -> None:
    model = manager().load(real(shared_models, "pose_detection_graph"))
    weights = {v.name: v.initializer for v in model.main.weights()}
    assert len(weights) == 180 and not any(t.has_data for t in weights.values())
    conv = weights["StatefulPartitionedCall/kpt_offset_0/conv2d_7/Conv2D/ReadVariableOp"]
    assert conv.shape == (1, 1, 96, 34) and conv.dtype == "float32" and conv.byte_size == 96 * 34 * 2
    assert conv.quantization is not None and conv.quantization.scheme == "float16"
    assert model.main.inputs[0].type.shape == (1, 192, 192, 3)
    assert "group1-shard1of2.bin, group1-shard2of2.bin not found" in model.properties["weights"]


def test_a_weight_shard_opens_the_model_json_that_lists_it(shared_models: Path, tmp_path: Path) -> None:
    shards = [
        shared_models / "tfjs" / "abalone_layers" / "weights.bin",
        shared_models / "tfjs" / "angular_prefetch" / "group1-shard1of1.bin",
        shared_models / "tfjs" / "nsfwjs_mobilenet_v2" / "group1-shard1of1",
    ]
    models = netray.testing.check_plugin(plugin, shards, tmp_path)
    for shard, model in zip(shards, models, strict=True):
        assert model.source == shard.with_name("model.json")
        assert model.properties["opened from"] == f"{shard.name}, a weight shard of model.json"
    assert [m.format for m in models] == [LAYERS, GRAPH, LAYERS]
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "weights.bin").write_bytes(b"\x00" * 64)
    (stray / "model.json").write_text(
        '{"modelTopology": {"class_name": "Sequential"}, "weightsManifest": [{"paths": ["other.bin"]}]}'
    )
    assert plugin.netray_sniff(stray / "weights.bin", b"\x00" * 64) is None  # not listed: not claimed


# -- Keras 3 models through the converter's steps -----------------------------------------------------


def keras_model() -> keras.Model:
    keras.utils.set_random_seed(1)
    image = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(image)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Flatten(name="flat")(x)
    head = keras.Sequential(
        [keras.layers.Dense(6, activation="relu", name="inner_dense"), keras.layers.Dense(5, name="inner_out")],
        name="head",
    )
    x = head(x)
    side = keras.Input((3,), name="side")
    x = keras.layers.Concatenate(name="cat")([x, side])
    out = keras.layers.Dense(2, activation="softmax", name="out")(x)
    model = keras.Model([image, side], out, name="demo")
    bn = model.get_layer("bn")  # non-trivial statistics, so that every variable is told apart
    bn.set_weights([w + np.arange(4) * 0.1 + k for k, w in enumerate(bn.get_weights())])
    return model


def layer_weights(model: keras.Model) -> dict[tuple[str, ...], list[np.ndarray]]:
    out = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            for inner in layer.layers:
                out[(layer.name, inner.name)] = inner.get_weights()
        elif layer.get_weights():
            out[(layer.name,)] = layer.get_weights()
    return out


def node_weights(model) -> dict[tuple[str, ...], list]:
    return {(*n.scope, n.name): [v.initializer for v in n.weights()] for n in model.main.nodes if n.weights()}


@pytest.mark.parametrize("shard_size", [4 * 1024 * 1024, 100], ids=["one shard", "100-byte shards"])
def test_keras3_layers_model_round_trips_its_weights(tmp_path: Path, shard_size: int) -> None:
    source = keras_model()
    path = save_keras3_as_tfjs(
        source,
        tmp_path / "demo",
        shard_size=shard_size,
        metadata={"task": "demo", "labels": ["a", "b"], "extra": {"k": 1}},
    )
    if shard_size == 100:
        assert len(manifest_of(path)[0]["paths"]) > 10
    (model,) = netray.testing.check_plugin(plugin, [path], tmp_path / "check")
    assert model.format == LAYERS and model.properties["keras version"] == keras.__version__
    assert (
        model.producer == "TensorFlow.js Converter v4.22.0"
        and model.properties["generated by"] == f"keras v{keras.__version__}"
    )
    assert model.metadata == {"task": "demo", "labels": ["a", "b"], "extra.k": 1}
    g = model.main
    assert [n.name for n in g.nodes] == ["conv", "bn", "relu", "flat", "inner_dense", "inner_out", "cat", "out"]
    assert [n.scope for n in g.nodes if n.name.startswith("inner")] == [("head",), ("head",)]
    assert [v.name for v in g.inputs] == ["image", "side"] and g.inputs[0].type.shape == ("batch", 8, 8, 3)
    cat = next(n for n in g.nodes if n.name == "cat")
    assert [v.name for v in cat.input_values()] == ["head/inner_out", "side"]  # the nested model's output
    bn = next(n for n in g.nodes if n.name == "bn")
    assert [p.name for p in bn.inputs][1:] == ["gamma", "beta", "moving_mean", "moving_variance"]
    got = node_weights(model)
    expected = layer_weights(source)
    assert set(got) == set(expected)
    for key, arrays in expected.items():
        assert len(got[key]) == len(arrays), key
        for tensor, array in zip(got[key], arrays, strict=True):
            assert tensor.shape == array.shape and tensor.dtype == "float32"
            np.testing.assert_array_equal(tensor.numpy(), array)
    assert not model.tensors  # every variable found its layer


def forward(model, x_image: np.ndarray, x_side: np.ndarray) -> np.ndarray:
    """The demo network computed with numpy from the weights netray read."""
    w = {name[-1]: [t.numpy() for t in ts] for name, ts in node_weights(model).items()}
    kernel, bias = w["conv"]
    patches = np.lib.stride_tricks.sliding_window_view(x_image, (3, 3), axis=(1, 2))  # N,6,6,C,3,3
    y = np.einsum("nhwcij,ijco->nhwo", patches, kernel) + bias
    gamma, beta, mean, var = w["bn"]
    y = np.maximum(gamma * (y - mean) / np.sqrt(var + 1e-3) + beta, 0).reshape(len(y), -1)
    y = np.maximum(y @ w["inner_dense"][0] + w["inner_dense"][1], 0)
    y = np.concatenate([y @ w["inner_out"][0] + w["inner_out"][1], x_side], axis=1)
    logits = y @ w["out"][0] + w["out"][1]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_quantized_keras3_weights_dequantize_close_to_the_originals(tmp_path: Path, dtype: str) -> None:
    source = keras_model()
    path = save_keras3_as_tfjs(source, tmp_path / dtype, shard_size=256, quantization=dtype)
    (model,) = netray.testing.check_plugin(plugin, [path], tmp_path / "check")
    got = node_weights(model)
    for key, arrays in layer_weights(source).items():
        for tensor, array in zip(got[key], arrays, strict=True):
            values = tensor.numpy()
            assert values.dtype == np.float32 and values.shape == array.shape
            q = tensor.quantization
            assert q is not None and q.details["stored_as"] == dtype and q.details["original_dtype"] == "float32"
            if dtype == "float16":
                np.testing.assert_array_equal(values, array.astype(np.float16).astype(np.float32))
                assert tensor.byte_size == array.size * 2
                continue
            stored, info = quantize(array, dtype)  # the converter's own quantization, independently
            np.testing.assert_array_equal(values, dequantized(stored, {"dtype": dtype, **info}))
            step = q.scale[0] if q.scale else 0.0
            assert np.abs(values - array).max() <= step / 2 + 1e-6, key
            assert tensor.byte_size == array.size * np.dtype(dtype).itemsize
    rng = np.random.default_rng(0)
    image, side = rng.standard_normal((2, 8, 8, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(source([image, side], training=False))
    tolerance = {"uint8": 0.1, "uint16": 1e-3, "float16": 1e-3}[dtype]
    np.testing.assert_allclose(forward(model, image, side), expected, atol=tolerance)


def test_unquantized_weights_compute_what_keras_computes(tmp_path: Path) -> None:
    source = keras_model()
    model = manager().load(save_keras3_as_tfjs(source, tmp_path / "plain", shard_size=64))
    rng = np.random.default_rng(1)
    image, side = rng.standard_normal((3, 8, 8, 3)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(source([image, side], training=False))
    np.testing.assert_allclose(forward(model, image, side), expected, rtol=1e-4, atol=1e-5)


def test_keras2_style_names_find_layers_inside_nested_models(tmp_path: Path) -> None:
    """A converted Keras 2 file: inbound_nodes as lists, weights named layer/variable, a nested model's too."""
    config = {
        "class_name": "Model",
        "config": {
            "name": "outer",
            "layers": [
                {
                    "name": "x",
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 4], "name": "x"},
                    "inbound_nodes": [],
                },
                {
                    "name": "inner",
                    "class_name": "Sequential",
                    "config": {
                        "name": "inner",
                        "layers": [
                            {
                                "class_name": "Dense",
                                "config": {"name": "d1", "units": 3, "batch_input_shape": [None, 4]},
                            }
                        ],
                    },
                    "inbound_nodes": [[["x", 0, 0, {}]]],
                },
                {
                    "name": "d2",
                    "class_name": "Dense",
                    "config": {"name": "d2", "units": 2},
                    "inbound_nodes": [[["inner", 1, 0, {}]]],
                },
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["d2", 0, 0]],
        },
    }
    folder = tmp_path / "k2"
    folder.mkdir()
    rng = np.random.default_rng(2)
    arrays = {
        "inner/d1/kernel": rng.standard_normal((4, 3)).astype(np.float32),
        "d1/bias": rng.standard_normal(3).astype(np.float32),
        "d2/kernel": rng.standard_normal((3, 2)).astype(np.float32),
        "d2/bias": rng.standard_normal(2).astype(np.float32),
        "optimizer/iter": np.array(7, np.int64),
    }
    manifest = write_weights([list(arrays.items())], folder)
    topology = {"keras_version": "2.15.0", "backend": "tensorflow", "model_config": config}
    (folder / "model.json").write_text(json.dumps({"modelTopology": topology, "weightsManifest": manifest}))
    model = manager().load(folder / "model.json")
    d1 = next(n for n in model.main.nodes if n.name == "d1")
    assert d1.scope == ("inner",) and [p.name for p in d1.inputs[1:]] == ["kernel", "bias"]
    np.testing.assert_array_equal(d1.inputs[1].values[0].initializer.numpy(), arrays["inner/d1/kernel"])
    assert list(model.tensors) == ["optimizer/iter"] and model.tensors["optimizer/iter"].dtype == "int32"
    assert int(model.tensors["optimizer/iter"].numpy()) == 7
    assert model.properties["weights not on a layer"] == 1
    # Keras 2 refers to the nested model's first outer call as node 1: d2 still reads its output.
    d2 = next(n for n in model.main.nodes if n.name == "d2")
    assert d2.inputs[0].values[0].producer is d1


# -- graph models -------------------------------------------------------------------------------------


def const(name: str, array: np.ndarray, dtype: int) -> node_def_pb2.NodeDef:
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for d in array.shape:
        proto.tensor_shape.dim.add(size=d)
    if array.dtype == object:
        proto.string_val.extend(array.ravel().tolist())
    else:
        proto.tensor_content = array.tobytes()
    nd = node_def_pb2.NodeDef(name=name, op="Const")
    nd.attr["dtype"].type = dtype
    nd.attr["value"].tensor.CopyFrom(proto)
    return nd


def op(name: str, op_type: str, inputs: list[str], **attrs: attr_value_pb2.AttrValue) -> node_def_pb2.NodeDef:
    nd = node_def_pb2.NodeDef(name=name, op=op_type, input=inputs)
    for key, value in attrs.items():
        nd.attr[key].CopyFrom(value)
    return nd


FLOAT = attr_value_pb2.AttrValue(type=types_pb2.DT_FLOAT)


def dense_graph(model: keras.Model) -> tuple[graph_pb2.GraphDef, dict[str, np.ndarray]]:
    """What the converter leaves of a two-Dense Keras model: fused MatMuls reading Consts."""
    (w1, b1), (w2, b2) = (layer.get_weights() for layer in model.layers)
    prefix = "StatefulPartitionedCall/sequential"
    values = {
        f"{prefix}/d1/MatMul/ReadVariableOp": w1,
        f"{prefix}/d1/BiasAdd/ReadVariableOp": b1,
        f"{prefix}/d2/MatMul/ReadVariableOp": w2,
        f"{prefix}/d2/BiasAdd/ReadVariableOp": b2,
        "vocab": np.array([b"cat", b"dog", "öl".encode()], dtype=object),
        "steps": np.array([3, 1, 4], np.int32),
    }
    g = graph_pb2.GraphDef()
    g.versions.producer = 1645
    dtypes = {"vocab": types_pb2.DT_STRING, "steps": types_pb2.DT_INT32}
    g.node.extend(const(name, array, dtypes.get(name, types_pb2.DT_FLOAT)) for name, array in values.items())
    placeholder = op("x", "Placeholder", [], dtype=FLOAT)
    placeholder.attr["shape"].shape.dim.add(size=-1)
    placeholder.attr["shape"].shape.dim.add(size=w1.shape[0])
    fused = {"fused_ops": attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(s=[b"BiasAdd", b"Relu"]))}
    g.node.extend(
        [
            placeholder,
            op("init", "NoOp", []),
            op(
                f"{prefix}/d1/Relu",
                "_FusedMatMul",
                ["x", f"{prefix}/d1/MatMul/ReadVariableOp", f"{prefix}/d1/BiasAdd/ReadVariableOp", "^init"],
                T=FLOAT,
                **fused,
            ),
            op(
                f"{prefix}/d2/BiasAdd",
                "_FusedMatMul",
                [f"{prefix}/d1/Relu", f"{prefix}/d2/MatMul/ReadVariableOp", f"{prefix}/d2/BiasAdd/ReadVariableOp"],
                T=FLOAT,
                fused_ops=attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(s=[b"BiasAdd"])),
            ),
            op(f"{prefix}/d2/Softmax", "Softmax", [f"{prefix}/d2/BiasAdd"], T=FLOAT),
            op("Identity", "Identity", [f"{prefix}/d2/Softmax"], T=FLOAT),
            op("lookup", "GatherV2", ["vocab", "steps", "steps"]),
        ]
    )
    return g, values


def dense_keras() -> keras.Model:
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(7, activation="relu", name="d1"),
            keras.layers.Dense(3, activation="softmax", name="d2"),
        ]
    )
    return model


SIGNATURE = {
    "inputs": {"x:0": {"name": "x:0", "dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "-1"}, {"size": "5"}]}}},
    "outputs": {
        "Identity:0": {
            "name": "Identity:0",
            "dtype": "DT_FLOAT",
            "tensorShape": {"dim": [{"size": "-1"}, {"size": "3"}]},
        }
    },
}


@pytest.mark.parametrize("quantization", [None, "uint16"], ids=["float32", "uint16"])
def test_generated_graph_model_computes_what_keras_computes(tmp_path: Path, quantization: str | None) -> None:
    source = dense_keras()
    graph_def, values = dense_graph(source)
    qmap = {name: quantization for name in values if name.endswith("ReadVariableOp")} if quantization else None
    path = save_graph_as_tfjs(graph_def, tmp_path / "graph", SIGNATURE, shard_size=48, quantization=qmap, values=values)
    (model,) = netray.testing.check_plugin(plugin, [path], tmp_path / "check")
    g = model.main
    assert model.format == GRAPH and model.properties["GraphDef version"] == "producer 1645, min consumer 0"
    assert [n.op for n in g.nodes] == [
        "Placeholder",
        "NoOp",
        "_FusedMatMul",
        "_FusedMatMul",
        "Softmax",
        "Identity",
        "GatherV2",
    ]
    d1 = g.nodes[2]
    assert [c.name for c in d1.control_inputs] == ["init"] and d1.attribute("fused_ops").value == ["BiasAdd", "Relu"]
    assert [p.name for p in d1.inputs] == ["a", "b", "bias"] and d1.scope == (
        "StatefulPartitionedCall",
        "sequential",
        "d1",
    )
    assert g.outputs[0].name == "Identity:0" and g.outputs[0].type.shape == (None, 3)
    w = {v.name: v.initializer for v in g.weights()}
    assert set(w) == set(values)
    lookup = g.nodes[6]
    assert [v.name for v in lookup.input_values()] == ["vocab", "steps", "steps"]
    assert w["vocab"].dtype == "string" and w["vocab"].numpy().tolist() == [b"cat", b"dog", "öl".encode()]
    np.testing.assert_array_equal(w["steps"].numpy(), values["steps"])
    x = np.random.default_rng(4).standard_normal((4, 5)).astype(np.float32)
    weight = {
        name.split("/")[2] + "/" + name.split("/")[3]: t.numpy()
        for name, t in w.items()
        if name.endswith("ReadVariableOp")
    }
    h = np.maximum(x @ weight["d1/MatMul"] + weight["d1/BiasAdd"], 0)
    logits = h @ weight["d2/MatMul"] + weight["d2/BiasAdd"]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    expected = keras.ops.convert_to_numpy(source(x))
    np.testing.assert_allclose(probs, expected, atol=1e-3 if quantization else 1e-6)


def test_graph_model_functions_and_inline_constants(tmp_path: Path) -> None:
    """A While whose body is a function with a Const the converter left in place, and a control-awaited Const."""
    g = graph_pb2.GraphDef()
    body = g.library.function.add()
    body.signature.name = "body"
    body.signature.input_arg.add(name="i", type=types_pb2.DT_INT32)
    body.signature.output_arg.add(name="out", type=types_pb2.DT_INT32)
    body.node_def.append(const("one", np.array(1, np.int32), types_pb2.DT_INT32))
    body.node_def.append(op("add", "AddV2", ["i", "one:output:0"]))
    body.ret["out"] = "add:z:0"
    zero = const("zero", np.array(0, np.int32), types_pb2.DT_INT32)
    g.node.extend([zero, const("limit", np.array(9, np.int32), types_pb2.DT_INT32)])
    g.node.append(
        op(
            "loop",
            "While",
            ["zero", "^limit"],
            body=attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name="body")),
        )
    )
    values = {"zero": np.array(0, np.int32), "limit": np.array(9, np.int32)}
    path = save_graph_as_tfjs(g, tmp_path / "loop", values=values)
    (model,) = netray.testing.check_plugin(plugin, [path], tmp_path / "check")
    main = model.main
    assert [n.op for n in main.nodes] == ["Const", "While"]  # limit stays a box: loop awaits it
    limit = main.nodes[0].outputs[0].values[0].initializer
    assert limit is not None and int(limit.numpy()) == 9
    loop = main.nodes[1]
    assert [v.name for v in loop.input_values()] == ["zero"] and int(loop.weights()[0].initializer.numpy()) == 0
    (function,) = loop.subgraphs
    assert [n.op for n in function.nodes] == ["AddV2"]  # the function's Const became a weight of AddV2
    one = function.nodes[0].weights()[0].initializer
    assert int(one.numpy()) == 1  # still in the JSON: read from there


def test_graph_model_initializer_fills_a_lookup_table(tmp_path: Path) -> None:
    """Newer converters write the ops that fill hash tables as modelInitializer, a second GraphDef."""
    table_attrs = {
        "shared_name": attr_value_pb2.AttrValue(s=b"vocab_table"),
        "key_dtype": attr_value_pb2.AttrValue(type=types_pb2.DT_STRING),
        "value_dtype": attr_value_pb2.AttrValue(type=types_pb2.DT_INT64),
    }
    main = graph_pb2.GraphDef()
    words = op("words", "Placeholder", [], dtype=attr_value_pb2.AttrValue(type=types_pb2.DT_STRING))
    main.node.extend(
        [
            words,
            op("table", "HashTableV2", [], **table_attrs),
            const("default", np.array(-1, np.int32), types_pb2.DT_INT32),
            op("ids", "LookupTableFindV2", ["table", "words", "default"]),
        ]
    )
    init = graph_pb2.GraphDef()
    keys = np.array([b"a", b"b"], dtype=object)
    ids = np.array([0, 1], np.int32)
    init.node.extend(
        [
            op("table", "HashTableV2", [], **table_attrs),
            const("keys", keys, types_pb2.DT_STRING),
            const("values", ids, types_pb2.DT_INT32),
            op("import", "LookupTableImportV2", ["table", "keys", "values"]),
        ]
    )
    values = {"default": np.array(-1, np.int32), "keys": keys, "values": ids}
    path = save_graph_as_tfjs(main, tmp_path / "table", values=values, initializer=init)
    (model,) = netray.testing.check_plugin(plugin, [path], tmp_path / "check")
    assert [g.name for g in model.graphs] == ["table", "initializer"] and model.graphs[1].kind == "initializer"
    find = next(n for n in model.main.nodes if n.op == "LookupTableFindV2")
    assert int(find.weights()[0].initializer.numpy()) == -1
    imported = next(n for n in model.graphs[1].nodes if n.op == "LookupTableImportV2")
    assert [w.initializer.numpy().tolist() for w in imported.weights()] == [[b"a", b"b"], [0, 1]]
    assert not model.tensors


# -- sniffing and hostile input ---------------------------------------------------------------------------


def expect_error(path: Path, match: str = ".") -> FormatError:
    with pytest.raises(FormatError, match=match) as caught:
        plugin.netray_load(path, LAYERS)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    return caught.value


def small_layers_model(
    folder: Path, paths: list[str] | None = None, shape: object = (4, 2), extra: dict | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [None, 4]}}],
        },
    }
    weight = {
        "name": "d/kernel",
        "shape": list(shape) if isinstance(shape, tuple) else shape,
        "dtype": "float32",
        **(extra or {}),
    }
    manifest = [{"paths": paths if paths is not None else ["w.bin"], "weights": [weight]}]
    (folder / "w.bin").write_bytes(np.arange(8, dtype="<f4").tobytes())
    path = folder / "model.json"
    path.write_text(json.dumps({"format": "layers-model", "modelTopology": config, "weightsManifest": manifest}))
    return path


def test_sniff_claims_tfjs_json_and_nothing_else(tmp_path: Path, shared_models: Path) -> None:
    for path in sorted((shared_models / "tfjs").glob("*/model.json")):
        claim = plugin.netray_sniff(path, path.read_bytes()[:4096])
        assert claim is not None and claim.confidence == 1.0, path
    others = {
        "symbol.json": b'{"nodes": [{"op": "null", "name": "data"}], "heads": [[0, 0, 0]]}',
        "config.json": b'{"class_name": "Sequential", "config": {}}',
        "list.json": b'[{"paths": ["a.bin"], "weights": []}]',
        "null.json": b'{"modelTopology": null, "weightsManifest": null}',
    }
    for name, data in others.items():
        (tmp_path / name).write_bytes(data)
        assert plugin.netray_sniff(tmp_path / name, data) is None, name
    # The kind shows only after 4 KiB: the sniff reads further; a topology it cannot tell is claimed lower.
    late = tmp_path / "late.json"
    late.write_text(
        '{"weightsManifest": [{"paths": [], "weights": []}], "pad": "' + "x" * 5000 + '", "format": "graph-model"}'
    )
    assert plugin.netray_sniff(late, late.read_bytes()[:4096]) == netray.Claim(GRAPH, 1.0)
    vague = tmp_path / "vague.json"
    vague.write_text('{"weightsManifest": [], "modelTopology": {"something": 1}}')
    assert plugin.netray_sniff(vague, vague.read_bytes()) == netray.Claim(LAYERS, 0.6)


def test_truncated_and_broken_json(tmp_path: Path, shared_models: Path) -> None:
    text = real(shared_models, "angular_prefetch").read_bytes()
    path = tmp_path / "model.json"
    for cut in (1, 100, len(text) // 2, len(text) - 2):
        path.write_bytes(text[:cut])
        error = expect_error(path, "not valid JSON")
        assert error.format == LAYERS
    path.write_bytes(b'{"modelTopology": {"node": [{"name": ["a"], "op": "Const"}]}, "format": "graph-model"}')
    with pytest.raises(FormatError, match="not a valid GraphDef"):
        plugin.netray_load(path, GRAPH)
    path.write_bytes(b'{"modelTopology": {"node": [{"name": "a", "op": "NoOp"}, {"name": "a", "op": "NoOp"}]}}')
    with pytest.raises(FormatError, match="two nodes named"):
        plugin.netray_load(path, GRAPH)
    path.write_bytes(b"[" * 100000 + b"]" * 100000)
    expect_error(path, "not valid JSON|not a TensorFlow.js")
    path.write_bytes(b'{"modelTopology": {"class_name": "Sequential", "config": 7}, "weightsManifest": []}')
    expect_error(path, "model config|layer list")
    path.write_bytes(b'{"modelTopology": {"config": {}}, "weightsManifest": []}')
    expect_error(path, "neither model_config nor a class_name")
    path.write_bytes(b'{"modelTopology": null, "weightsManifest": "no"}')
    expect_error(path, "not a list of weight groups")


@pytest.mark.parametrize(
    "bad", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin", "C:\\\\weights.bin", "..\\\\x.bin"]
)
def test_shard_paths_never_leave_the_folder(tmp_path: Path, bad: str) -> None:
    (tmp_path / "outside.bin").write_bytes(b"\x00" * 32)
    path = small_layers_model(tmp_path / "m", [bad])
    expect_error(path, "leaves the model's folder")


def test_symlinked_shards_leaving_the_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 32)
    path = small_layers_model(tmp_path / "m", ["link.bin"])
    (tmp_path / "m" / "link.bin").symlink_to(tmp_path / "secret.bin")
    expect_error(path, "resolves outside")


def test_short_shards_and_remote_ones(tmp_path: Path) -> None:
    path = small_layers_model(tmp_path / "short")
    (path.parent / "w.bin").write_bytes(b"\x00" * 20)  # 32 bytes needed
    model = manager().load(path)
    assert (
        model.properties["weights"]
        == "group 1: its shards hold 20 bytes, the manifest needs 32: weights past the end cannot be read"
    )
    kernel = model.main.nodes[0].weights()[0].initializer
    with pytest.raises(FormatError, match="ends at byte 32 of group 1, whose shards hold 20") as caught:
        kernel.numpy()
    assert caught.value.path.endswith("w.bin")
    expect_error(small_layers_model(tmp_path / "nul", ["w.bin\x00.txt"]), "not a file name")
    path = small_layers_model(tmp_path / "remote", ["https://example.com/w.bin"])
    model = manager().load(path)
    assert (
        "served from elsewhere" in model.properties["weights"]
        and not model.main.nodes[0].weights()[0].initializer.has_data
    )
    path = small_layers_model(tmp_path / "grown")
    (path.parent / "w.bin").write_bytes(np.arange(8, dtype="<f4").tobytes())
    model = manager().load(path)
    (path.parent / "w.bin").write_bytes(b"\x00" * 4)  # shortened after opening: the read says so
    with pytest.raises(FormatError, match="past the end"):
        model.main.nodes[0].weights()[0].initializer.numpy()


def test_hostile_shapes_and_quantization(tmp_path: Path) -> None:
    for k, shape in enumerate([[-1, 2], [2.5], "4x2", [True, 2], None]):
        expect_error(small_layers_model(tmp_path / f"shape{k}", shape=shape), "not a list of sizes")
    huge = manager().load(small_layers_model(tmp_path / "huge", shape=(1 << 40, 1 << 40)))
    tensor = huge.main.nodes[0].weights()[0].initializer
    assert tensor.size == 1 << 80
    with pytest.raises(FormatError, match="ends at byte"):
        tensor.numpy()
    unknown = manager().load(small_layers_model(tmp_path / "int8", extra={"quantization": {"dtype": "int8"}}))
    assert "has quantization 'int8', unknown to TensorFlow.js" in unknown.properties["weights"]
    assert not unknown.main.nodes[0].weights()[0].initializer.has_data
    for name, q, match in (
        ("noscale", {"dtype": "uint8"}, "without a numeric scale and min"),
        ("halfint", {"dtype": "float16"}, "float16-quantized but its dtype is int32"),
    ):
        extra = {"quantization": q, "dtype": "int32" if name == "halfint" else "float32"}
        model = manager().load(small_layers_model(tmp_path / name, shape=(2, 2), extra=extra))
        with pytest.raises(FormatError, match=match):
            model.main.nodes[0].weights()[0].initializer.numpy()
    strings = tmp_path / "strings"
    strings.mkdir()
    (strings / "w.bin").write_bytes(np.array([1 << 30], "<u4").tobytes() + b"abc")
    manifest = [
        {
            "paths": ["w.bin"],
            "weights": [
                {"name": "s", "shape": [1], "dtype": "string"},
                {"name": "t", "shape": [1], "dtype": "float32"},
            ],
        }
    ]
    (strings / "model.json").write_text(json.dumps({"modelTopology": None, "weightsManifest": manifest}))
    model = manager().load(strings / "model.json")  # a string claiming 2**30 bytes in a 7-byte shard
    assert model.properties["weights"].startswith("group 1: its shards hold 7 bytes, the manifest needs 1,073,741,832")
    for tensor in model.tensors.values():
        with pytest.raises(FormatError, match="whose shards hold 7"):
            tensor.numpy()
    manifest[0]["weights"][0]["shape"] = [1 << 30]  # a billion strings: not scanned at open
    (strings / "model.json").write_text(json.dumps({"modelTopology": None, "weightsManifest": manifest}))
    model = manager().load(strings / "model.json")
    assert "the strings of 's' cannot be measured" in model.properties["weights"]
    assert not any(t.has_data for t in model.tensors.values())


def test_repeated_weight_names_keep_the_first(tmp_path: Path) -> None:
    folder = tmp_path / "twice"
    folder.mkdir()
    manifest = write_weights([[("a", np.zeros(2, np.float32)), ("a", np.ones(3, np.float32))]], folder)
    (folder / "model.json").write_text(json.dumps({"modelTopology": None, "weightsManifest": manifest}))
    model = manager().load(folder / "model.json")
    assert model.properties["weights"] == "weight names repeat ('a'): only the first of each name is shown"
    np.testing.assert_array_equal(model.tensors["a"].numpy(), np.zeros(2, np.float32))


def test_string_weights_and_weights_only_manifests(tmp_path: Path) -> None:
    folder = tmp_path / "strings"
    folder.mkdir()
    words = np.array([["hello", "", "wörld"], ["a" * 70000, "b", "c"]], dtype=object)
    numbers = np.arange(5, dtype=np.float32)
    manifest = write_weights(
        [
            [
                ("words", words),
                ("numbers", numbers),
                ("none", np.zeros((0,), dtype=object)),
                ("flags", np.array([True, False])),
            ]
        ],
        folder,
        shard_size=1000,
    )
    (folder / "model.json").write_text(json.dumps({"modelTopology": None, "weightsManifest": manifest}))
    (model,) = netray.testing.check_plugin(plugin, [folder / "model.json"], tmp_path / "check")
    assert not model.graphs and model.properties["topology"].startswith("none")
    got = model.tensors["words"].numpy()
    assert got.shape == (2, 3) and got.tolist() == [[w.encode() for w in row] for row in words.tolist()]
    np.testing.assert_array_equal(model.tensors["numbers"].numpy(), numbers)
    assert model.tensors["none"].numpy().shape == (0,)
    assert model.tensors["flags"].numpy().tolist() == [True, False] and model.tensors["flags"].dtype == "bool"


def test_the_writer_quantizes_as_the_converter_documents() -> None:
    """quantization.py's docstring example: [0, -0.1, 1.2] to uint8."""
    data = np.array([0, -0.1, 1.2], np.float32)
    stored, info = quantize(data, "uint8")
    scale, nudged_min, _ = affine_range(float(data.min()), float(data.max()), np.uint8)
    assert info == {"min": pytest.approx(nudged_min), "scale": pytest.approx(scale)}
    assert stored.tolist() == [20, 0, 255]
    assert dequantized(stored, {"dtype": "uint8", **info})[0] == pytest.approx(0, abs=1e-6)  # zero is exact
