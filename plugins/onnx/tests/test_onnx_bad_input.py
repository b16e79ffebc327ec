"""Broken ONNX files: each a FormatError naming file and format, quickly, never another exception.

Also: the plugin's sniff does not claim TensorFlow GraphDef/SavedModel protobufs.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import netray
from netray_onnx import plugin
from netray_onnx.wire import encode_varint

BACKEND_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


@pytest.fixture(autouse=True, scope="module")
def plugins_loaded() -> None:
    """Load the plugins (and onnx) once before any timing: the first load_model pays for that."""
    netray.load_model(onnx.load(BACKEND_DATA / "node" / "test_add" / "model.onnx"))


def real_model_bytes(layers: int = 3) -> bytes:
    """A real file with large weights (so the wire pass descends into tensors) and scoped nodes."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), f"w{i}") for i in range(3)]
    nodes = []
    prev = "x"
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [prev, f"w{i % 3}"], [f"m{i}"], name=f"/layers.{i}/MatMul"))
        nodes.append(helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"/layers.{i}/Relu"))
        prev = f"r{i}"
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 64])],
        inits,
    )
    return helper.make_model(graph, producer_name="test", opset_imports=[helper.make_opsetid("", 21)]).SerializeToString()


def assert_format_error_quickly(path: Path) -> netray.FormatError | None:
    """Loading either works or raises FormatError within a second; any other exception fails the test."""
    start = time.perf_counter()
    try:
        netray.load_model(path)
        error = None
    except netray.FormatError as exc:
        error = exc
        assert str(path) in str(exc)
        assert "\n" not in str(exc)
    assert time.perf_counter() - start < 1.0
    return error


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    assert assert_format_error_quickly(path) is not None


@pytest.mark.parametrize("fraction", [0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999])
def test_truncated(tmp_path: Path, fraction: float) -> None:
    data = real_model_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: max(2, int(len(data) * fraction))])
    error = assert_format_error_quickly(path)
    assert error is not None
    assert "ONNX" in str(error) or "not a readable ONNX" in str(error)


def test_random_bytes(tmp_path: Path) -> None:
    rng = random.Random(1)
    for i in range(30):
        path = tmp_path / f"random{i}.onnx"
        path.write_bytes(rng.randbytes(rng.randrange(1, 5000)))
        assert assert_format_error_quickly(path) is not None


def test_random_bytes_after_a_plausible_header(tmp_path: Path) -> None:
    rng = random.Random(2)
    for i in range(30):
        path = tmp_path / f"header{i}.onnx"
        path.write_bytes(b"\x08\x08" + rng.randbytes(rng.randrange(1, 5000)))
        assert assert_format_error_quickly(path) is not None


def test_flipped_bits_in_a_real_model(tmp_path: Path) -> None:
    """Corrupt files may still parse; what matters is: never another exception, never slow."""
    data = bytearray(real_model_bytes(layers=100))  # mostly structure, so flips hit it
    rng = random.Random(3)
    errors = 0
    for i in range(80):
        corrupt = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            corrupt[rng.randrange(len(corrupt))] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flipped{i}.onnx"
        path.write_bytes(bytes(corrupt))
        try:
            error = assert_format_error_quickly(path)
        except netray.FormatError:
            raise
        if error is None:
            model = netray.load_model(path)
            for value in model.main.weights():
                try:
                    value.initializer.numpy()  # type: ignore[union-attr]
                except netray.FormatError:
                    pass
        else:
            errors += 1
    assert errors > 0


def test_absurd_length_prefix(tmp_path: Path) -> None:
    # ir_version, then a graph field claiming 2**60 bytes.
    path = tmp_path / "absurd.onnx"
    path.write_bytes(b"\x08\x08" + b"\x3a" + encode_varint(1 << 60) + b"\x0a\x00")
    error = assert_format_error_quickly(path)
    assert error is not None and "past the end" in error.reason


