"""The MXNet plugin on real symbol/params files, generated files in every params layout, and hostile input.

MXNet itself does not install here (its last release needs numpy<2), so generated
cases are written by ``write_params`` below, which follows mxnet's NDArray::Save.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

import netray
from netray import AttrKind, Category, FormatError
from netray.plugins import PluginManager
from netray.summary import model_summary

netray_mxnet = pytest.importorskip("netray_mxnet")
from netray_mxnet import plugin  # noqa: E402
from netray_mxnet.params import DTYPES, V1_MAGIC, V2_MAGIC, V3_MAGIC, read_params  # noqa: E402

FLAGS = {v: k for k, v in DTYPES.items()}


def manifest_checks(root: Path) -> dict[str, int]:
    """``mxnet/... -> nodes=N`` from the MANIFEST's check notes (total JSON nodes, as MXNet counts them)."""
    checks = {}
    for line in (root / "MANIFEST.tsv").read_text().splitlines():
        cols = line.split("\t")
        if cols[0].startswith("mxnet/") and "nodes=" in line:
            checks[cols[0]] = int(line.rsplit("nodes=", 1)[1].split()[0])
    return checks


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "mxnet")
    return pm


def write_params(path: Path, arrays: dict[str, np.ndarray], layout: str = "v2") -> None:
    """An NDArray list as mxnet's MXNDArraySave writes it (layout: legacy, v1, v2 or v3)."""
    out = bytearray(struct.pack("<QQQ", 0x112, 0, len(arrays)))
    for array in arrays.values():
        if layout == "legacy":
            out += struct.pack(f"<I{array.ndim}I", array.ndim, *array.shape)
        else:
            magic = {"v1": V1_MAGIC, "v2": V2_MAGIC, "v3": V3_MAGIC}[layout]
            out += struct.pack("<I", magic)
            if layout != "v1":
                out += struct.pack("<i", 0)  # dense storage
            out += struct.pack(f"<i{array.ndim}q", array.ndim, *array.shape)
        out += struct.pack("<iii", 1, 0, FLAGS[array.dtype.name])
        out += np.ascontiguousarray(array).tobytes()
    out += struct.pack("<Q", len(arrays))
    for name in arrays:
        encoded = name.encode()
        out += struct.pack("<Q", len(encoded)) + encoded
    path.write_bytes(bytes(out))


def mlp_symbol(nodes_extra: list[dict] | None = None) -> dict:
    """A small MXNet 1.x symbol: data -> fc1 (weight, bias) -> relu -> bn -> softmax."""
    nodes = [
        {"op": "null", "name": "data", "attrs": {"__shape__": "(1, 8)"}, "inputs": []},
        {"op": "null", "name": "fc1_weight", "inputs": []},
        {"op": "null", "name": "fc1_bias", "inputs": []},
        {
            "op": "FullyConnected",
            "name": "block/fc1",
            "attrs": {"num_hidden": "4", "no_bias": "False"},
            "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]],
        },
        {"op": "Activation", "name": "block/relu1", "attrs": {"act_type": "relu"}, "inputs": [[3, 0, 0]]},
        {"op": "null", "name": "bn_gamma", "inputs": []},
        {"op": "null", "name": "bn_beta", "inputs": []},
        {"op": "null", "name": "bn_moving_mean", "inputs": []},
        {"op": "null", "name": "bn_moving_var", "inputs": []},
        {
            "op": "BatchNorm",
            "name": "bn",
            "attrs": {"eps": "0.001"},
            "inputs": [[4, 0, 0], [5, 0, 0], [6, 0, 0], [7, 0, 1], [8, 0, 1]],
        },
        {"op": "softmax", "name": "out", "inputs": [[9, 0, 0]]},
    ]
    nodes += nodes_extra or []
    return {
        "nodes": nodes,
        "arg_nodes": [0, 1, 2, 5, 6, 7, 8],
        "heads": [[len(nodes) - 1, 0, 0]],
        "attrs": {"mxnet_version": ["int", 10901]},
    }


