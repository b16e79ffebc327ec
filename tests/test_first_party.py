"""Install hints come from the first-party plugins' own declarations (core/netray/first_party.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import netray
from netray.errors import NoReaderError
from netray.plugins import PluginManager

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import generate_first_party  # noqa: E402


def test_the_generated_table_equals_the_plugins_declarations() -> None:
    current = (REPO / "core" / "netray" / "first_party.py").read_text()
    assert current == generate_first_party.table_text(), "core/netray/first_party.py is stale: run python tools/generate_first_party.py"


def test_every_plugin_folder_is_in_the_table() -> None:
    from netray.first_party import FIRST_PARTY

    listed = {dist for dist, _ in FIRST_PARTY}
    folders = {f"netray-plugin-{p.name}" for p in generate_first_party.plugin_folders()}
    assert listed == folders


def bare_manager() -> PluginManager:
    """A manager with no plugin installed, not even the built-in .netray reader."""
    return PluginManager(load_entry_points=False)


def hint(path: Path, manager: PluginManager | None = None) -> str:
    with pytest.raises(NoReaderError) as caught:
        (manager or bare_manager()).load(path)
    return caught.value.hint


torch = pytest.importorskip("torch")


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


def test_torch_files_are_told_apart_by_content_not_extension(tmp_path: Path) -> None:
    model = Tiny()
    # The same extension, `.pt`, for three different things users save.
    torch.jit.save(torch.jit.script(model), tmp_path / "scripted.pt")
    torch.save(model.state_dict(), tmp_path / "state.pt")
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.export.save(torch.export.export(model, (torch.zeros(1, 4),)), tmp_path / "exported.pt2")
    assert hint(tmp_path / "scripted.pt") == "pip install netray-plugin-torchscript"
    assert hint(tmp_path / "state.pt") == "pip install netray-plugin-pytorch"
    assert hint(tmp_path / "legacy.pt") == "pip install netray-plugin-pytorch"
    assert hint(tmp_path / "exported.pt2") == "pip install netray-plugin-pytorch"


def test_pb_is_onnx_or_tensorflow_by_its_first_field(tmp_path: Path) -> None:
    onnx_pb = tmp_path / "model.pb"
    onnx_pb.write_bytes(b"\x08\x07\x12\x04test")  # ModelProto: ir_version=7, producer_name
    graphdef = tmp_path / "frozen.pb"
    graphdef.write_bytes(b"\x0a\x0c\x0a\x01x\x12\x07Placeholder")  # GraphDef: node { name op }
    assert hint(onnx_pb) == "pip install netray-plugin-onnx"
    assert hint(graphdef) == "pip install netray-plugin-tensorflow"


class GgufLike:
    """A third-party plugin that declares a format but cannot read this file."""

    NETRAY_CONTRACT = "1.0"

    @netray.hookimpl
    def netray_formats(self) -> list[netray.FormatInfo]:
        return [netray.FormatInfo("GGUF (third party)", (".gguf",), magic=(b"GGUF",))]

    @netray.hookimpl
    def netray_sniff(self, path: Path, head: bytes) -> netray.Claim | None:
        return None  # it looks at more than the magic and rejects the file

    @netray.hookimpl
    def netray_load(self, path: Path, format: str) -> netray.Model | None:
        raise AssertionError("never asked: it claimed nothing")


def test_a_format_an_installed_plugin_declares_never_gets_an_install_hint(tmp_path: Path) -> None:
    broken = tmp_path / "x.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(8))
    manager = bare_manager()
    manager.register(GgufLike(), "gguf-third-party")
    with pytest.raises(NoReaderError) as caught:
        manager.load(broken)
    assert caught.value.hint == ""
    assert "not a readable GGUF (third party) file" in str(caught.value)


def test_a_plugin_without_a_sniff_hook_claims_by_its_declarations(tmp_path: Path) -> None:
    class Declared:
        @netray.hookimpl
        def netray_formats(self) -> list[netray.FormatInfo]:
            return [netray.FormatInfo("Magic8", (".m8",), magic=((4, b"M8!!"),))]

        @netray.hookimpl
        def netray_load(self, path: Path, format: str) -> netray.Model:
            return netray.Model(format)

    path = tmp_path / "a.bin"
    path.write_bytes(b"\0\0\0\0M8!!rest")
    manager = bare_manager()
    manager.register(Declared(), "declared")
    assert manager.detect(path) == ("declared", netray.Claim("Magic8", 1.0))
    assert manager.load(path).format == "Magic8"
    other = tmp_path / "b.bin"
    other.write_bytes(b"nothing here")
    assert manager.detect(other) is None
