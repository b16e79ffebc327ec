"""The TensorFlow plugin on real GraphDef/MetaGraph/SavedModel files, generated graphs and hostile input.

TensorFlow itself is not installed here; generated cases are built with the
TensorFlow protobuf messages compiled into tensorboard (the same classes the
reader uses are TensorFlow's own .proto definitions).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import time
import venv
from pathlib import Path

import numpy as np
import pytest

from netray import AttrKind, Category, FormatError
from netray.plugins import PluginManager
from netray.summary import model_summary

netray_tensorflow = pytest.importorskip("netray_tensorflow")
from google.protobuf import text_format  # noqa: E402
from tensorboard.compat.proto import attr_value_pb2, node_def_pb2, tensor_pb2, types_pb2  # noqa: E402

from netray_tensorflow import plugin  # noqa: E402
from netray_tensorflow.protos import GraphDef, SavedModel  # noqa: E402


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "tensorflow")
    return pm


def manifest_checks(root: Path) -> dict[Path, tuple[int, int]]:
    """Model path -> (nodes, functions) as TensorFlow's own tools reported them in MANIFEST.tsv."""
    checks = {}
    for line in (root / "MANIFEST.tsv").read_text().splitlines():
        cols = line.split("\t")
        if not cols[0].startswith("tensorflow/") or "nodes=" not in line:
            continue
        nodes = int(line.rsplit("nodes=", 1)[1].split()[0])
        funcs = int(line.rsplit("funcs=", 1)[1].split()[0]) if "funcs=" in line else 0
        path = root / cols[0]
        checks[path.parent if path.name == "saved_model.pb" else path] = (nodes, funcs)
    return checks


# -- building GraphDefs with TensorFlow's protobuf messages ---------------------------------


def tensor_proto(array: np.ndarray, dtype: int, as_content: bool = True) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for d in array.shape:
        proto.tensor_shape.dim.add(size=d)
    if as_content:
        proto.tensor_content = array.tobytes()
    else:
        proto.float_val.extend(array.ravel().tolist())
    return proto


def node(
    name: str, op: str, inputs: tuple[str, ...] = (), device: str = "", **attrs: attr_value_pb2.AttrValue
) -> node_def_pb2.NodeDef:
    nd = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs), device=device)
    for key, value in attrs.items():
        nd.attr[key].CopyFrom(value)
    return nd


def dtype_attr(dtype: int = types_pb2.DT_FLOAT) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(type=dtype)


def shapes_attr(*shapes: tuple[int, ...]) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    for shape in shapes:
        s = value.list.shape.add()
        for d in shape:
            s.dim.add(size=d)
    return value


def func_attr(name: str) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name=name))


def dense_graph(weight: np.ndarray, bias: np.ndarray) -> GraphDef:
    """x -> model/dense/MatMul(kernel) -> BiasAdd(bias) -> Relu, with an init NoOp as a control input."""
    g = GraphDef()
    g.versions.producer = 1205
    placeholder_shape = attr_value_pb2.AttrValue()
    placeholder_shape.shape.dim.add(size=-1)
    placeholder_shape.shape.dim.add(size=weight.shape[0])
    g.node.extend(
        [
            node("x", "Placeholder", dtype=dtype_attr(), shape=placeholder_shape),
            node(
                "model/dense/kernel",
                "Const",
                dtype=dtype_attr(),
                value=attr_value_pb2.AttrValue(tensor=tensor_proto(weight, types_pb2.DT_FLOAT)),
            ),
            node(
                "model/dense/bias",
                "Const",
                dtype=dtype_attr(),
                value=attr_value_pb2.AttrValue(tensor=tensor_proto(bias, types_pb2.DT_FLOAT, as_content=False)),
            ),
            node("init", "NoOp"),
            node(
                "model/dense/MatMul",
                "MatMul",
                ("x", "model/dense/kernel", "^init"),
                device="/device:CPU:0",
                T=dtype_attr(),
                transpose_a=attr_value_pb2.AttrValue(b=False),
                _output_shapes=shapes_attr((-1, weight.shape[1])),
            ),
            node("model/dense/BiasAdd", "BiasAdd", ("model/dense/MatMul:0", "model/dense/bias"), T=dtype_attr()),
            node("model/dense/Relu", "Relu", ("model/dense/BiasAdd",), T=dtype_attr()),
        ]
    )
    return g


