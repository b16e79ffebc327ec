"""`netray diff` and netray.diff: same models, planted edits, renamed, optimized and quantized models, the CLI."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import netray  # noqa: E402
from netray.cli import cli  # noqa: E402
from netray.diff import DiffResult, diff_lines, diff_models  # noqa: E402

RESNET = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array.astype(np.float32), name)


def small_cnn() -> onnx.ModelProto:
    """Conv-Relu-Conv-BN-LeakyRelu-MaxPool-Flatten-Gemm with real weights, named nodes."""
    rng = np.random.default_rng(0)
    inits = [
        _init("c1.w", rng.normal(size=(8, 3, 3, 3))),
        _init("c1.b", rng.normal(size=(8,))),
        _init("c2.w", rng.normal(size=(8, 8, 3, 3))),
        _init("bn.s", rng.uniform(0.5, 1.5, size=(8,))),
        _init("bn.b", rng.normal(size=(8,))),
        _init("bn.m", rng.normal(size=(8,))),
        _init("bn.v", rng.uniform(0.5, 1.5, size=(8,))),
        _init("fc.w", rng.normal(size=(10, 8 * 4 * 4))),
        _init("fc.b", rng.normal(size=(10,))),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "c2.w"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c2", "bn.s", "bn.b", "bn.m", "bn.v"], ["bn"], name="bn"),
        helper.make_node("LeakyRelu", ["bn"], ["r2"], name="act2", alpha=0.1),
        helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="netray-tests")
    return onnx.shape_inference.infer_shapes(model)


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def _diff(a: Path, b: Path, **options: object) -> DiffResult:
    return diff_models(netray.load_model(a), netray.load_model(b), **options)  # type: ignore[arg-type]


def _set_init(model: onnx.ModelProto, name: str, array: np.ndarray) -> None:
    for i, t in enumerate(model.graph.initializer):
        if t.name == name:
            model.graph.initializer[i].CopyFrom(_init(name, array))
            return
    raise KeyError(name)


def _get_init(model: onnx.ModelProto, name: str) -> np.ndarray:
    return next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == name)


@pytest.fixture
def cnn(tmp_path: Path) -> Path:
    return _save(small_cnn(), tmp_path / "cnn.onnx")


# -- the same model


def test_same_file_twice_reports_no_change(cnn: Path) -> None:
    result = _diff(cnn, cnn)
    assert result.same
    assert result.changes == [] and result.model_changes == []
    s = result.summary()
    assert s["matched"] == 8 and s["changed"] == s["added"] == s["removed"] == s["weights_changed"] == 0
    assert set(result.status_a().values()) == {"same"}
    assert result.partner_a("conv1") == ["conv1"]
    assert "the models are the same" in "\n".join(diff_lines(result))


def test_netray_resave_reports_no_change(cnn: Path, tmp_path: Path) -> None:
    model = netray.load_model(cnn)
    saved = netray.save_model(model, tmp_path / "cnn.netray")
    result = diff_models(model, netray.load_model(saved))
    assert result.same, diff_lines(result)


def test_resnet_same_twice(tmp_path: Path) -> None:
    copy = shutil.copy(RESNET, tmp_path / "copy.onnx")
    result = _diff(RESNET, Path(copy))
    assert result.same
    assert result.summary()["matched"] == len(result.a.main.nodes)


# -- planted edits


def test_planted_edits_report_exactly_those(cnn: Path, tmp_path: Path) -> None:
    model = small_cnn()
    rng = np.random.default_rng(1)
    _set_init(model, "c1.w", rng.normal(size=(8, 3, 3, 3)))  # one Conv's kernel changed
    _set_init(model, "fc.w", _get_init(model, "fc.w") * 1.01)  # one weight scaled by 1.01
    nodes = list(model.graph.node)
    for n in nodes:
        if n.name == "act2":  # one attribute changed
            n.attribute[0].f = 0.2
        if n.name == "conv2":  # one node removed: relu1 (conv2 reads c1 directly)
            n.input[0] = "c1"
    del model.graph.node[[n.name for n in model.graph.node].index("relu1")]
    edited = _save(model, tmp_path / "edited.onnx")

    result = _diff(cnn, edited)
    assert not result.same
    assert result.model_changes == []
    by_name = {(c.a or c.b)[0].name: c for c in result.changes}
    assert set(by_name) == {"conv1", "fc", "act2", "relu1"}
    assert by_name["relu1"].kind == "removed" and by_name["relu1"].b == []
    assert by_name["act2"].kind == "changed"
    assert [f.field for f in by_name["act2"].fields] == ["attribute:alpha"]
    conv1 = by_name["conv1"]
    assert conv1.kind == "weights" and [f.field for f in conv1.fields] == ["weight:c1.w"]
    assert conv1.fields[0].numbers["cosine"] < 0.5
    fc = by_name["fc"]
    assert fc.kind == "weights" and [f.field for f in fc.fields] == ["weight:fc.w"]
    numbers = fc.fields[0].numbers
    assert numbers["max_rel"] == pytest.approx(0.01, rel=1e-3)
    assert numbers["cosine"] == pytest.approx(1.0, abs=1e-6)
    assert numbers["max_abs"] == pytest.approx(np.abs(_get_init(small_cnn(), "fc.w")).max() * 0.01, rel=1e-3)
    s = result.summary()
    assert (s["matched"], s["changed"], s["added"], s["removed"], s["weights_changed"]) == (7, 1, 0, 1, 2)
    assert result.status_a()["relu1"] == "removed"
    assert result.status_b()["fc"] == "weights"
    change = {m.name: m for m in result.metrics_a()}["change"]
    assert change.values["relu1"] == 3 and change.values["act2"] == 2 and change.values["fc"] == 1 and change.values["pool"] == 0
    weight = {m.name: m for m in result.metrics_b()}["weight max |diff|"]
    assert set(weight.values) == {"conv1", "fc"}


def test_weights_held_as_tensor_attributes_are_compared(tmp_path: Path) -> None:
    """onnx's light ResNet-50 makes every weight with ConstantOfShape(value=...): scaling one
    by 1.01 and shifting another are weight changes, with their numbers, and nothing else."""
    model = onnx.load(RESNET)
    makers = [n for n in model.graph.node if n.op_type == "ConstantOfShape"]
    scaled, shifted = makers[128], makers[178]
    for node, change in ((scaled, lambda x: x * np.float32(1.01)), (shifted, lambda x: x + np.float32(0.5))):
        value = numpy_helper.to_array(node.attribute[0].t)
        node.attribute[0].t.CopyFrom(numpy_helper.from_array(change(value), node.attribute[0].t.name))
    result = _diff(RESNET, _save(model, tmp_path / "edited.onnx"))
    assert [c.kind for c in result.changes] == ["weights", "weights"]
    by_value = {f.field: f.numbers for c in result.changes for f in c.fields}
    assert by_value[f"weight:{scaled.output[0]}"]["max_rel"] == pytest.approx(0.01, rel=1e-3)
    assert by_value[f"weight:{shifted.output[0]}"]["max_abs"] == pytest.approx(0.5)


def test_tolerance_and_no_weights(cnn: Path, tmp_path: Path) -> None:
    model = small_cnn()
    _set_init(model, "fc.w", _get_init(model, "fc.w") + 1e-4)
    b = _save(model, tmp_path / "b.onnx")
    assert not _diff(cnn, b).same
    assert _diff(cnn, b, tolerance=1e-3).same
    assert _diff(cnn, b, weights=False).same


def test_changed_shape_dtype_and_graph_io(cnn: Path, tmp_path: Path) -> None:
    model = small_cnn()
    del model.graph.value_info[:]
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    model.metadata_props.add(key="author", value="someone")
    for n in model.graph.node:
        if n.name == "pool":
            n.attribute[0].ints[:] = [4, 4]
            n.attribute[1].ints[:] = [4, 4]
    _set_init(model, "fc.w", np.ones((10, 8 * 2 * 2)))
    b = _save(model, tmp_path / "b.onnx")
    result = _diff(cnn, b)
    fields = {f.field for f in result.model_changes}
    assert {"graph_input:x", "metadata:author"} <= fields
    pool = next(c for c in result.changes if c.a and c.a[0].name == "pool")
    assert {"attribute:kernel_shape", "attribute:strides"} <= {f.field for f in pool.fields}
    fc = next(c for c in result.changes if c.a and c.a[0].name == "fc")
    weight = next(f for f in fc.fields if f.field == "weight:fc.w")
    assert "another shape" in weight.detail


# -- renamed, optimized, quantized


def _renamed(source: Path, target: Path) -> Path:
    """Every node and every value (but the graph's inputs and outputs) renamed, as a second export might."""
    model = onnx.load(str(source))
    keep = {v.name for v in model.graph.input if v.name not in {t.name for t in model.graph.initializer}}
    keep |= {v.name for v in model.graph.output}
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}_{abs(hash(name)) % 997}")

    for i, node in enumerate(model.graph.node):
        node.name = f"node_{i * 7 % 1009}"
        node.input[:] = [rename(x) for x in node.input]
        node.output[:] = [rename(x) for x in node.output]
    for t in model.graph.initializer:
        t.name = rename(t.name)
    for v in [*model.graph.input, *model.graph.value_info]:
        v.name = rename(v.name)
    return _save(model, target)


