"""NeuralNetwork models built by coremltools: layers, weights (float, fp16, quantized), classifiers, pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netray
import netray.testing
import netray_coreml.plugin as plugin

pytest.importorskip("coremltools", reason="coremltools (test-only dependency) builds the models")

from coreml_test_models import (
    build_classifier,
    build_recurrent,
    network_weights,
    quantized,
    quiet_coremltools,
    save_spec,
)


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return network_weights()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, weights: dict[str, np.ndarray]) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("coreml_nn")
    spec = build_classifier(weights)
    return {
        "float": save_spec(spec, folder / "classifier.mlmodel"),
        "fp16": save_spec(quantized(spec, 16, "linear"), folder / "classifier_fp16.mlmodel"),
        "q4": save_spec(quantized(spec, 4, "linear"), folder / "classifier_q4.mlmodel"),
        "q3lut": save_spec(quantized(spec, 3, "linear_lut"), folder / "classifier_q3lut.mlmodel"),
        "recurrent": save_spec(build_recurrent(weights), folder / "recurrent.mlmodel"),
    }


def _weight(model: netray.Model, node_name: str, port: str) -> netray.Tensor:
    node = next(n for n in model.main.nodes if n.name == node_name)
    found = next(p for p in node.inputs if p.name == port)
    tensor = found.values[0].initializer
    assert tensor is not None
    return tensor


def test_contract(files: dict[str, Path], tmp_path: Path) -> None:
    netray.testing.check_plugin(plugin, list(files.values()), tmp_path)


def test_layers_attributes_and_description(files: dict[str, Path]) -> None:
    model = netray.load_model(files["float"])
    assert model.metadata == {
        "shortDescription": "A tiny classifier",
        "versionString": "1.2",
        "author": "netray tests",
        "license": "MIT",
        "trained_on": "noise",
    }
    assert model.description == "A tiny classifier"
    graph = model.main
    assert [n.op for n in graph.nodes] == [
        "scaler", "convolution", "activation", "batchnorm", "pooling", "flatten", "innerProduct", "softmax", "classifier",
    ]  # fmt: skip
    scaler, conv, prelu, _, pool, *_ = graph.nodes
    assert scaler.attribute("channelScale").value == pytest.approx(2 / 255)
    assert scaler.attribute("redBias").value == -1.0
    assert graph.inputs[0].type == netray.TensorType("uint8", (3, 8, 8), "image RGB")
    assert conv.attribute("outputChannels").value == 6 and conv.attribute("kernelSize").value == [3, 3]
    assert prelu.attribute("NonlinearityType").value == "PReLU"
    assert pool.attribute("type").value == "AVERAGE"
    classifier = graph.nodes[-1]
    assert classifier.attribute("classLabels").value == ["cat", "dog", "bird", "fish"]
    assert [v.name for v in graph.outputs] == ["probs", "label"]
    assert graph.values["label"].producer is classifier


def test_float_weights(files: dict[str, Path], weights: dict[str, np.ndarray]) -> None:
    model = netray.load_model(files["float"])
    conv_w = _weight(model, "conv1", "weights")
    assert (conv_w.dtype, conv_w.shape, conv_w.byte_size) == ("float32", (6, 3, 3, 3), 6 * 27 * 4)
    np.testing.assert_array_equal(conv_w.numpy(), weights["conv_w"])
    np.testing.assert_array_equal(_weight(model, "conv1", "bias").numpy(), weights["conv_b"])
    np.testing.assert_array_equal(_weight(model, "prelu", "alpha").numpy(), weights["alpha"])
    np.testing.assert_array_equal(_weight(model, "bn1", "variance").numpy(), weights["variance"])
    fc = _weight(model, "fc", "weights")
    assert fc.shape == (4, 54)
    np.testing.assert_array_equal(fc.numpy(), weights["fc_w"])


def test_float16_weights(files: dict[str, Path], weights: dict[str, np.ndarray]) -> None:
    model = netray.load_model(files["fp16"])
    conv_w = _weight(model, "conv1", "weights")
    assert (conv_w.dtype, conv_w.shape, conv_w.byte_size) == ("float16", (6, 3, 3, 3), 6 * 27 * 2)
    np.testing.assert_array_equal(conv_w.numpy(), weights["conv_w"].astype(np.float16))


def test_linear_quantized_weights(files: dict[str, Path], weights: dict[str, np.ndarray]) -> None:
    """4-bit linear: stored integers, per-channel scale and bias; q * scale + bias gives the weights back."""
    model = netray.load_model(files["q4"])
    conv_w = _weight(model, "conv1", "weights")
    assert (conv_w.dtype, conv_w.shape, conv_w.byte_size) == ("uint4", (6, 3, 3, 3), 81)
    q = conv_w.quantization
    assert q is not None and q.scheme == "linear" and q.axis == 0 and len(q.scale) == 6
    values = conv_w.numpy().astype(np.float32)
    assert values.min() >= 0 and values.max() <= 15
    scale = np.array(q.scale, np.float32).reshape(6, 1, 1, 1)
    bias = np.array(q.details["bias"], np.float32).reshape(6, 1, 1, 1)
    np.testing.assert_allclose(values * scale + bias, weights["conv_w"], atol=float(scale.max()) / 2 + 1e-6)


def test_lookup_table_weights(files: dict[str, Path], weights: dict[str, np.ndarray]) -> None:
    """3-bit look-up table: packed 3-bit indices into 8 floats."""
    model = netray.load_model(files["q3lut"])
    fc = _weight(model, "fc", "weights")
    assert (fc.dtype, fc.shape, fc.byte_size) == ("uint3", (4, 54), 81)
    q = fc.quantization
    assert q is not None and q.scheme == "lut"
    table = np.array(q.details["lookup table"], np.float32)
    indices = fc.numpy()
    assert indices.dtype == np.uint8 and indices.max() <= 7
    step = float(np.diff(table).max())
    np.testing.assert_allclose(table[indices], weights["fc_w"], atol=step / 2 + 1e-5)


def test_recurrent_shapes(files: dict[str, Path], weights: dict[str, np.ndarray]) -> None:
    model = netray.load_model(files["recurrent"])
    embed = _weight(model, "embed", "weights")
    assert embed.shape == (5, 10)
    np.testing.assert_array_equal(embed.numpy(), weights["embed_w"])
    lstm = next(n for n in model.main.nodes if n.op == "uniDirectionalLSTM")
    shapes = {p.name: p.values[0].initializer.shape for p in lstm.inputs if p.values and p.values[0].initializer}
    assert shapes["inputGateWeightMatrix"] == (3, 5)
    assert shapes["forgetGateRecursionMatrix"] == (3, 3)
    assert shapes["outputGateBiasVector"] == (3,)
    assert lstm.attribute("params.hasBiasVectors").value is True
    assert [p.name for p in lstm.outputs] == ["output0", "output1", "output2"]


def _pipeline_spec(weights: dict[str, np.ndarray]) -> Any:
    """A pipeline regressor: a scaler feeding a neural network, chained by the feature "scaled"."""
    ct = quiet_coremltools()
    from coremltools.models import datatypes
    from coremltools.models.neural_network import NeuralNetworkBuilder

    features = ct.proto.Model_pb2
    scaler = features.Model(specificationVersion=1)
    scaler.scaler.shiftValue.extend([0.5] * 4)
    scaler.scaler.scaleValue.extend([2.0] * 4)
    for direction, name in ((scaler.description.input, "x"), (scaler.description.output, "scaled")):
        feature = direction.add(name=name)
        feature.type.multiArrayType.shape.append(4)
        feature.type.multiArrayType.dataType = ct.proto.FeatureTypes_pb2.ArrayFeatureType.DOUBLE
    builder = NeuralNetworkBuilder([("scaled", datatypes.Array(4))], [("y", datatypes.Array(2))], mode="regressor")
    builder.add_inner_product(
        "dense",
        W=weights["fc_w"][:2, :4],
        b=None,
        input_channels=4,
        output_channels=2,
        has_bias=False,
        input_name="scaled",
        output_name="y",
    )
    pipeline = features.Model(specificationVersion=4)
    pipeline.pipelineRegressor.pipeline.models.extend([scaler, builder.spec])
    pipeline.pipelineRegressor.pipeline.names.extend(["normalise", "regress"])
    pipeline.description.input.extend([scaler.description.input[0]])
    pipeline.description.output.extend([builder.spec.description.output[0]])
    pipeline.description.predictedFeatureName = "y"
    return pipeline


def test_pipeline_stages_chain(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    path = save_spec(_pipeline_spec(weights), tmp_path / "pipeline.mlmodel")
    (model,) = netray.testing.check_plugin(plugin, [path], tmp_path / "check")
    assert model.properties["model type"] == "pipelineRegressor"
    graph = model.main
    first, second = graph.nodes
    assert (first.op, first.name, second.op, second.name) == (
        "scaler",
        "normalise",
        "neuralNetworkRegressor",
        "regress",
    )
    assert first.attribute("shiftValue").value == [0.5] * 4
    assert first.outputs[0].values[0] is second.inputs[0].values[0]  # chained by the feature "scaled"
    assert graph.values["scaled"].type == netray.TensorType("float64", (4,))
    (sub,) = second.subgraphs
    assert sub.kind == "subgraph" and [n.op for n in sub.nodes] == ["innerProduct"]
    dense = sub.nodes[0].weights()[0].initializer
    assert dense is not None and dense.shape == (2, 4)
    np.testing.assert_array_equal(dense.numpy(), weights["fc_w"][:2, :4])
    assert graph.outputs[0].producer is second


def test_other_model_types_open_as_one_node(tmp_path: Path) -> None:
    """A tree ensemble and a GLM: their parameters on a single node named after the model type."""
    ct = quiet_coremltools()
    from coremltools.models.tree_ensemble import TreeEnsembleRegressor

    tree = TreeEnsembleRegressor(["a", "b"], "score")
    tree.add_branch_node(0, 0, 0, 0.5, "BranchOnValueLessThan", 1, 2)
    tree.add_leaf_node(0, 1, 1.0)
    tree.add_leaf_node(0, 2, -1.0)
    tree_path = save_spec(tree.spec, tmp_path / "tree.mlmodel")
    glm = ct.proto.Model_pb2.Model(specificationVersion=1)
    glm.glmRegressor.weights.add().value.extend([0.25, -0.5])
    glm.glmRegressor.offset.append(1.5)
    feature = glm.description.input.add(name="features")
    feature.type.multiArrayType.shape.append(2)
    glm.description.output.add(name="value").type.doubleType.SetInParent()
    glm_path = save_spec(glm, tmp_path / "glm.mlmodel")
    tree_model, glm_model = netray.testing.check_plugin(plugin, [tree_path, glm_path], tmp_path / "check")
    (node,) = tree_model.main.nodes
    assert node.op == "treeEnsembleRegressor" and node.category == netray.Category.LAYER
    assert [v.name for v in node.input_values()] == ["a", "b"]
    nodes = node.attribute("treeEnsemble.nodes")
    assert nodes is not None and len(nodes.value) == 3 and nodes.value[0]["branchFeatureValue"] == 0.5
    (node,) = glm_model.main.nodes
    assert node.op == "glmRegressor"
    assert node.attribute("offset").value == [1.5]
    assert node.attribute("weights").value == [{"value": [0.25, -0.5]}]
    assert glm_model.main.outputs[0].type == netray.TensorType("float64", ())


@pytest.mark.parametrize("kind", ["float", "fp16", "q4", "q3lut", "recurrent"])
def test_weights_left_in_the_file_equal_parsed_ones(
    files: dict[str, Path], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights read from their file slices (lazy.py) equal those protobuf parses when the walk is off."""
    import netray_coreml.reader as reader
    from netray_coreml.wire import WireError

    lazy = netray.load_model(files[kind])
    lazy_tensors = dict(lazy.all_tensors())
    assert all(" @ " in t.location for t in lazy_tensors.values() if "meanImage" not in t.location)

    def refuse(*args: object) -> None:
        raise WireError("walk switched off for this test")

    monkeypatch.setattr(reader, "read_stripped", refuse)
    parsed = netray.load_model(files[kind])
    parsed_tensors = dict(parsed.all_tensors())
    assert parsed_tensors.keys() == lazy_tensors.keys()
    for name, tensor in parsed_tensors.items():
        assert " @ " not in tensor.location
        other = lazy_tensors[name]
        assert (tensor.dtype, tensor.shape, tensor.byte_size) == (other.dtype, other.shape, other.byte_size), name
        np.testing.assert_array_equal(tensor.numpy(), other.numpy(), err_msg=name)


