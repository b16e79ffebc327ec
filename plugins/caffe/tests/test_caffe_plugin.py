"""Tests of the Caffe plugin on the real BVLC and MTCNN files, on nets written with the
generated caffe.proto classes (legacy V1 and V0 syntaxes, odd blobs), and on broken input."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
import netray_caffe.plugin as plugin
from netray_caffe import proto
from netray_caffe.generated_proto import FILE_DESCRIPTOR
from netray_caffe.sniff import sniff

BVLC = "caffe/bvlc_caffe"
MTCNN = "caffe/mtcnn_kpzhang93"


def real_files(shared: Path) -> list[Path]:
    files = sorted((shared / "caffe").glob("*/*.prototxt")) + sorted((shared / "caffe").glob("*/*.caffemodel"))
    assert len(files) == 17, files
    return files


def ops(model: netray.Model) -> list[str]:
    return [n.op for n in model.main.nodes]


def node(model: netray.Model, name: str) -> netray.Node:
    return next(n for n in model.main.nodes if n.name == name)


def port(n: netray.Node, name: str) -> list[netray.Value]:
    return next(p.values for p in [*n.inputs, *n.outputs] if p.name == name)


def assert_acyclic(graph: netray.Graph) -> None:
    """Every node's inputs come from nodes earlier in the list (so no cycles)."""
    seen: set[int] = set()
    for n in graph.nodes:
        for v in n.input_values():
            assert v.producer is None or id(v.producer) in seen, f"{n.name} reads {v.name} before it is written"
        seen.add(id(n))


# --- real files -------------------------------------------------------------------------


def test_contract_on_every_real_file(shared_models: Path, tmp_path: Path) -> None:
    models = netray.testing.check_plugin(plugin, real_files(shared_models), tmp_path)
    for model in models:
        assert model.format == "Caffe"
        assert_acyclic(model.main)


def test_alexnet_deploy(shared_models: Path) -> None:
    model = netray.load_model(shared_models / BVLC / "bvlc_alexnet_deploy.prototxt")
    assert model.metadata["name"] == "AlexNet"
    assert len(model.main.nodes) == 23  # 24 layers, the Input layer becoming the graph input
    assert ops(model).count("Convolution") == 5 and ops(model).count("ReLU") == 7
    (data,) = model.main.inputs
    assert (data.name, data.type.shape, data.metadata["layer"]) == ("data", (10, 3, 227, 227), "data")
    conv1 = node(model, "conv1")
    assert conv1.attribute("num_output").value == 96
    assert conv1.attribute("kernel_size").value == [11]
    assert conv1.attribute("stride").value == [4]
    assert conv1.attribute("param.lr_mult").value == [1.0, 2.0]
    assert conv1.category == netray.Category.LAYER
    assert port(conv1, "top")[0].type.shape == (10, 96, 55, 55)
    weight = port(conv1, "weight")[0].initializer
    assert weight is not None and weight.shape == (96, 3, 11, 11) and not weight.has_data
    with pytest.raises(netray.FormatError, match="not stored"):
        weight.numpy()
    conv2 = node(model, "conv2")
    assert conv2.attribute("group").value == 2 and port(conv2, "weight")[0].type.shape == (256, 48, 5, 5)
    pool5 = node(model, "pool5")
    assert port(pool5, "top")[0].type.shape == (10, 256, 6, 6)
    assert port(node(model, "fc6"), "weight")[0].type.shape == (4096, 9216)
    assert [v.name for v in model.main.outputs] == ["prob"] and model.main.outputs[0].type.shape == (10, 1000)
    assert model.properties["weights"].startswith("no .caffemodel")


def test_in_place_layers_version_the_blob(shared_models: Path) -> None:
    model = netray.load_model(shared_models / BVLC / "bvlc_alexnet_deploy.prototxt")
    relu1 = node(model, "relu1")
    (read,) = port(relu1, "bottom")
    (written,) = port(relu1, "top")
    assert (read.name, written.name) == ("conv1", "conv1#1")
    assert read.producer is node(model, "conv1") and written.metadata["blob"] == "conv1"
    assert port(node(model, "norm1"), "bottom")[0] is written  # the next layer reads the ReLU's version
    assert port(node(model, "drop6"), "top")[0].name == "fc6#2"  # relu6 then drop6, both in place
    assert_acyclic(model.main)


