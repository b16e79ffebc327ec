"""The Darknet plugin on the real cfgs (pjreddie/darknet), generated cfg + .weights pairs, and hostile input."""

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

netray_darknet = pytest.importorskip("netray_darknet")
from netray_darknet import plugin, reader  # noqa: E402


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "darknet")
    return pm


def load(path: Path) -> netray.Model:
    return manager().load(path)


def real_cfgs(root: Path) -> list[Path]:
    return sorted((root / "darknet").rglob("*.cfg"))


def manifest_sections(root: Path) -> dict[str, int]:
    counts = {}
    for line in (root / "MANIFEST.tsv").read_text().splitlines():
        m = re.search(r"check: ok darknet sections=(\d+)", line)
        if m:
            counts[Path(line.split("\t")[0]).name] = int(m.group(1))
    return counts


def test_contract_on_every_real_cfg(shared_models: Path, tmp_path: Path) -> None:
    cfgs = real_cfgs(shared_models)
    assert len(cfgs) == 17
    models = netray.testing.check_plugin(plugin, cfgs, tmp_path)
    for path, model in zip(cfgs, models, strict=True):
        assert model.format == "Darknet"
        assert "weights not stored" in str(model.properties["weights file"]), path.name


def test_layer_counts_match_the_manifest(shared_models: Path) -> None:
    sections = manifest_sections(shared_models)
    assert len(sections) == 17
    for path in real_cfgs(shared_models):
        model = load(path)
        assert len(model.main.nodes) == sections[path.name] - 1, path.name  # [net] is no layer


def layer(model: netray.Model, index: int) -> netray.Node:
    node = model.main.nodes[index]
    assert node.name == str(index)
    return node


def sources(node: netray.Node, port: str | None = None) -> list[str]:
    return [v.name for p in node.inputs if port is None or p.name == port for v in p.values if v.initializer is None]


def test_yolov3_wiring(shared_models: Path) -> None:
    model = load(shared_models / "darknet/pjreddie_darknet/yolov3.cfg")
    ops = [n.op for n in model.main.nodes]
    assert (
        ops.count("convolutional"),
        ops.count("shortcut"),
        ops.count("route"),
        ops.count("yolo"),
        ops.count("upsample"),
    ) == (75, 23, 4, 3, 2)
    # layer 4: [shortcut] from=-3 adds layer 1 to layer 3
    assert sources(layer(model, 4), "input") == ["layer3"] and sources(layer(model, 4), "from") == ["layer1"]
    # layer 83: [route] layers=-4 -> layer 79; layer 86: layers=-1, 61 -> 85 and 61
    assert sources(layer(model, 83)) == ["layer79"]
    assert sources(layer(model, 86)) == ["layer85", "layer61"]
    assert sources(layer(model, 95)) == ["layer91"] and sources(layer(model, 98)) == ["layer97", "layer36"]
    assert [v.name for v in model.main.outputs] == ["layer82", "layer94", "layer106"]
    assert model.main.inputs[0].type.shape == (4, 3, 608, 608)  # batch 64 / subdivisions 16
    # the concatenation: 256 upsampled channels + 512 of layer 61
    assert layer(model, 86).outputs[0].values[0].type.shape == (4, 768, 38, 38)