def test_renamed_resnet_matches_99_percent(tmp_path: Path) -> None:
    renamed = _renamed(RESNET, tmp_path / "renamed.onnx")
    result = _diff(RESNET, renamed)
    total = len(result.a.main.nodes)
    matched = sum(len(a) for a, b in result.pairs if len(a) == len(b) == 1 and a[0].op == b[0].op)
    assert matched / total >= 0.99, (matched, total)
    # Matched by structure, the right partners: the same position in the file.
    right = sum(1 for a, b in result.pairs if len(a) == 1 and len(b) == 1 and a[0].index == b[0].index)
    assert right / total >= 0.99
    assert result.summary()["added"] == result.summary()["removed"] == 0


def _optimized(source: Path, target: Path, level: str) -> Path:
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return target


@pytest.mark.parametrize("level", ["ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED"])
def test_optimized_resnet_reports_fusions_as_pairs(tmp_path: Path, level: str) -> None:
    optimized = _optimized(RESNET, tmp_path / "optimized.onnx", level)
    result = _diff(RESNET, optimized)
    s = result.summary()
    assert s["added"] == 0 and s["removed"] == 0, diff_lines(result, 20)
    fused = [(a, b) for a, b in result.pairs if len(a) > 1]
    ops = {"+".join(n.op for n in a if n.op != "ConstantOfShape") + "->" + "+".join(n.op for n in b) for a, b in fused}
    assert "Conv+BatchNormalization->Conv" in ops
    if level == "ORT_ENABLE_EXTENDED":
        assert "Conv+BatchNormalization+Relu->FusedConv" in ops
    assert all(len(b) == 1 for a, b in fused)
    bn = next(n for n in result.a.main.nodes if n.op == "BatchNormalization")
    assert len(result.partner_a(bn.id)) == 1
    assert result.status_a()[bn.id] == "changed"
    assert not result.model_changes or {f.field for f in result.model_changes} <= {"opset:com.microsoft"}