def test_googlenet_shapes_and_scopes(shared_models: Path) -> None:
    model = netray.load_model(shared_models / BVLC / "bvlc_googlenet_deploy.prototxt")
    assert len(model.main.nodes) == 142
    concat = node(model, "inception_3a/output")
    assert concat.op == "Concat" and len(port(concat, "bottom0")) == 1 and len(concat.inputs) == 4
    assert port(concat, "top")[0].type.shape == (10, 256, 28, 28)
    assert concat.scope == ("inception_3a",)
    assert port(node(model, "pool5/7x7_s1"), "top")[0].type.shape == (10, 1024, 1, 1)
    assert port(node(model, "loss3/classifier"), "top")[0].type.shape == (10, 1000)


def test_train_val_shows_both_phases(shared_models: Path) -> None:
    model = netray.load_model(shared_models / BVLC / "lenet_train_test.prototxt")
    data = [n for n in model.main.nodes if n.op == "Data"]
    assert [n.attribute("phase").value for n in data] == ["TRAIN", "TEST"]
    assert [n.metadata["phase"] for n in data] == ["TRAIN", "TEST"]
    assert port(data[0], "top0")[0].type.shape == (64, None, None, None)
    assert port(data[1], "top1")[0].type.shape == (100,)
    conv1 = node(model, "conv1")
    assert conv1.attribute("weight_filler.type").value == "xavier"
    feeding = port(conv1, "bottom")  # the TRAIN and the TEST version of "data" both feed conv1
    assert [v.producer for v in feeding] == data
    accuracy = node(model, "accuracy")
    assert accuracy.attribute("phase").value == "TEST"
    assert [v.name for v in port(accuracy, "bottom1")] == ["label#1"]  # only the TEST data layer's labels
    assert sorted(v.name for v in model.main.outputs) == ["accuracy", "loss"]
    assert model.main.values["loss"].type.shape == ()
    assert model.properties["phase-limited layers"] == "2 TEST, 1 TRAIN"
    googlenet = netray.load_model(shared_models / BVLC / "bvlc_googlenet_train_val.prototxt")
    assert len(googlenet.main.nodes) == 166
    assert_acyclic(googlenet.main)


def test_caffemodel_alone_matches_an_independent_decode(shared_models: Path, tmp_path: Path) -> None:
    for k in (1, 2, 3, 4):
        path = Path(shutil.copy(shared_models / MTCNN / f"mtcnn_det{k}.caffemodel", tmp_path))  # no prototxt beside
        model = netray.load_model(path)
        assert "opened from" not in model.properties and "net definition" not in model.properties
        decoded = proto.NetParameter.FromString(path.read_bytes())  # protobuf decoding every float
        layers = list(decoded.layer)
        assert ops(model) == [layer.type for layer in layers if layer.type != "Input"]
        checked = 0
        for layer in layers:
            if not layer.blobs:
                continue
            ours = [v for v in node(model, layer.name).weights()]
            assert len(ours) == len(layer.blobs)
            for value, blob in zip(ours, layer.blobs, strict=True):
                expected = np.asarray(blob.data, dtype=np.float32).reshape(tuple(blob.shape.dim))
                got = value.initializer.numpy()
                assert got.dtype == np.float32 and np.array_equal(got, expected), value.name
                checked += 1
        assert checked == len(list(model.all_tensors())) > 0


