"""The TorchScript plugin on the real Silero archives and on models scripted and traced here."""

from __future__ import annotations

import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import netray
from netray.plugins import PluginManager
from netray.summary import model_summary

torch = pytest.importorskip("torch")
plugin = pytest.importorskip("netray_torchscript.plugin")

from netray_torchscript import reader  # noqa: E402

SILERO = ["silero_model_micro.jit", "silero_model_micro_mobile.jit", "silero_number_detector.jit",
          "silero_vad_v3.jit", "silero_vad_v4.jit"]


def torch_operation_count(module: torch.jit.ScriptModule) -> int:
    """The documented counting rule, computed with torch alone: nodes of forward's inlined graph
    except prim::Constant, prim::GetAttr and lists/tuples built only from constants."""
    graph = module.forward.graph.copy()
    torch._C._jit_pass_inline(graph)
    constant: set[str] = set()
    count = 0
    for node in graph.nodes():
        kind = node.kind()
        names = [i.debugName() for i in node.inputs()]
        if kind == "prim::Constant":
            constant.add(node.output().debugName())
        elif kind in ("prim::ListConstruct", "prim::TupleConstruct") and all(n in constant for n in names):
            constant.add(node.output().debugName())
        elif kind != "prim::GetAttr":
            count += 1
    return count


class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b1 = Block()
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.b1(x).mean(dim=(2, 3))
        for _ in range(x.size(0)):
            y = y * 0.5
        return torch.softmax(self.fc(y), -1)


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return Net().eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, net: torch.nn.Module) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("torchscript")
    torch.jit.save(torch.jit.script(net), d / "scripted.pt")
    torch.jit.save(torch.jit.trace(net, torch.randn(1, 3, 8, 8)), d / "traced.pth")
    torch.jit.script(net)._save_for_lite_interpreter(str(d / "lite.ptl"))
    return {p.name: p for p in d.iterdir()}


@pytest.fixture()
def manager() -> PluginManager:
    m = PluginManager(load_entry_points=False)
    m.register(plugin, "torchscript")
    return m


# -- real files -----------------------------------------------------------------------
@pytest.mark.parametrize("name", SILERO)
def test_real_silero_archives(shared_models: Path, manager: PluginManager, name: str) -> None:
    path = shared_models / "torchscript" / "silero_vad" / name
    model = manager.load(path)
    module = torch.jit.load(str(path), map_location="cpu")
    assert model.format == "PyTorch TorchScript"
    assert model_summary(model)["graphs"][0]["nodes"] == torch_operation_count(module)
    assert model.main.name == "forward" and model.main.nodes
    state = dict(module.named_parameters()) | dict(module.named_buffers())
    weights = [v for g in model.all_graphs() for v in g.weights()]
    assert weights, "the module's parameters appear as weights"
    for v in weights[:20]:
        np.testing.assert_array_equal(v.initializer.numpy(), state[v.name].detach().numpy())  # type: ignore[union-attr]
    submodules = {name for name, _ in module.named_modules()}
    scoped = [n for g in model.all_graphs() for n in g.nodes if n.scope]
    assert scoped and all(".".join(n.scope) in submodules for n in scoped)
    for g in model.all_graphs():
        for node in g.nodes:
            if node.op == "If":
                assert len(node.subgraphs) == 2 and node.category is netray.Category.CONTROL


def test_real_file_with_several_methods(shared_models: Path, manager: PluginManager) -> None:
    model = manager.load(shared_models / "torchscript" / "silero_vad" / "silero_vad_v4.jit")
    assert model.graphs[0].name == "forward"
    assert "reset_states" in [g.name for g in model.graphs]
    assert model.format_version  # the archive's own version record