def _mlp() -> onnx.ModelProto:
    rng = np.random.default_rng(2)
    sizes = [16, 64, 64, 8]
    inits, nodes = [], []
    x = "x"
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        inits += [_init(f"w{i}", rng.normal(size=(n_in, n_out))), _init(f"b{i}", rng.normal(size=(n_out,)))]
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"mm{i}"], name=f"matmul{i}"))
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"add{i}"], name=f"add{i}"))
        x = f"add{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"], name=f"relu{i}"))
            x = f"relu{i}"
    nodes.append(helper.make_node("Softmax", [x], ["y"], name="softmax", axis=-1))
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_quantized_mlp_reports_every_quantized_weight(tmp_path: Path) -> None:
    quantization = pytest.importorskip("onnxruntime.quantization")
    source = _save(_mlp(), tmp_path / "mlp.onnx")
    target = tmp_path / "mlp.q.onnx"
    quantization.quantize_dynamic(str(source), str(target), weight_type=quantization.QuantType.QInt8)
    result = _diff(source, target)
    s = result.summary()
    assert s["added"] == 0 and s["removed"] == 0, diff_lines(result)
    weights = {f.field: f for c in result.changes for f in c.fields if f.field.startswith("weight:")}
    assert set(weights) == {"weight:w0", "weight:w1", "weight:w2"}
    w0 = np.abs(numpy_helper.to_array(_mlp().graph.initializer[0]))
    for f in weights.values():
        assert "quantized" in f.detail
        assert 0 < f.numbers["max_abs"] < w0.max() / 100  # int8: an error of half a step, at most
        assert f.numbers["cosine"] > 0.999
    assert all(c.kind == "changed" for c in result.changes)


