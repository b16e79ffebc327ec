"""Tests of the ToyNet plugin; run `pytest tests` here once the plugin is installed (`pip install -e .`)."""

from pathlib import Path

import numpy as np
import pytest

import netray

TEXT = """toynet 1
input image float32 1 3 8 8
weight conv1.w float32 4 3 3 3

# a comment, then the operations
conv1 = Conv(image, conv1.w) k=3
relu1 = Relu(conv1)
output relu1
data
"""


def write_toynet(path: Path, weights: np.ndarray) -> Path:
    path.write_bytes(TEXT.encode() + weights.astype("<f4").tobytes())
    return path


def test_reads_the_graph_and_the_weights(tmp_path: Path) -> None:
    weights = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    model = netray.load_model(write_toynet(tmp_path / "tiny.toynet", weights))  # found through the entry point
    assert model.format == "ToyNet"
    assert [(n.op, n.category) for n in model.main.nodes] == [("Conv", netray.Category.LAYER), ("Relu", netray.Category.ACTIVATION)]
    conv = model.main.nodes[0]
    assert conv.attribute("k").value == 3
    assert model.main.inputs[0].type.shape == (1, 3, 8, 8)
    assert np.array_equal(conv.weights()[0].initializer.numpy(), weights)


def test_a_bad_line_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toynet"
    path.write_text("toynet 1\ninput image float32 1 x\n")
    with pytest.raises(netray.FormatError, match="line 2"):
        netray.load_model(path)


def test_missing_weight_bytes_are_a_format_error(tmp_path: Path) -> None:
    path = write_toynet(tmp_path / "short.toynet", np.zeros(10, np.float32))  # 108 values declared
    model = netray.load_model(path)  # structure only: fine
    with pytest.raises(netray.FormatError, match="past the end"):
        model.main.values["conv1.w"].initializer.numpy()


def test_the_plugin_keeps_the_contract(tmp_path: Path) -> None:
    import netray.testing
    from netray_toyfmt import plugin

    tiny = write_toynet(tmp_path / "tiny.toynet", np.ones((4, 3, 3, 3), np.float32))
    netray.testing.check_plugin(plugin, [tiny], tmp_path / "checks")  # declarations, sniffing, loading
