"""The OpenVINO IR plugin on the real IR files in shared/models/openvino (provenance in MANIFEST.tsv).

Two Open Model Zoo topologies come without their .bin (too large for the snapshot): they must open
with every weight marked as not stored. Three OpenVINO Model Server test IRs come with theirs.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
from netray import Category, FormatError
from netray.plugins import PluginManager

netray_openvino = pytest.importorskip("netray_openvino")
from netray_openvino import plugin  # noqa: E402


def ir_files(root: Path) -> list[Path]:
    return sorted((root / "openvino").glob("*/*.xml"))


def manifest_layers(root: Path) -> dict[str, int]:
    """``openvino/... -> layers=N`` from the MANIFEST's check notes (written by whoever fetched the files)."""
    checks = {}
    for line in (root / "MANIFEST.tsv").read_text().splitlines():
        cols = line.split("\t")
        if cols[0].startswith("openvino/") and "layers=" in line:
            checks[cols[0]] = int(line.rsplit("layers=", 1)[1].split()[0])
    return checks


def load(path: Path) -> netray.Model:
    manager = PluginManager(load_entry_points=False)
    manager.register(plugin, "openvino")
    return manager.load(path)


def op_counts(model: netray.Model) -> dict[str, int]:
    return dict(collections.Counter(n.op for n in model.main.nodes))


def test_contract_on_every_real_file(shared_models: Path, tmp_path: Path) -> None:
    files = ir_files(shared_models)
    assert len(files) == 5, files
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    checks = manifest_layers(shared_models)
    for path, model in zip(files, models, strict=True):
        assert model.format == "OpenVINO IR"
        key = str(path.relative_to(shared_models))
        if key in checks:
            assert model.properties["layers"] == checks[key], key


def test_age_gender_opens_without_its_bin(shared_models: Path) -> None:
    path = shared_models / "openvino/omz_ir/age-gender-recognition-retail-0013.xml"
    model = load(path)
    assert (model.format_version, model.producer) == ("v10", "Model Optimizer")
    assert model.producer_version.startswith("2021.3.0")
    graph = model.main
    assert graph.name == "age_gender"
    assert op_counts(model) == {"Convolution": 11, "Add": 11, "MaxPool": 3, "ReLU": 9, "SoftMax": 1}
    assert [(v.name, v.type.dtype, v.type.shape) for v in graph.inputs] == [("data", "float32", (1, 3, 62, 62))]
    assert [v.name for v in graph.outputs] == ["age_conv3", "prob"]  # as cli_parameters/output lists them
    # Const layers are weights of their consumers, not boxes; none of them is stored here.
    assert "Const" not in op_counts(model)
    conv = graph.nodes[0]
    assert (conv.op, conv.name, conv.scope, conv.domain) == ("Convolution", "conv1/WithoutBiases", ("conv1",), "opset1")
    assert conv.category is Category.LAYER
    assert conv.attribute("strides").value == [1, 1] and conv.attribute("auto_pad").value == "explicit"
    (weight,) = conv.weights()
    assert [p.name for p in conv.inputs] == ["input", "filter"]
    tensor = weight.initializer
    assert (tensor.dtype, tensor.shape, tensor.byte_size) == ("float32", (48, 3, 3, 3), 5184)
    assert not tensor.has_data and "absent" in tensor.location
    with pytest.raises(FormatError, match="not stored"):
        tensor.numpy()
    assert model.properties["weights file"].startswith("absent (age-gender-recognition-retail-0013.bin)")
    assert model.properties["constants"] == 22
    assert model.parameter_count() == 2_138_019
    assert model.metadata["cli_parameters/framework"] == "caffe"
    assert model.metadata["cli_parameters/reverse_input_channels"] is False
    assert model.properties["converted from"] == "caffe"


def test_emotions_recognition(shared_models: Path) -> None:
    model = load(shared_models / "openvino/omz_ir/emotions-recognition-retail-0003.xml")
    counts = op_counts(model)
    assert counts == {"Multiply": 5, "Add": 15, "Convolution": 13, "ReLU": 9, "MaxPool": 1, "SoftMax": 1}
    assert model.main.name == "0003_EmoNet_ResNet10"
    assert [(v.name, v.type.shape) for v in model.main.outputs] == [("prob_emotion", (1, 5, 1, 1))]
    assert all(not t.has_data for _, t in model.all_tensors())
    # Model Optimizer's layer names carry the Caffe layer they came from: "BatchNorm1/mean/Fused_Mul_".
    first = model.main.nodes[0]
    assert (first.op, first.scope) == ("Multiply", ("BatchNorm1", "mean"))


def test_ovms_dummy_weight_matches_the_bin(shared_models: Path) -> None:
    folder = shared_models / "openvino/ovms_test"
    model = load(folder / "dummy.xml")
    (add,) = model.main.nodes
    assert add.op == "Add" and [p.name for p in add.inputs] == ["a", "b"]
    (weight,) = add.weights()
    expected = np.fromfile(folder / "dummy.bin", dtype="<f4").reshape(1, 1)
    assert np.array_equal(weight.initializer.numpy(), expected)
    assert model.metadata["MO_version"] == "2020.1.0-61-gd349c3ba4a"
    # rt_info repeats MO_version and adds what meta_data lacks.
    assert model.metadata["model_info/precision"] == "FP16"
    assert model.metadata["model_info/resolution/height"] == 200
    assert model.metadata["cli_parameters/unset"].startswith("batch, counts")


def test_ovms_increment_adds_one(shared_models: Path) -> None:
    model = load(shared_models / "openvino/ovms_test/increment_1x3x4x5.xml")
    (add,) = model.main.nodes
    assert float(add.weights()[0].initializer.numpy().reshape(-1)[0]) == 1.0
    assert [(v.name, v.type.shape) for v in model.main.inputs] == [("input", (1, 3, 4, 5))]


def test_ovms_summator_keeps_its_state_ops(shared_models: Path) -> None:
    model = load(shared_models / "openvino/ovms_test/summator.xml")
    read, add, assign = model.main.nodes
    assert [n.op for n in (read, add, assign)] == ["ReadValue", "Add", "Assign"]
    assert read.attribute("variable_id").value == assign.attribute("variable_id").value == "state"
    assert read.category is Category.CONTROL and read.domain == "opset6"
    assert read.weights()[0].initializer.numpy().shape == (1, 1)
    assert not assign.outputs  # a sink: it writes the state, nothing reads it
    assert [v.name for v in model.main.outputs] == ["add_sum"]


def test_operator_info_comes_from_the_table() -> None:
    info = plugin.netray_operator_info(format="OpenVINO IR", domain="opset1", op="FakeQuantize")
    assert info is not None and info.category is Category.QUANTIZATION and "levels" in info.summary
    assert [name for name, _ in info.inputs][:2] == ["X", "input_low"]
    for op in ("Convolution", "GroupConvolution", "MatMul", "Add", "Multiply", "Relu", "Sigmoid", "SoftMax", "MVN"):
        assert plugin.netray_operator_info(format="OpenVINO IR", domain="", op=op) is not None, op
    for op in ("Interpolate", "Concat", "Reshape", "Transpose", "StridedSlice", "Gather", "Loop", "If"):
        assert plugin.netray_operator_info(format="OpenVINO IR", domain="", op=op) is not None, op
    assert plugin.netray_operator_info(format="ONNX", domain="", op="Convolution") is None
    assert plugin.netray_operator_info(format="OpenVINO IR", domain="", op="NoSuchOp") is None