def test_yolov3_heads_at_416(shared_models: Path, tmp_path: Path) -> None:
    text = (shared_models / "darknet/pjreddie_darknet/yolov3.cfg").read_text()
    text = re.sub(r"(?m)^width=\d+", "width=416", re.sub(r"(?m)^height=\d+", "height=416", text))
    text = re.sub(r"(?m)^batch=\d+", "batch=1", re.sub(r"(?m)^subdivisions=\d+", "subdivisions=1", text))
    path = tmp_path / "yolov3-416.cfg"
    path.write_text(text)
    model = load(path)
    assert [v.type.shape for v in model.main.outputs] == [(1, 255, 13, 13), (1, 255, 26, 26), (1, 255, 52, 52)]
    assert model.main.nodes[0].outputs[0].values[0].type.shape == (1, 32, 416, 416)
    assert model.main.nodes[1].outputs[0].values[0].type.shape == (1, 64, 208, 208)


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        # the sizes of the published weights files: (bytes - header) / 4
        ("yolov3.cfg", (248_007_048 - 20) // 4),
        ("yolov3-tiny.cfg", (35_434_956 - 20) // 4),
        ("yolov2.cfg", (203_934_260 - 16) // 4),
        ("vgg-16.cfg", 138_357_544),
    ],
)
def test_weight_counts_match_the_published_weights(shared_models: Path, name: str, parameters: int) -> None:
    assert load(shared_models / "darknet/pjreddie_darknet" / name).parameter_count() == parameters


def test_other_real_shapes(shared_models: Path) -> None:
    folder = shared_models / "darknet/pjreddie_darknet"
    tiny = load(folder / "yolov3-tiny.cfg")
    assert [v.type.shape for v in tiny.main.outputs] == [(1, 255, 13, 13), (1, 255, 26, 26)]
    maxpool = layer(tiny, 11)  # size=2 stride=1: padding defaults to size-1 and keeps 13x13
    assert maxpool.op == "maxpool" and maxpool.outputs[0].values[0].type.shape == (1, 512, 13, 13)
    assert maxpool.attribute("padding").value == 1 and "padding" in maxpool.metadata["defaults filled"]
    yolo2 = load(folder / "yolov2.cfg")
    reorg = next(n for n in yolo2.main.nodes if n.op == "reorg")
    assert reorg.outputs[0].values[0].type.shape == (1, 256, 19, 19)  # 64x38x38, stride 2
    assert yolo2.main.outputs[0].type.shape == (1, 425, 19, 19)
    v1 = load(folder / "yolov1.cfg")
    assert [n.op for n in v1.main.nodes].count("local") == 1
    assert v1.main.outputs[0].type.shape == (1, 1715)  # detection: 7x7x(3x5+20)
    rnn = load(folder / "rnn.cfg")
    assert rnn.main.inputs[0].type.shape == (1, 256)
    first = rnn.main.nodes[0]
    assert [p.name for p in first.inputs][1:4] == ["input_layer.weights", "input_layer.biases", "input_layer.scales"]
    assert first.inputs[1].values[0].initializer.shape == (1024, 256)
    gru = load(folder / "gru.cfg")
    assert gru.main.nodes[0].op == "gru"


def test_attributes_are_typed_and_defaults_marked(shared_models: Path) -> None:
    model = load(shared_models / "darknet/pjreddie_darknet/yolov3.cfg")
    conv = layer(model, 0)
    assert conv.attribute("filters").value == 32 and conv.attribute("activation").value == "leaky"
    assert conv.attribute("groups").value == 1 and conv.attribute("groups").doc
    assert "groups" in conv.metadata["defaults filled"] and "filters" not in conv.metadata["defaults filled"]
    yolo = layer(model, 82)
    assert yolo.attribute("mask").value == [6, 7, 8]
    assert yolo.attribute("anchors").value[:2] == [10.0, 13.0]
    assert model.metadata["width"] == 608 and model.metadata["steps"] == [400000, 450000]


SMALL_CFG = """[net]
batch=1
width=8
height=8
channels=3

# 0: conv with batch norm
[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky

# 1: conv without batch norm, grouped
[convolutional]
filters=6
size=1
groups=2
activation=linear

[maxpool]
size=2
stride=2

[route]
layers=-1,-3

[shortcut]
from=-1

[connected]
output=5
activation=logistic
"""


def write_weights(path: Path, arrays: list[np.ndarray], major: int = 0, minor: int = 2, seen: int = 12345) -> None:
    header = struct.pack("<3i", major, minor, 0)
    header += struct.pack("<Q", seen) if major * 10 + minor >= 2 else struct.pack("<I", seen)
    path.write_bytes(header + b"".join(a.astype("<f4").tobytes() for a in arrays))


def test_weights_written_with_numpy_read_back(tmp_path: Path) -> None:
    cfg = tmp_path / "small.cfg"
    cfg.write_text(SMALL_CFG.replace("layers=-1,-3", "layers=-1"))  # route keeps 6x4x4
    rng = np.random.default_rng(7)
    arrays = [
        rng.standard_normal(4),
        rng.standard_normal(4),
        rng.standard_normal(4),
        rng.random(4),
        rng.standard_normal((4, 3, 3, 3)),
    ]
    arrays += [rng.standard_normal(6), rng.standard_normal((6, 2, 1, 1))]
    arrays += [rng.standard_normal(5), rng.standard_normal((5, 6 * 4 * 4))]
    write_weights(tmp_path / "small.weights", arrays)
    model = load(cfg)
    netray.testing.check_model(model, tmp_path / "check")
    assert model.properties["weights size"].startswith("matches the cfg exactly")
    assert model.properties["images seen"] == 12345 and model.format_version == "0.2.0"
    conv0, conv1 = layer(model, 0), layer(model, 1)
    assert [p.name for p in conv0.inputs] == [
        "input",
        "weights",
        "biases",
        "scales",
        "rolling_mean",
        "rolling_variance",
    ]
    got = {p.name: p.values[0].initializer.numpy() for p in conv0.inputs[1:]}
    for name, array in zip(
        ["biases", "scales", "rolling_mean", "rolling_variance", "weights"], arrays[:5], strict=True
    ):
        np.testing.assert_array_equal(got[name], array.astype(np.float32))
    np.testing.assert_array_equal(conv1.inputs[1].values[0].initializer.numpy(), arrays[6].astype(np.float32))
    dense = layer(model, 5)
    assert dense.inputs[0].values[0].type.shape == (1, 6, 4, 4)
    np.testing.assert_array_equal(dense.inputs[1].values[0].initializer.numpy(), arrays[8].astype(np.float32))
    assert dense.outputs[0].values[0].type.shape == (1, 5)


def test_route_concat_and_shortcut_shapes(tmp_path: Path) -> None:
    cfg = tmp_path / "net.cfg"
    cfg.write_text(SMALL_CFG.replace("[maxpool]\nsize=2\nstride=2\n", "[maxpool]\nsize=2\nstride=1\n"))
    model = load(cfg)
    route = layer(model, 3)
    assert sources(route) == ["layer2", "layer0"]
    assert route.outputs[0].values[0].type.shape == (1, 10, 8, 8)  # 6 + 4 channels
    shortcut = layer(model, 4)
    assert sources(shortcut, "from") == ["layer3"]
    assert layer(model, 5).inputs[1].values[0].initializer.shape == (5, 640)


def test_short_and_long_weights_are_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "small.cfg"
    cfg.write_text(SMALL_CFG.replace("layers=-1,-3", "layers=-1"))
    full = 4 * 4 + 108 + 6 + 12 + 5 + 5 * 96
    write_weights(tmp_path / "small.weights", [np.zeros(full - 100)])
    model = load(cfg)
    assert "short by 400 bytes" in model.properties["weights size"]
    assert "from layer 5 on are not stored" in model.properties["weights size"]
    dense_weights = layer(model, 5).inputs[1].values[0].initializer
    assert not dense_weights.has_data and "past the end" in dense_weights.location
    with pytest.raises(FormatError, match="not stored"):
        dense_weights.numpy()
    assert layer(model, 0).inputs[1].values[0].initializer.has_data
    write_weights(tmp_path / "small.weights", [np.zeros(full + 3)])
    model = load(cfg)
    assert "12 bytes after the last array are not read" in model.properties["weights size"]


def test_old_header_with_32_bit_seen(tmp_path: Path) -> None:
    cfg = tmp_path / "one.cfg"
    cfg.write_text("[net]\nwidth=4\nheight=4\nchannels=1\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n")
    write_weights(tmp_path / "one.weights", [np.array([1, 2]), np.array([3, 4])], major=0, minor=1, seen=7)
    model = load(cfg)
    assert model.format_version == "0.1.0" and model.properties["images seen"] == 7
    assert layer(model, 0).inputs[2].values[0].initializer.location.endswith("@ 16")  # biases right after 16 bytes
    weights = layer(model, 0).inputs[1].values[0].initializer
    assert weights.location.endswith("@ 24")
    np.testing.assert_array_equal(weights.numpy().ravel(), [3, 4])


def test_weights_file_opened_alone(tmp_path: Path) -> None:
    cfg = tmp_path / "one.cfg"
    cfg.write_text("[net]\nwidth=4\nheight=4\nchannels=1\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n")
    write_weights(tmp_path / "one.weights", [np.array([1, 2]), np.array([3, 4])])
    model = load(tmp_path / "one.weights")  # the cfg beside it gives the graph
    assert len(model.main.nodes) == 1 and model.main.nodes[0].inputs[2].values[0].initializer.numpy().tolist() == [1, 2]
    assert model.properties["opened from"] == "one.weights, the weights of one.cfg"
    cfg.write_text("[net]\nwidth=4\n[convolutional]\nfilters=-3\nsize=1\n")  # broken: the weights alone, and why
    broken = load(tmp_path / "one.weights")
    assert broken.weights_only and broken.properties["cfg"].startswith("one.cfg beside it not read (")
    cfg.unlink()
    alone = load(tmp_path / "one.weights")
    assert alone.weights_only and alone.tensors["weights"].numpy().tolist() == [1, 2, 3, 4]


def test_alexeyab_dialect(tmp_path: Path) -> None:
    cfg = tmp_path / "ab.cfg"
    cfg.write_text(
        "[net]\nwidth=16\nheight=16\nchannels=3\n"
        "[convolutional]\nfilters=8\nsize=3\nstride_x=2\nstride_y=1\npad=1\nactivation=mish\n"  # 0: 8x16x8
        "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n"  # 1: 4x16x8
        "[convolutional]\nfilters=1\nsize=1\nactivation=logistic\n"  # 2: 1x16x8
        "[sam]\nfrom=-2\n"  # 3: like layer 1
        "[batchnorm]\n"  # 4: AlexeyAB loads 4 arrays
        "[maxpool]\nsize=2\nstride=2\n"  # 5
    )
    model = load(cfg)
    assert model.properties["dialect"].startswith("AlexeyAB/darknet")
    shapes = [n.outputs[0].values[0].type.shape for n in model.main.nodes]
    assert shapes[:5] == [(1, 8, 16, 8), (1, 4, 16, 8), (1, 1, 16, 8), (1, 4, 16, 8), (1, 4, 16, 8)]
    assert shapes[5] == (1, 4, 8, 4)
    assert sources(layer(model, 3), "from") == ["layer1"]
    assert [p.name for p in layer(model, 4).inputs[1:]] == ["biases", "scales", "rolling_mean", "rolling_variance"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("width=3\n[net]\n", "comes before any"),
        ("[convolutional]\nfilters=1\n", "first section"),
        ("", "no \\[section\\]"),
        ("[net]\nwidth=8\nheight=8\nchannels=3\n[route]\nlayers=2\n", "names layer 2"),
        ("[net]\nwidth=8\nheight=8\nchannels=3\n[shortcut]\nfrom=-5\n", "names layer -5"),
        ("[net]\nwidth=8\nheight=8\nchannels=3\n[route]\n", "needs 'layers="),
        ("[net]\nbatch=2\n", "no input size"),
        ("[net]\nwidth=8\nheight=8\nchannels=3\nsubdivisions=0\n", "subdivisions=0"),
        ("[net]\nwidth=99999999999\nheight=8\nchannels=3\n", "out of range"),
    ],
)
def test_bad_cfgs_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.cfg"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as info:
        reader.load(path)  # the reader's own errors: some of these files are not even claimed
    assert "bad.cfg" in str(info.value) and "\n" not in str(info.value)