def test_mtcnn_prototxt_takes_weights_from_the_caffemodel(shared_models: Path) -> None:
    model = netray.load_model(shared_models / MTCNN / "mtcnn_det1.prototxt")
    assert model.properties["weights"] == "mtcnn_det1.caffemodel (same name)"
    assert sorted(ops(model)) == sorted(["Convolution"] * 5 + ["PReLU"] * 3 + ["Pooling", "Softmax"])
    conv1 = node(model, "conv1")
    weight = port(conv1, "weight")[0]
    assert weight.type.shape == (10, 3, 3, 3) and "mtcnn_det1.caffemodel @" in weight.initializer.location
    slope = port(node(model, "PReLU1"), "slope")[0].initializer
    decoded = proto.NetParameter.FromString((shared_models / MTCNN / "mtcnn_det1.caffemodel").read_bytes())
    prelu = next(layer for layer in decoded.layer if layer.name == "PReLU1")
    assert np.array_equal(slope.numpy(), np.asarray(prelu.blobs[0].data, np.float32))
    assert port(node(model, "conv4-2"), "top")[0].type.shape == (1, 4, 1, 1)
    det4 = netray.load_model(shared_models / MTCNN / "mtcnn_det4.prototxt")
    assert len(det4.main.nodes) == 59 and all(w.initializer.has_data for w in det4.main.weights())


def test_companion_rules(shared_models: Path, tmp_path: Path) -> None:
    src = shared_models / MTCNN
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(src / "mtcnn_det2.prototxt", alone / "rnet.prototxt")
    model = netray.load_model(alone / "rnet.prototxt")
    assert not any(w.initializer.has_data for w in model.main.weights())
    assert port(node(model, "conv1"), "weight")[0].type.shape == (28, 3, 3, 3)  # shapes still inferred
    shutil.copy(src / "mtcnn_det2.caffemodel", alone / "weights.caffemodel")  # the only one: used
    model = netray.load_model(alone / "rnet.prototxt")
    assert model.properties["weights"] == "weights.caffemodel (the only .caffemodel in the folder)"
    assert all(w.initializer.has_data for w in model.main.weights())
    shutil.copy(src / "mtcnn_det3.caffemodel", alone / "other.caffemodel")  # two: ambiguous, none used
    model = netray.load_model(alone / "rnet.prototxt")
    assert "2 .caffemodel files" in model.properties["weights"]
    assert not any(w.initializer.has_data for w in model.main.weights())
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    shutil.copy(src / "mtcnn_det2.prototxt", wrong / "rnet.prototxt")
    (wrong / "rnet.caffemodel").write_bytes(
        b"\x0a\x03abc\xa2\x06\xff\xff\xff\x0f"
    )  # broken weights: the net still opens
    model = netray.load_model(wrong / "rnet.prototxt")
    assert model.properties["weights"].startswith("rnet.caffemodel not read:")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(src / "mtcnn_det2.prototxt", outside / "rnet.prototxt")
    (outside / "rnet.caffemodel").symlink_to(src / "mtcnn_det2.caffemodel")
    model = netray.load_model(outside / "rnet.prototxt")
    assert "outside the folder" in model.properties["weights"]


# --- nets written with the generated classes ---------------------------------------------


def v1_net() -> object:
    net = proto.NetParameter(name="legacy")
    net.input.append("data")
    net.input_dim.extend([2, 3, 8, 8])
    types = proto.V1LayerParameter
    conv = net.layers.add(name="conv", type=types.CONVOLUTION, bottom=["data"], top=["conv"])
    conv.convolution_param.num_output = 4
    conv.convolution_param.kernel_size.append(3)
    conv.convolution_param.pad.append(1)
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    blob = conv.blobs.add(num=4, channels=3, height=3, width=3)  # legacy 4-D blob shape
    blob.data.extend(weight.ravel().tolist())
    bias = conv.blobs.add()
    bias.shape.dim.append(4)
    bias.double_data.extend([0.5, 1.5, 2.5, 3.5])  # a double blob
    net.layers.add(name="relu", type=types.RELU, bottom=["conv"], top=["conv"])
    pool = net.layers.add(name="pool", type=types.POOLING, bottom=["conv"], top=["pool"])
    pool.pooling_param.kernel_size = 2
    pool.pooling_param.stride = 2
    fc = net.layers.add(name="fc", type=types.INNER_PRODUCT, bottom=["pool"], top=["fc"])
    fc.inner_product_param.num_output = 5
    net.layers.add(name="loss", type=types.SOFTMAX_LOSS, bottom=["fc", "label"], top=["loss"]).include.add(phase=0)
    return net, weight


