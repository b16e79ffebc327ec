"""The core names the plugin to install from a file's content, with no plugin installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from netray.known_formats import guess_format

torch = pytest.importorskip("torch")


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


def hint(path: Path) -> str:
    with open(path, "rb") as f:
        known = guess_format(path, f.read(4096))
    assert known is not None, path
    return known.distribution


def test_torch_files_are_told_apart_by_content_not_extension(tmp_path: Path) -> None:
    model = Tiny()
    # The same extension, `.pt`, for three different things users save.
    torch.jit.save(torch.jit.script(model), tmp_path / "scripted.pt")
    torch.save(model.state_dict(), tmp_path / "state.pt")
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.export.save(torch.export.export(model, (torch.zeros(1, 4),)), tmp_path / "exported.pt2")
    assert hint(tmp_path / "scripted.pt") == "netray-plugin-torchscript"
    assert hint(tmp_path / "state.pt") == "netray-plugin-pytorch"
    assert hint(tmp_path / "legacy.pt") == "netray-plugin-pytorch"
    assert hint(tmp_path / "exported.pt2") == "netray-plugin-pytorch"


def test_pb_is_onnx_or_tensorflow_by_its_first_field(tmp_path: Path) -> None:
    onnx_pb = tmp_path / "model.pb"
    onnx_pb.write_bytes(b"\x08\x07\x12\x04test")  # ModelProto: ir_version=7, producer_name
    graphdef = tmp_path / "frozen.pb"
    graphdef.write_bytes(b"\x0a\x0c\x0a\x01x\x12\x07Placeholder")  # GraphDef: node { name op }
    assert hint(onnx_pb) == "netray-plugin-onnx"
    assert hint(graphdef) == "netray-plugin-tensorflow"


def test_formats_no_plugin_reads_yet_are_named_without_a_plugin(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(32))
    known = guess_format(gguf, gguf.read_bytes())
    assert known is not None and known.name == "GGUF" and known.distribution == ""
