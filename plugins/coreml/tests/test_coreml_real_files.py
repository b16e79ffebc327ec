"""The Core ML files in the shared model folder: contract checks and what they show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
import netray_coreml.plugin as plugin
from netray_coreml import proto

MNIST = "coreml/r4ghu_mnist/mnistCNN.mlmodel"
DRAWING = "coreml/coremltools/TinyDrawingEmbedding.mlmodel"
PREVIEW = "coreml/coremltools/simple_layer.mlmodel"


@pytest.fixture(scope="module")
def real_files(shared_models: Path) -> dict[str, Path]:
    return {name: shared_models / name for name in (MNIST, DRAWING, PREVIEW)}


def test_contract_on_real_files(real_files: dict[str, Path], tmp_path: Path) -> None:
    models = netray.testing.check_plugin(plugin, list(real_files.values()), tmp_path)
    assert [m.format for m in models] == ["Core ML"] * 3


def _spec(path: Path) -> object:
    """The file parsed by protobuf alone (our schema classes), independent of the graph building."""
    return proto.Model.FromString(path.read_bytes())


def test_mnist_classifier(real_files: dict[str, Path]) -> None:
    model = netray.load_model(real_files[MNIST])
    assert model.format_version == "1"
    assert model.metadata == {
        "shortDescription": "Model to classify hand written digit",
        "author": "Sri Raghu Malireddi",
        "license": "MIT",
    }
    assert model.properties["model type"] == "neuralNetworkClassifier"
    assert model.properties["predictedFeatureName"] == "classLabel"
    graph = model.main
    ops = [n.op for n in graph.nodes]
    assert ops[0] == "scaler" and ops[-1] == "classifier"
    assert ops.count("convolution") == 3 and ops.count("innerProduct") == 2 and ops.count("pooling") == 3
    image = graph.inputs[0]
    assert (image.name, image.type.dtype, image.type.shape, image.type.denotation) == (
        "image",
        "uint8",
        (1, 28, 28),
        "image GRAYSCALE",
    )
    assert image.description == "Grayscale image of hand written digit"
    assert [v.name for v in graph.outputs] == ["output", "classLabel"]
    assert graph.outputs[0].type.denotation == "dictionary<string, double>"
    scaler = graph.nodes[0]
    assert scaler.attribute("channelScale").value == pytest.approx(1 / 255)
    # The first convolution reads the scaled image, not the raw input.
    conv = graph.nodes[1]
    assert conv.name == "conv2d_1" and conv.inputs[0].values[0] is scaler.outputs[0].values[0]
    assert conv.attribute("kernelSize").value == [5, 5] and conv.attribute("ConvolutionPaddingType").value == "valid"
    pool = next(n for n in graph.nodes if n.op == "pooling")
    assert pool.attribute("type").value == "MAX"  # proto3 leaves the default out; the plugin shows it
    classifier = graph.nodes[-1]
    assert classifier.attribute("classLabels").value == [str(k) for k in range(10)]
    assert classifier.inputs[0].values[0].name == "output"
    assert graph.outputs[1].producer is classifier


def test_mnist_weights_match_protobuf(real_files: dict[str, Path]) -> None:
    model = netray.load_model(real_files[MNIST])
    spec = _spec(real_files[MNIST])
    layers = {layer.name: layer for layer in spec.neuralNetworkClassifier.layers}
    conv = next(n for n in model.main.nodes if n.name == "conv2d_2")
    weights = dict((p.name, p.values[0].initializer) for p in conv.inputs if p.values and p.values[0].initializer)
    params = layers["conv2d_2"].convolution
    assert (
        weights["weights"].shape == (params.outputChannels, params.kernelChannels, *params.kernelSize) == (64, 32, 3, 3)
    )
    expected = np.array(params.weights.floatValue, dtype=np.float32).reshape(64, 32, 3, 3)
    np.testing.assert_array_equal(weights["weights"].numpy(), expected)
    np.testing.assert_array_equal(weights["bias"].numpy(), np.array(params.bias.floatValue, dtype=np.float32))
    dense = next(n for n in model.main.nodes if n.name == "dense_1")
    assert dense.weights()[0].initializer.shape == (128, 512)
    stored = 0
    for layer in spec.neuralNetworkClassifier.layers:
        for field, value in getattr(layer, layer.WhichOneof("layer")).ListFields():
            if field.message_type is not None and field.message_type.name == "WeightParams":
                stored += len(value.floatValue)
    assert model.parameter_count() == stored == 94_602


def test_drawing_embedding(real_files: dict[str, Path]) -> None:
    model = netray.load_model(real_files[DRAWING])
    assert model.properties["model type"] == "neuralNetwork"
    assert model.properties["layers"] == 12
    assert model.metadata["author"] == "Core ML Tools Example"
    graph = model.main
    assert [n.op for n in graph.nodes].count("activation") == 4
    assert graph.outputs[0].name == "embedding" and graph.outputs[0].type.shape == (128,)
    assert graph.outputs[0].producer is graph.nodes[-1]
    dense = next(n for n in graph.nodes if n.op == "innerProduct")
    assert dense.weights()[0].initializer.shape == (128, 576)
    assert model.parameter_count() == 97_152


def test_blob_shapes_follow_from_layer_parameters(real_files: dict[str, Path]) -> None:
    """NeuralNetworks store no blob shapes: the plugin derives them, and they agree with the weights."""
    model = netray.load_model(real_files[MNIST])
    graph = model.main
    assert "inferred" in graph.metadata["blob shapes"]
    shapes = {n.name: next(n.output_values()).type.shape for n in graph.nodes}
    assert shapes["conv2d_1"] == (32, 24, 24)  # 28 - 5 + 1, valid padding
    assert shapes["max_pooling2d_1"] == (32, 12, 12)
    assert shapes["max_pooling2d_3"] == (128, 2, 2)
    assert shapes["flatten_1"] == (512, 1, 1)
    dense = next(n for n in graph.nodes if n.name == "dense_1")
    assert dense.weights()[0].initializer.shape[1] == 512
    assert shapes["dense_2"] == (10, 1, 1)


def test_preview_ml_program_opens_with_what_parses(real_files: dict[str, Path]) -> None:
    """spec v5 from the MIL preview: the description parses, the pre-release mlProgram does not."""
    path = real_files[PREVIEW]
    with pytest.raises(Exception, match="Error parsing"):
        _spec(path)
    model = netray.load_model(path)
    assert model.format_version == "5"
    assert model.metadata == {"coremltoolsVersion": "3.1"}
    note = model.properties["unreadable"]
    assert note.startswith("mlProgram (field 502) does not parse with the schema of coremltools")
    assert "block_specializations" in note and "at byte" in note
    graph = model.main
    assert [(v.name, v.type.dtype, v.type.shape) for v in graph.inputs] == [("input0", "float32", (1, 2, 4))]
    assert [(v.name, v.type.shape) for v in graph.outputs] == [("output0", (1, 2, 2))]
    (node,) = graph.nodes
    assert node.op == "mlProgram" and node.attribute("unreadable").value in note