def test_hostile_sizes_give_unknown_shapes_not_crashes(tmp_path: Path) -> None:
    path = tmp_path / "odd.cfg"
    path.write_text(
        "[net]\nwidth=8\nheight=8\nchannels=3\n"
        "[convolutional]\nfilters=4\nsize=99\nactivation=leaky\n"  # window larger than the input
        "[maxpool]\nsize=2\nstride=0\n"
        "[mystery]\n"
        "[convolutional]\nfilters=1099511627776\nsize=1\n"
    )
    model = load(path)
    assert [n.outputs[0].values[0].type.shape for n in model.main.nodes] == [None, None, None, None]
    assert any("larger than the input" in note for note in model.properties["notes"])
    assert any("not know [mystery]" in note for note in model.properties["notes"])


def test_truncated_and_garbage_weights(tmp_path: Path) -> None:
    cfg = tmp_path / "one.cfg"
    cfg.write_text("[net]\nwidth=4\nheight=4\nchannels=1\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n")
    weights = tmp_path / "one.weights"
    for data in (b"", b"\x00" * 10, struct.pack("<3i", 0, 2, 0)):
        weights.write_bytes(data)
        with pytest.raises(FormatError, match="shorter than"):
            load(cfg)
    weights.write_bytes(struct.pack("<3i", 2**31 - 1, -7, 0) + b"\xff" * 40)
    model = load(cfg)  # a nonsense header still places the arrays after it
    assert model.main.nodes[0].inputs[1].values[0].initializer.has_data


def test_sniff(tmp_path: Path) -> None:
    cfg = tmp_path / "net.cfg"
    cfg.write_text("# a comment\n\n[net]\nwidth=8\n")
    assert plugin.netray_sniff(path=cfg, head=cfg.read_bytes()).confidence == 1.0
    ini = tmp_path / "setup.cfg"
    ini.write_text("[metadata]\nname = x\n")
    assert plugin.netray_sniff(path=ini, head=ini.read_bytes()) is None
    info = plugin.netray_operator_info(format="Darknet", domain="", op="conv")
    assert info is not None and info.category == netray.Category.LAYER
