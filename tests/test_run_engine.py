"""The run engine with a small numpy runtime: inputs, statistics, the first NaN, comparison, JSON, CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from numpy_runtime import NumpyPlugin, registered
from onnx import TensorProto, helper, numpy_helper

import netray
from netray.run import RunOptions, run_model
from netray.runtime import RunCancelled, RunError


@pytest.fixture
def numpy_plugin() -> Iterator[NumpyPlugin]:
    with registered(NumpyPlugin(), "numpy-runtime-test") as plugin:
        yield plugin


def _model(tmp_path: Path) -> Path:
    """ids -> Gather(table) -> Relu -> Neg -> Log (NaN where Relu gave a positive) -> Add(x) -> y."""
    table = np.abs(np.random.default_rng(0).standard_normal((50, 4))).astype(np.float32) + 0.1
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["embedded"], name="embed"),
        helper.make_node("Relu", ["embedded"], ["relu"], name="relu"),
        helper.make_node("Neg", ["relu"], ["negated"], name="negate"),
        helper.make_node("Log", ["negated"], ["logged"], name="log"),
        helper.make_node("Add", ["logged", "x"], ["y"], name="add"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 3]), helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(table, "table")],
    )
    path = tmp_path / "nan.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_first_nonfinite_is_the_log_and_statistics_stream(numpy_plugin: NumpyPlugin, tmp_path: Path) -> None:
    model = netray.load_model(_model(tmp_path))
    result = run_model(model, RunOptions(seed=3, dims={"batch": 2}, runtime="numpy"))
    assert result.runtime == "numpy"
    ids = result.inputs["ids"]
    assert ids.shape == (2, 3) and ids.min is not None and 0 <= ids.min and (ids.max or 0) < 50  # within the table
    assert result.values["relu"].nonfinite == 0 and result.values["logged"].nonfinite > 0
    assert result.first_nonfinite == {"node": "log", "name": "log", "op": "Log", "value": "logged", "inputs_finite": True}
    assert set(result.outputs) == {"y"} and result.outputs["y"].nonfinite > 0
    assert result.largest(2)[0][1].max_abs == max(s.max_abs or 0 for s in result.values.values())
    metrics = {m.name: m for m in result.metrics()}
    assert metrics["NaN/Inf count"].values["log"] == result.values["logged"].nonfinite
    assert metrics["max |x|"].values["relu"] == result.values["relu"].max_abs
    document = json.loads(json.dumps(result.to_json()))
    assert set(document["values"]["relu"]) >= {"shape", "dtype", "min", "max", "mean", "std", "nonfinite", "zeros"}
    assert document["first_nonfinite"]["node"] == "log" and document["compare"] == {} and document["first_divergence"] is None


def test_compare_finds_the_first_divergence(numpy_plugin: NumpyPlugin, tmp_path: Path) -> None:
    model = netray.load_model(_model(tmp_path))
    result = run_model(model, RunOptions(runtime="numpy", compare="skewed", save=tmp_path / "acts.npz"))
    assert result.compared_with == "skewed"
    assert result.compare["relu"].max_abs == 0.0
    assert result.first_divergence is not None and result.first_divergence["value"] == "negated"
    assert result.first_divergence["max_abs"] == pytest.approx(0.5)
    with np.load(tmp_path / "acts.npz") as saved:
        assert set(saved.files) >= {"embedded", "relu", "negated", "logged", "y"}


def test_inputs_from_files_and_a_clear_error_for_a_wrong_one(numpy_plugin: NumpyPlugin, tmp_path: Path) -> None:
    model = netray.load_model(_model(tmp_path))
    ids = np.array([[1, 2, 3]], dtype=np.int64)
    x = np.zeros((1, 3, 4), dtype=np.float32)
    np.savez(tmp_path / "in.npz", ids=ids, x=x)
    result = run_model(model, RunOptions(runtime="numpy", inputs=tmp_path / "in.npz"))
    assert result.inputs["ids"].max == 3.0 and result.inputs["x"].zeros == 12
    np.savez(tmp_path / "short.npz", ids=ids)
    with pytest.raises(RunError, match="no array for input"):
        run_model(model, RunOptions(runtime="numpy", inputs=tmp_path / "short.npz"))
    np.save(tmp_path / "one.npy", x)
    with pytest.raises(RunError, match=r"use a \.npz"):
        run_model(model, RunOptions(runtime="numpy", inputs=tmp_path / "one.npy"))


def test_image_input_is_resized_scaled_and_normalised(numpy_plugin: NumpyPlugin, tmp_path: Path) -> None:
    from PIL import Image

    graph = helper.make_graph(
        [helper.make_node("Relu", ["image"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 6])],
    )
    path = tmp_path / "image.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    Image.new("RGB", (60, 80), (255, 0, 51)).save(tmp_path / "red.png")
    result = run_model(netray.load_model(path), RunOptions(runtime="numpy", inputs=tmp_path / "red.png", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    stats = result.inputs["image"]
    assert stats.shape == (1, 3, 8, 6)
    assert stats.max == pytest.approx(1.0) and stats.min == pytest.approx(-1.0)  # red (1) and green (0), normalised
    # green (0) and blue (0.2) fall below the mean: negative, then zero after the Relu
    assert result.outputs["y"].zeros == 2 * 8 * 6


def test_backward_failure_keeps_the_forward_results(numpy_plugin: NumpyPlugin, tmp_path: Path) -> None:
    model = netray.load_model(_model(tmp_path))
    result = run_model(model, RunOptions(runtime="numpy", backward=True))
    assert result.backward_error == "no gradients here"
    assert result.first_nonfinite is not None and result.gradients == {}
    assert result.to_json()["backward_error"] == "no gradients here"


def test_missing_runtime_names_what_to_install(numpy_plugin: NumpyPlugin, tmp_path: Path) -> None:
    numpy_plugin.missing = True
    model = netray.load_model(_model(tmp_path))
    with pytest.raises(RunError, match="pip install numpy-runtime"):
        run_model(model, RunOptions(runtime="numpy"))


def test_cancel_stops_the_run(numpy_plugin: NumpyPlugin, tmp_path: Path) -> None:
    model = netray.load_model(_model(tmp_path))
    with pytest.raises(RunCancelled):
        run_model(model, RunOptions(runtime="numpy", cancelled=lambda: True))


def test_cli_run(numpy_plugin: NumpyPlugin, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from netray.cli import cli

    path = _model(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(path), "--runtime", "numpy", "--seed", "1", "--dim", "batch=2", "--json", "-"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["first_nonfinite"]["name"] == "log" and document["inputs"]["x"]["shape"] == [2, 3, 4]
    text = runner.invoke(cli, ["run", str(path), "--runtime", "numpy", "--compare", "skewed"])
    assert text.exit_code == 0, text.output
    assert "first NaN/Inf: log (Log) made logged non-finite" in text.output
    assert "first divergence: negated at negate (Neg)" in text.output
    unknown = runner.invoke(cli, ["run", str(path), "--runtime", "nonesuch"])
    assert unknown.exit_code == 2 and "no installed plugin runs ONNX 'nonesuch' models" in unknown.output


@pytest.mark.parametrize(
    ("relative", "message"),
    [
        ("caffe/bvlc_caffe/bvlc_alexnet_deploy.prototxt", "netray has no runtime for Caffe models; Caffe (pycaffe) or OpenCV's dnn module"),
        ("darknet/pjreddie_darknet/tiny.cfg", "netray has no runtime for Darknet models; darknet itself, or OpenCV's dnn module"),
        ("safetensors/hf_safetensors_samples/B.safetensors", "this safetensors file holds weights only: there is no graph to run"),
    ],
)
def test_a_format_without_a_runtime_says_what_runs_it(shared_models: Path, relative: str, message: str) -> None:
    """The issue: "a format with no runtime says which package would run it"; weights alone have nothing to run."""
    from click.testing import CliRunner

    from netray.cli import cli

    result = CliRunner().invoke(cli, ["run", str(shared_models / relative)])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
