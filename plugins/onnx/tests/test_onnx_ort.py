"""ONNX Runtime's ORT format: files written by onnxruntime's own converter open as the ONNX model
they were converted from (the `.optimized.onnx` the converter saves beside them), and hostile
flatbuffers give one FormatError line.

`onnxruntime` is a test-only dependency: `python -m onnxruntime.tools.convert_onnx_models_to_ort`
writes every `.ort` here. Reading one never needs it.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import netray
import netray.testing
from netray import Model
from netray.plugins import PluginManager
from netray_onnx import plugin
from netray_onnx.formats import ORT_FORMAT

flatbuffers = pytest.importorskip("flatbuffers")
pytest.importorskip("onnxruntime")

SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "sample" / "netray-sample.onnx"


def small_model() -> onnx.ModelProto:
    """Conv, If with subgraphs reading an outer value, Gemm, a float16 weight, attributes of several kinds."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "conv.weight"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "conv.bias"),
        numpy_helper.from_array(rng.standard_normal((10, 8)).astype(np.float32), "fc.weight"),
        numpy_helper.from_array(np.array([1, -1], np.int64), "shape"),
        numpy_helper.from_array(rng.standard_normal(10).astype(np.float16), "half"),
        numpy_helper.from_array(np.array(0, np.float32), "zero"),
    ]
    then_branch = helper.make_graph(
        [helper.make_node("Relu", ["flat"], ["t_out"], name="then/relu")], "then", [], [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, None)]
    )
    else_branch = helper.make_graph(
        [helper.make_node("Neg", ["flat"], ["e_out"], name="else/neg")], "else", [], [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, None)]
    )
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="/stem/conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="/stem/relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="/pool"),
        helper.make_node("Reshape", ["p", "shape"], ["flat"], name="/flatten"),
        helper.make_node("ReduceSum", ["flat"], ["s"], name="/sum", keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["cond"], name="/cond"),
        helper.make_node("If", ["cond"], ["chosen"], name="/branch", then_branch=then_branch, else_branch=else_branch),
        helper.make_node("Gemm", ["chosen", "fc.weight"], ["logits"], name="/head/fc", transB=1, alpha=0.5),
        helper.make_node("Cast", ["half"], ["half32"], name="/cast", to=TensorProto.FLOAT),
        helper.make_node("Add", ["logits", "half32"], ["y"], name="/head/add"),
        helper.make_node("Split", ["y"], ["y0", "y1"], name="/split", axis=1, num_outputs=2),
        helper.make_node("Concat", ["y1", "y0", "y1"], ["z"], name="/concat", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 15])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="netray-test", producer_version="1.2")
    helper.set_model_props(model, {"author": "netray", "license": "MIT"})
    onnx.checker.check_model(model)
    return model


