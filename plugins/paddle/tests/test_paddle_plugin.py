"""Tests of the Paddle plugin on small real models written by paddlepaddle 3.3.1 (tests/data,
see its README), on programs and parameter files written here with the generated framework.proto
classes in Paddle's layout, and on broken input."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
import netray_paddle.plugin as plugin
from netray_paddle.proto import ProgramDesc, TensorDesc
from netray_paddle.sniff import sniff

DATA = Path(__file__).parent / "data"
LEGACY = DATA / "tiny_legacy.pdmodel"
PIR = DATA / "tiny_pir.json"

# VarType.Type numbers of framework.proto
FP32, FP16, INT64, BF16 = 5, 4, 3, 22
DENSE, FEED, FETCH = 7, 9, 10


def expected(name: str) -> dict[str, np.ndarray]:
    with np.load(DATA / f"{name}.expected.npz") as npz:
        return {k: npz[k] for k in npz.files}


def write_tensor(array: np.ndarray, data_type: int, lod: list[list[int]] | None = None) -> bytes:
    """One tensor as Paddle's SerializeToStream writes it."""
    desc = TensorDesc(data_type=data_type, dims=list(array.shape)).SerializeToString()
    out = struct.pack("<IQ", 0, len(lod or []))
    for level in lod or []:
        out += struct.pack("<Q", 8 * len(level)) + np.asarray(level, "<u8").tobytes()
    return out + struct.pack("<Ii", 0, len(desc)) + desc + array.tobytes()


