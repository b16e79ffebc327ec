"""The .netray file: round trips keep everything, bad files give FormatError, writes are atomic."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netray
from netray import netrayfile
from netray.ir import (
    Attribute,
    AttrKind,
    Category,
    Graph,
    Model,
    Node,
    Port,
    Quantization,
    SourceLocation,
    Tensor,
    TensorType,
)
from netray.plugins import PluginManager, get_manager

# ---------------------------------------------------------------------------------------
# An independent description of a model, to compare before and after a round trip.
# Written field by field from the IR (not through netrayfile's encoder), so a field the
# file forgets shows up as a difference.
# ---------------------------------------------------------------------------------------


def describe_array(a: np.ndarray) -> Any:
    if a.dtype.kind in "OUS":
        return ("items", a.shape, [str(x) for x in a.ravel().tolist()])
    return ("bytes", str(a.dtype), a.shape, hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest())


def describe_tensor(t: Tensor, data: bool) -> Any:
    d: dict[str, Any] = {
        "name": t.name,
        "dtype": t.dtype,
        "shape": t.shape,
        "byte_size": t.byte_size,
        "location": t.location,
        "kind": t.kind,
        "metadata": dict(t.metadata),
    }
    if data:
        d["has_data"] = t.has_data
        d["values"] = describe_array(t.numpy()) if t.has_data else None
    d["quantization"] = describe_quantization(t.quantization)
    return d


def describe_quantization(q: Quantization | None) -> Any:
    if q is None:
        return None
    return (q.scheme, q.block_size, list(q.scale), list(q.zero_point), q.axis, list(q.min), list(q.max), describe_any(dict(q.details), False))


def describe_any(v: Any, data: bool) -> Any:
    if isinstance(v, Tensor):
        return ("tensor", describe_tensor(v, data))
    if isinstance(v, Graph):
        return ("graph", describe_graph(v, data))
    if isinstance(v, float) and v != v:
        return ("nan",)
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [describe_any(x, data) for x in v])
    if isinstance(v, dict):
        return ("dict", [(describe_any(k, data), describe_any(x, data)) for k, x in v.items()])
    return (type(v).__name__, v)


def node_ref(n: Any) -> Any:
    return None if n is None else (n.op, n.name)


def describe_graph(g: Graph, data: bool) -> dict[str, Any]:
    values = {}
    for key, v in g.values.items():
        q = v.quantization
        values[key] = {
            "name": v.name,
            "dtype": v.type.dtype,
            "shape": v.type.shape,
            "denotation": v.type.denotation,
            "initializer": None if v.initializer is None else describe_tensor(v.initializer, data),
            "quantization": describe_quantization(q),
            "description": v.description,
            "metadata": dict(v.metadata),
            "producer": node_ref(v.producer),
            "consumers": [node_ref(c) for c in v.consumers],
        }
    nodes = []
    for n in g.nodes:
        s = n.source
        nodes.append(
            {
                "id": n.id,
                "index": n.index,
                "op": n.op,
                "name": n.name,
                "domain": n.domain,
                "category": n.category,
                "inputs": [(p.name, [v.name for v in p.values]) for p in n.inputs],
                "outputs": [(p.name, [v.name for v in p.values]) for p in n.outputs],
                "attributes": [(a.name, a.kind, describe_any(a.value, data), a.doc) for a in n.attributes],
                "subgraphs": [describe_graph(sg, data) for sg in n.subgraphs],
                "scope": tuple(n.scope),
                "source": None if s is None else (s.file, s.line, s.function, s.stack),
                "metadata": dict(n.metadata),
                "doc": n.doc,
                "device": n.device,
                "control_inputs": [node_ref(c) for c in n.control_inputs],
            }
        )
    return {
        "name": g.name,
        "kind": g.kind,
        "description": g.description,
        "inferred": g.inferred,
        "metadata": describe_any(dict(g.metadata), False),
        "inputs": [v.name for v in g.inputs],
        "outputs": [v.name for v in g.outputs],
        "values": values,
        "nodes": nodes,
    }


def describe(model: Model, data: bool = True) -> dict[str, Any]:
    return {
        "format": model.format,
        "format_version": model.format_version,
        "producer": model.producer,
        "producer_version": model.producer_version,
        "description": model.description,
        "metadata": describe_any(dict(model.metadata), False),  # typed: 1, 1.0 and "1" differ
        "imports": dict(model.imports),
        "properties": describe_any(dict(model.properties), False),
        "graphs": [describe_graph(g, data) for g in model.graphs],
        "functions": [describe_graph(g, data) for g in model.functions],
        "tensors": [(name, describe_tensor(t, data)) for name, t in model.tensors.items()],
    }


def assert_same(before: Model, after: Model, data: bool) -> None:
    a, b = describe(before, data), describe(after, data)
    if a != b:  # narrow the failure down to the first differing part
        for key in a:
            assert a[key] == b[key], f"{key} differs after the round trip"
    assert a == b


def assert_structure_only(before: Model, after: Model) -> None:
    """Without weights: everything equal except that no tensor has values."""
    assert_same(before, after, data=False)
    for g in after.all_graphs():
        for v in g.values.values():
            if v.initializer is not None:
                assert not v.initializer.has_data


def round_trip(model: Model, tmp_path: Path, weights: bool = True, name: str = "m.netray") -> Model:
    path = tmp_path / name
    netray.save_model(model, path, weights=weights)
    return netray.load_model(path)


# ---------------------------------------------------------------------------------------
# A model built with netray.ir directly, using every feature the IR has
# ---------------------------------------------------------------------------------------


def array_tensor(name: str, array: np.ndarray, location: str = "") -> Tensor:
    return Tensor(name, str(array.dtype), array.shape, loader=lambda: array, byte_size=array.nbytes, location=location)


def build_everything_model() -> Model:
    rng = np.random.default_rng(7)
    g = Graph("main", "main")
    g.description = "the main graph"
    g.metadata = {"note": "ünïcode ✓"}
    x = g.value("x", TensorType("float32", ("batch", 3, "h", None), denotation="IMAGE"))
    x.description = "an image"
    w = g.value("conv.weight", TensorType("float32", (8, 3, 3, 3)))
    w.initializer = array_tensor("conv.weight", rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "model.bin @ 0")
    w.initializer.metadata = {"origin": "random"}
    qw = g.value("q.weight", TensorType("int8", (8, 4)))
    qw.initializer = array_tensor("q.weight", rng.integers(-128, 127, (8, 4), dtype=np.int8))
    qw.quantization = Quantization(scale=[0.1] * 8, zero_point=[0] * 8, axis=0, min=[-1.0], max=[1.0], details={"mode": "per-channel"})
    h = g.value("h", TensorType("float16", ("batch", 8, "h", None)))
    h.metadata = {"k": "v"}
    y = g.value("y", TensorType("bool", ()))
    z = g.value("z", TensorType(None, None))
    cond = g.value("cond", TensorType("bool", ()))
    labels = g.value("labels", TensorType("string", (3,)))
    labels.initializer = array_tensor("labels", np.array(["cat", "dog", "ünï"], dtype=object))
    scalar = g.value("scalar", TensorType("float64", ()))
    scalar.initializer = array_tensor("scalar", np.array(np.nan))
    nodata = g.value("external", TensorType("float32", (1000, 1000)))
    nodata.initializer = Tensor("external", "float32", (1000, 1000), loader=None, location="missing.bin @ 0")
    g.inputs = [x, cond]
    g.outputs = [y, z]

    attr_tensor = array_tensor("attr_t", np.arange(6, dtype=np.int64).reshape(2, 3))
    bf = array_tensor("half", np.linspace(0, 1, 5, dtype=np.float16))

    # Subgraphs: an If with two branches that read an outer value (x) by reference.
    then_g = Graph("then_branch", "subgraph")
    t_out = then_g.value("t_out", TensorType("float32", ("batch",)))
    then_g.add_node(Node("Relu", "then_relu", inputs=[Port("X", [x])], outputs=[Port("Y", [t_out])], category=Category.ACTIVATION))
    then_g.outputs = [t_out]
    then_g.link()
    else_g = Graph("else_branch", "subgraph")
    e_out = else_g.value("e_out", TensorType("float32", ("batch",)))
    else_g.add_node(Node("Identity", "else_id", inputs=[Port("X", [x])], outputs=[Port("Y", [e_out])]))
    else_g.outputs = [e_out]
    else_g.link()

    every_kind = [
        Attribute("i", AttrKind.INT, 3, doc="an int"),
        Attribute("f", AttrKind.FLOAT, 0.5),
        Attribute("nan", AttrKind.FLOAT, float("nan")),
        Attribute("inf", AttrKind.FLOAT, float("-inf")),
        Attribute("s", AttrKind.STRING, "same"),
        Attribute("raw", AttrKind.STRING, b"\x00\xffbytes"),
        Attribute("b", AttrKind.BOOL, True),
        Attribute("ints", AttrKind.INTS, [1, 2, 3]),
        Attribute("floats", AttrKind.FLOATS, (0.25, 1e-30)),
        Attribute("strings", AttrKind.STRINGS, ["a", "b"]),
        Attribute("bools", AttrKind.BOOLS, [True, False]),
        Attribute("t", AttrKind.TENSOR, attr_tensor),
        Attribute("ts", AttrKind.TENSORS, [attr_tensor, bf]),
        Attribute("then_branch", AttrKind.GRAPH, then_g),
        Attribute("branches", AttrKind.GRAPHS, [then_g, else_g]),
        Attribute("dtype", AttrKind.DTYPE, "float16"),
        Attribute("dtypes", AttrKind.DTYPES, ["int8", "uint8"]),
        Attribute("shape", AttrKind.SHAPE, (1, "n", None)),
        Attribute("shapes", AttrKind.SHAPES, [(1, 2), ()]),
        Attribute("other", AttrKind.OTHER, {"nested": [1, {"deep": (2.5, None)}], 3: "int key"}),
        Attribute("empty", AttrKind.INTS, []),
    ]
    conv = Node(
        "Conv",
        "conv1",
        domain="ai.onnx",
        inputs=[Port("X", [x]), Port("W", [w]), Port("B", [])],
        outputs=[Port("Y", [h])],
        attributes=every_kind,
        scope=("model", "layers.0", "conv"),
        source=SourceLocation("model.py", 42, "forward", "model.py:42\ntrain.py:7"),
        category=Category.LAYER,
        doc="a convolution",
    )
    conv.metadata = {"flops": "1000"}
    conv.device = "/gpu:0"
    g.add_node(conv)
    qmm = g.add_node(Node("QLinearMatMul", "qmm", inputs=[Port("A", [h]), Port("B", [qw, labels, scalar, nodata])], outputs=[Port("Y", [z])], category="quantization"))
    branch = g.add_node(
        Node("If", "if", inputs=[Port("cond", [cond])], outputs=[Port("out", [y])], subgraphs=[then_g, else_g], category=Category.CONTROL, scope=("model",))
    )
    branch.control_inputs = [qmm]
    g.link()

    fn = Graph("my_function", "function")
    fa = fn.value("a", TensorType("float32", (2,)))
    fb = fn.value("b", TensorType("float32", (2,)))
    fn.add_node(Node("Gelu", "gelu", domain="custom.domain", inputs=[Port("X", [fa])], outputs=[Port("Y", [fb])], category=Category.CUSTOM))
    fn.inputs, fn.outputs = [fa], [fb]
    fn.link()
    # A dictionary key that is not the value's name survives too.
    fn.values["alias"] = fn.values.pop("b")

    m = Model("TestFormat", [g])
    m.format_version = "3"
    m.producer, m.producer_version = "hand", "1.0"
    m.description = "built with netray.ir"
    m.metadata = {"author": "tests", "layers": 32, "eps": 1e-6, "tied": True, "tokens": ["<s>", "</s>", "ünï"], "nested": [[1, 2], [3]]}
    m.imports = {"ai.onnx": "17", "custom.domain": "1"}
    m.properties = {"ir_version": "9", "tensors": 3}
    m.functions = [fn]
    second = Graph("second_signature", "signature")
    second.inferred = "inferred from the signature's name, for the test"
    second.add_node(Node("Noop", "noop"))
    m.graphs.append(second)
    # Named tensors no graph reaches, one of them block-quantized (as GGUF's are), one shared with the graph.
    packed = array_tensor("blk.0.attn_q.weight", rng.standard_normal((4, 64)).astype(np.float32))
    packed.quantization = Quantization(scheme="q4_k", block_size=256, details={"super_block": 256, "bits": 4.5})
    m.tensors = {"blk.0.attn_q.weight": packed, "conv.weight": w.initializer, "token_embd.weight": array_tensor("token_embd.weight", np.ones((3, 2), np.float16))}
    qw.quantization.scheme = "block"
    qw.quantization.block_size = 4
    return m


def test_round_trip_keeps_everything_with_weights(tmp_path: Path) -> None:
    model = build_everything_model()
    loaded = round_trip(model, tmp_path)
    assert_same(model, loaded, data=True)
    main = loaded.main
    # Spot checks that do not depend on the description helper.
    conv = main.nodes[0]
    assert [a.kind for a in conv.attributes][:19] == [
        AttrKind.INT, AttrKind.FLOAT, AttrKind.FLOAT, AttrKind.FLOAT, AttrKind.STRING, AttrKind.STRING, AttrKind.BOOL,
        AttrKind.INTS, AttrKind.FLOATS, AttrKind.STRINGS, AttrKind.BOOLS, AttrKind.TENSOR, AttrKind.TENSORS,
        AttrKind.GRAPH, AttrKind.GRAPHS, AttrKind.DTYPE, AttrKind.DTYPES, AttrKind.SHAPE, AttrKind.SHAPES,
    ]  # fmt: skip
    assert conv.attribute("raw").value == b"\x00\xffbytes"  # type: ignore[union-attr]
    assert conv.attribute("shape").value == (1, "n", None)  # type: ignore[union-attr]
    assert np.array_equal(conv.attribute("t").value.numpy(), np.arange(6).reshape(2, 3))  # type: ignore[union-attr]
    assert main.values["x"].type.shape == ("batch", 3, "h", None)
    assert main.values["q.weight"].quantization.axis == 0  # type: ignore[union-attr]
    assert conv.source is not None and conv.source.line == 42
    assert conv.scope == ("model", "layers.0", "conv")
    # Shared objects stay shared: the GRAPH attribute is the If node's subgraph, one tensor object for both uses.
    branch = main.nodes[2]
    assert conv.attribute("then_branch").value is branch.subgraphs[0]  # type: ignore[union-attr]
    assert conv.attribute("ts").value[0] is conv.attribute("t").value  # type: ignore[union-attr]
    # The subgraph reads the outer graph's value itself, not a copy.
    assert branch.subgraphs[0].nodes[0].inputs[0].values[0] is main.values["x"]
    assert branch.control_inputs == [main.nodes[1]]
    assert loaded.functions[0].values["alias"].name == "b"
    assert loaded.parameter_count() == model.parameter_count()
    assert not main.values["external"].initializer.has_data  # type: ignore[union-attr]


def test_ml_dtypes_tensors_keep_their_dtype(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bfloat16, float8 and int4 arrays (as the ONNX plugin gives them) come back as the same dtype and bits."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    g = Graph("main", "main")
    arrays = {
        "bf16": np.linspace(-2, 2, 12).astype(ml_dtypes.bfloat16).reshape(3, 4),
        "f8": np.linspace(-1, 1, 8).astype(ml_dtypes.float8_e4m3fn),
        "i4": np.arange(-8, 8).astype(ml_dtypes.int4).reshape(4, 4)[:, ::2],  # not contiguous either
    }
    for name, array in arrays.items():
        g.value(name, TensorType(array.dtype.name, array.shape)).initializer = array_tensor(name, array)
    model = Model("ml", [g])
    loaded = round_trip(model, tmp_path)
    for name, array in arrays.items():
        back = loaded.main.values[name].initializer.numpy()  # type: ignore[union-attr]
        assert back.dtype == array.dtype and back.shape == array.shape
        assert back.tobytes() == np.ascontiguousarray(array).tobytes()
    monkeypatch.setattr(netrayfile.members, "_named_dtype", lambda name: None)  # a reader without ml_dtypes
    raw = netray.load_model(tmp_path / "m.netray").main.values["bf16"].initializer.numpy()  # type: ignore[union-attr]
    assert raw.dtype == np.uint16 and raw.tobytes() == arrays["bf16"].tobytes()
    monkeypatch.undo()
    wrong_width = rewrite(tmp_path / "m.netray", tmp_path / "w.netray", members={"dtypes.json": b'{"tensors/0.npy": "float64"}'})
    assert_format_error(wrong_width, "does not match")
    malformed = rewrite(tmp_path / "m.netray", tmp_path / "x.netray", members={"dtypes.json": b"[1, 2]"})
    assert_format_error(malformed, "dtypes.json")


def test_round_trip_without_weights_keeps_structure(tmp_path: Path) -> None:
    model = build_everything_model()
    loaded = round_trip(model, tmp_path, weights=False)
    assert_structure_only(model, loaded)
    w = loaded.main.values["conv.weight"].initializer
    assert w is not None and w.shape == (8, 3, 3, 3) and w.dtype == "float32"
    with pytest.raises(netray.FormatError):
        w.numpy()
    with zipfile.ZipFile(tmp_path / "m.netray") as zf:
        assert zf.namelist() == ["netray.json"]


def test_weights_are_lazy_memory_maps_of_the_archive(tmp_path: Path) -> None:
    model = build_everything_model()
    loaded = round_trip(model, tmp_path)
    tensor = loaded.main.values["conv.weight"].initializer
    assert tensor is not None
    array = tensor.numpy()
    assert not array.flags.owndata and not array.flags.writeable  # a read-only view of a memory map
    assert array.ctypes.data % netrayfile.ALIGNMENT == 0
    with zipfile.ZipFile(tmp_path / "m.netray") as zf:
        for info in zf.infolist():
            assert info.compress_type == (zipfile.ZIP_DEFLATED if info.filename == "netray.json" else zipfile.ZIP_STORED)
        assert zf.namelist()[0] == "netray.json"


def test_a_second_round_trip_changes_nothing(tmp_path: Path) -> None:
    once = round_trip(build_everything_model(), tmp_path, name="a.netray")
    twice = round_trip(once, tmp_path, name="b.netray")
    assert_same(once, twice, data=True)
    a = json.loads(zipfile.ZipFile(tmp_path / "a.netray").read("netray.json"))
    b = json.loads(zipfile.ZipFile(tmp_path / "b.netray").read("netray.json"))
    a["model"].pop("source"), b["model"].pop("source")
    assert a == b


def test_detected_by_content_whatever_the_name(tmp_path: Path) -> None:
    netray.save_model(build_everything_model(), tmp_path / "m.netray")
    renamed = tmp_path / "model.bin"
    (tmp_path / "m.netray").rename(renamed)
    manager = get_manager()
    found = manager.detect(renamed)
    assert found is not None and found[0] == "netray-file" and found[1].confidence == 1.0
    assert netray.load_model(renamed).format == "TestFormat"
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("netray.json", '{"format": "something else"}')
    assert netrayfile.netray_sniff(path=other_zip, head=other_zip.read_bytes()[:4096]) is None


def test_saving_over_an_existing_file_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "keep.netray"
    netray.save_model(build_everything_model(), path)
    before = path.read_bytes()

    def broken() -> np.ndarray:
        raise OSError("disk went away")

    bad = build_everything_model()
    late = bad.main.values["q.weight"].initializer
    assert late is not None
    late.loader = broken  # fails after netray.json and the first tensor are written
    with pytest.raises(netray.FormatError, match=r"q\.weight"):
        netray.save_model(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.netray"]  # no temporary file left
    netray.save_model(bad, path, weights=False)  # structure only still works
    assert netray.load_model(path).main.values["q.weight"].initializer.has_data is False  # type: ignore[union-attr]


def test_saved_files_get_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        fresh = netray.save_model(build_everything_model(), tmp_path / "fresh.netray", weights=False)
        assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
        fresh.chmod(0o640)
        netray.save_model(build_everything_model(), fresh, weights=False)
        assert fresh.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    finally:
        os.umask(umask)


def test_cli_reads_netray_files(tmp_path: Path) -> None:
    path = tmp_path / "m.netray"
    netray.save_model(build_everything_model(), path)
    out = subprocess.run([sys.executable, "-m", "netray.cli", "info", "--json", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["format"] == "TestFormat 3"
    assert summary["ops"]["Conv"] == 1 and summary["ops"]["Relu"] == 1
    assert summary["parameters"] == build_everything_model().parameter_count()


def test_viewer_opens_a_netray_file(tmp_path: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import netray_viewer; assert netray_viewer.snapshot"], capture_output=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip("the viewer (netray_viewer.snapshot) is not available")
    path = netray.save_model(build_everything_model(), tmp_path / "m.netray")
    png = tmp_path / "m.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "netray.cli", "open", str(path), "--snapshot", str(png)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["nodes"] >= 3
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------
# Real files, through every installed plugin
# ---------------------------------------------------------------------------------------

# One small file per format of the shared models that a first-party plugin reads (the
# smallest whose check passed). A plugin's failure on it fails the test: it is not skipped.
REAL_FORMATS = [
    "Keras-HDF5",
    "Keras-v3",
    "MXNet-symbol",
    "TF-GraphDef",
    "TF-MetaGraph",
    "TF-SavedModel",
    "TFLite",
    "TorchScript",
]
MAX_REAL_FILE = 4_000_000


def smallest_real_file(models: Path, fmt: str) -> Path:
    with open(models / "MANIFEST.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["format"] == fmt and "check: ok" in r["notes"]]
    rows = [r for r in rows if int(r["size_bytes"]) <= MAX_REAL_FILE]
    assert rows, f"no small {fmt} file in the shared models"
    path = models / min(rows, key=lambda r: int(r["size_bytes"]))["file"]
    return path.parent if fmt == "TF-SavedModel" else path  # that format is a folder


def load_with_installed_plugin(path: Path) -> Model:
    found = get_manager().detect(path)
    assert found is not None and found[0] != "netray-file", f"no installed plugin claims {path}"
    return get_manager().load(path)


@pytest.mark.parametrize("fmt", REAL_FORMATS)
def test_round_trip_of_real_files(fmt: str, shared_models: Path, tmp_path: Path) -> None:
    original = load_with_installed_plugin(smallest_real_file(shared_models, fmt))
    assert_same(original, round_trip(original, tmp_path), data=True)
    assert_structure_only(original, round_trip(original, tmp_path, weights=False, name="s.netray"))


def onnx_model_with_subgraphs() -> Any:
    """A small ONNX model with initializers, an If with branch graphs and a local function."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W")
    then_g = helper.make_graph([helper.make_node("Relu", ["Y"], ["T"])], "then", [], [helper.make_tensor_value_info("T", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Neg", ["Y"], ["E"])], "else", [], [helper.make_tensor_value_info("E", TensorProto.FLOAT, None)])
    fn = helper.make_function("local", "Double", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])], [helper.make_opsetid("", 17)])
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm"),
            helper.make_node("If", ["C"], ["Z"], name="branch", then_branch=then_g, else_branch=else_g),
            helper.make_node("Double", ["Z"], ["OUT"], name="twice", domain="local"),
            helper.make_node("LeakyRelu", ["OUT"], ["R"], name="leaky", alpha=0.2),
        ],
        "onnx_with_subgraphs",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4]), helper.make_tensor_value_info("C", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("R", TensorProto.FLOAT, ["batch", 3])],
        initializer=[w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)], functions=[fn], producer_name="tests")