def write(path: Path, msg, text: bool = False) -> Path:
    if text:
        path.write_text(text_format.MessageToString(msg))
    else:
        path.write_bytes(msg.SerializeToString())
    return path


# -- real files ------------------------------------------------------------------------------


def test_every_real_file_opens_with_tensorflows_node_count(shared_models: Path) -> None:
    checks = manifest_checks(shared_models)
    assert len(checks) >= 12
    formats = set()
    for path, (nodes, funcs) in checks.items():
        model = manager().load(path)
        formats.add(model.format)
        assert model_summary(model)["graphs"][0]["nodes"] == nodes, path
        assert len(model.functions) == funcs, path
        assert model.main.outputs, path
    assert formats == {"TensorFlow GraphDef", "TensorFlow MetaGraph", "TensorFlow SavedModel"}


def test_real_frozen_consts_decode_lazily_to_the_files_values(shared_models: Path) -> None:
    path = shared_models / "tensorflow" / "frozen" / "tf2onnx" / "ae0_frozen.pb"
    raw = GraphDef()
    raw.ParseFromString(path.read_bytes())
    model = manager().load(path)
    checked = 0
    for nd in raw.node:
        if nd.op != "Const" or not nd.attr["value"].tensor.tensor_content:
            continue
        value = model.main.values[f"{nd.name}:0"]
        assert value.is_weight and value.producer is not None and value.producer.op == "Const"
        expected = np.frombuffer(nd.attr["value"].tensor.tensor_content, dtype=np.float32)
        np.testing.assert_array_equal(value.initializer.numpy().ravel(), expected)
        checked += 1
    assert checked >= 4
    assert model.parameter_count() > 100000
    dense = next(n for n in model.main.nodes if n.name.endswith("MatMul"))
    assert dense.scope and dense.scope[0] == dense.name.split("/")[0]
    assert dense.category is Category.LAYER


def test_real_tf2_saved_model_has_functions_as_subgraphs_and_signatures(shared_models: Path) -> None:
    folder = shared_models / "tensorflow" / "savedmodel" / "tf_serving" / "saved_model_half_plus_two_tf2_cpu"
    pm = manager()
    found = pm.detect(folder)
    assert found is not None and found[1].format == "TensorFlow SavedModel" and found[1].confidence == 1.0
    model = pm.load(folder)
    calls = [n for n in model.main.nodes if n.op == "StatefulPartitionedCall"]
    assert len(calls) == 8 and all(len(n.subgraphs) == 1 for n in calls)
    f = calls[0].attribute("f")
    assert f is not None and f.kind is AttrKind.GRAPH and f.value is calls[0].subgraphs[0]
    # The signature wrappers call the inference functions: nested subgraphs, each function a Graph.
    nested = {g.name for g in model.all_graphs()}
    assert {g.name for g in model.functions} <= nested
    assert any(n.subgraphs for g in model.functions for n in g.nodes)
    serving = model.properties["signature serving_default"]
    assert "serving_default_x:0" in serving and "StatefulPartitionedCall_5:0" in serving
    assert "StatefulPartitionedCall_5:0" in [v.name for v in model.main.outputs]
    body = calls[0].subgraphs[0]
    assert body.inputs and body.outputs and all(v.producer is not None or v in body.inputs for v in body.outputs)


def test_real_saved_model_signatures_and_text_form(shared_models: Path, tmp_path: Path) -> None:
    folder = shared_models / "tensorflow" / "savedmodel" / "tf_serving" / "saved_model_half_plus_two_cpu"
    model = manager().load(folder)
    keys = sorted(k for k in model.properties if k.startswith("signature "))
    assert keys == [
        f"signature {k}"
        for k in sorted(["serving_default", "regress_x_to_y2", "classify_x_to_y", "regress_x2_to_y3", "regress_x_to_y"])
    ]
    assert model.properties["tags"] == "serve" and model.producer_version == "1.14.0"
    saved = SavedModel()
    saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    text_folder = tmp_path / "text_model"
    text_folder.mkdir()
    write(text_folder / "saved_model.pbtxt", saved, text=True)
    text_model = manager().load(text_folder)
    assert len(text_model.main.nodes) == len(model.main.nodes) == 74