def headers(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every tensor of a combined file, walked with struct alone."""
    spans, pos = [], 0
    while pos < len(data):
        start = pos
        _, levels = struct.unpack_from("<IQ", data, pos)
        pos += 12
        for _ in range(levels):
            (n,) = struct.unpack_from("<Q", data, pos)
            pos += 8 + n
        _, size = struct.unpack_from("<Ii", data, pos)
        desc = TensorDesc.FromString(data[pos + 8 : pos + 8 + size])
        pos += 8 + size + int(np.prod(desc.dims)) * {FP32: 4}[desc.data_type]
        spans.append((start, pos))
    return spans


def nodes(graph: netray.Graph, op: str) -> list[netray.Node]:
    return [n for n in graph.nodes if n.op == op]


def port(node: netray.Node, name: str) -> list[netray.Value]:
    return next(p.values for p in [*node.inputs, *node.outputs] if p.name == name)


# --- the real files --------------------------------------------------------------------------


def test_contract_on_the_real_files(tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(DATA / "tiny_pir.pdiparams", alone)  # no program beside it
    files = [LEGACY, PIR, DATA / "tiny_legacy.pdiparams", DATA / "tiny_pir.pdiparams", alone / "tiny_pir.pdiparams"]
    models = netray.testing.check_plugin(plugin, files, tmp_path / "check")
    # A parameters file opens the program beside it that reads it.
    assert [m.format for m in models] == ["Paddle", "Paddle PIR", "Paddle", "Paddle PIR", "Paddle parameters"]


def test_legacy_program(tmp_path: Path) -> None:
    model = netray.load_model(LEGACY)
    assert (model.format, model.format_version, model.producer_version) == ("Paddle", "ProgramDesc", "3.3.1")
    main = model.main
    assert [n.op for n in main.nodes] == [
        "conv2d", "elementwise_add", "batch_norm", "relu", "pool2d", "flatten_contiguous_range", "mul",
        "elementwise_add", "fill_constant", "fill_constant", "less_than", "while", "softmax",
    ]  # fmt: skip
    assert [(v.name, v.type.dtype, v.type.shape) for v in main.inputs] == [("image", "float32", (None, 3, 8, 8))]
    assert [(v.name, v.type.shape) for v in main.outputs] == [("softmax_0.tmp_0", (None, 10))]
    conv = nodes(main, "conv2d")[0]
    assert conv.attribute("strides").value == [1, 1] and conv.attribute("data_format").value == "NCHW"
    assert conv.attribute("op_role") is None and conv.attribute("op_device") is None  # bookkeeping hidden
    assert [p.name for p in conv.inputs] == ["Filter", "Input"]
    batch_norm = nodes(main, "batch_norm")[0]
    assert port(batch_norm, "MeanOut")[0].name == "batch_norm_0.w_1#1"  # the statistics written back: a new version
    assert port(batch_norm, "Mean")[0].initializer is not None
    fill = nodes(main, "fill_constant")[0]
    assert fill.attribute("dtype").kind == netray.AttrKind.DTYPE and fill.attribute("dtype").value == "int64"
    values = expected("tiny_legacy")
    weights = {v.name: v.initializer for v in main.weights()}
    assert sorted(weights) == sorted(values)
    for name, array in values.items():
        assert np.array_equal(weights[name].numpy(), array), name
    assert port(conv, "Filter")[0].initializer.shape == (4, 3, 3, 3)


def test_legacy_while_block_is_a_subgraph() -> None:
    model = netray.load_model(LEGACY)
    loop = nodes(model.main, "while")[0]
    (body,) = loop.subgraphs
    assert loop.attribute("sub_block").kind == netray.AttrKind.GRAPH and loop.attribute("sub_block").value is body
    assert [n.op for n in body.nodes] == ["scale", "scale", "less_than", "assign", "assign", "assign"]
    assert sorted(v.name for v in body.inputs) == ["fc_0.tmp_1", "fill_constant_1.tmp_0", "fill_constant_3.tmp_0"]
    # What the body writes to the enclosing block's variables: new versions of them.
    assert sorted(v.name for v in body.outputs) == ["fc_0.tmp_1#1", "fill_constant_1.tmp_0#1", "tmp_0"]
    assert body.values["fc_0.tmp_1#1"].metadata["variable"] == "fc_0.tmp_1"
    written = {v.name: v for v in port(loop, "Out")}
    assert sorted(written) == ["fc_0.tmp_1#1", "fill_constant_1.tmp_0#1", "tmp_0#1"]  # the loop writes its inputs again
    assert port(nodes(model.main, "softmax")[0], "X")[0] is written["fc_0.tmp_1#1"]  # and softmax reads that version


def test_pir_program() -> None:
    model = netray.load_model(PIR)
    assert (model.format, model.format_version) == ("Paddle PIR", "version 4")
    assert model.metadata["base_code.magic"] == "pir"
    main = model.main
    assert [n.op for n in main.nodes] == [
        "conv2d", "reshape", "add", "batch_norm_", "relu", "pool2d", "flatten", "matmul", "add",
        "less_than", "while", "mean", "greater_than", "if", "softmax",
    ]  # fmt: skip
    assert all(n.domain == "pd_op" for n in main.nodes)
    assert [(v.name, v.type.shape) for v in main.inputs] == [("image", (None, 3, 8, 8))]
    assert [(v.name, v.type.shape) for v in main.outputs] == [("fetch_name_0", (None, 10))]
    conv = nodes(main, "conv2d")[0]
    assert [p.name for p in conv.inputs] == ["input", "filter"]
    assert conv.scope == ("Conv2D",) and conv.attribute("strides").value == [1, 1]
    values = expected("tiny_pir")
    weights = {v.name: v.initializer for v in main.weights() if not v.name.startswith("%")}
    assert sorted(weights) == sorted(values)
    for name, array in values.items():
        assert np.array_equal(weights[name].numpy(), array), name
    reshape = nodes(main, "reshape")[0]
    shape = port(reshape, "shape")[0].initializer  # full_int_array: a constant weight, not a box
    assert shape.numpy().tolist() == [1, -1, 1, 1] and shape.dtype == "int64"


def test_pir_regions_are_subgraphs() -> None:
    main = netray.load_model(PIR).main
    loop = nodes(main, "while")[0]
    (body,) = loop.subgraphs
    assert body.name == "body" and [v.name for v in body.inputs] == ["%arg1", "%arg2"]
    assert [n.op for n in body.nodes] == ["scale", "scale", "less_than"]
    assert len(body.outputs) == 3  # yield: condition, counter, value
    halve = body.nodes[0]
    assert port(halve, "scale")[0].initializer.numpy().tolist() == [0.5]
    branch = nodes(main, "if")[0]
    assert [g.name for g in branch.subgraphs] == ["true", "false"]
    true, false = branch.subgraphs
    assert port(true.nodes[0], "x")[0].name == port(false.nodes[0], "x")[0].name  # both read the loop's result
    assert true.inputs and true.inputs[0].name == port(nodes(main, "mean")[0], "x")[0].name


def test_parameters_open_their_program() -> None:
    for stem, program in (("tiny_pir", "tiny_pir.json"), ("tiny_legacy", "tiny_legacy.pdmodel")):
        model = netray.load_model(DATA / f"{stem}.pdiparams")
        assert model.properties["opened from"] == f"{stem}.pdiparams, the parameters of {program}"
        direct = netray.load_model(DATA / program)
        assert [n.op for n in model.main.nodes] == [n.op for n in direct.main.nodes]
        for name, array in expected(stem).items():
            assert np.array_equal(model.main.values[name].initializer.numpy(), array), name


def test_parameters_alone(tmp_path: Path) -> None:
    values = expected("tiny_pir")
    alone = Path(shutil.copy(DATA / "tiny_pir.pdiparams", tmp_path))
    model = netray.load_model(alone)
    assert model.graphs == [] and model.properties["tensors"] == len(values) and "program" not in model.properties
    for k, name in enumerate(sorted(values)):  # no names without a program: stored in sorted-name order
        assert np.array_equal(model.tensors[f"tensor {k}"].numpy(), values[name])
    # Two programs of its name beside it: which one is meant cannot be told; named by the first that reads.
    shutil.copy(PIR, tmp_path / "tiny_pir.json")
    shutil.copy(LEGACY, tmp_path / "tiny_pir.pdmodel")
    model = netray.load_model(alone)
    assert model.graphs == [] and model.properties["program"] == (
        "2 programs beside it (tiny_pir.pdmodel, tiny_pir.json): opened on its own; open one of them"
    )
    assert model.properties["names"].startswith("from tiny_pir.pdmodel")
    assert len(model.tensors) == len(values)
    # A program beside it that is broken: the parameters alone, and why.
    (tmp_path / "tiny_pir.pdmodel").unlink()
    (tmp_path / "tiny_pir.json").write_text('{"base_code": {"magic": "pir"}, "program": {}}')
    model = netray.load_model(alone)
    assert model.graphs == [] and model.properties["program"].startswith("tiny_pir.json beside it not read (")


def test_old_inference_folders(tmp_path: Path) -> None:
    values = expected("tiny_legacy")
    combined = tmp_path / "combined"
    combined.mkdir()
    shutil.copy(LEGACY, combined / "__model__")
    shutil.copy(DATA / "tiny_legacy.pdiparams", combined / "__params__")
    model = netray.load_model(combined / "__model__")
    assert model.properties["weights"] == "__params__ (8 tensors)"
    assert all(np.array_equal(model.main.values[k].initializer.numpy(), v) for k, v in values.items())
    assert netray.load_model(combined / "__params__").properties["opened from"] == "__params__, the parameters of __model__"
    separate = tmp_path / "separate"
    separate.mkdir()
    shutil.copy(LEGACY, separate / "__model__")
    data = (DATA / "tiny_legacy.pdiparams").read_bytes()
    for name, (start, end) in zip(
        sorted(values), headers(data), strict=True
    ):  # one file per variable, as save_vars writes
        (separate / name).write_bytes(data[start:end])
    model = netray.load_model(separate / "__model__")
    assert model.properties["weights"] == "8 of 8 variables from per-variable files"
    assert all(np.array_equal(model.main.values[k].initializer.numpy(), v) for k, v in values.items())
    single = netray.load_model(separate / "conv2d_0.w_0")  # one variable's file opens the program that reads it
    assert single.properties["opened from"] == "conv2d_0.w_0, the parameters of __model__"
    assert np.array_equal(single.main.values["conv2d_0.w_0"].initializer.numpy(), values["conv2d_0.w_0"])
    (separate / "__model__").unlink()
    single = netray.load_model(separate / "conv2d_0.w_0")
    assert np.array_equal(next(iter(single.tensors.values())).numpy(), values["conv2d_0.w_0"])


def test_missing_and_mismatched_parameters(tmp_path: Path) -> None:
    shutil.copy(LEGACY, tmp_path / "net.pdmodel")
    model = netray.load_model(tmp_path / "net.pdmodel")
    assert model.properties["weights"].startswith("no net.pdiparams")
    weight = model.main.values["conv2d_0.w_0"].initializer
    assert weight.shape == (4, 3, 3, 3) and not weight.has_data
    (tmp_path / "net.pdiparams").write_bytes(write_tensor(np.zeros((2, 2), np.float32), FP32))
    model = netray.load_model(tmp_path / "net.pdmodel")
    assert "holds 1 tensors" in model.properties["weights"] and list(model.tensors) == ["net.pdiparams[0]"]
    (tmp_path / "net.pdiparams").write_bytes((DATA / "tiny_legacy.pdiparams").read_bytes()[:500])
    model = netray.load_model(tmp_path / "net.pdmodel")  # truncated weights: the program still opens
    assert model.properties["weights"].startswith("net.pdiparams not read:")


def test_parameters_file_matches_what_paddle_wrote() -> None:
    """The writer these tests use produces Paddle's bytes exactly."""
    values = expected("tiny_legacy")
    written = b"".join(write_tensor(values[name], FP32) for name in sorted(values))
    assert written == (DATA / "tiny_legacy.pdiparams").read_bytes()


# --- programs and parameters written with the generated classes -------------------------------


def tiny_program() -> bytes:
    """feed -> conv2d (weight) -> fetch, with a cast to float16, as Paddle lays a ProgramDesc out."""
    program = ProgramDesc()
    program.version.version = 2006000
    block = program.blocks.add(idx=0, parent_idx=-1)

    def var(name: str, dims: list[int], dtype: int = FP32, persistable: bool = False) -> None:
        v = block.vars.add(name=name, persistable=persistable)
        v.type.type = DENSE
        v.type.dense_tensor.tensor.data_type = dtype
        v.type.dense_tensor.tensor.dims.extend(dims)

    block.vars.add(name="feed", persistable=True).type.type = FEED
    block.vars.add(name="fetch", persistable=True).type.type = FETCH
    var("x", [-1, 2, 4, 4])
    var("w", [3, 2, 1, 1], persistable=True)
    var("h", [2], FP16, persistable=True)
    var("ids", [5], INT64, persistable=True)
    var("b16", [2], BF16, persistable=True)
    var("y", [-1, 3, 4, 4])
    feed = block.ops.add(type="feed")
    feed.inputs.add(parameter="X", arguments=["feed"])
    feed.outputs.add(parameter="Out", arguments=["x"])
    feed.attrs.add(name="col", type=0, i=0)
    conv = block.ops.add(type="conv2d")
    conv.inputs.add(parameter="Input", arguments=["x"])
    conv.inputs.add(parameter="Filter", arguments=["w"])
    conv.outputs.add(parameter="Output", arguments=["y"])
    conv.attrs.add(name="strides", type=3, ints=[1, 1])
    conv.attrs.add(name="sub_block", type=8, block_idx=0)  # a hostile self-reference: shown, not followed
    add = block.ops.add(type="elementwise_add")
    add.inputs.add(parameter="X", arguments=["y"])
    add.inputs.add(parameter="Y", arguments=["h", "ids", "b16"])
    add.outputs.add(parameter="Out", arguments=["y"])  # in place
    fetch = block.ops.add(type="fetch")
    fetch.inputs.add(parameter="X", arguments=["y"])
    fetch.outputs.add(parameter="Out", arguments=["fetch"])
    return program.SerializeToString()


def test_written_program_and_dtypes(tmp_path: Path) -> None:
    import ml_dtypes

    (tmp_path / "m.pdmodel").write_bytes(tiny_program())
    w = np.arange(6, dtype=np.float32).reshape(3, 2, 1, 1)
    h = np.array([0.5, -2], np.float16)
    ids = np.array([1, 2, 3, 4, 5], np.int64)
    b16 = np.array([1.5, -3], ml_dtypes.bfloat16)
    params = (
        write_tensor(b16, BF16)
        + write_tensor(h, FP16)
        + write_tensor(ids, INT64, lod=[[0, 2, 5]])
        + write_tensor(w, FP32)
    )  # sorted: b16, h, ids, w
    (tmp_path / "m.pdiparams").write_bytes(params)
    model = netray.testing.check_load(plugin, tmp_path / "m.pdmodel", tmp_path / "check")
    main = model.main
    assert model.producer_version == "2.6.0"
    conv = nodes(main, "conv2d")[0]
    assert conv.subgraphs == [] and conv.attribute("sub_block").value == 0
    add = nodes(main, "elementwise_add")[0]
    assert [v.name for v in port(add, "Out")] == ["y#1"] and main.outputs[0].name == "y#1"
    got = {v.name: v.initializer for v in main.weights()}
    assert np.array_equal(got["w"].numpy(), w) and got["h"].numpy().dtype == np.float16
    assert got["ids"].numpy().tolist() == [1, 2, 3, 4, 5] and got["ids"].metadata["lod_levels"] == 1
    assert got["b16"].dtype == "bfloat16" and got["b16"].numpy().astype(np.float32).tolist() == [1.5, -3.0]


PIR_V1 = {
    "base_code": {"magic": "pir", "trainable": True, "version": 1},
    "program": {
        "regions": [
            {
                "#": "region_0",
                "blocks": [
                    {
                        "#": "block_0",
                        "args": [],
                        "ops": [
                            {"#": "p", "A": [0, 1, 1, "fc_0.b_0"], "O": {"%": 1, "TT": {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [30], "NCHW", [], 0]}}, "OA": [1, 0, 1]},
                            {"#": "p", "A": [0, 1, 1, "fc_0.w_0"], "O": {"%": 2, "TT": {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [30, 30], "NCHW", [], 0]}}, "OA": [1, 0, 1]},
                            {"#": "1.data", "A": [{"AT": {"#": "0.a_str", "D": "A"}, "N": "name"}, {"AT": {"#": "1.a_intarray", "D": [-1, 30]}, "N": "shape"}], "I": [], "O": [{"%": 3, "TT": {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [-1, 30], "NCHW", [], 0]}}]},
                            {"#": "1.matmul", "A": [{"AT": {"#": "0.a_bool", "D": False}, "N": "transpose_x"}], "I": [{"%": 3}, {"%": 2}], "O": [{"%": 4, "TT": {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [-1, 30], "NCHW", [], 0]}}]},
                            {"#": "1.add", "A": [], "I": [{"%": 4}, {"%": 1}], "O": [{"%": 5, "TT": {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [-1, 30], "NCHW", [], 0]}}]},
                            {"#": "1.fetch", "A": [{"AT": {"#": "0.a_str", "D": "fetch_name_0"}, "N": "name"}], "I": [{"%": 5}], "O": [{"%": 6, "TT": {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [-1, 30], "NCHW", [], 0]}}]},
                        ],
                    }
                ],
            }
        ]
    },
}  # fmt: skip