def test_absurd_length_inside_a_tensor(tmp_path: Path) -> None:
    """A raw_data length beyond the file, deep inside graph -> initializer."""
    data = real_model_bytes()
    marker = numpy_helper.from_array(np.ones((64, 64), np.float32), "w0").SerializeToString()
    tensor_start = data.index(b"\x4a\x80\x80\x01")  # raw_data field (9), 16384 bytes
    corrupt = data[:tensor_start] + b"\x4a" + encode_varint(1 << 40) + data[tensor_start + 4 :]
    assert len(marker) > 16384
    path = tmp_path / "absurd-tensor.onnx"
    path.write_bytes(corrupt)
    error = assert_format_error_quickly(path)
    assert error is not None and error.format == "ONNX"


def test_deeply_nested_messages(tmp_path: Path) -> None:
    """Graphs nested in attributes far deeper than any real model: an error, not a RecursionError."""
    leaf = helper.make_graph([], "leaf", [], [])
    graph = leaf
    for depth in range(30):  # upb itself refuses ~33 levels
        padding = helper.make_tensor("pad", TensorProto.FLOAT, [300], np.zeros(300, np.float32))
        node = helper.make_node("If", ["c"], ["y"], then_branch=graph, else_branch=leaf, pad=padding)
        graph = helper.make_graph([node], f"level{depth}", [], [])
    path = tmp_path / "deep.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    error = assert_format_error_quickly(path)
    assert error is not None


def test_missing_graph(tmp_path: Path) -> None:
    path = tmp_path / "nograph.onnx"
    path.write_bytes(onnx.ModelProto(ir_version=8, producer_name="x").SerializeToString())
    error = assert_format_error_quickly(path)
    assert error is not None and "no graph" in error.reason


def test_model_file_is_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    data = real_model_bytes()
    path.write_bytes(data)
    model = netray.load_model(path)
    for value in model.main.weights():
        value.initializer.numpy()  # type: ignore[union-attr]
    assert path.read_bytes() == data


# -- sniffing ---------------------------------------------------------------------------
def claim(path: Path) -> netray.Claim | None:
    with open(path, "rb") as f:
        return plugin.netray_sniff(path=path, head=f.read(4096))


def test_sniff_claims_onnx_by_content_whatever_the_extension(tmp_path: Path) -> None:
    for name in ("model.onnx", "model.pb", "model.bin", "model"):
        path = tmp_path / name
        path.write_bytes(real_model_bytes())
        found = claim(path)
        assert found is not None and found.format == "ONNX" and found.confidence == 1.0, name
    assert netray.load_model(tmp_path / "model.bin").main.nodes


def test_sniff_backend_files() -> None:
    files = sorted(BACKEND_DATA.rglob("*.onnx"))[::50]
    claims = [claim(p) for p in files]
    assert all(c is not None and c.format == "ONNX" and c.confidence >= 0.8 for c in claims)


def test_sniff_rejects_tensorflow_protobufs(shared_models: Path) -> None:
    pbs = sorted(shared_models.glob("tensorflow/**/*.pb")) + sorted(shared_models.glob("tensorflow/**/*.meta"))
    assert pbs
    for path in pbs:
        assert claim(path) is None, path


def test_sniff_rejects_a_generated_graphdef(tmp_path: Path) -> None:
    # GraphDef: field 1 `node` is length-delimited (tag 0x0a): it cannot be ModelProto's ir_version.
    node = b"\x0a\x01a" + b"\x12\x05Const"
    path = tmp_path / "frozen.pb"
    path.write_bytes(b"\x0a" + encode_varint(len(node)) + node)
    assert claim(path) is None


def test_sniff_does_not_claim_other_formats(shared_models: Path) -> None:
    others = [p for p in shared_models.rglob("*") if p.is_file() and p.suffix not in (".onnx",)][:200]
    claimed = [p for p in others if (c := claim(p)) is not None and c.confidence >= 0.5]
    assert not claimed, claimed


def test_sniff_does_not_claim_tensor_protobufs() -> None:
    """The backend data's input/output ``.pb`` files are TensorProtos (also starting with a varint field 1)."""
    pbs = sorted(BACKEND_DATA.rglob("*.pb"))[::10]
    assert len(pbs) > 300
    assert [p for p in pbs if claim(p) is not None] == []