def test_real_meta_graph_uses_its_op_defs_for_port_names(shared_models: Path) -> None:
    path = shared_models / "tensorflow" / "metagraph" / "tf2onnx" / "regression_model.meta"
    pm = manager()
    found = pm.detect(path)
    assert found is not None and found[1].format == "TensorFlow MetaGraph"
    model = pm.load(path)
    mul = next(n for n in model.main.nodes if n.op == "Mul")
    assert [p.name for p in mul.inputs] == ["x", "y"]
    assert "train_op" in model.properties["collections"]
    assert any(n.control_inputs for n in model.main.nodes)
    t = mul.attribute("T")
    assert t is not None and t.kind is AttrKind.DTYPE and t.value == "float32"


def test_saved_model_variables_come_lazily_from_the_checkpoint(shared_models: Path) -> None:
    """half_plus_two computes y = a * x + b with a = 0.5, b = 2 (and c = 3 for y3)."""
    root = shared_models / "tensorflow" / "savedmodel" / "tf_serving"
    for name in (
        "saved_model_half_plus_two_cpu",
        "saved_model_half_plus_two_tf2_cpu",
    ):  # TF1 VariableV2, TF2 VarHandleOp
        model = manager().load(root / name)
        variables = {
            n.name: n.outputs[0].values[0].initializer
            for n in model.main.nodes
            if n.op in ("VariableV2", "VarHandleOp")
        }
        for var, expected in (("a", 0.5), ("b", 2.0), ("c", 3.0)):
            tensor = variables[var]
            assert tensor is not None and tensor.dtype == "float32" and tensor.shape == ()
            assert "variables.data-00000-of-00001" in tensor.location
            assert float(tensor.numpy()) == expected
        assert "given to variable nodes" in model.properties["variables"]


def test_tf2_checkpoint_keys_map_through_the_object_graph(shared_models: Path) -> None:
    from netray_tensorflow.checkpoint import variable_tensors

    index = (
        shared_models / "tensorflow/savedmodel/tf_serving/saved_model_half_plus_two_tf2_cpu/variables/variables.index"
    )
    plain = variable_tensors(index, {})
    assert sorted(plain) == ["a", "b", "c"]
    mapped = variable_tensors(index, {1: "renamed_a"})  # object 1 of the object graph holds variable a
    assert "renamed_a" in mapped and "a" not in mapped and float(mapped["renamed_a"].numpy()) == 0.5


def test_snappy_blocks_and_broken_checkpoints(tmp_path: Path, shared_models: Path) -> None:
    from netray_tensorflow.checkpoint import snappy_decompress

    assert snappy_decompress(b"\x07\x08abc\x01\x03", tmp_path) == b"abcabca"
    for bad in (b"\x07\x08abc\x01\x09", b"\x07\x08ab", b"\xff\xff\xff\xff\x0f"):
        with pytest.raises(FormatError):
            snappy_decompress(bad, tmp_path)
    source = shared_models / "tensorflow" / "savedmodel" / "tf_serving" / "saved_model_half_plus_two_cpu"
    folder = tmp_path / "broken"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes((source / "saved_model.pb").read_bytes())
    index = (source / "variables" / "variables.index").read_bytes()
    (folder / "variables" / "variables.index").write_bytes(index[:30] + b"\xff" * 40 + index[70:])
    model = manager().load(folder)  # a broken checkpoint leaves the graph readable
    assert len(model.main.nodes) == 74 and model.properties["variables"].startswith("not read")
    (folder / "variables" / "variables.index").write_bytes(index)  # data shard missing: fails on read only
    model = manager().load(folder)
    tensor = next(n for n in model.main.nodes if n.name == "a").outputs[0].values[0].initializer
    with pytest.raises(FormatError):
        tensor.numpy()