def test_pir_version_1_without_parameters(tmp_path: Path) -> None:
    """The example of Paddle's serialization design doc (version 1), no .pdiparams beside it."""
    path = tmp_path / "inference.json"
    path.write_text(json.dumps(PIR_V1, separators=(",", ":")))
    assert sniff(path, path.read_bytes()[:4096]) == ("Paddle PIR", 1.0)
    model = netray.testing.check_load(plugin, path, tmp_path / "check")
    assert [n.op for n in model.main.nodes] == ["matmul", "add"]
    weight = port(model.main.nodes[0], "y")[0].initializer
    assert weight.shape == (30, 30) and not weight.has_data
    assert model.properties["weights"].startswith("no inference.pdiparams")


def test_pir_persistable_data_is_stored_with_the_parameters(tmp_path: Path) -> None:
    """Paddle saves parameters and persistable data variables together, sorted by name."""
    document = json.loads(json.dumps(PIR_V1))
    ops = document["program"]["regions"][0]["blocks"][0]["ops"]
    ops.insert(2, {
        "#": "1.data",
        "A": [{"AT": {"#": "0.a_str", "D": "a_state"}, "N": "name"}],
        "I": [],
        "O": [{"%": 7, "TT": {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [30], "NCHW", [], 0]}}],
        "OA": [{"AT": {"#": "0.a_array", "D": [{"#": "0.a_bool", "D": True}]}, "N": "persistable"}],
    })  # fmt: skip
    ops[-2]["I"].append({"%": 7})  # the add reads it too
    (tmp_path / "m.json").write_text(json.dumps(document))
    rng = np.random.default_rng(0)
    values = {
        "a_state": rng.random(30, np.float32),
        "fc_0.b_0": rng.random(30, np.float32),
        "fc_0.w_0": rng.random((30, 30), np.float32),
    }
    (tmp_path / "m.pdiparams").write_bytes(b"".join(write_tensor(values[k], FP32) for k in sorted(values)))
    model = netray.testing.check_load(plugin, tmp_path / "m.json", tmp_path / "check")
    assert [v.name for v in model.main.inputs] == ["A"]
    weights = {v.name: v.initializer for v in model.main.weights()}
    assert sorted(weights) == sorted(values)
    assert all(np.array_equal(weights[k].numpy(), v) for k, v in values.items())


