"""Costs of real files against the counts their own frameworks publish, and across formats."""

from __future__ import annotations

from pathlib import Path

import pytest

import netray
from netray.costs import compute_costs

# (file, MACs per image as the network's authors or its framework count them, batch the file sets)
PUBLISHED = [
    # darknet prints "9.74 BFLOPs" (2 per multiply-add) for resnet50.cfg at 256x256
    ("darknet/pjreddie_darknet/resnet50.cfg", 9.74e9 / 2, 1),
    # and 140.69 BFLOPs for yolov3.cfg at 608x608; the cfg's batch 64 in 16 subdivisions runs 4 at a time
    ("darknet/pjreddie_darknet/yolov3.cfg", 140.69e9 / 2, 4),
    # AlexNet: 724 M multiply-adds per image; the deploy net's input_dim is 10
    ("caffe/bvlc_caffe/bvlc_alexnet_deploy.prototxt", 724e6, 10),
    # GoogLeNet (Szegedy et al.: "1.5 billion multiply-adds"; 1.58 G counted exactly), batch 10
    ("caffe/bvlc_caffe/bvlc_googlenet_deploy.prototxt", 1.58e9, 10),
    # ResNet-50 as MSRA released it (stride in the 1x1 conv): 3.86 G multiply-adds at 224x224
    ("ncnn/tencent_ncnn/resnet50.param", 3.86e9, 1),
]


@pytest.mark.parametrize(("relative", "macs", "batch"), PUBLISHED, ids=[p[0].split("/")[-1] for p in PUBLISHED])
def test_published_counts(shared_models: Path, relative: str, macs: float, batch: int) -> None:
    report = compute_costs(netray.load_model(shared_models / relative))
    total = report.total()
    assert total["unknown_ops"] <= 3  # yolov3's three detection heads have no formula
    assert abs(total["macs"] / batch - macs) / macs < 0.01


def test_one_network_two_formats_costs_the_same(shared_models: Path) -> None:
    """r4ghu's MNIST CNN as Keras HDF5 and as Core ML: NHWC against CHW activations, HWIO against OIHW kernels."""
    keras = compute_costs(netray.load_model(shared_models / "keras/r4ghu_mnist/mnistCNN.h5")).total()
    coreml = compute_costs(netray.load_model(shared_models / "coreml/r4ghu_mnist/mnistCNN.mlmodel")).total()
    assert keras["parameters"] == coreml["parameters"] == 94_602
    # conv 5x5 1->32 on 24x24, conv 3x3 32->64 on 10x10, conv 1x1 64->128 on 5x5, dense 512->128, dense 128->10
    by_hand = 24 * 24 * 32 * 25 + 10 * 10 * 64 * 32 * 9 + 5 * 5 * 128 * 64 + 512 * 128 + 128 * 10
    assert keras["macs"] == coreml["macs"] == by_hand


def test_keras_files_have_a_shape_on_every_edge_and_a_cost_on_every_node(shared_models: Path) -> None:
    for path in sorted((shared_models / "keras").rglob("*")):
        if path.suffix not in (".h5", ".hdf5", ".keras"):
            continue
        model = netray.load_model(path)
        for node in model.main.nodes:
            for value in node.output_values():
                assert value.type.shape is not None and None not in value.type.shape[1:], (path.name, value.name)
        report = compute_costs(model)
        # melody_lstm's input is [batch, ?, 41]: the sequence length, and so the LSTM's cost, is unknown
        expected = {"LSTM": 1} if path.name == "melody_lstm.keras" else {}
        assert report.unknown_ops == expected, path.name