# -- generated graphs ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_generated_graphdef_nodes_edges_weights(tmp_path: Path, text: bool) -> None:
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((8, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    path = write(tmp_path / ("dense.pbtxt" if text else "dense.pb"), dense_graph(weight, bias), text)
    pm = manager()
    found = pm.detect(path)
    assert found is not None and found[1].format == "TensorFlow GraphDef"
    model = pm.load(path)
    g = model.main
    assert [n.op for n in g.nodes] == ["Placeholder", "Const", "Const", "NoOp", "MatMul", "BiasAdd", "Relu"]
    assert [v.name for v in g.inputs] == ["x:0"] and g.inputs[0].type.shape == (None, 8)
    assert [v.name for v in g.outputs] == ["model/dense/Relu:0"]
    matmul = g.nodes[4]
    assert matmul.device == "/device:CPU:0" and matmul.scope == ("model", "dense")
    assert [c.name for c in matmul.control_inputs] == ["init"]
    assert [v.name for v in matmul.input_values()] == ["x:0", "model/dense/kernel:0"]  # ^init is no data edge
    assert [p.name for p in matmul.inputs] == ["a", "b"]  # MatMul's OpDef names, from the operator table
    assert matmul.outputs[0].values[0].type.shape == (None, 4)
    assert matmul.outputs[0].values[0].type.dtype == "float32"
    np.testing.assert_array_equal(matmul.weights()[0].initializer.numpy(), weight)
    np.testing.assert_array_equal(g.values["model/dense/bias:0"].initializer.numpy(), bias)
    assert g.values["x:0"].consumers == [matmul]
    assert model.properties["GraphDef version"].startswith("producer 1205")


def test_in_memory_graph_def_loads_through_the_api() -> None:
    weight = np.ones((8, 4), np.float32)
    pm = manager()
    model = pm.load_object(dense_graph(weight, np.zeros(4, np.float32)), {})
    assert model.format == "TensorFlow GraphDef" and len(model.main.nodes) == 7
    np.testing.assert_array_equal(model.main.values["model/dense/kernel:0"].initializer.numpy(), weight)
    assert plugin.netray_load_object(object(), {}) is None


def test_short_value_lists_fill_and_absurd_shapes_fail_on_read(tmp_path: Path) -> None:
    g = GraphDef()
    filled = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.5])
    filled.tensor_shape.dim.add(size=2)
    filled.tensor_shape.dim.add(size=3)
    absurd = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[0.0])
    absurd.tensor_shape.dim.add(size=2**20)
    absurd.tensor_shape.dim.add(size=2**20)
    lying = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_content=b"\x00" * 16)
    lying.tensor_shape.dim.add(size=2**40)
    for name, proto in (("filled", filled), ("absurd", absurd), ("lying", lying)):
        g.node.append(node(name, "Const", dtype=dtype_attr(), value=attr_value_pb2.AttrValue(tensor=proto)))
    model = plugin.netray_load(write(tmp_path / "consts.pb", g), "TensorFlow GraphDef")
    assert model is not None
    np.testing.assert_array_equal(model.main.values["filled:0"].initializer.numpy(), np.full((2, 3), 1.5, np.float32))
    for name, match in (("absurd", "to expand"), ("lying", "needs")):
        tensor = model.main.values[f"{name}:0"].initializer
        assert tensor.shape is not None and tensor.size is not None and tensor.size >= 2**40
        with pytest.raises(FormatError, match=match):
            tensor.numpy()