# -- the command


def _invoke(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    runner = CliRunner()
    out = runner.invoke(cli, list(args), obj={})
    return out.exit_code, out.output


def test_cli_exit_codes_and_json(cnn: Path, tmp_path: Path) -> None:
    code, text = _invoke("diff", str(cnn), str(cnn))
    assert code == 0 and "the models are the same" in text
    model = small_cnn()
    _set_init(model, "fc.w", _get_init(model, "fc.w") * 1.01)
    b = _save(model, tmp_path / "b.onnx")
    code, text = _invoke("diff", str(cnn), str(b))
    assert code == 1
    assert "weights changed 1" in text and "weight:fc.w" in text
    code, text = _invoke("diff", str(cnn), str(b), "--tolerance", "10")
    assert code == 0
    code, text = _invoke("diff", str(cnn), str(b), "--no-weights")
    assert code == 0
    code, text = _invoke("diff", str(cnn), str(b), "--json", "-")
    assert code == 1
    document = json.loads(text)
    assert set(document["summary"]) >= {"matched", "changed", "added", "removed", "weights_changed"}
    (change,) = document["changes"]
    assert change["kind"] == "weights"
    assert change["a"]["id"] == "fc" and change["a"]["name"] == "fc" and change["b"]["id"] == "fc"
    (field,) = change["fields"]
    assert field["field"] == "weight:fc.w" and {"max_abs", "max_rel", "cosine"} <= set(field)
    out = tmp_path / "diff.json"
    code, _ = _invoke("diff", str(cnn), str(b), "--json", str(out))
    assert code == 1 and json.loads(out.read_text())["summary"]["weights_changed"] == 1


def test_cli_removed_node_json_has_null_side(cnn: Path, tmp_path: Path) -> None:
    model = small_cnn()
    for n in model.graph.node:
        if n.name == "conv2":
            n.input[0] = "c1"
    del model.graph.node[1]
    b = _save(model, tmp_path / "b.onnx")
    code, text = _invoke("diff", str(cnn), str(b), "--json", "-")
    assert code == 1
    (change,) = json.loads(text)["changes"]
    assert change["kind"] == "removed" and change["b"] is None and change["a"]["id"] == "relu1"


def test_cli_errors_exit_2(cnn: Path, tmp_path: Path) -> None:
    code, text = _invoke("diff", str(cnn), str(tmp_path / "missing.onnx"))
    assert code == 2 and "netray: error:" in text
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not a model")
    code, _ = _invoke("diff", str(cnn), str(garbage))
    assert code == 2
    code, _ = _invoke("diff", str(cnn), str(cnn), "-o", str(tmp_path / "x.txt"))
    assert code == 2
