"""Damaged and hostile Core ML input: every problem is one FormatError line naming the file; nothing hangs."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

import netray
from netray_coreml import proto

MNIST = "coreml/r4ghu_mnist/mnistCNN.mlmodel"
INNER = Path("Data") / "com.apple.CoreML" / "model.mlmodel"
WEIGHTS = Path("Data") / "com.apple.CoreML" / "weights" / "weight.bin"


def _fails(path: Path, match: str) -> str:
    with pytest.raises(netray.FormatError, match=match) as caught:
        netray.load_model(path).all_tensors()
    message = str(caught.value)
    assert "\n" not in message and path.name in message
    return message


def test_truncated_mlmodel(shared_models: Path, tmp_path: Path) -> None:
    data = (shared_models / MNIST).read_bytes()
    for cut in (3, 10, 100, 1000, len(data) // 3, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.mlmodel"
        path.write_bytes(data[:cut])
        _fails(path, "truncated|holds no model|does not parse|not a readable")


def test_corrupted_mlmodel_opens_or_fails_in_one_line(shared_models: Path, tmp_path: Path) -> None:
    data = bytearray((shared_models / MNIST).read_bytes())
    rng = np.random.default_rng(7)
    outcomes = {"opened": 0, "refused": 0}
    for k in range(40):
        damaged = bytearray(data)
        for position in rng.integers(0, 4000, size=4):  # the structure lies before the weights
            damaged[int(position)] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged{k}.mlmodel"
        path.write_bytes(bytes(damaged))
        try:
            model = netray.load_model(path)
            for _, tensor in model.all_tensors():
                try:
                    tensor.numpy()
                except netray.FormatError as exc:
                    assert "\n" not in str(exc)
            outcomes["opened"] += 1
        except netray.FormatError as exc:
            assert "\n" not in str(exc) and path.name in str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0


def test_garbage_named_mlmodel(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mlmodel"
    path.write_bytes(np.random.default_rng(1).bytes(3000))
    _fails(path, "Core ML")


def test_nesting_deeper_than_protobuf_allows(tmp_path: Path) -> None:
    model = proto.Model(specificationVersion=4)
    inner = model
    for _ in range(200):
        inner = inner.pipeline.models.add(specificationVersion=4)
    inner.identity.SetInParent()
    path = tmp_path / "deep.mlmodel"
    path.write_bytes(model.SerializeToString())
    opened = netray.load_model(path)  # what parses opens; the note says where protobuf gave up
    note = opened.properties["unreadable"]
    assert note.startswith("pipeline (field 202) does not parse") and "nested deeper than" in note
    assert len(note) < 300
    assert [n.op for n in opened.main.nodes] == ["pipeline"]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("coremltools", reason="coremltools (test-only dependency) writes the package")
    pytest.importorskip("torch", reason="torch builds the module coremltools converts")
    from coreml_test_models import Tiny, convert

    _, path = convert(Tiny.make(), tmp_path_factory.mktemp("coreml_bad"), "tiny", precision="fp32", target="iOS15")
    return path


def _copy(package: Path, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(package, tmp_path / f"{name}.mlpackage"))


def _edit_blob_offsets(copy: Path, offset: int) -> None:
    """Point every const's blob reference at ``offset``, with our own protobuf classes."""
    spec = proto.Model.FromString((copy / INNER).read_bytes())
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            for op in block.operations:
                if op.type == "const" and op.attributes["val"].WhichOneof("value") == "blobFileValue":
                    op.attributes["val"].blobFileValue.offset = offset
    (copy / INNER).write_bytes(spec.SerializeToString())


def _first_metadata(copy: Path) -> int:
    """Where the first blob's metadata lies (just after the 64-byte header)."""
    return 64


def test_blob_offset_past_the_end(package: Path, tmp_path: Path) -> None:
    copy = _copy(package, tmp_path, "offset")
    _edit_blob_offsets(copy, 1 << 60)
    _fails(copy, "metadata offset .* lies outside the file")


def test_blob_offset_not_at_metadata(package: Path, tmp_path: Path) -> None:
    copy = _copy(package, tmp_path, "misaligned")
    _edit_blob_offsets(copy, 72)
    _fails(copy, "sentinel")


def test_blob_data_range_outside_the_file(package: Path, tmp_path: Path) -> None:
    for field_offset, value, name in ((16, 1 << 62, "data_offset"), (8, 1 << 62, "size"), (16, 3, "small_offset")):
        copy = _copy(package, tmp_path, name)
        weights = bytearray((copy / WEIGHTS).read_bytes())
        struct.pack_into("<Q", weights, _first_metadata(copy) + field_offset, value)
        (copy / WEIGHTS).write_bytes(bytes(weights))
        _fails(copy, "lies outside the file")


def test_blob_unknown_type_and_version(package: Path, tmp_path: Path) -> None:
    copy = _copy(package, tmp_path, "dtype")
    weights = bytearray((copy / WEIGHTS).read_bytes())
    struct.pack_into("<I", weights, 64 + 4, 99)
    (copy / WEIGHTS).write_bytes(bytes(weights))
    _fails(copy, "unknown data type 99")
    copy = _copy(package, tmp_path, "version")
    weights = bytearray((copy / WEIGHTS).read_bytes())
    struct.pack_into("<I", weights, 4, 1)
    (copy / WEIGHTS).write_bytes(bytes(weights))
    _fails(copy, "blob storage version 1")