def library_graph(n_chain: int = 0, calls_per_link: int = 2) -> GraphDef:
    """A While whose body and cond are functions, a call to a recursive function, and a fan-out call chain."""
    g = GraphDef()
    lib = g.library
    for name in ("body", "cond", "recurse"):
        f = lib.function.add()
        f.signature.name = name
        f.signature.input_arg.add(name="i", type=types_pb2.DT_INT32)
        f.signature.output_arg.add(name="out", type=types_pb2.DT_INT32 if name != "cond" else types_pb2.DT_BOOL)
        op = {"body": "AddV2", "cond": "Less", "recurse": "PartitionedCall"}[name]
        inner = node("step", op, ("i", "i"), T=dtype_attr(types_pb2.DT_INT32))
        if name == "recurse":
            inner = node("step", op, ("i",), f=func_attr("recurse"))
        f.node_def.append(inner)
        f.ret["out"] = "step:z:0" if name != "recurse" else "step:output:0"
    for k in range(n_chain):  # chain_k calls chain_{k+1} twice: 2^n paths through shared functions
        f = lib.function.add()
        f.signature.name = f"chain{k}"
        f.signature.input_arg.add(name="i", type=types_pb2.DT_INT32)
        if k + 1 < n_chain:
            calls = [node("a", f"chain{k + 1}", ("i",)), node("b", f"chain{k + 1}", ("a:0",))]
            f.node_def.extend(calls[:calls_per_link])
    g.node.extend(
        [
            node(
                "start",
                "Const",
                dtype=dtype_attr(types_pb2.DT_INT32),
                value=attr_value_pb2.AttrValue(tensor=tensor_proto(np.array(0, np.int32), types_pb2.DT_INT32)),
            ),
            node("loop", "While", ("start",), body=func_attr("body"), cond=func_attr("cond")),
            node("again", "PartitionedCall", ("loop",), f=func_attr("recurse")),
        ]
    )
    if n_chain:
        g.node.append(node("fan", "chain0", ("again",)))
    return g


def test_functions_become_subgraphs_without_cycles(tmp_path: Path) -> None:
    model = manager().load(write(tmp_path / "loop.pb", library_graph()))
    loop = model.main.nodes[1]
    assert [g.name for g in loop.subgraphs] == ["body", "cond"]
    body = loop.subgraphs[0]
    assert body.kind == "function" and [v.name for v in body.inputs] == ["i"]
    assert [v.name for v in body.outputs] == ["step:z:0"] and body.outputs[0].producer is body.nodes[0]
    again = model.main.nodes[2]
    recurse = again.subgraphs[0]
    assert recurse.nodes[0].subgraphs == []  # the self-call is not expanded: walking stays finite
    assert recurse.nodes[0].attribute("f").value is recurse
    assert "recursive" in model.properties["function calls"]
    assert sorted(g.name for g in model.all_graphs()) == sorted(["loop", "body", "cond", "recurse"])


@pytest.mark.parametrize(("n_chain", "calls_per_link"), [(40, 2), (2000, 1)], ids=["fan-out 2^40", "depth 2000"])
def test_call_fan_out_and_depth_stay_walkable(tmp_path: Path, n_chain: int, calls_per_link: int) -> None:
    model = manager().load(write(tmp_path / "fan.pb", library_graph(n_chain, calls_per_link)))
    start = time.perf_counter()
    graphs = list(model.all_graphs())  # recursive in the core: must neither explode nor overflow the stack
    assert time.perf_counter() - start < 5
    assert len(graphs) == 4 + n_chain
    assert "attributes only" in model.properties["function calls"]


def test_operator_info_and_formats() -> None:
    pm = manager()
    info = pm.operator_info("TensorFlow GraphDef", "", "Conv2D")
    assert info is not None and info.category is Category.LAYER and info.summary
    assert pm.operator_info("TensorFlow SavedModel", "", "_MklConv2D") is not None
    assert pm.operator_info("TensorFlow GraphDef", "", "NoSuchOp") is None
    assert pm.operator_info("ONNX", "", "Conv2D") is None
    names = {f.name for _, f in pm.formats()}
    assert names == {
        "TensorFlow GraphDef",
        "TensorFlow SavedModel",
        "TensorFlow MetaGraph",
        "TensorFlow checkpoint",
        "TensorFlow SavedModel fingerprint",
    }
    assert pm.operator_info("TensorFlow checkpoint", "", "Conv2D") is None  # weights only: no operators


# -- sniffing beside other formats -------------------------------------------------------------


def onnx_bytes() -> bytes:
    onnx = pytest.importorskip("onnx")
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    return onnx.helper.make_model(graph, producer_name="netray-test").SerializeToString()