def test_pir_combine_feeds_its_reader_directly(tmp_path: Path) -> None:
    """builtin.combine packs values for concat: concat's port holds them, with no combine box."""
    tt = {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [-1, 4], "NCHW", [], 0]}
    ops = [
        {"#": "1.data", "A": [{"AT": {"#": "0.a_str", "D": "a"}, "N": "name"}], "I": [], "O": [{"%": 1, "TT": tt}]},
        {"#": "1.relu", "A": [], "I": [{"%": 1}], "O": [{"%": 2, "TT": tt}]},
        {"#": "0.combine", "A": [], "I": [{"%": 1}, {"%": 2}], "O": [{"%": 3, "TT": {"#": "0.t_vec", "D": [tt, tt]}}]},
        {"#": "1.full", "A": [{"AT": {"#": "1.a_intarray", "D": [1]}, "N": "shape"}, {"AT": {"#": "0.a_f64", "D": 1.0}, "N": "value"}, {"AT": {"#": "1.a_dtype", "D": "int32"}, "N": "dtype"}], "I": [], "O": [{"%": 4, "TT": tt}]},
        {"#": "1.concat", "A": [], "I": [{"%": 3}, {"%": 4}], "O": [{"%": 5, "TT": tt}]},
        {"#": "1.fetch", "A": [{"AT": {"#": "0.a_str", "D": "out"}, "N": "name"}], "I": [{"%": 5}], "O": [{"%": 6, "TT": tt}]},
    ]  # fmt: skip
    path = tmp_path / "combine.json"
    path.write_text(
        json.dumps(
            {
                "base_code": {"magic": "pir", "version": 4},
                "program": {"regions": [{"blocks": [{"args": [], "ops": ops}]}]},
            }
        )
    )
    model = netray.testing.check_load(plugin, path, tmp_path / "check")
    relu, concat = model.main.nodes
    assert [v.name for v in port(concat, "x")] == ["a", "%2"] and port(concat, "x")[1].producer is relu
    assert port(concat, "axis")[0].initializer.numpy().tolist() == [1]
    assert [v.name for v in model.main.outputs] == ["out"]