def test_legacy_v1_layers_text_and_binary(tmp_path: Path) -> None:
    from google.protobuf import text_format

    net, weight = v1_net()
    text = tmp_path / "legacy.prototxt"
    text.write_text(text_format.MessageToString(net))
    binary = tmp_path / "legacy_weights.caffemodel"
    binary.write_bytes(net.SerializeToString())
    for path in (binary, text):
        model = netray.testing.check_load(plugin, path, tmp_path / path.suffix[1:])
        assert model.format_version == "layers (V1)"
        assert ops(model) == ["Convolution", "ReLU", "Pooling", "InnerProduct", "SoftmaxWithLoss"]
        assert [(v.name, v.type.shape) for v in model.main.inputs] == [("data", (2, 3, 8, 8)), ("label", None)]
        conv = node(model, "conv")
        assert np.array_equal(port(conv, "weight")[0].initializer.numpy(), weight.reshape(4, 3, 3, 3))
        bias = port(conv, "bias")[0].initializer
        assert bias.dtype == "float64" and bias.numpy().tolist() == [0.5, 1.5, 2.5, 3.5]
        assert port(node(model, "pool"), "top")[0].type.shape == (2, 4, 4, 4)
        assert port(node(model, "fc"), "top")[0].type.shape == (2, 5)
        assert node(model, "loss").attribute("phase").value == "TRAIN"
        assert node(model, "pool").attribute("kernel_size").value == 2  # pool: MAX is the default, not written
        assert_acyclic(model.main)
    # The binary's weights also serve the text net beside it (the only .caffemodel there).
    model = netray.load_model(text)
    assert model.properties["weights"].startswith("legacy_weights.caffemodel")
    assert port(node(model, "fc"), "weight")[0].type.shape == (5, 64)  # not in the file: inferred, not stored


def test_v0_layers(tmp_path: Path) -> None:
    net = proto.NetParameter(name="v0")
    net.input.append("data")
    net.input_dim.extend([1, 1, 4, 4])
    entry = net.layers.add(bottom=["data"], top=["conv"])
    entry.layer.name = "conv1"
    entry.layer.type = "conv"
    entry.layer.num_output = 2
    entry.layer.kernelsize = 3
    entry.layer.blobs.add(num=2, channels=1, height=3, width=3).data.extend(range(18))
    relu = net.layers.add(bottom=["conv"], top=["conv"])
    relu.layer.name = "relu1"
    relu.layer.type = "relu"
    path = tmp_path / "v0.caffemodel"
    path.write_bytes(net.SerializeToString())
    model = netray.testing.check_load(plugin, path, tmp_path / "check")
    assert model.format_version == "V0"
    assert ops(model) == ["Convolution", "ReLU"]
    conv = node(model, "conv1")
    assert conv.attribute("num_output").value == 2 and conv.attribute("kernelsize").value == 3
    assert np.array_equal(
        port(conv, "weight")[0].initializer.numpy(), np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3)
    )
    assert port(node(model, "relu1"), "top")[0].name == "conv#1"


def blob_bytes(fields: bytes) -> bytes:
    return b"\x3a" + bytes([len(fields)]) + fields  # LayerParameter.blobs (7), short enough for a 1-byte length


def layer_bytes(name: bytes, blobs: bytes) -> bytes:
    body = b"\x0a" + bytes([len(name)]) + name + b"\x12\x0cInnerProduct" + blobs
    return b"\xa2\x06" + bytes([len(body)]) + body