def test_sniff_never_claims_onnx_or_other_files(tmp_path: Path, shared_models: Path) -> None:
    cases = {
        "model.pb": onnx_bytes(),
        "saved_model.pb": onnx_bytes(),
        "random.pb": np.random.default_rng(3).bytes(4096),
        "onnx.pbtxt": b'ir_version: 8\nproducer_name: "x"\n',
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        assert plugin.netray_sniff(tmp_path / name, blob[:4096]) is None, name
    fingerprint = (
        shared_models
        / "tensorflow"
        / "savedmodel"
        / "tf_serving"
        / "saved_model_half_plus_two_tf2_cpu"
        / "fingerprint.pb"
    )
    # A fingerprint's bytes under another name are nobody's; only fingerprint.pb is read as one.
    (tmp_path / "hashes.pb").write_bytes(fingerprint.read_bytes())
    assert plugin.netray_sniff(tmp_path / "hashes.pb", fingerprint.read_bytes()) is None
    assert plugin.netray_sniff(tmp_path, b"") is None  # a folder without saved_model.pb


def test_onnx_plugin_wins_onnx_files_when_both_are_installed(tmp_path: Path, shared_models: Path) -> None:
    onnx_plugin = pytest.importorskip("netray_onnx.plugin")
    pm = manager()
    pm.register(onnx_plugin, "onnx")
    (tmp_path / "model.pb").write_bytes(onnx_bytes())
    found = pm.detect(tmp_path / "model.pb")
    assert found is not None and found[0] == "onnx"
    frozen = pm.detect(shared_models / "tensorflow" / "frozen" / "tf2onnx" / "regression_frozen.pb")
    assert frozen is not None and frozen[0] == "tensorflow"


# -- hostile input ---------------------------------------------------------------------------------


def expect_error(path: Path, format: str, match: str = "") -> None:
    with pytest.raises(FormatError, match=match or None) as info:
        plugin.netray_load(path, format)
    assert info.value.format == format and "\n" not in str(info.value)


def test_truncated_random_and_huge_length_prefix(tmp_path: Path, shared_models: Path) -> None:
    real = (shared_models / "tensorflow" / "frozen" / "tf2onnx" / "lstm_frozen.pb").read_bytes()
    (tmp_path / "cut.pb").write_bytes(real[: len(real) // 3])
    expect_error(tmp_path / "cut.pb", "TensorFlow GraphDef", "not a valid GraphDef")
    (tmp_path / "random.pb").write_bytes(np.random.default_rng(5).bytes(100000))
    expect_error(tmp_path / "random.pb", "TensorFlow GraphDef")
    # field 1 claims a 2^40-byte NodeDef in a 20-byte file
    (tmp_path / "huge.pb").write_bytes(b"\x0a\x80\x80\x80\x80\x80\x20" + b"\x0a\x01x\x12\x05Const" + b"\x00" * 4)
    expect_error(tmp_path / "huge.pb", "TensorFlow GraphDef", "not a valid GraphDef")
    (tmp_path / "empty.pb").write_bytes(b"\x22\x02\x08\x01")  # only a versions field
    expect_error(tmp_path / "empty.pb", "TensorFlow GraphDef", "no nodes")
    meta = (shared_models / "tensorflow" / "metagraph" / "tf2onnx" / "regression_model.meta").read_bytes()
    (tmp_path / "cut.meta").write_bytes(meta[:-100])
    expect_error(tmp_path / "cut.meta", "TensorFlow MetaGraph", "not a valid MetaGraphDef")
    folder = tmp_path / "sm"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"\x08\x01\x12\xff\xff\xff\xff\x0f")
    expect_error(folder, "TensorFlow SavedModel", "not a valid SavedModel")
    (folder / "saved_model.pb").write_bytes(b"\x08\x01")
    expect_error(folder, "TensorFlow SavedModel", "no MetaGraph")


def test_duplicate_names_and_deep_text(tmp_path: Path) -> None:
    g = GraphDef()
    g.node.extend([node("a", "NoOp"), node("a", "NoOp")])
    expect_error(write(tmp_path / "dup.pb", g), "TensorFlow GraphDef", "two nodes named 'a'")
    (tmp_path / "deep.pbtxt").write_text("node { " * 5000 + "}" * 5000)
    expect_error(tmp_path / "deep.pbtxt", "TensorFlow GraphDef", "not a valid GraphDef")


def test_pickle_posing_as_graphdef_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return (Path.write_text, (marker, "executed"))

    evil = tmp_path / "frozen.pb"
    evil.write_bytes(pickle.dumps(Evil()))
    assert plugin.netray_sniff(evil, evil.read_bytes()[:4096]) is None
    with pytest.raises(FormatError):
        manager().load(evil)
    for format in ("TensorFlow GraphDef", "TensorFlow MetaGraph"):
        with pytest.raises(FormatError):
            plugin.netray_load(evil, format)
    assert not marker.exists()


def core_hint(path: Path) -> str:
    """The install hint of a core with no plugin installed (from the first-party declarations)."""
    from netray.errors import NoReaderError

    with pytest.raises(NoReaderError) as caught:
        PluginManager(load_entry_points=False).load(path)
    return caught.value.hint


def test_core_hint_for_a_frozen_graphdef_names_the_tensorflow_plugin(shared_models: Path) -> None:
    path = shared_models / "tensorflow" / "frozen" / "tf2onnx" / "regression_frozen.pb"
    assert core_hint(path) == "pip install netray-plugin-tensorflow"


def test_core_hints_name_the_plugins_for_other_tensorflow_and_mxnet_files(shared_models: Path) -> None:
    expected = {
        "tensorflow/savedmodel/tf_serving/saved_model_counter": "netray-plugin-tensorflow",
        "tensorflow/metagraph/tf2onnx/regression_model.meta": "netray-plugin-tensorflow",
        "mxnet/insightface/det1-symbol.json": "netray-plugin-mxnet",
        "mxnet/insightface/det1-0001.params": "netray-plugin-mxnet",
    }
    for relative, distribution in expected.items():
        assert core_hint(shared_models / relative) == f"pip install {distribution}", relative


# -- each plugin alone in a fresh environment ----------------------------------------------------

RUN_SLOW = os.environ.get("NETRAY_SLOW_TESTS") == "1" or os.environ.get("CI", "").lower() == "true"


def pip(bin_dir: Path, *args: str) -> None:
    command = [str(bin_dir / "python"), "-m", "pip", "--disable-pip-version-check", "-q", *args]
    subprocess.run(command, check=True, timeout=900, capture_output=True)


def netray_info(bin_dir: Path, model: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "netray"), "info", "--json", str(model)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not RUN_SLOW, reason="builds a fresh venv from PyPI; set NETRAY_SLOW_TESTS=1 (always on under CI=true)"
)
def test_each_plugin_installs_and_works_alone_in_a_fresh_venv(
    tmp_path: Path, repo_root: Path, shared_models: Path
) -> None:
    """Core only: both formats name their plugin. Then each plugin (built as a wheel) on its own reads its file."""
    venv.EnvBuilder(with_pip=True, clear=True).create(tmp_path / "venv")
    bin_dir = tmp_path / "venv" / "bin"
    pip(bin_dir, "install", "--no-deps", "-e", str(repo_root / "core"))
    pip(bin_dir, "install", "numpy", "pluggy", "click", "rich")  # the core's needs, without the viewer's Qt
    cases = {
        "tensorflow": ("netray-plugin-tensorflow", shared_models / "tensorflow/frozen/tf2onnx/regression_frozen.pb", 8),
        "mxnet": ("netray-plugin-mxnet", shared_models / "mxnet/insightface/det1-symbol.json", 10),
    }
    hinted = {
        "netray-plugin-tensorflow": shared_models / "tensorflow/savedmodel/tf_serving/saved_model_counter",
        "netray-plugin-mxnet": cases["mxnet"][1],
    }
    for distribution, model in hinted.items():
        result = netray_info(bin_dir, model)
        assert result.returncode != 0
        assert f"pip install {distribution}" in result.stdout + result.stderr
    for name, (distribution, model, nodes) in cases.items():
        # A copy, so that building the wheel leaves no build/ folder in the repository.
        source = shutil.copytree(
            repo_root / "plugins" / name, tmp_path / name, ignore=shutil.ignore_patterns("build", "*.egg-info")
        )
        pip(bin_dir, "install", str(source))  # with its own dependencies from PyPI
        result = netray_info(bin_dir, model)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["graphs"][0]["nodes"] == nodes
        assert summary["format"].startswith({"tensorflow": "TensorFlow GraphDef", "mxnet": "MXNet"}[name])
        pip(bin_dir, "uninstall", "-y", distribution)  # so the next plugin is checked alone