def test_truncated_weight_file(package: Path, tmp_path: Path) -> None:
    for cut in (0, 30, 100, (package / WEIGHTS).stat().st_size - 8):
        copy = _copy(package, tmp_path, f"weights_cut{cut}")
        (copy / WEIGHTS).write_bytes((package / WEIGHTS).read_bytes()[:cut])
        _fails(copy, "weights file|outside the file")


def test_weight_file_shrunk_after_opening(package: Path, tmp_path: Path) -> None:
    """Bounds are checked again when the values are read."""
    copy = _copy(package, tmp_path, "shrunk")
    model = netray.load_model(copy)
    (copy / WEIGHTS).write_bytes((package / WEIGHTS).read_bytes()[:200])
    tensors = [t for _, t in model.all_tensors() if "weight.bin" in t.location]
    with pytest.raises(netray.FormatError, match="past the end"):
        for tensor in tensors:
            tensor.numpy()


def test_weight_path_leaving_the_model_folder(package: Path, tmp_path: Path) -> None:
    copy = _copy(package, tmp_path, "escape")
    (tmp_path / "outside.bin").write_bytes((package / WEIGHTS).read_bytes())
    spec = proto.Model.FromString((copy / INNER).read_bytes())
    block = spec.mlProgram.functions["main"].block_specializations["CoreML5"]
    for op in block.operations:
        if op.type == "const" and op.attributes["val"].WhichOneof("value") == "blobFileValue":
            op.attributes["val"].blobFileValue.fileName = "@model_path/../../../outside.bin"
    (copy / INNER).write_bytes(spec.SerializeToString())
    _fails(copy, "leaves the model's folder")


def _manifest(copy: Path) -> dict:
    return json.loads((copy / "Manifest.json").read_text())


def _root_entry(manifest: dict) -> dict:
    return manifest["itemInfoEntries"][manifest["rootModelIdentifier"]]


def test_manifest_pointing_outside_the_package(package: Path, tmp_path: Path) -> None:
    (tmp_path / "evil.mlmodel").write_bytes((package / INNER).read_bytes())
    for name, target in (("dotdot", "../../evil.mlmodel"), ("absolute", str(tmp_path / "evil.mlmodel"))):
        copy = _copy(package, tmp_path, name)
        manifest = _manifest(copy)
        _root_entry(manifest)["path"] = target
        (copy / "Manifest.json").write_text(json.dumps(manifest))
        _fails(copy, "leaves the package's Data folder")


def test_model_symlink_leaving_the_package(package: Path, tmp_path: Path) -> None:
    (tmp_path / "evil.mlmodel").write_bytes((package / INNER).read_bytes())
    copy = _copy(package, tmp_path, "symlink")
    (copy / INNER).unlink()
    os.symlink(tmp_path / "evil.mlmodel", copy / INNER)
    _fails(copy, "leaves the package's Data folder")


def test_manifest_faults(package: Path, tmp_path: Path) -> None:
    copy = _copy(package, tmp_path, "badjson")
    (copy / "Manifest.json").write_text('{"itemInfoEntries": ')
    _fails(copy, "not valid JSON")
    copy = _copy(package, tmp_path, "noroot")
    manifest = _manifest(copy)
    manifest["rootModelIdentifier"] = "nothing-here"
    (copy / "Manifest.json").write_text(json.dumps(manifest))
    _fails(copy, "names no item")
    copy = _copy(package, tmp_path, "missing")
    (copy / INNER).unlink()
    _fails(copy, "is not in the package")


def test_package_without_manifest_reads_the_default_model(package: Path, tmp_path: Path) -> None:
    copy = _copy(package, tmp_path, "nomanifest")
    (copy / "Manifest.json").unlink()
    model = netray.load_model(copy)
    assert "no Manifest.json" in model.properties["note"]
    assert [n.op for n in model.main.nodes][:2] == ["conv", "relu"]


def test_mlmodel_shrunk_after_opening(shared_models: Path, tmp_path: Path) -> None:
    """NeuralNetwork weights stay in the file until read; their bounds are checked then."""
    path = tmp_path / "shrinking.mlmodel"
    path.write_bytes((shared_models / MNIST).read_bytes())
    model = netray.load_model(path)
    path.write_bytes(path.read_bytes()[:5000])
    last = list(model.all_tensors())[-1][1]
    with pytest.raises(netray.FormatError, match="past the end"):
        last.numpy()


def test_millions_of_tiny_fields_end_in_one_line(tmp_path: Path) -> None:
    """A valid head followed by 3 million unknown one-byte fields: refused in one line, not crawled through."""
    path = tmp_path / "many.mlmodel"
    path.write_bytes(bytes.fromhex("0801") + b"\x12\x05\x0a\x03\x0a\x01x" + b"\xf8\x07\x01" * 3_000_000)
    _fails(path, "holds no model")