# -- generated files -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["scripted.pt", "traced.pth", "lite.ptl"])
def test_generated_archives(files: dict[str, Path], manager: PluginManager, net: torch.nn.Module, name: str) -> None:
    model = manager.load(files[name])
    module = torch.jit.load(str(files[name]))
    assert len(model.main.nodes) == torch_operation_count(module)
    conv = next(n for n in model.main.nodes if n.op in ("conv2d", "_convolution"))  # tracing records the latter
    assert conv.scope == ("b1", "conv")
    assert [p.name for p in conv.inputs] == ["input", "weight", "bias"]
    assert conv.attribute("padding") is not None and conv.attribute("padding").value == [1, 1]
    weight = conv.inputs[1].values[0]
    assert weight.name == "b1.conv.weight"
    np.testing.assert_array_equal(weight.initializer.numpy(), net.b1.conv.weight.detach().numpy())  # type: ignore[union-attr]
    assert model.main.inputs[0].name.startswith("x")
    assert len(model.main.outputs) == 1 and model.main.outputs[0].producer is not None


def test_scripted_loop_and_source_lines(files: dict[str, Path], manager: PluginManager) -> None:
    model = manager.load(files["scripted.pt"])
    loop = next(n for n in model.main.nodes if n.op == "Loop")
    assert loop.subgraphs and any(n.op == "mul" for n in loop.subgraphs[0].nodes)
    relu = next(n for n in model.main.nodes if n.op == "relu")
    assert relu.source is not None and relu.source.file == __file__
    assert relu.scope == ("b1",)


def test_in_memory_script_module(net: torch.nn.Module) -> None:
    scripted = torch.jit.script(net)
    model = plugin.netray_load_object(scripted, {})
    assert model is not None and len(model.main.nodes) == torch_operation_count(scripted)
    assert plugin.netray_load_object(net, {}) is None  # plain modules go to the PyTorch plugin


def test_sniff_claims_only_torchscript(files: dict[str, Path], tmp_path: Path) -> None:
    assert plugin.netray_sniff(files["scripted.pt"], files["scripted.pt"].read_bytes()[:4096]).confidence == 1.0
    state_dict = tmp_path / "sd.pt"
    torch.save({"w": torch.zeros(3)}, state_dict)
    assert plugin.netray_sniff(state_dict, state_dict.read_bytes()[:4096]) is None
    info = plugin.netray_operator_info("PyTorch TorchScript", "aten", "batch_norm")
    assert info is not None and info.category is netray.Category.NORMALIZATION


def test_without_torch_names_what_to_install(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(netray.FormatError, match=r"needs PyTorch: pip install torch"):
        reader.read_torchscript(files["scripted.pt"])


# -- hostile input --------------------------------------------------------------------------
class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _replace_member(src: Path, dst: Path, suffix: str, data: bytes) -> None:
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for info in a.infolist():
            b.writestr(info, data if info.filename.endswith(suffix) else a.read(info))


def test_pickle_code_in_archive_never_runs(files: dict[str, Path], tmp_path: Path, manager: PluginManager) -> None:
    marker = tmp_path / "MARKER"
    evil = tmp_path / "evil.pt"
    _replace_member(files["scripted.pt"], evil, "/data.pkl", pickle.dumps(Evil(marker), protocol=2))
    with pytest.raises(netray.FormatError, match="TorchScript"):
        manager.load(evil)
    assert not marker.exists()


def test_truncated_random_and_corrupt(files: dict[str, Path], tmp_path: Path, manager: PluginManager) -> None:
    data = files["scripted.pt"].read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(netray.FormatError, match="TorchScript"):
        manager.load(cut)
    noise = tmp_path / "noise.jit"
    noise.write_bytes(np.random.default_rng(2).bytes(4000))
    with pytest.raises(netray.FormatError):
        manager.load(noise)
    corrupt = tmp_path / "corrupt.pt"
    _replace_member(files["scripted.pt"], corrupt, "/" + Path(__file__).name, b"def forward(self, x):\n  return (((\n")
    with pytest.raises(netray.FormatError, match=r"torch\.jit\.load failed"):
        manager.load(corrupt)
