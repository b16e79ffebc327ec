"""Every ONNX file of the onnx package's backend test data opens through netray.

~1,900 real model files written by the ONNX project (node tests, models converted
from PyTorch, light/real zoo models): netray's summary must agree with onnx's own
reading of each, and every weight must read back equal to ``numpy_helper.to_array``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import netray
from netray.summary import model_summary

BACKEND_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
FILES = sorted(BACKEND_DATA.rglob("*.onnx"))


def _expected(proto: onnx.ModelProto) -> tuple[int, list[str], list[str]]:
    inits = {i.name for i in proto.graph.initializer}
    inputs = [i.name for i in proto.graph.input if i.name not in inits]
    return len(proto.graph.node), inputs, [o.name for o in proto.graph.output]


def test_backend_data_is_there() -> None:
    # The onnx wheel ships this data; if it ever stops, the test below would prove nothing.
    assert len(FILES) > 1500
    assert {p.relative_to(BACKEND_DATA).parts[0] for p in FILES} >= {"node", "pytorch-converted", "simple", "light"}


def test_every_backend_model_matches_onnx() -> None:
    mismatches = []
    for path in FILES:
        proto = onnx.load(path, load_external_data=False)
        nodes, inputs, outputs = _expected(proto)
        summary = model_summary(netray.load_model(path))
        main = summary["graphs"][0]
        got = (main["nodes"], [i["name"] for i in main["inputs"]], [o["name"] for o in main["outputs"]])
        if got != (nodes, inputs, outputs) or not summary["format"].startswith("ONNX v"):
            mismatches.append(f"{path.relative_to(BACKEND_DATA)}: {got} != {(nodes, inputs, outputs)}")
    assert not mismatches, "\n".join(mismatches[:20])


def test_every_backend_weight_reads_back_equal() -> None:
    checked = 0
    for path in FILES:
        proto = onnx.load(path)
        expected = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
        for value in netray.load_model(path).main.weights():
            assert value.initializer is not None
            got = value.initializer.numpy()
            want = expected[value.name]
            assert got.shape == want.shape and got.dtype == want.dtype, (path, value.name)
            assert np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"), (path, value.name)
            checked += 1
    assert checked > 1000


def test_large_weights_are_left_in_the_file() -> None:
    """The converted ResNet-like models hold weights above the inline threshold: read through the file."""
    lazy = []
    for path in sorted((BACKEND_DATA / "light").rglob("*.onnx"))[:3] + sorted(BACKEND_DATA.glob("pytorch-converted/*/model.onnx")):
        for value in netray.load_model(path).main.weights():
            if value.initializer is not None and value.initializer.location.startswith(path.name + " @ "):
                lazy.append(value)
    assert lazy, "no tensor was left in the file"


def test_data_types_and_symbolic_dims_match_onnx() -> None:
    path = BACKEND_DATA / "node" / "test_cast_FLOAT_to_FLOAT16" / "model.onnx"
    main = netray.load_model(path).main
    assert main.inputs[0].type.dtype == "float32"
    assert main.outputs[0].type.dtype == "float16"
    assert main.nodes[0].attribute("to") is not None


NETRAY_CLI = Path(sys.executable).parent / "netray"


@pytest.mark.skipif(not NETRAY_CLI.exists() and shutil.which("netray") is None, reason="netray CLI not installed")
@pytest.mark.parametrize(
    "relative",
    [
        "node/test_add/model.onnx",
        "node/test_if/model.onnx",
        "node/test_loop11/model.onnx",
        "pytorch-converted/test_Conv2d/model.onnx",
        "simple/test_single_relu_model/model.onnx",
    ],
)
def test_cli_info_json(relative: str) -> None:
    path = BACKEND_DATA / relative
    cli = str(NETRAY_CLI) if NETRAY_CLI.exists() else "netray"
    result = subprocess.run([cli, "info", str(path), "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    nodes, inputs, outputs = _expected(onnx.load(path))
    assert summary["format"].startswith("ONNX v")
    assert summary["graphs"][0]["nodes"] == nodes
    assert [i["name"] for i in summary["graphs"][0]["inputs"]] == inputs
    assert [o["name"] for o in summary["graphs"][0]["outputs"]] == outputs
