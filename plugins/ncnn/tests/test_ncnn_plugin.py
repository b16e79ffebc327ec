"""The ncnn plugin on the real params (Tencent/ncnn, nihui's nanodet), a .bin written here, and hostile input."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
from netray import FormatError
from netray.plugins import PluginManager

netray_ncnn = pytest.importorskip("netray_ncnn")
from netray_ncnn import plugin  # noqa: E402
from netray_ncnn.modelbin import TAG_FP16, TAG_INT8  # noqa: E402
from netray_ncnn.param import read_param  # noqa: E402


def load(path: Path) -> netray.Model:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "ncnn")
    return pm.load(path)


def real_files(root: Path) -> list[Path]:
    return sorted([*(root / "ncnn").rglob("*.param"), *(root / "ncnn").rglob("*.param.bin")])


def manifest_counts(root: Path) -> dict[str, tuple[int, int]]:
    counts = {}
    for line in (root / "MANIFEST.tsv").read_text().splitlines():
        m = re.search(r"ncnn param layers=(\d+) blobs=(\d+)", line)
        if m:
            counts[Path(line.split("\t")[0]).name] = (int(m.group(1)), int(m.group(2)))
    return counts


def test_contract_on_every_real_file(shared_models: Path, tmp_path: Path) -> None:
    files = real_files(shared_models)
    assert len(files) == 15  # 14 text params and one .param.bin (nanodet-m.bin is the weights of one)
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    for path, model in zip(files, models, strict=True):
        assert model.format == "ncnn"
        if path.name != "nanodet-m.param":
            assert "weights not stored" in str(model.properties["weights file"])


def test_layer_and_blob_counts(shared_models: Path) -> None:
    counts = manifest_counts(shared_models)
    assert len(counts) == 14
    for path in real_files(shared_models):
        if path.name not in counts:
            continue
        layers, blobs = counts[path.name]
        model = load(path)
        pf = read_param(path)
        assert (model.properties["layers"], model.properties["blobs"]) == (layers, blobs), path.name
        consts = sum(1 for layer in pf.layers if layer.type in ("Input", "MemoryData"))
        assert len(model.main.nodes) == layers - consts, path.name
        names = {t for layer in pf.layers for t in layer.tops}
        assert len(names) == blobs, path.name


def test_params_by_name(shared_models: Path) -> None:
    model = load(shared_models / "ncnn/tencent_ncnn/squeezenet_v1.1.param")
    assert model.main.inputs[0].name == "data" and model.main.inputs[0].type.shape == (3, 227, 227)
    conv1 = model.main.nodes[0]
    assert (conv1.op, conv1.name) == ("Convolution", "conv1")
    attrs = {a.name: a.value for a in conv1.attributes}
    assert attrs == {
        "num_output": 64,
        "kernel_w": 3,
        "dilation_w": 1,
        "stride_w": 2,
        "pad_left": 0,
        "bias_term": 1,
        "weight_data_size": 1728,
    }
    assert conv1.attribute("num_output").doc.startswith("param 0")
    pool = next(n for n in model.main.nodes if n.op == "Pooling")
    assert pool.attribute("pooling_type").value == 0 and pool.attribute("kernel_w").value == 3
    assert conv1.inputs[1].name == "weight" and conv1.inputs[1].values[0].initializer.shape == (64, 3, 3, 3)
    assert [v.name for v in model.main.outputs] == ["prob"]
    relu = model.main.nodes[1]
    assert relu.attribute("slope").value == 0.0 and isinstance(relu.attribute("slope").value, float)


def test_text_and_binary_squeezenet_agree(shared_models: Path) -> None:
    text = read_param(shared_models / "ncnn/tencent_ncnn/squeezenet_v1.1.param")
    binary = read_param(shared_models / "ncnn/tencent_ncnn/squeezenet_v1.1.param.bin")
    assert (text.layer_count, text.blob_count) == (binary.layer_count, binary.blob_count) == (75, 83)
    index: dict[str, int] = {}  # blob indices as ncnn's text reader numbers them
    for a, b in zip(text.layers, binary.layers, strict=True):
        assert a.type == b.type
        assert [index.setdefault(n, len(index)) for n in a.bottoms] == [int(n[4:]) for n in b.bottoms]
        assert [index.setdefault(n, len(index)) for n in a.tops] == [int(n[4:]) for n in b.tops]
        if a.type == "Input":  # the example .param.bin was written with w=3, h=227, c=227
            assert b.params == {0: 3, 1: 227, 2: 227} and a.params == {0: 227, 1: 227, 2: 3}
            continue
        assert a.params == b.params, a.name
        for pid, value in a.params.items():
            assert type(value) is type(b.params[pid]), (a.name, pid)
    tm, bm = (
        load(shared_models / "ncnn/tencent_ncnn/squeezenet_v1.1.param"),
        load(shared_models / "ncnn/tencent_ncnn/squeezenet_v1.1.param.bin"),
    )
    assert [n.op for n in tm.main.nodes] == [n.op for n in bm.main.nodes]
    assert [[(a.name, a.value) for a in n.attributes] for n in tm.main.nodes] == [
        [(a.name, a.value) for a in n.attributes] for n in bm.main.nodes
    ]
    assert bm.format_version == "binary param" and bm.main.nodes[0].name == "convolution_1"


def test_real_fp16_weights(shared_models: Path) -> None:
    model = load(shared_models / "ncnn/nanodet/nanodet-m.param")
    assert model.properties["weights size"] == "matches the param exactly (1,901,612 bytes)"
    conv = model.main.nodes[0]
    weight = conv.inputs[1].values[0].initializer
    assert (weight.dtype, weight.shape) == ("float16", (24, 3, 3, 3))
    values = weight.numpy()
    assert values.dtype == np.float16 and np.isfinite(values).all() and values.std() > 0
    raw = (shared_models / "ncnn/nanodet/nanodet-m.bin").read_bytes()
    assert struct.unpack_from("<I", raw)[0] == TAG_FP16
    np.testing.assert_array_equal(values.ravel(), np.frombuffer(raw, "<f2", 648, 4))
    bias = conv.inputs[2].values[0].initializer
    np.testing.assert_array_equal(bias.numpy(), np.frombuffer(raw, "<f4", 24, 4 + 648 * 2))


SMALL = """7767517
9 8
Input            data   0 1 data 0=4 1=4 2=3
Convolution      conv1  1 1 data conv1 0=2 1=3 4=1 5=1 6=54 9=1
ConvolutionDepthWise dw 1 1 conv1 dw 0=2 1=3 4=1 5=1 6=18 7=2
BatchNorm        bn     1 1 dw bn 0=2 1=1e-5
MemoryData       k      0 1 k 0=2
BinaryOp         add    2 1 bn k out 0=0
InnerProduct     fc1    1 1 out fc 0=3 1=1 2=96
InnerProduct     fc2    1 1 fc fc2 0=2 1=0 2=6 -23310=2,0.5,1.5
Softmax          prob   1 1 fc2 prob 0=0
"""


def small_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "conv_w": rng.standard_normal((2, 3, 3, 3)).astype(np.float32),
        "conv_b": rng.standard_normal(2).astype(np.float32),
        "dw_w": rng.standard_normal((2, 1, 3, 3)).astype(np.float16),
        "dw_b": rng.standard_normal(2).astype(np.float32),
        "bn": rng.standard_normal((4, 2)).astype(np.float32),
        "k": rng.standard_normal(2).astype(np.float32),
        "fc1_w": rng.integers(-127, 127, (3, 32)).astype(np.int8),
        "fc1_b": rng.standard_normal(3).astype(np.float32),
        "table": rng.standard_normal(256).astype(np.float32),
        "index": rng.integers(0, 256, 6).astype(np.uint8),
    }


def pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def write_small(folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    a = small_arrays()
    out = bytearray()
    out += struct.pack("<I", 0) + a["conv_w"].tobytes() + a["conv_b"].tobytes()  # float32 with a zero tag, raw bias
    out += struct.pack("<I", TAG_FP16) + pad4(a["dw_w"].tobytes()) + a["dw_b"].tobytes()  # 18 halves, padded
    out += a["bn"].tobytes()  # slope, mean, var, bias: raw
    out += a["k"].tobytes()  # MemoryData loads raw float32 by default
    out += struct.pack("<I", TAG_INT8) + pad4(a["fc1_w"].tobytes()) + a["fc1_b"].tobytes()
    out += struct.pack("<I", 0x01020304) + a["table"].tobytes() + pad4(a["index"].tobytes())  # a 256-entry table
    param = folder / "small.param"
    param.write_text(SMALL)
    (folder / "small.bin").write_bytes(bytes(out))
    return param, a


def weight(model: netray.Model, node: str, port: str) -> netray.Tensor:
    n = next(n for n in model.main.nodes if n.name == node)
    t = next(p for p in n.inputs if p.name == port).values[0].initializer
    assert t is not None
    return t


def test_bin_written_here_reads_back(tmp_path: Path) -> None:
    param, a = write_small(tmp_path)
    model = load(param)
    netray.testing.check_model(model, tmp_path / "check")
    assert model.properties["weights size"].startswith("matches the param exactly")
    np.testing.assert_array_equal(weight(model, "conv1", "weight").numpy(), a["conv_w"])
    np.testing.assert_array_equal(weight(model, "conv1", "bias").numpy(), a["conv_b"])
    dw = weight(model, "dw", "weight")
    assert (dw.dtype, dw.shape) == ("float16", (2, 1, 3, 3))
    np.testing.assert_array_equal(dw.numpy(), a["dw_w"])
    np.testing.assert_array_equal(weight(model, "dw", "bias").numpy(), a["dw_b"])
    for k, name in enumerate(("slope", "mean", "var", "bias")):
        np.testing.assert_array_equal(weight(model, "bn", name).numpy(), a["bn"][k])
    add = next(n for n in model.main.nodes if n.op == "BinaryOp")
    k = add.inputs[1].values[0]  # MemoryData: a constant input of the layer that reads it
    assert k.name == "k" and k.initializer is not None
    np.testing.assert_array_equal(k.initializer.numpy(), a["k"])
    fc1 = weight(model, "fc1", "weight")
    assert (fc1.dtype, fc1.shape) == ("int8", (3, 32))
    np.testing.assert_array_equal(fc1.numpy(), a["fc1_w"])
    table = weight(model, "fc2", "weight")
    assert table.shape == (2, 3) and table.kind == "table"
    np.testing.assert_array_equal(table.numpy().ravel(), a["table"][a["index"]])
    fc2 = next(n for n in model.main.nodes if n.name == "fc2")
    assert fc2.attribute("activation_params").value == [0.5, 1.5]
    assert model.main.inputs[0].type.shape == (3, 4, 4) and [v.name for v in model.main.outputs] == ["prob"]


def test_bin_opened_directly_opens_its_param(tmp_path: Path) -> None:
    write_small(tmp_path)
    claim = plugin.netray_sniff(path=tmp_path / "small.bin", head=(tmp_path / "small.bin").read_bytes()[:4096])
    assert claim is not None and claim.format == "ncnn"
    model = load(tmp_path / "small.bin")
    assert len(model.main.nodes) == 7


def test_short_and_missing_bin(tmp_path: Path) -> None:
    param, _ = write_small(tmp_path)
    data = (tmp_path / "small.bin").read_bytes()
    (tmp_path / "small.bin").write_bytes(data[:300])
    model = load(param)
    assert "shorter than the param implies" in model.properties["weights size"]
    assert weight(model, "conv1", "weight").has_data
    late = weight(model, "fc2", "weight")
    assert not late.has_data and "not stored" in late.location
    with pytest.raises(FormatError):
        late.numpy()
    (tmp_path / "small.bin").write_bytes(data + b"\x00" * 8)
    assert "8 bytes after the last array" in load(param).properties["weights size"]
    (tmp_path / "small.bin").unlink()
    model = load(param)
    assert "weights not stored" in model.properties["weights file"]
    assert not weight(model, "conv1", "weight").has_data


def binary_param(layers: list[tuple[int, list[int], list[int], list[int]]], blobs: int) -> bytes:
    out = struct.pack("<3i", 7767517, len(layers), blobs)
    for typeindex, bottoms, tops, params in layers:
        out += struct.pack(f"<3i{len(bottoms)}i{len(tops)}i", typeindex, len(bottoms), len(tops), *bottoms, *tops)
        out += struct.pack(f"<{len(params)}i", *params) + struct.pack("<i", -233)
    return out


def test_binary_param_written_here(tmp_path: Path) -> None:
    relu_slope = struct.unpack("<i", struct.pack("<f", 0.1))[0]
    data = binary_param(
        [
            (16, [], [0], [0, 8, 1, 8, 2, 3]),
            (26, [0], [1], [0, relu_slope]),
            (6, [1], [2], [0, 4, 1, 1, -23310, 2, 7, 9]),
        ],
        3,
    )
    path = tmp_path / "net.param.bin"
    path.write_bytes(data)
    model = load(path)
    assert model.main.inputs[0].type.shape == (3, 8, 8)
    relu, conv = model.main.nodes
    assert relu.attribute("slope").value == pytest.approx(0.1)
    assert conv.attribute("activation_params").value == [7, 9]  # small words read as ints
    for cut in (3, 11, 20, len(data) - 5, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(FormatError, match=r"net\.param\.bin"):
            load(path)


@pytest.mark.parametrize(
    ("layers", "blobs", "message"),
    [
        ([(16, [], [5], [])], 3, "names blob 5"),
        ([(6, [0], [1], [-23300, 1 << 30])], 2, "file ends inside an array"),
        ([(6, [0], [1], [-23401, 300])], 2, "string of 300 bytes"),
        ([(6, [0], [1], [40, 1])], 2, "param id 40"),
    ],
)
def test_hostile_binary_params(tmp_path: Path, layers: list, blobs: int, message: str) -> None:
    path = tmp_path / "bad.param.bin"
    path.write_bytes(binary_param(layers, blobs))
    with pytest.raises(FormatError, match=message):
        load(path)
    path.write_bytes(struct.pack("<3i", 7767517, 1 << 30, 1) + b"\x00" * 64)
    with pytest.raises(FormatError, match="cannot hold them"):
        load(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7767517\n2 2\nInput data 0 1 data 0=3\n", "declares 2 layers but holds 1"),
        ("7767517\nx y\n", "layer count and the blob count"),
        ("7767517\n0 0\n", "must be positive"),
        ("7767517\n1 1\nInput data 0 5 data\n", "declares 0 inputs and 5 outputs"),
        ("7767517\n1 1\nInput data 0 1 data 0=1,x\n", "param '0=1,x'"),
        ("7767517\n1 1\nInput data 0 1 data 99=1\n", "param id 99"),
        ("7767517\n1 1\nInput data 0 1 data -23300=5,1,2\n", "array says 5 items"),
        ("7767517\n1 1\nInput data 0 1 data bogus\n", "not an id=value"),
    ],
)
def test_bad_text_params(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.param"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as info:
        load(path)
    assert "bad.param" in str(info.value) and "\n" not in str(info.value)


def test_truncated_real_param(shared_models: Path, tmp_path: Path) -> None:
    data = (shared_models / "ncnn/tencent_ncnn/resnet50.param").read_bytes()
    path = tmp_path / "cut.param"
    for cut in (20, 200, len(data) // 2, len(data) - 30):
        path.write_bytes(data[:cut])
        with pytest.raises(FormatError, match=r"cut\.param"):
            load(path)


def test_int8_and_llm_params(shared_models: Path) -> None:
    model = load(shared_models / "ncnn/tencent_ncnn/resnet18_int8.param")
    conv = next(n for n in model.main.nodes if n.op == "Convolution" and n.attribute("int8_scale_term"))
    assert [p.name for p in conv.inputs[1:]][:3] == ["weight", "bias", "weight_int8_scales"]
    qwen = load(shared_models / "ncnn/tencent_ncnn/qwen3_0.6b_decoder.ncnn.param")
    gemm = next(n for n in qwen.main.nodes if n.op == "Gemm")
    assert gemm.attribute("constantN").value == 2048 and gemm.inputs[1].values[0].initializer.shape == (2048, 1024)
    info = plugin.netray_operator_info(format="ncnn", domain="", op="Convolution")
    assert (
        info is not None
        and info.category == netray.Category.LAYER
        and ("0 num_output", "int, default 0") in info.attributes
    )


def test_no_cycles_from_reused_blob_names(tmp_path: Path) -> None:
    text = tmp_path / "cycle.param"
    text.write_text("7767517\n3 3\nInput in 0 1 x\nReLU r1 2 1 x b a\nReLU r2 1 1 a b\n")
    model = load(text)
    r1, r2 = model.main.nodes
    assert [v.name for v in r2.outputs[0].values] == ["b#1"]  # a new blob: r1 keeps reading the unwritten b
    assert r1.inputs[1].values[0].producer is None
    assert any("already read or wrote" in note for note in model.properties["notes"])
    binary = tmp_path / "cycle.param.bin"
    binary.write_bytes(binary_param([(16, [], [0], []), (26, [0, 2], [1], []), (26, [1], [2], [])], 3))
    b1, b2 = load(binary).main.nodes
    assert b2.outputs[0].values[0].name == "blob2#1" and b1.inputs[1].values[0].producer is None
