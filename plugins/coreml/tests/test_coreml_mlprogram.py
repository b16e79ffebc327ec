"""ML Programs converted by coremltools from torch: packages, weight.bin, compressed weights, nested blocks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netray
import netray.testing
import netray_coreml.plugin as plugin

pytest.importorskip("coremltools", reason="coremltools (test-only dependency) converts the models")
torch = pytest.importorskip("torch", reason="torch builds the modules coremltools converts")

from coreml_test_models import (  # noqa: E402
    Tiny,
    compressed,
    convert,
    convert_loop,
    convert_stateful,
    mil_constants,
    save_multifunction,
)

INNER = Path("Data") / "com.apple.CoreML" / "model.mlmodel"


@pytest.fixture(scope="module")
def module() -> Any:
    return Tiny.make()


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory, module: Any) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("coreml_mil")
    _, fp32 = convert(module, folder, "tiny_fp32", precision="fp32", target="iOS15")
    _, fp16 = convert(module, folder, "tiny_fp16")
    found = {"fp32": fp32, "fp16": fp16}
    for kind in ("int4", "lut4", "lut3"):
        # A fresh conversion each: coremltools' compression passes may change the model they are given.
        model, _ = convert(module, folder, f"tiny_base_{kind}")
        found[kind] = compressed(model, folder, f"tiny_{kind}", kind)
    return found


def _by_port(node: netray.Node) -> dict[str, netray.Tensor]:
    return {p.name: p.values[0].initializer for p in node.inputs if p.values and p.values[0].initializer is not None}


def test_contract(packages: dict[str, Path], tmp_path: Path) -> None:
    files = [*packages.values(), packages["fp16"] / INNER, packages["fp16"] / "Manifest.json"]
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    assert [m.format for m in models] == ["Core ML package"] * 7  # a file inside a package opens the package


def test_functions_operations_and_consts(packages: dict[str, Path], module: Any) -> None:
    model = netray.load_model(packages["fp32"])
    assert model.producer == "coremltools"
    assert model.properties["model type"] == "mlProgram"
    assert model.properties["functions"] == ["main"]
    assert model.properties["package items"] == ["weights", "model.mlmodel"] or sorted(
        model.properties["package items"]
    ) == ["model.mlmodel", "weights"]
    graph = model.main
    assert graph.metadata["opset"] == "CoreML5"
    assert [n.op for n in graph.nodes] == ["conv", "relu", "reduce_mean", "linear", "gelu", "linear"]
    assert not any(n.op == "const" for n in graph.nodes)  # folded into their consumers
    conv, _, mean, fc, _, fc2 = graph.nodes
    assert [p.name for p in conv.inputs][:3] == ["x", "weight", "bias"]
    assert conv.attribute("pad_type").value == "valid" and conv.attribute("strides").value == [1, 1]
    assert mean.attribute("axes").value == [2, 3] and mean.attribute("keep_dims").value is False
    assert graph.inputs[0].type == netray.TensorType("float32", (1, 3, 16, 16))
    assert graph.outputs[0].type.shape == (1, 4) and graph.outputs[0].producer is fc2
    weights = _by_port(conv)
    assert weights["weight"].shape == (16, 3, 3, 3) and weights["weight"].location.startswith("weights/weight.bin @ ")
    np.testing.assert_array_equal(weights["weight"].numpy(), module.conv.weight.detach().numpy())
    np.testing.assert_array_equal(_by_port(fc)["weight"].numpy(), module.fc.weight.detach().numpy())
    np.testing.assert_array_equal(_by_port(fc2)["bias"].numpy(), module.fc2.bias.detach().numpy())


def _loader_name(name: str, expected: dict[str, np.ndarray]) -> str:
    """coremltools' loader names an inline argument "<op>_<parameter>_<k>" (k counts over loads); the plugin "<op>/<parameter>"."""
    if name in expected or "/" not in name:
        return name
    pattern = re.compile(re.escape(name.replace("/", "_")) + r"_\d+")
    return next((key for key in expected if pattern.fullmatch(key)), name)


def test_weights_match_coremltools_blob_reader(packages: dict[str, Path]) -> None:
    """Every weight the plugin reads equals what coremltools' MIL loader (its C++ blob reader) reads."""
    for kind in ("fp16", "int4", "lut4", "lut3"):
        expected = mil_constants(packages[kind])
        model = netray.load_model(packages[kind])
        checked = 0
        for node in model.main.nodes:
            for port in node.inputs:
                for value in port.values:
                    name = _loader_name(value.name, expected)
                    if value.initializer is not None and name in expected:
                        got = value.initializer.numpy()
                        want = expected[name]
                        assert got.shape == want.shape, (kind, value.name)
                        np.testing.assert_array_equal(
                            got.astype(np.float32), want.astype(np.float32), err_msg=f"{kind} {value.name}"
                        )
                        checked += 1
        assert checked >= 6, kind


def test_compressed_weights(packages: dict[str, Path]) -> None:
    model = netray.load_model(packages["int4"])
    dequantize = [n for n in model.main.nodes if n.op == "constexpr_blockwise_shift_scale"]
    assert dequantize and all(n.category == netray.Category.QUANTIZATION for n in dequantize)
    data = _by_port(dequantize[0])["data"]
    assert data.dtype == "int4" and data.shape == (32, 16) and data.byte_size == 256
    values = data.numpy()
    assert str(values.dtype) == "int4" and values.astype(np.int8).min() >= -8
    model = netray.load_model(packages["lut3"])
    lut = next(n for n in model.main.nodes if n.op == "constexpr_lut_to_dense")
    indices = _by_port(lut)["indices"]
    assert indices.dtype == "uint3" and indices.shape == (16, 3, 3, 3) and indices.byte_size == 162
    assert indices.numpy().max() <= 7