def test_unpacked_and_split_values(tmp_path: Path) -> None:
    """Values stored one tag each, or in two packed runs, are valid protobuf: decoded when read."""
    shape = b"\x3a\x02\x08\x03"  # BlobShape { dim: 3 }
    unpacked = b"".join(b"\x2d" + struct.pack("<f", v) for v in (1.0, 2.0, 3.0))
    split = b"\x2a\x04" + struct.pack("<f", 4.0) + b"\x2a\x08" + struct.pack("<2f", 5.0, 6.0)
    path = tmp_path / "odd.caffemodel"
    path.write_bytes(
        b"\x0a\x03odd" + layer_bytes(b"a", blob_bytes(shape + unpacked)) + layer_bytes(b"b", blob_bytes(shape + split))
    )
    model = netray.load_model(path)
    assert port(node(model, "a"), "weight")[0].initializer.numpy().tolist() == [1.0, 2.0, 3.0]
    assert port(node(model, "b"), "weight")[0].initializer.numpy().tolist() == [4.0, 5.0, 6.0]


def test_shape_that_disagrees_with_the_values(tmp_path: Path) -> None:
    shape = b"\x3a\x03\x08\xe8\x07"  # dim: 1000
    data = b"\x2a\x08" + struct.pack("<2f", 1.0, 2.0)
    path = tmp_path / "liar.caffemodel"
    path.write_bytes(b"\x0a\x01x" + layer_bytes(b"fc", blob_bytes(shape + data)))
    model = netray.load_model(path)  # structure opens
    with pytest.raises(netray.FormatError, match="needs 4000 bytes"):
        port(node(model, "fc"), "weight")[0].initializer.numpy()


def test_blobs_are_read_only_when_asked(shared_models: Path, tmp_path: Path) -> None:
    path = tmp_path / "det3.caffemodel"
    shutil.copy(shared_models / MTCNN / "mtcnn_det3.caffemodel", path)
    model = netray.load_model(path)
    weights = list(model.main.weights())
    path.write_bytes(path.read_bytes()[:1000])  # the bytes go away after the load
    with pytest.raises(netray.FormatError, match="past the end"):
        weights[-1].initializer.numpy()


# --- broken and foreign input --------------------------------------------------------------