def mlp_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "arg:fc1_weight": rng.standard_normal((4, 8)).astype(np.float32),
        "arg:fc1_bias": rng.standard_normal(4).astype(np.float32),
        "arg:bn_gamma": rng.standard_normal(4).astype(np.float16),
        "arg:bn_beta": rng.standard_normal(4).astype(np.float64),
        "aux:bn_moving_mean": rng.standard_normal(4).astype(np.float32),
        "aux:bn_moving_var": rng.integers(0, 9, 4).astype(np.int32),
    }


# -- real files ----------------------------------------------------------------------


def real_symbols(root: Path) -> list[Path]:
    return sorted((root / "mxnet").glob("*/*.json"))


def test_every_real_symbol_opens_with_mxnets_node_count(shared_models: Path) -> None:
    checks = manifest_checks(shared_models)
    symbols = real_symbols(shared_models)
    assert len(symbols) >= 7
    for path in symbols:
        raw = json.loads(path.read_text())["nodes"]
        # The manifest's count is every JSON node, as mxnet's own tools list them ...
        assert len(raw) == checks[str(path.relative_to(shared_models))], path
        model = manager().load(path)
        assert model.format == "MXNet"
        # ... the graph shows the operations: every node whose op is not "null".
        assert model_summary(model)["graphs"][0]["nodes"] == sum(1 for n in raw if n["op"] != "null"), path
        assert model.main.outputs, path


def test_real_params_give_lazy_weights_that_read(shared_models: Path) -> None:
    for params in sorted((shared_models / "mxnet" / "insightface").glob("*.params")):
        model = manager().load(params.with_name(params.name.split("-")[0] + "-symbol.json"))
        weights = list(model.main.weights())
        entries = read_params(params)
        assert len(weights) == len(entries) > 0
        assert model.parameter_count() == sum(int(np.prod(e.shape)) for e in entries.values())
        for value in weights:
            tensor = value.initializer
            assert tensor is not None and tensor.has_data
            array = tensor.numpy()
            assert array.shape == tensor.shape and np.isfinite(array).all(), value.name
            assert value.consumers, f"{value.name} feeds no node"


def test_legacy_08_symbol_keeps_param_and_attr_spellings(shared_models: Path) -> None:
    model = manager().load(shared_models / "mxnet" / "apache_mxnet" / "save_000800.json")
    fc1 = next(n for n in model.main.nodes if n.name == "fc1")
    num_hidden = fc1.attribute("num_hidden")
    assert num_hidden is not None and num_hidden.kind is AttrKind.INT and num_hidden.value == 128
    no_bias = fc1.attribute("no_bias")
    assert no_bias is not None and no_bias.kind is AttrKind.BOOL and no_bias.value is False
    ctx = fc1.attribute("ctx_group")
    assert ctx is not None and ctx.value == "stage1"
    assert fc1.category is Category.LAYER
    assert [p.name for p in fc1.inputs] == ["data", "weight", "bias"]
    assert "data" in [v.name for v in model.main.inputs]
    assert "legacy" in model.properties["symbol schema"]


def test_params_file_opened_alone_finds_its_symbol(shared_models: Path) -> None:
    params = shared_models / "mxnet" / "insightface" / "det2-0001.params"
    pm = manager()
    found = pm.detect(params)
    assert found is not None and found[1].confidence == 1.0
    model = pm.load(params)
    assert len(model.main.nodes) == 13 and model.properties["params file"] == params.name


# -- generated files -----------------------------------------------------------------


@pytest.mark.parametrize("layout", ["legacy", "v1", "v2", "v3"])
def test_generated_params_in_each_layout_round_trip(tmp_path: Path, layout: str) -> None:
    arrays = mlp_arrays()
    if layout == "legacy":  # files of that age held float32 only in practice; any flag reads the same
        arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    (tmp_path / "mlp-symbol.json").write_text(json.dumps(mlp_symbol()))
    write_params(tmp_path / "mlp-0003.params", {k: np.zeros_like(v) for k, v in arrays.items()}, layout)
    write_params(tmp_path / "mlp-0012.params", arrays, layout)  # the latest epoch wins
    model = manager().load(tmp_path / "mlp-symbol.json")
    assert model.format == "MXNet" and model.format_version == "1.9.1"
    assert model.properties["params file"] == "mlp-0012.params"
    values = model.main.values
    for key, array in arrays.items():
        tensor = values[key.split(":", 1)[1]].initializer
        assert tensor is not None and tensor.dtype == array.dtype.name
        np.testing.assert_array_equal(tensor.numpy(), array)
    assert [v.name for v in model.main.inputs] == ["data"]
    assert model.main.inputs[0].type.shape == (1, 8)
    assert [v.name for v in model.main.outputs] == ["out"]
    fc1 = model.main.nodes[0]
    assert fc1.scope == ("block",) and [p.name for p in fc1.inputs] == ["data", "weight", "bias"]
    bn = model.main.nodes[2]
    assert [p.name for p in bn.inputs] == ["data", "gamma", "beta", "moving_mean", "moving_var"]
    assert bn.category is Category.NORMALIZATION