def test_updatable_network(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    quiet_coremltools()
    from coremltools.models import datatypes
    from coremltools.models.neural_network import NeuralNetworkBuilder, SgdParams

    builder = NeuralNetworkBuilder([("x", datatypes.Array(54))], [("probs", datatypes.Array(4))], mode="classifier")
    builder.add_inner_product(
        "fc",
        W=weights["fc_w"],
        b=weights["fc_b"],
        input_channels=54,
        output_channels=4,
        has_bias=True,
        input_name="x",
        output_name="fc1",
    )
    builder.add_softmax("softmax", "fc1", "probs")
    builder.set_class_labels(["a", "b", "c", "d"])
    builder.make_updatable(["fc"])
    builder.set_categorical_cross_entropy_loss(name="loss", input="probs")
    builder.set_sgd_optimizer(SgdParams(lr=0.01, batch=4))
    builder.set_epochs(5)
    path = save_spec(builder.spec, tmp_path / "updatable.mlmodel")
    (model,) = netray.testing.check_plugin(plugin, [path], tmp_path / "check")
    assert model.properties["updatable"] is True
    assert model.properties["update optimizer.OptimizerType"] == "sgdOptimizer"
    assert model.properties["update epochs.defaultValue"] == "5"
    assert model.properties["training inputs"] == ["x", "classLabel"]
    assert "probs_true" in model.properties["update lossLayers"]
    fc = model.main.nodes[0]
    assert fc.attribute("isUpdatable").value is True
    assert all(t.metadata == {"updatable": True} for _, t in model.all_tensors())