def loop_model() -> onnx.ModelProto:
    """A Loop whose body reads a weight of the main graph and nests an If."""
    inner = helper.make_graph(
        [helper.make_node("Mul", ["acc_in", "scale"], ["inner_out"], name="inner/mul")],
        "inner",
        [],
        [helper.make_tensor_value_info("inner_out", TensorProto.FLOAT, [4])],
    )
    body = helper.make_graph(
        [
            helper.make_node("Greater", ["iter", "two"], ["big"], name="body/big"),
            helper.make_node("If", ["big"], ["acc_out"], name="body/if", then_branch=inner, else_branch=inner),
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body/cond"),
        ],
        "body",
        [
            helper.make_tensor_value_info("iter", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [4]),
        ],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [4])],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["n", "", "start"], ["final"], name="loop", body=body)],
        "looped",
        [helper.make_tensor_value_info("n", TensorProto.INT64, []), helper.make_tensor_value_info("start", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("final", TensorProto.FLOAT, [4])],
        [numpy_helper.from_array(np.arange(4, dtype=np.float32) + 1, "scale"), numpy_helper.from_array(np.array(2, np.int64), "two")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def convert(folder: Path, level: str, style: str = "Fixed") -> None:
    """onnxruntime's converter, as a user runs it; it writes X.<level>.ort and X.<level>.optimized.onnx."""
    env = {**os.environ, "ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL": level}
    command = [sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(folder), "--optimization_style", style, "--save_optimized_onnx_model"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> .ort file; beside each, the .optimized.onnx it was saved from."""
    root = tmp_path_factory.mktemp("ort")
    plain = root / "plain"
    plain.mkdir()
    onnx.save(small_model(), plain / "small.onnx")
    onnx.save(loop_model(), plain / "loop.onnx")
    convert(plain, "disable")
    full = root / "full"
    full.mkdir()
    shutil.copy(SAMPLE, full / "sample.onnx")
    convert(full, "all")
    convert(full, "all", "Runtime")
    return {
        "small": plain / "small.disable.ort",
        "loop": plain / "loop.disable.ort",
        "sample": full / "sample.ort",
        "sample_runtime": full / "sample.with_runtime_opt.ort",
    }


def source_of(ort: Path) -> Path:
    return ort.with_name(ort.name[: -len(".ort")] + ".optimized.onnx")


def test_contract(converted: dict[str, Path], tmp_path: Path) -> None:
    models = netray.testing.check_plugin(plugin, list(converted.values()), tmp_path)
    assert all(m.format == ORT_FORMAT for m in models)


def signature(model: Model) -> list[list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]]:
    """Every graph's nodes as (op, domain, input names, output names), sorted: the nodes and their edges."""
    graphs = []
    for graph in sorted(model.all_graphs(), key=lambda g: (g.kind, len(g.nodes), sorted(n.name for n in g.nodes))):
        graphs.append(
            sorted(
                (
                    n.op,
                    n.domain,
                    tuple(v.name for v in n.input_values()),
                    tuple(v.name for v in n.output_values()),
                )
                for n in graph.nodes
            )
        )
    return graphs


@pytest.mark.parametrize("name", ["small", "loop", "sample", "sample_runtime"])
def test_same_graph_as_the_onnx_it_was_saved_from(converted: dict[str, Path], name: str) -> None:
    ort = netray.load_model(converted[name])
    source = netray.load_model(source_of(converted[name]))
    if name == "sample_runtime":
        # The ORT file keeps Conv+Relu and records the fusion for run time; the saved ONNX has it applied.
        ops = collections.Counter(n.op for n in ort.main.nodes)
        assert ops["Conv"] - 2 == collections.Counter(n.op for n in source.main.nodes)["Conv"]
        return
    assert len(ort.main.nodes) == len(source.main.nodes)
    assert signature(ort) == signature(source)
    assert [v.name for v in ort.main.inputs] == [v.name for v in source.main.inputs]
    assert [v.name for v in ort.main.outputs] == [v.name for v in source.main.outputs]
    assert {n.category for n in ort.main.nodes} == {n.category for n in source.main.nodes}
    for node, twin in zip(sorted(ort.main.nodes, key=lambda n: n.name), sorted(source.main.nodes, key=lambda n: n.name), strict=True):
        assert [p.name for p in node.inputs] == [p.name for p in twin.inputs], node.op
        # ORT writes every attribute with its default filled in; the source's own are all there, equal.
        stated = {a.name: a.text() for a in node.attributes if a.kind.value not in ("graph", "graph[]")}
        for attribute in twin.attributes:
            if attribute.kind.value not in ("graph", "graph[]"):
                assert stated.get(attribute.name) == attribute.text(), f"{node.op}.{attribute.name}"
    assert ort.producer == source.producer and ort.metadata == source.metadata
    assert ort.imports == source.imports


@pytest.mark.parametrize("name", ["small", "loop", "sample"])
def test_initializers_hold_the_source_values(converted: dict[str, Path], name: str) -> None:
    source = onnx.load(source_of(converted[name]))
    expected = {t.name: numpy_helper.to_array(t) for g in _graphs(source.graph) for t in g.initializer}
    found = dict(netray.load_model(converted[name]).all_tensors())
    assert set(found) == set(expected)
    for tensor_name, array in expected.items():
        got = found[tensor_name].numpy()
        assert got.dtype == array.dtype and got.shape == array.shape, tensor_name
        np.testing.assert_array_equal(got, array)


def _graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    out = [graph]
    for node in graph.node:
        for attribute in node.attribute:
            for sub in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                out += _graphs(sub)
    return out


def test_large_weights_are_memory_mapped_from_the_ort_file(converted: dict[str, Path]) -> None:
    model = netray.load_model(converted["small"])
    weight = model.main.values["conv.weight"].initializer
    assert weight is not None and weight.location.startswith("small.disable.ort @ ")
    offset = int(weight.location.split("@ ")[1].split(",")[0])
    raw = converted["small"].read_bytes()[offset : offset + 8 * 27 * 4]
    np.testing.assert_array_equal(np.frombuffer(raw, "<f4").reshape(8, 3, 3, 3), weight.numpy())


def test_nodes_are_in_topological_order(converted: dict[str, Path]) -> None:
    for path in converted.values():
        for graph in netray.load_model(path).all_graphs():
            seen: set[str] = {v.name for v in graph.inputs}
            for node in graph.nodes:
                for value in node.input_values():
                    assert value.producer is None or value.name in seen, f"{path.name}: {node.op} reads {value.name} before it is made"
                seen.update(v.name for v in node.output_values())


def test_model_facts_and_properties(converted: dict[str, Path]) -> None:
    small = netray.load_model(converted["small"])
    assert small.format == "ONNX Runtime" and small.format_version.startswith("v")
    assert small.producer == "netray-test" and small.producer_version == "1.2"
    assert small.metadata == {"author": "netray", "license": "MIT"}
    assert small.main.name == "small.disable"
    assert small.properties["execution providers"] == ["CPUExecutionProvider"]
    assert ":Conv:11" in small.properties["kernel type-str resolver"]  # type: ignore[operator]
    assert "model version" not in small.properties
    conv = next(n for n in small.main.nodes if n.op == "Conv")
    assert [p.name for p in conv.inputs] == ["X", "W", "B"]
    assert conv.attribute("pads").value == [1, 1, 1, 1]  # type: ignore[union-attr]
    assert conv.scope == ("stem",) and conv.category.value == "layer"
    assert conv.metadata["execution provider"] == "CPUExecutionProvider"
    branch = next(n for n in small.main.nodes if n.op == "If")
    assert len(branch.subgraphs) == 2 and [v.name for v in branch.inputs[-1].values] == ["flat"]
    concat = next(n for n in small.main.nodes if n.op == "Concat")
    assert [[v.name for v in p.values] for p in concat.inputs] == [["y1", "y0", "y1"]]
    x = small.main.inputs[0]
    assert x.type.dtype == "float32" and x.type.shape == ("batch", 3, 8, 8)


def test_runtime_optimization_records(converted: dict[str, Path]) -> None:
    model = netray.load_model(converted["sample_runtime"])
    records = model.properties["runtime optimizations"]
    assert records == ["2 × ConvActivationFusion: ConvAct -> com.microsoft:FusedConv:1"]
    marked = [n.op for n in model.main.nodes if "runtime optimization" in n.metadata]
    assert collections.Counter(marked) == {"Conv": 2, "Relu": 2}
    fused = netray.load_model(converted["sample"])
    assert collections.Counter(n.op for n in fused.main.nodes)["FusedConv"] == 2
    assert all(n.category.value == "layer" for n in fused.main.nodes if n.op == "FusedConv")


def test_sniffing_tells_ort_from_onnx(converted: dict[str, Path]) -> None:
    manager = PluginManager(load_entry_points=False)
    manager.register(plugin, "onnx")

    def detected(path: Path) -> tuple[str, float]:
        found = manager.detect(path)
        assert found is not None
        return found[1].format, found[1].confidence

    assert detected(converted["small"]) == (ORT_FORMAT, 1.0)
    assert detected(source_of(converted["small"]))[0] == "ONNX"
    renamed = converted["small"].with_name("renamed.onnx")
    shutil.copy(converted["small"], renamed)
    assert detected(renamed) == (ORT_FORMAT, 1.0)


def test_operator_info_for_ort_nodes() -> None:
    info = plugin.netray_operator_info(format=ORT_FORMAT, domain="", op="Conv")
    assert info is not None and info.category.value == "layer" and info.inputs[0][0] == "X"


def test_onnxruntime_operators_get_their_port_names(converted: dict[str, Path]) -> None:
    """FusedConv & co. are ONNX Runtime's (com.microsoft): named from its schemas, not by position."""
    model = netray.load_model(converted["sample"])
    fused = next(n for n in model.main.nodes if n.op == "FusedConv")
    assert [p.name for p in fused.inputs] == ["X", "W", "B"] and [p.name for p in fused.outputs] == ["Y"]
    assert {p.name for n in model.main.nodes if n.op == "FusedMatMul" for p in n.inputs} == {"A", "B"}


def test_the_contrib_port_table_is_what_the_installed_onnxruntime_generates() -> None:
    tools = Path(__file__).resolve().parents[1] / "tools"
    sys.path.insert(0, str(tools))
    try:
        import generate_contrib_ports
    finally:
        sys.path.remove(str(tools))
    committed = generate_contrib_ports.TARGET.read_text()
    assert committed == generate_contrib_ports.source(), "run python plugins/onnx/tools/generate_contrib_ports.py"