def test_opening_reads_no_weight_bytes(tmp_path: Path) -> None:
    """Values come from the file when asked for: rewritten bytes after opening are what a read returns."""
    arrays = mlp_arrays()
    (tmp_path / "lazy-symbol.json").write_text(json.dumps(mlp_symbol()))
    params = tmp_path / "lazy-0001.params"
    write_params(params, arrays)
    model = manager().load(tmp_path / "lazy-symbol.json")
    changed = {k: (v + 1).astype(v.dtype) for k, v in arrays.items()}
    write_params(params, changed)  # same layout, new values
    tensor = model.main.values["fc1_weight"].initializer
    assert tensor is not None
    np.testing.assert_array_equal(tensor.numpy(), changed["arg:fc1_weight"])


def test_weights_without_params_are_weights_without_data(tmp_path: Path) -> None:
    (tmp_path / "net-symbol.json").write_text(json.dumps(mlp_symbol()))
    model = manager().load(tmp_path / "net-symbol.json")
    weight = model.main.values["fc1_weight"]
    assert weight.is_weight and weight.initializer is not None and not weight.initializer.has_data
    assert model.properties["params file"] == "none beside the symbol"


def test_multi_output_nodes_and_subgraphs(tmp_path: Path) -> None:
    doc = mlp_symbol(
        [
            {"op": "SliceChannel", "name": "split", "attrs": {"num_outputs": "2"}, "inputs": [[10, 0, 0]]},
            {
                "op": "_CachedOp",
                "name": "cached",
                "inputs": [[11, 1, 0]],
                "subgraphs": [
                    {
                        "nodes": [
                            {"op": "null", "name": "x", "inputs": []},
                            {"op": "relu", "name": "r", "inputs": [[0, 0, 0]]},
                        ],
                        "heads": [[1, 0, 0]],
                    }
                ],
            },
        ]
    )
    (tmp_path / "m-symbol.json").write_text(json.dumps(doc))
    model = manager().load(tmp_path / "m-symbol.json")
    split = next(n for n in model.main.nodes if n.op == "SliceChannel")
    assert len(split.outputs) == 2
    cached = model.main.nodes[-1]
    assert cached.inputs[0].values[0] is split.outputs[1].values[0]
    assert len(cached.subgraphs) == 1 and [n.op for n in cached.subgraphs[0].nodes] == ["relu"]


def test_operator_info_and_formats() -> None:
    pm = manager()
    info = pm.operator_info("MXNet", "", "Convolution")
    assert info is not None and info.category is Category.LAYER and info.summary
    assert pm.operator_info("MXNet", "", "NoSuchOp") is None
    assert pm.operator_info("ONNX", "", "Convolution") is None
    assert any(f.name == "MXNet" for _, f in pm.formats())


def test_sniff_leaves_other_files_alone(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [], [])
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(onnx.helper.make_model(graph).SerializeToString())
    other_json = tmp_path / "config.json"
    other_json.write_text(json.dumps({"name": "not a model", "layers": [1, 2]}))
    for path in (onnx_path, other_json):
        assert plugin.netray_sniff(path, path.read_bytes()[:4096]) is None


# -- hostile input ---------------------------------------------------------------------


def expect_mxnet_error(path: Path, match: str) -> None:
    with pytest.raises(FormatError, match=match) as info:
        plugin.netray_load(path, "MXNet")
    assert info.value.format == "MXNet" and "\n" not in str(info.value)