def test_every_file_of_a_package_opens_the_package(packages: dict[str, Path]) -> None:
    """Manifest.json, the inner model.mlmodel, weights/weight.bin: each opens the package it is in."""
    package = packages["fp16"]
    whole = netray.load_model(package)
    files = [Path("Manifest.json"), INNER, INNER.parent / "weights" / "weight.bin"]
    for relative in files:
        opened = netray.load_model(package / relative)
        assert opened.format == whole.format == "Core ML package", relative
        assert opened.properties["opened from"] == f"{relative.as_posix()}, a file of the package {package.name}"
        assert [n.op for n in opened.main.nodes] == [n.op for n in whole.main.nodes]
        assert opened.properties["package items"] == whole.properties["package items"]
        np.testing.assert_array_equal(
            _by_port(opened.main.nodes[0])["weight"].numpy(), _by_port(whole.main.nodes[0])["weight"].numpy()
        )


def test_the_inner_model_out_of_its_package_opens_alone(packages: dict[str, Path], tmp_path: Path) -> None:
    """model.mlmodel with its weights/ folder, but no package around them: a Core ML model of its own."""
    alone = tmp_path / "alone"
    shutil.copytree(packages["fp16"] / INNER.parent, alone)
    inner = netray.load_model(alone / "model.mlmodel")
    whole = netray.load_model(packages["fp16"])
    assert inner.format == "Core ML" and "opened from" not in inner.properties
    assert [n.op for n in inner.main.nodes] == [n.op for n in whole.main.nodes]
    np.testing.assert_array_equal(
        _by_port(inner.main.nodes[0])["weight"].numpy(), _by_port(whole.main.nodes[0])["weight"].numpy()
    )


def test_a_file_of_a_package_with_a_broken_manifest_is_one_line(packages: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(packages["fp16"], tmp_path / "broken.mlpackage"))
    manifest = copy / "Manifest.json"
    manifest.write_text(manifest.read_text()[:-20])  # cut: still names rootModelIdentifier, no longer JSON
    with pytest.raises(netray.FormatError) as caught:
        netray.load_model(copy / INNER.parent / "weights" / "weight.bin")
    assert "\n" not in str(caught.value) and "Manifest.json is not valid JSON" in str(caught.value)


def test_missing_weight_file_opens_with_weights_not_stored(packages: dict[str, Path], tmp_path: Path) -> None:
    copy = shutil.copytree(packages["fp16"], tmp_path / "no_weights.mlpackage")
    (copy / "Data" / "com.apple.CoreML" / "weights" / "weight.bin").unlink()
    model = netray.load_model(copy)
    note = model.properties["missing weights weights/weight.bin"]
    assert "not stored" in note
    weight = _by_port(model.main.nodes[0])["weight"]
    assert not weight.has_data and weight.shape == (16, 3, 3, 3) and "missing" in weight.location
    with pytest.raises(netray.FormatError, match="not stored"):
        weight.numpy()


def test_nested_blocks_become_subgraphs(tmp_path: Path) -> None:
    path = convert_loop(tmp_path)
    (model,) = netray.testing.check_plugin(plugin, [path], tmp_path / "check")
    ops = [n.op for n in model.main.nodes]
    assert "while_loop" in ops and "cond" in ops
    loop = next(n for n in model.main.nodes if n.op == "while_loop")
    condition, body = loop.subgraphs
    assert condition.kind == body.kind == "subgraph"
    assert [v.name for v in condition.inputs][:2] == [v.name for v in body.inputs] and len(body.inputs) == 2
    assert any(n.op == "mul" for n in body.nodes)
    # The condition reads the bound "n" from the enclosing function: an implicit input, drawn as an edge.
    less = next(n for n in condition.nodes if n.op == "less")
    assert [v.name for v in less.input_values()][1] == "n"
    assert condition.inputs[2].name == "n" and condition.inputs[2].metadata["implicit"]
    implicit = next(p for p in loop.inputs if p.name == "implicit")
    assert implicit.values == [model.main.values["n"]] and loop in model.main.values["n"].consumers
    branch = next(n for n in model.main.nodes if n.op == "cond")
    assert len(branch.subgraphs) == 2


def test_stateful_program(tmp_path: Path) -> None:
    (model,) = netray.testing.check_plugin(plugin, [convert_stateful(tmp_path)], tmp_path / "check")
    graph = model.main
    state = graph.values["acc"]
    assert state in graph.inputs and state.type == netray.TensorType("float16", (1, 4), "state")
    ops = [n.op for n in graph.nodes]
    assert ops.count("read_state") == 2 and "write_state" in ops
    assert model.properties["program buildInfo coremltools-source-dialect"] == "TorchScript"


def test_multifunction_program(tmp_path: Path) -> None:
    (model,) = netray.testing.check_plugin(plugin, [save_multifunction(tmp_path)], tmp_path / "check")
    assert model.properties["functions"] == ["two", "one"]  # the default function first
    two, one = model.graphs
    assert (two.name, two.kind, one.name, one.kind) == ("two", "main", "one", "function")
    assert two.inputs[0].type.shape == (2, 4) and one.inputs[0].type.shape == (1, 4)
    assert [n.op for n in one.nodes] == ["linear", "relu"]
    # Both functions read the same weight from the shared weight.bin.
    w_one = next(p for p in one.nodes[0].inputs if p.name == "weight").values[0].initializer
    w_two = next(p for p in two.nodes[0].inputs if p.name == "weight").values[0].initializer
    assert w_one is not None and w_two is not None
    np.testing.assert_array_equal(w_one.numpy(), w_two.numpy())
