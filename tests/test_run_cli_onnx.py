"""`netray run` end to end on onnxruntime: the first NaN deep in a graph, a comparison, gradients."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from netray.cli import cli

LAYERS = 24
POISONED = 17  # the layer whose Log reads a negative number


def _deep_model(path: Path) -> Path:
    """24 blocks of MatMul -> Tanh; block 17 also takes Log of a negated Relu (NaN where the Relu was positive)."""
    rng = np.random.default_rng(0)
    nodes, weights = [], []
    x = "x"
    for k in range(LAYERS):
        w = f"w{k}"
        weights.append(numpy_helper.from_array((rng.standard_normal((16, 16)) / 4).astype(np.float32), w))
        nodes.append(helper.make_node("MatMul", [x, w], [f"m{k}"], name=f"block{k}/matmul"))
        nodes.append(helper.make_node("Tanh", [f"m{k}"], [f"t{k}"], name=f"block{k}/tanh"))
        x = f"t{k}"
        if k == POISONED:
            nodes.append(helper.make_node("Relu", [x], ["r"], name="poison/relu"))
            nodes.append(helper.make_node("Neg", ["r"], ["n"], name="poison/neg"))
            nodes.append(helper.make_node("Log", ["n"], ["l"], name="poison/log"))
            nodes.append(helper.make_node("Add", [x, "l"], [f"p{k}"], name="poison/add"))
            x = f"p{k}"
    graph = helper.make_graph(
        nodes,
        "deep",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", 16])],
        weights,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnxruntime")
    return _deep_model(tmp_path_factory.mktemp("run") / "deep.onnx")


def test_first_nonfinite_is_the_log_deep_in_the_graph(deep: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(deep), "--dim", "batch=4", "--json", "-"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["runtime"] == "onnxruntime"
    assert document["first_nonfinite"]["name"] == "poison/log"
    assert document["first_nonfinite"]["op"] == "Log"
    assert all(document["values"][f"t{k}"]["nonfinite"] == 0 for k in range(POISONED + 1))
    assert document["values"][f"t{LAYERS - 1}"]["nonfinite"] > 0  # it spread to the output
    text = runner.invoke(cli, ["run", str(deep)])
    assert "first NaN/Inf: poison/log (Log) made l non-finite while all its inputs were finite" in text.output


def test_compare_with_the_reference_evaluator_finds_no_divergence(deep: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(deep), "--compare", "reference", "--json", "-"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["compared_with"] == "onnx reference"
    assert document["first_divergence"] is None
    assert len(document["compare"]) == len(document["values"])


def test_backward_gives_every_weight_a_gradient(deep: Path, tmp_path: Path) -> None:
    from netray_onnx.autograd import onnx2torch_available

    if not onnx2torch_available():  # netray imports it with torchvision stubbed: a plain import fails without torchvision
        pytest.skip("onnx2torch is not installed")
    # Gradients through the poisoned block would be NaN: start from the clean part of the graph.
    clean = tmp_path / "clean.onnx"
    model = onnx.load(deep)
    cut = next(i for i, n in enumerate(model.graph.node) if n.name == "poison/relu")
    del model.graph.node[cut:]
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info(f"t{POISONED}", TensorProto.FLOAT, ["batch", 16]))
    used = {i for n in model.graph.node for i in n.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.save(model, clean)
    result = CliRunner().invoke(cli, ["run", str(clean), "--backward", "--json", "-"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert set(document["gradients"]) == {f"w{k}" for k in range(POISONED + 1)}
    assert all(g["nonfinite"] == 0 and (g["norm"] or 0) > 0 for g in document["gradients"].values())
    assert set(document["value_gradients"]) >= {f"t{k}" for k in range(POISONED + 1)}


def _masked_model(path: Path) -> Path:
    """A -inf mask made by ConstantOfShape (the file's own infinity), added to the scores of a row
    that is all masked: Softmax of all -inf is NaN (born from infinities, no NaN before it); then
    a separate branch whose Exp overflows a finite input to +inf."""
    minus_inf = helper.make_tensor("value", TensorProto.FLOAT, [1], [float("-inf")])
    nodes = [
        helper.make_node("Shape", ["scores"], ["shape"], name="mask/shape"),
        helper.make_node("ConstantOfShape", ["shape"], ["mask"], name="mask/fill", value=minus_inf),
        helper.make_node("Add", ["scores", "mask"], ["masked"], name="attention/add_mask"),
        helper.make_node("Softmax", ["masked"], ["weights"], name="attention/softmax", axis=-1),
        helper.make_node("Relu", ["weights"], ["probs"], name="attention/relu"),
        helper.make_node("Mul", ["scores", "scale"], ["big"], name="other/scale"),
        helper.make_node("Exp", ["big"], ["overflow"], name="other/exp"),
    ]
    graph = helper.make_graph(
        nodes,
        "masked",
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [2, 4]), helper.make_tensor_value_info("overflow", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(np.array(1000.0, np.float32), "scale")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_a_masks_infinity_is_the_files_own_and_a_nan_born_of_infinities_is_found(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = _masked_model(tmp_path / "masked.onnx")
    np.save(tmp_path / "scores.npy", np.abs(np.random.default_rng(0).standard_normal((2, 4))).astype(np.float32) + 1)
    result = CliRunner().invoke(cli, ["run", str(path), "--inputs", str(tmp_path / "scores.npy"), "--json", "-"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["values"]["weights"]["nan"] == 8 and document["values"]["mask"]["nan"] == 0
    # Softmax makes the NaN from -inf inputs; the mask's -inf is a constant's; Exp's overflow comes later.
    assert document["first_nonfinite"]["name"] == "attention/softmax"
    assert [c["name"] for c in document["constant_infinities"]] == ["mask/fill"]
    text = CliRunner().invoke(cli, ["run", str(path), "--inputs", str(tmp_path / "scores.npy")]).output
    assert "first NaN/Inf: attention/softmax (Softmax) made weights non-finite from infinities (NaN starts here)" in " ".join(text.split())


def test_an_overflow_is_found_and_a_mask_alone_is_no_error(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from netray.run import run_model

    path = _masked_model(tmp_path / "masked.onnx")
    model = onnx.load(path)
    del model.graph.node[2:5]  # no softmax branch: only the mask and the overflow
    del model.graph.output[0]
    model.graph.output.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, [2, 4]))
    onnx.save(model, tmp_path / "overflow.onnx")
    result = run_model(tmp_path / "overflow.onnx", seed=0)
    assert result.first_nonfinite is not None and result.first_nonfinite["name"] == "other/exp"
    del model.graph.node[2:]  # the mask alone
    del model.graph.output[0]
    onnx.save(model, tmp_path / "mask.onnx")
    alone = run_model(tmp_path / "mask.onnx", seed=0)
    assert alone.first_nonfinite is None and [c["op"] for c in alone.constant_infinities] == ["ConstantOfShape"]


def test_a_stored_mask_value_is_the_files_own_and_a_nan_weight_is_the_cause(tmp_path: Path) -> None:
    """A -inf kept as a weight (a mask value) and used by Where is the file's own; a weight holding
    NaN makes the first NaN at the node that reads it, named as the cause."""
    pytest.importorskip("onnxruntime")
    from netray.run import run_model

    nodes = [
        helper.make_node("Greater", ["x", "zero"], ["keep"], name="mask/compare"),
        helper.make_node("Where", ["keep", "x", "minus_inf"], ["masked"], name="mask/where"),
        helper.make_node("Relu", ["masked"], ["relu"], name="after/relu"),
        helper.make_node("Mul", ["x", "poisoned"], ["scaled"], name="poison/mul"),
    ]
    weights = [
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(-np.inf, np.float32), "minus_inf"),
        numpy_helper.from_array(np.array([1.0, np.nan, 1.0, 1.0], np.float32), "poisoned"),
    ]
    graph = helper.make_graph(
        nodes,
        "stored",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("relu", TensorProto.FLOAT, [2, 4]), helper.make_tensor_value_info("scaled", TensorProto.FLOAT, [2, 4])],
        weights,
    )
    path = tmp_path / "stored.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    result = run_model(path, seed=0)
    assert result.values["masked"].nonfinite > 0 and result.values["masked"].nan == 0  # random x: some masked
    assert [c["name"] for c in result.constant_infinities] == ["mask/where"]
    assert result.constant_infinities[0]["cause"] == "weight minus_inf holds infinities"
    found = result.first_nonfinite
    assert found is not None and found["name"] == "poison/mul" and found["cause"] == "weight poisoned holds NaN"