def test_truncated_and_random_symbol_json(tmp_path: Path, shared_models: Path) -> None:
    real = (shared_models / "mxnet" / "insightface" / "det1-symbol.json").read_bytes()
    (tmp_path / "cut-symbol.json").write_bytes(real[: len(real) // 2])
    expect_mxnet_error(tmp_path / "cut-symbol.json", "not valid JSON")
    (tmp_path / "rand-symbol.json").write_bytes(np.random.default_rng(1).bytes(3000))
    expect_mxnet_error(tmp_path / "rand-symbol.json", "not valid JSON")
    (tmp_path / "deep-symbol.json").write_text("[" * 200000 + "]" * 200000)
    expect_mxnet_error(tmp_path / "deep-symbol.json", "not valid JSON|no 'nodes'")
    (tmp_path / "list-symbol.json").write_text(json.dumps({"nodes": [1, 2]}))
    expect_mxnet_error(tmp_path / "list-symbol.json", "node 0 is not an object")


def test_cycles_and_out_of_range_indices(tmp_path: Path) -> None:
    cyclic = mlp_symbol()
    cyclic["nodes"][3]["inputs"][0] = [4, 0, 0]  # fc1 reads relu1, which reads fc1
    (tmp_path / "cycle-symbol.json").write_text(json.dumps(cyclic))
    expect_mxnet_error(tmp_path / "cycle-symbol.json", "cycle")
    wild = mlp_symbol()
    wild["nodes"][4]["inputs"] = [[10**12, 0, 0]]
    (tmp_path / "wild-symbol.json").write_text(json.dumps(wild))
    expect_mxnet_error(tmp_path / "wild-symbol.json", "out of range")
    heads = mlp_symbol()
    heads["heads"] = [[-1, 0, 0]]
    (tmp_path / "heads-symbol.json").write_text(json.dumps(heads))
    expect_mxnet_error(tmp_path / "heads-symbol.json", "out of range")


def test_hostile_params(tmp_path: Path) -> None:
    (tmp_path / "m-symbol.json").write_text(json.dumps(mlp_symbol()))
    good = tmp_path / "good.params"
    write_params(good, mlp_arrays())
    data = good.read_bytes()
    cases = {
        "count": data[:16] + struct.pack("<Q", 2**62) + data[24:],
        "shape": data[:32] + struct.pack("<i2q", 2, 2**40, 2**40) + data[52:],
        "ndim": data[:32] + struct.pack("<i", 10**6) + data[36:],
        "truncated": data[: len(data) - 40],
        "dtype": data[:52] + struct.pack("<iii", 1, 0, 99) + data[64:],
    }
    for name, blob in cases.items():
        path = tmp_path / f"m-{name}.params"
        path.write_bytes(blob)
        with pytest.raises(FormatError) as info:
            read_params(path)
        assert info.value.format == "MXNet", name
    (tmp_path / "m-9999.params").write_bytes(cases["shape"])
    expect_mxnet_error(tmp_path / "m-symbol.json", "larger than the rest of the file")


def test_pickle_posing_as_params_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return (Path.write_text, (marker, "executed"))

    (tmp_path / "evil-symbol.json").write_text(json.dumps(mlp_symbol()))
    (tmp_path / "evil-0001.params").write_bytes(pickle.dumps(Evil()))
    expect_mxnet_error(tmp_path / "evil-0001.params", "not valid JSON")
    expect_mxnet_error(tmp_path / "evil-symbol.json", "not an NDArray list")
    with pytest.raises(netray.FormatError):
        manager().load(tmp_path / "evil-0001.params")
    assert not marker.exists()


def test_params_without_a_symbol_are_a_weights_only_model(tmp_path: Path) -> None:
    arrays = mlp_arrays()
    params = tmp_path / "alone-0001.params"
    write_params(params, arrays)
    model = manager().load(params)
    assert model.graphs == [] and model.weights_only
    names = [key.partition(":")[2] for key in arrays]  # the arg:/aux: prefixes are the file's, not the names
    assert list(model.tensors) == names
    for name, array in zip(names, arrays.values(), strict=True):
        np.testing.assert_array_equal(model.tensors[name].numpy(), array)
    assert "weights only" in str(model.properties["symbol"])