def test_truncated_caffemodel(shared_models: Path, tmp_path: Path) -> None:
    data = (shared_models / MTCNN / "mtcnn_det2.caffemodel").read_bytes()
    for cut in (1, 2, 7, 100, 1000, len(data) // 3, len(data) // 2, len(data) - 3):
        path = tmp_path / f"cut{cut}.caffemodel"
        path.write_bytes(data[:cut])
        with pytest.raises(netray.FormatError) as error:
            netray.load_model(path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_hostile_caffemodels(tmp_path: Path) -> None:
    cases = {
        "huge_length": b"\x0a\x01x\xa2\x06\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
        "long_varint": b"\x0a\x01x\xa2\x06" + b"\xff" * 20,
        "group": b"\x0a\x01x\xa3\x06",
        "foreign_field": b"\x0a\x01x" + b"\xfa\x01\x00",
        "bad_blob": b"\x0a\x01x" + layer_bytes(b"fc", blob_bytes(b"\x2a\x03abc")),
        "negative_dim": b"\x0a\x01x" + layer_bytes(b"fc", blob_bytes(b"\x3a\x0b\x08" + b"\xff" * 9 + b"\x01")),
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.caffemodel"
        path.write_bytes(data)
        with pytest.raises(netray.FormatError, match="Caffe") as error:
            plugin.netray_load(path, "Caffe")  # as if claimed: the reader's own checks
        assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("name", ["mtcnn_det1.caffemodel", "mtcnn_det1.prototxt"])
def test_corrupted_bytes_give_format_errors_only(shared_models: Path, tmp_path: Path, name: str) -> None:
    """Random byte changes and cuts: the file opens or gives a one-line FormatError, blobs too."""
    import random

    rng = random.Random(1)
    data = (shared_models / MTCNN / name).read_bytes()
    for k in range(150):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        if k % 3 == 0:
            mutated = mutated[: rng.randrange(len(mutated))]
        path = tmp_path / f"m{k}{Path(name).suffix}"
        path.write_bytes(bytes(mutated))
        try:
            model = plugin.netray_load(path, "Caffe")
            for _, t in model.all_tensors():
                try:
                    t.numpy()
                except netray.FormatError:
                    pass
        except netray.FormatError as error:
            assert "\n" not in str(error)


def test_invalid_utf8_names(tmp_path: Path) -> None:
    path = tmp_path / "names.caffemodel"
    path.write_bytes(b"\x0a\x02n\xff" + layer_bytes(b"f\xffc", blob_bytes(b"\x2a\x04" + struct.pack("<f", 1.0))))
    model = netray.load_model(path)
    assert model.main.nodes[0].name == "f\ufffdc" and model.metadata["name"] == "n\ufffd"


def test_broken_prototxt(tmp_path: Path) -> None:
    cases = {
        "syntax.prototxt": b'name: "x"\nlayer { name: "a" type: "ReLU" bottom: "x" top: "x"\n',
        "latin1.prototxt": b'name: "caf\xe9"\nlayer { name: "a" type: "ReLU" }\n',
        "nested.prototxt": b"layer { " + b"convolution_param { weight_filler { " * 0 + b"name: 1 1 }\n",
        "empty_net.prototxt": b'name: "nothing"\n',
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(netray.FormatError):
            plugin.netray_load(path, "Caffe")


def test_unknown_fields_of_caffe_forks_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ssd.prototxt"
    path.write_text(
        'name: "ssd"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 300 dim: 300 }\n'
        'layer { name: "norm" type: "Normalize" bottom: "data" top: "norm" norm_param { across_spatial: false } }\n'
        'layer { name: "prior" type: "PriorBox" bottom: "norm" bottom: "data" top: "prior" prior_box_param { min_size: 30 } }\n'
    )
    model = netray.load_model(path)
    assert ops(model) == ["Normalize", "PriorBox"]
    assert port(node(model, "norm"), "top")[0].type.shape == (1, 3, 300, 300)


def test_blobs_written_in_the_text(tmp_path: Path) -> None:
    path = tmp_path / "inline.prototxt"
    path.write_text(
        'input: "x"\ninput_dim: 1 input_dim: 2\n'
        'layer { name: "s" type: "Scale" bottom: "x" top: "y" blobs { shape { dim: 2 } data: 1.5 data: -2 } }\n'
    )
    model = netray.testing.check_load(plugin, path, tmp_path / "check")
    scale = port(node(model, "s"), "scale")[0].initializer
    assert scale.numpy().tolist() == [1.5, -2.0] and scale.dtype == "float32"


def test_sniffing(shared_models: Path, tmp_path: Path) -> None:
    caffemodel = shared_models / MTCNN / "mtcnn_det1.caffemodel"
    assert sniff(caffemodel, caffemodel.read_bytes()[:4096]) == 1.0
    prototxt = shared_models / BVLC / "lenet.prototxt"
    assert sniff(prototxt, prototxt.read_bytes()[:4096]) == 1.0
    solver = tmp_path / "solver.prototxt"
    solver.write_text('net: "train_val.prototxt"\nbase_lr: 0.01\nlr_policy: "step"\n')
    assert sniff(solver, solver.read_bytes()) == 0.0
    onnx_like = tmp_path / "model.caffemodel"
    onnx_like.write_bytes(b"\x08\x07\x12\x07pytorch")
    assert sniff(onnx_like, onnx_like.read_bytes()) == 0.0


def test_descriptor_is_caffe_proto() -> None:
    from google.protobuf import descriptor_pb2

    file = descriptor_pb2.FileDescriptorProto.FromString(FILE_DESCRIPTOR)
    assert file.package == "caffe" and "LayerParameter" in [m.name for m in file.message_type]
    assert proto.NET_LAYER == 100 and proto.LAYER_BLOBS == 7 and proto.V1_BLOBS == 6 and proto.V0_BLOBS == 50