def test_round_trip_of_an_onnx_file(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "sample.onnx"
    onnx.save(onnx_model_with_subgraphs(), path)
    original = load_with_installed_plugin(path)
    loaded = round_trip(original, tmp_path)
    assert_same(original, loaded, data=True)
    assert loaded.main.values["W"].initializer is not None


def test_round_trip_of_a_torch_module(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2)).eval()
    try:
        original = netray.load_model(module, example_inputs=(torch.randn(1, 3, 8, 8),))
    except netray.NoReaderError:
        pytest.skip("no installed plugin reads torch modules")
    except netray.FormatError as exc:
        pytest.skip(f"the plugin cannot read this module yet: {exc}")
    assert_same(original, round_trip(original, tmp_path), data=True)


# ---------------------------------------------------------------------------------------
# Damaged and hostile files
# ---------------------------------------------------------------------------------------


@pytest.fixture()
def good_file(tmp_path: Path) -> Path:
    return netray.save_model(build_everything_model(), tmp_path / "good.netray")


def rewrite(src: Path, dst: Path, change_json: Any = None, members: dict[str, Any] | None = None, compress_tensors: bool = False) -> Path:
    """A copy of ``src`` with netray.json changed by ``change_json(doc)`` and members replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "netray.json" and change_json is not None:
                doc = json.loads(data)
                change_json(doc)
                data = json.dumps(doc).encode()
            if members and info.filename in members:
                data = members[info.filename]
                if data is None:
                    continue
            compress = zipfile.ZIP_DEFLATED if info.filename == "netray.json" or compress_tensors else zipfile.ZIP_STORED
            zout.writestr(info.filename, data, compress_type=compress)
    return dst


def assert_format_error(path: Path, match: str | None = None) -> None:
    with pytest.raises(netray.FormatError, match=match) as info:
        m = netray.load_model(path)
        for g in m.all_graphs():  # reading tensors may fail instead, also with FormatError
            for v in g.weights():
                if v.initializer is not None and v.initializer.has_data:
                    v.initializer.numpy()
    assert info.value.path == str(path)
    assert "\n" not in str(info.value)


def set_in(doc: dict[str, Any], *keys: Any, value: Any) -> None:
    target = doc
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value


HOSTILE_EDITS = {
    "value index out of range": (lambda d: set_in(d, "graphs", 0, "inputs", value=[10**9]), "out of range"),
    "negative value index": (lambda d: set_in(d, "graphs", 0, "nodes", 0, "inputs", 0, value=["X", [-1]]), "out of range"),
    "graph index out of range": (lambda d: set_in(d, "main", value=[99]), "out of range"),
    "subgraph index out of range": (lambda d: set_in(d, "graphs", 0, "nodes", 2, "subgraphs", value=[99]), "out of range"),
    "tensor index out of range": (lambda d: d["values"][2].__setitem__("initializer", 10**6), "out of range"),
    "tensor tag out of range": (lambda d: set_in(d, "graphs", 0, "nodes", 0, "attributes", 11, "value", value={"$tensor": 500}), "out of range"),
    "node index out of range": (lambda d: d["values"][0].__setitem__("consumers", [12345]), "out of range"),
    "graph contains itself": (lambda d: set_in(d, "graphs", 0, "nodes", 2, "subgraphs", value=[0]), "contains itself"),
    "wrong type": (lambda d: set_in(d, "graphs", 0, "nodes", value={"not": "a list"}), "expected list"),
    "unknown tag": (lambda d: set_in(d, "graphs", 0, "nodes", 0, "attributes", 0, "value", value={"$pickle": "x"}), "unknown value tag"),
    "unknown kind": (lambda d: set_in(d, "graphs", 0, "nodes", 0, "attributes", 0, "kind", value="lambda"), "unknown attribute kind"),
    "unknown category": (lambda d: set_in(d, "graphs", 0, "nodes", 0, "category", value="rocket"), "unknown category"),
    "bad dimension": (lambda d: d["values"][0].__setitem__("shape", [1.5]), "dimension"),
    "no marker": (lambda d: d.__setitem__("format", "other"), "marker"),
    "newer version": (lambda d: d.__setitem__("version", 99), "newer"),
    "producer that does not output it": (lambda d: d["values"][0].__setitem__("producer", 0), "does not output"),
    "consumer that does not read it": (lambda d: d["values"][0].__setitem__("consumers", [1]), "does not read"),
    "graph attribute holding text": (lambda d: set_in(d, "graphs", 0, "nodes", 0, "attributes", 13, "value", value="main"), "cannot hold str"),
    "shape attribute holding a number": (lambda d: set_in(d, "graphs", 0, "nodes", 0, "attributes", 17, "value", value=5), "cannot hold int"),
    "missing member": (lambda d: set_in(d, "tensors", 0, "data", value="tensors/nope.npy"), "missing"),
    "object array dtype": (lambda d: set_in(d, "graphs", 0, "nodes", 0, "attributes", 0, "value", value={"$array": {"dtype": "O", "shape": [1], "data": [1]}}), "not allowed"),
}


@pytest.mark.parametrize("case", list(HOSTILE_EDITS))
def test_hostile_json_gives_format_error(case: str, good_file: Path, tmp_path: Path) -> None:
    change, match = HOSTILE_EDITS[case]
    assert_format_error(rewrite(good_file, tmp_path / "bad.netray", change_json=change), match)


def test_tensor_members_are_checked(good_file: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(good_file) as zf:
        first = next(n for n in zf.namelist() if n.endswith(".npy"))
        npy = zf.read(first)
    assert_format_error(rewrite(good_file, tmp_path / "deflated.netray", compress_tensors=True), "compressed")
    assert_format_error(rewrite(good_file, tmp_path / "short.netray", members={first: npy[:-4]}), "bytes")
    assert_format_error(rewrite(good_file, tmp_path / "gone.netray", members={first: None}), "missing")
    assert_format_error(rewrite(good_file, tmp_path / "notnpy.netray", members={first: b"GARBAGE" * 20}), first)
    pickled = np.lib.format.header_data_from_array_1_0(np.array([None], dtype=object))
    buf = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(buf, pickled)
    assert_format_error(rewrite(good_file, tmp_path / "obj.netray", members={first: buf.getvalue() + b"\x80\x04N."}), "not allowed")


def test_not_a_zip_and_empty_archives(tmp_path: Path) -> None:
    text = tmp_path / "text.netray"
    text.write_text("conv1 = Conv(input)\n")
    assert_format_error(text, "netray: not a readable zip")
    empty_zip = tmp_path / "empty.netray"
    zipfile.ZipFile(empty_zip, "w").close()
    assert_format_error(empty_zip, "no netray.json")
    not_json = tmp_path / "notjson.netray"
    with zipfile.ZipFile(not_json, "w") as zf:
        zf.writestr("netray.json", "{" * 100_000)
    assert_format_error(not_json, "netray.json")


def test_json_size_is_bounded(good_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netrayfile, "MAX_JSON_BYTES", 100)
    assert_format_error(good_file, "bytes")


def test_truncated_files_give_format_error(good_file: Path, tmp_path: Path) -> None:
    data = good_file.read_bytes()
    cut = tmp_path / "cut.netray"
    for size in sorted({1, 10, 30, 100, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 22, len(data) - 1}):
        cut.write_bytes(data[:size])
        assert_format_error(cut)


def test_random_damage_never_escapes_as_another_exception(good_file: Path, tmp_path: Path) -> None:
    data = bytearray(good_file.read_bytes())
    rng = random.Random(1234)
    damaged = tmp_path / "damaged.netray"
    outcomes = {"loaded": 0, "FormatError": 0}
    for _ in range(150):
        copy = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            copy[rng.randrange(len(copy))] = rng.randrange(256)
        damaged.write_bytes(bytes(copy))
        try:
            m = netray.load_model(damaged)
            for g in m.all_graphs():
                for v in g.weights():
                    if v.initializer is not None and v.initializer.has_data:
                        v.initializer.numpy()
            outcomes["loaded"] += 1
        except netray.FormatError as exc:
            assert "\n" not in str(exc)
            outcomes["FormatError"] += 1
    assert outcomes["FormatError"] > 0


def test_core_reads_netray_files_with_no_format_plugin(good_file: Path) -> None:
    """The built-in plugin alone: a manager with no entry points but netray-file."""
    manager = PluginManager(load_entry_points=False)
    manager.register(netrayfile, "netray-file")
    model = manager.load(good_file)
    assert model.format == "TestFormat" and model.source == good_file
    assert [f.name for _, f in manager.formats()] == ["netray"]


def test_saving_never_touches_other_files(tmp_path: Path) -> None:
    model = build_everything_model()
    netray.save_model(model, tmp_path / "one.netray")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    netray.save_model(model, tmp_path / "two.netray", weights=False)
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert after.pop("two.netray") and after == before
    assert os.path.getsize(tmp_path / "two.netray") < os.path.getsize(tmp_path / "one.netray")