# --- broken input --------------------------------------------------------------------------


def test_truncated_and_corrupt_files(tmp_path: Path) -> None:
    program = LEGACY.read_bytes()
    for cut in (1, 5, 40, len(program) // 2, len(program) - 1):
        path = tmp_path / f"cut{cut}.pdmodel"
        path.write_bytes(program[:cut])
        with pytest.raises(netray.FormatError) as error:
            plugin.netray_load(path, "Paddle")
        assert str(path) in str(error.value) and "\n" not in str(error.value)
    params = (DATA / "tiny_legacy.pdiparams").read_bytes()
    for cut in (3, 12, 23, 30, 100, len(params) - 1):
        path = tmp_path / f"cut{cut}.pdiparams"
        path.write_bytes(params[:cut])
        with pytest.raises(netray.FormatError, match=r"past the end|TensorDesc"):
            plugin.netray_load(path, "Paddle parameters")
    hostile = {
        "version": struct.pack("<IQ", 7, 0),
        "lod": struct.pack("<IQ", 0, 1 << 40),
        "lod_size": struct.pack("<IQQ", 0, 1, 1 << 62),
        "desc_size": struct.pack("<IQIi", 0, 0, 0, -5),
        "dtype": struct.pack("<IQIi", 0, 0, 0, 2) + b"\x08\x63",
        "huge": struct.pack("<IQIi", 0, 0, 0, 6) + b"\x08\x05\x10\xff\xff\x7f",
    }
    for name, data in hostile.items():
        path = tmp_path / f"{name}.pdiparams"
        path.write_bytes(data)
        with pytest.raises(netray.FormatError):
            plugin.netray_load(path, "Paddle parameters")


def test_hostile_pir_json(tmp_path: Path) -> None:
    cases = {
        "not_json": "{",
        "no_program": '{"base_code": {"magic": "pir"}}',
        "regions_not_list": '{"program": {"regions": 5}}',
        "undefined_value": json.dumps(
            {"program": {"regions": [{"blocks": [{"ops": [{"#": "1.relu", "I": [{"%": 99}], "O": []}]}]}]}}
        ),
        "bad_op": json.dumps({"program": {"regions": [{"blocks": [{"ops": [7]}]}]}}),
        "deep": '{"program": ' + "[" * 100000 + "]" * 100000 + "}",
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        with pytest.raises(netray.FormatError) as error:
            plugin.netray_load(path, "Paddle PIR")
        assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("source", "fmt"),
    [(LEGACY, "Paddle"), (PIR, "Paddle PIR"), (DATA / "tiny_pir.pdiparams", "Paddle parameters")],
)
def test_corrupted_bytes_give_format_errors_only(source: Path, fmt: str, tmp_path: Path) -> None:
    """Random byte changes and cuts: the file opens or gives a one-line FormatError, tensors too."""
    import random

    rng = random.Random(1)
    data = source.read_bytes()
    for k in range(150):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        if k % 3 == 0:
            mutated = mutated[: rng.randrange(len(mutated))]
        path = tmp_path / f"m{k}{source.suffix}"
        path.write_bytes(bytes(mutated))
        try:
            model = plugin.netray_load(path, fmt)
            for _, t in model.all_tensors():
                try:
                    t.numpy()
                except netray.FormatError:
                    pass
        except netray.FormatError as error:
            assert "\n" not in str(error)


def test_sub_block_cycles_end(tmp_path: Path) -> None:
    program = ProgramDesc.FromString(LEGACY.read_bytes())
    body = program.blocks[1]
    loop = body.ops.add(type="while")  # the body runs itself, and block 0
    loop.attrs.add(name="sub_block", type=8, block_idx=1)
    loop.attrs.add(name="blocks", type=10, blocks_idx=[0, 1, 5])
    path = tmp_path / "cycle.pdmodel"
    path.write_bytes(program.SerializeToString())
    model = netray.load_model(path)
    inner = nodes(model.main, "while")[0].subgraphs[0]
    assert nodes(inner, "while")[0].subgraphs == []


def test_sniffing(tmp_path: Path) -> None:
    assert sniff(LEGACY, LEGACY.read_bytes()[:4096]) == ("Paddle", 1.0)
    assert sniff(PIR, PIR.read_bytes()[:4096]) == ("Paddle PIR", 1.0)
    params = DATA / "tiny_pir.pdiparams"
    assert sniff(params, params.read_bytes()[:4096]) == ("Paddle parameters", 1.0)
    assert sniff(tmp_path / "x.bin", params.read_bytes()[:4096]) == ("Paddle parameters", 0.5)
    assert sniff(tmp_path / "zeros.pdiparams", bytes(4096)) is None
    assert sniff(tmp_path / "other.json", b'{"nodes": [], "base": 1}') is None
