"""The PyTorch plugin: ExportedProgram (.pt2), state_dicts/checkpoints (zip, legacy, pickle), in-memory modules.

Models are made here with torch (random weights) and read back without torch's
loaders; values are compared with what torch itself reads.
"""

from __future__ import annotations

import io
import json
import mmap
import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import netray
from netray.plugins import PluginManager
from netray.summary import model_summary
from netray.tensortree import tensor_tree

torch = pytest.importorskip("torch")
plugin = pytest.importorskip("netray_pytorch.plugin")

from netray_pytorch.sniff import sniff  # noqa: E402


class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return torch.relu(self.bn(self.conv(x)))


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b1 = Block()
        self.b2 = Block.__new__(Block)
        torch.nn.Module.__init__(self.b2)
        self.b2.conv = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.b2.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):  # type: ignore[no-untyped-def]
        y = self.b2(self.b1(x)).mean(dim=(2, 3))
        return torch.softmax(self.fc(y), -1)


class Evil:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    model = Net().eval()
    with torch.no_grad():  # non-trivial running statistics
        for bn in (model.b1.bn, model.b2.bn):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, net: torch.nn.Module) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pytorch")
    example = (torch.randn(1, 3, 16, 16),)
    program = torch.export.export(net, example)
    torch.export.save(program, d / "exported.pt2")
    batch = torch.export.Dim("batch", min=2, max=64)
    dynamic = torch.export.export(net, (torch.randn(4, 3, 16, 16),), dynamic_shapes={"x": {0: batch}})
    torch.export.save(dynamic, d / "dynamic.pt2")
    torch.save(net.state_dict(), d / "net.pth")
    torch.save(net.state_dict(), d / "legacy.pth", _use_new_zipfile_serialization=False)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(*example).sum().backward()
    opt.step()
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "arch": "Net"}, d / "ckpt.pt")
    odd = {"t": torch.arange(12, dtype=torch.float32).reshape(3, 4).t(), "bf": torch.randn(5).to(torch.bfloat16),
           "row": torch.arange(20, dtype=torch.int64).reshape(4, 5)[2]}
    torch.save(odd, d / "odd.pt")
    torch.save(odd, d / "odd_legacy.pt", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(net), d / "scripted.pt")
    return {p.stem: p for p in d.iterdir()} | {"program": program}  # type: ignore[dict-item]


@pytest.fixture()
def manager() -> PluginManager:
    m = PluginManager(load_entry_points=False)
    m.register(plugin, "pytorch")
    return m


def call_function_count(program: object) -> int:
    return sum(1 for n in program.graph.nodes if n.op == "call_function")  # type: ignore[attr-defined]


# -- ExportedProgram ------------------------------------------------------------------
def test_pt2_counts_call_function_nodes(files: dict[str, Path], manager: PluginManager) -> None:
    model = manager.load(files["exported"])
    assert model.format == "PyTorch ExportedProgram"
    summary = model_summary(model)
    assert summary["graphs"][0]["nodes"] == call_function_count(files["program"]) == len(model.main.nodes)
    assert [v.name for v in model.main.inputs] == ["x"]
    assert model.main.inputs[0].type.shape == (1, 3, 16, 16)
    assert model.main.outputs[0].type.dtype == "float32"
    assert model.producer_version == torch.__version__


def test_pt2_scopes_sources_and_lazy_weights(files: dict[str, Path], manager: PluginManager, net: torch.nn.Module) -> None:
    model = manager.load(files["exported"])
    convs = [n for n in model.main.nodes if n.op == "conv2d"]
    assert [n.scope for n in convs] == [("b1", "conv"), ("b2", "conv")]
    assert all(n.source is not None and n.source.file == __file__ for n in convs)
    state = net.state_dict()
    weights = {v.initializer.name: v.initializer for v in model.main.weights() if v.initializer}
    assert set(weights) == set(state)
    for name, tensor in state.items():
        np.testing.assert_array_equal(weights[name].numpy(), tensor.numpy())
    conv = convs[0]
    assert [p.name for p in conv.inputs] == ["input", "weight", "bias"]
    assert conv.attribute("padding") is not None and conv.attribute("padding").value == [1, 1]
    assert conv.category is netray.Category.LAYER
    # Every edge is linked: each non-input value has its producer.
    for node in model.main.nodes[1:]:
        for v in node.input_values():
            assert v.producer is not None or v.initializer is not None or v in model.main.inputs


def test_pt2_before_torch_2_8_layout(files: dict[str, Path], tmp_path: Path, manager: PluginManager, net: torch.nn.Module) -> None:
    """torch < 2.8 wrote flat records: serialized_exported_program.json beside torch.save archives (stored)."""
    from torch._export.serde.schema import SCHEMA_VERSION
    from torch._export.serde.serialize import serialize

    artifact = serialize(files["program"])  # type: ignore[arg-type]
    old = tmp_path / "old.pt2"
    with zipfile.ZipFile(old, "w") as archive:  # the same calls torch.export.save made before 2.8
        archive.writestr("serialized_exported_program.json", artifact.exported_program)
        archive.writestr("serialized_state_dict.pt", artifact.state_dict)
        archive.writestr("serialized_constants.pt", artifact.constants)
        archive.writestr("serialized_example_inputs.pt", artifact.example_inputs)
        archive.writestr("version", ".".join(map(str, SCHEMA_VERSION)))
    model = manager.load(old)
    assert model.format == "PyTorch ExportedProgram"
    assert len(model.main.nodes) == call_function_count(files["program"])
    weights = {v.initializer.name: v.initializer for v in model.main.weights() if v.initializer}
    for name, tensor in net.state_dict().items():
        np.testing.assert_array_equal(weights[name].numpy(), tensor.numpy())


def test_pt2_symbolic_batch_dimension(files: dict[str, Path], manager: PluginManager) -> None:
    model = manager.load(files["dynamic"])
    dim = model.main.inputs[0].type.shape[0]
    assert isinstance(dim, str) and dim  # e.g. "s77"
    assert model.main.inputs[0].type.shape[1:] == (3, 16, 16)


def test_in_memory_module_matches_saved_pt2(files: dict[str, Path], net: torch.nn.Module) -> None:
    model = plugin.netray_load_object(net, {"example_inputs": (torch.randn(1, 3, 16, 16),)})
    saved = PluginManager(load_entry_points=False)
    saved.register(plugin, "pytorch")
    from_file = saved.load(files["exported"])
    assert [n.op for n in model.main.nodes] == [n.op for n in from_file.main.nodes]
    w = next(v for v in model.main.weights() if v.initializer and v.initializer.name == "fc.weight")
    np.testing.assert_array_equal(w.initializer.numpy(), net.fc.weight.detach().numpy())
    assert plugin.netray_load_object(object(), {}) is None
    with pytest.raises(netray.FormatError, match="example_inputs"):
        plugin.netray_load_object(net, {})


# -- state_dicts and checkpoints ---------------------------------------------------------
@pytest.mark.parametrize("stem", ["net", "legacy"])
def test_state_dict_is_weights_only(files: dict[str, Path], manager: PluginManager, net: torch.nn.Module, stem: str) -> None:
    model = manager.load(files[stem])
    assert model.format == "PyTorch state_dict"
    assert model.graphs == [] and model.weights_only
    state = net.state_dict()
    assert list(model.tensors) == list(state)  # every key, in the file's order
    assert model.properties["modules"] == len({k.rpartition(".")[0] for k in state})
    loaded = torch.load(files[stem], weights_only=True)
    for key, tensor in model.tensors.items():
        assert tensor.shape == tuple(state[key].shape)
        np.testing.assert_array_equal(tensor.numpy(), loaded[key].numpy())
    assert model.parameter_count() == sum(t.numel() for t in state.values())
    tree = tensor_tree(model.tensors.items())
    assert list(tree.children) == ["b1", "b2", "fc"] and list(tree.children["b1"].children) == ["conv", "bn"]


def test_zip_weights_are_file_slices(files: dict[str, Path], manager: PluginManager) -> None:
    """torch stores members uncompressed: tensors are memory-mapped, the file's bytes untouched."""
    before = files["net"].read_bytes()
    model = manager.load(files["net"])
    weight = model.tensors["b1.conv.weight"]
    array = weight.numpy()
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)
    assert not array.flags.writeable
    assert files["net"].read_bytes() == before


@pytest.mark.parametrize("stem", ["odd", "odd_legacy"])
def test_views_and_bfloat16(files: dict[str, Path], manager: PluginManager, stem: str) -> None:
    model = manager.load(files[stem])
    loaded = torch.load(files[stem], weights_only=True)
    values = model.tensors
    np.testing.assert_array_equal(values["t"].numpy(), loaded["t"].numpy())
    np.testing.assert_array_equal(values["row"].numpy(), loaded["row"].numpy())
    assert values["bf"].dtype == "bfloat16"
    np.testing.assert_array_equal(values["bf"].numpy(), loaded["bf"].float().numpy())


def test_checkpoint_with_optimizer(files: dict[str, Path], manager: PluginManager, net: torch.nn.Module) -> None:
    model = manager.load(files["ckpt"])
    assert model.format == "PyTorch checkpoint"
    assert model.metadata["epoch"] == 7 and model.metadata["arch"] == "Net"  # typed as pickled
    assert {"model.b1.conv.weight", "model.fc.weight"} <= set(model.tensors)
    momentum = [name for name in model.tensors if name.startswith("optimizer.state.")]
    assert len(momentum) == len(list(net.parameters()))


def test_bare_pickle_of_tensors(tmp_path: Path, manager: PluginManager) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"layer.weight": [1, 2], "epoch": 3}, protocol=4))
    model = manager.load(path)
    assert model.format == "PyTorch state_dict" and model.metadata["epoch"] == 3
    assert model.graphs == [] and model.tensors == {}


# -- sniffing -----------------------------------------------------------------------------
def test_sniff_by_content(files: dict[str, Path]) -> None:
    def claim(p: Path):  # type: ignore[no-untyped-def]
        return sniff(p, p.read_bytes()[:4096])

    assert claim(files["net"]) == ("PyTorch state_dict", 1.0)
    assert claim(files["legacy"]) == ("PyTorch state_dict", 1.0)
    assert claim(files["dynamic"]) == ("PyTorch ExportedProgram", 1.0)
    assert claim(files["scripted"]) is None  # TorchScript belongs to its own plugin


def test_operator_info() -> None:
    info = plugin.netray_operator_info("PyTorch ExportedProgram", "aten", "conv2d")
    assert info is not None and info.category is netray.Category.LAYER and info.summary
    assert plugin.netray_operator_info("ONNX", "", "Conv") is None


# -- hostile input --------------------------------------------------------------------------
def _evil_files(tmp_path: Path, marker: Path) -> list[Path]:
    zipped = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "x": Evil(marker)}, zipped)
    legacy = tmp_path / "evil_legacy.pth"
    torch.save({"x": Evil(marker)}, legacy, _use_new_zipfile_serialization=False)
    bare = tmp_path / "evil.pkl"
    bare.write_bytes(pickle.dumps({"x": Evil(marker)}, protocol=2))
    return [zipped, legacy, bare]


def test_code_in_pickles_is_refused(tmp_path: Path, manager: PluginManager) -> None:
    marker = tmp_path / "MARKER"
    for path in _evil_files(tmp_path, marker):
        with pytest.raises(netray.FormatError, match=r"refused to load global (posix|os)\.system") as err:
            manager.load(path)
        assert str(path) in str(err.value)
        assert not marker.exists()
    # The same files do run code in an unrestricted unpickler: the test would catch a leak.
    pickle.loads(_evil_files(tmp_path, marker)[2].read_bytes())
    assert marker.exists()


def _dangling(program: dict) -> str:  # type: ignore[type-arg]
    program["graph_module"]["graph"]["nodes"][2]["inputs"][0]["arg"] = {"as_tensor": {"name": "ghost"}}
    return json.dumps(program)


def _wrong_types(program: dict) -> str:  # type: ignore[type-arg]
    program["graph_module"]["graph"]["nodes"][0]["inputs"] = "not a list of arguments"
    return json.dumps(program)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (_dangling, "refers to 'ghost', which no node or input produces"),
        (_wrong_types, "malformed"),
        (lambda program: "[" * 100_000 + "]" * 100_000, "RecursionError"),
        (lambda program: "{{{", "JSONDecodeError"),
    ],
)
def test_pt2_with_broken_graph(files: dict[str, Path], tmp_path: Path, manager: PluginManager, mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.pt2"
    with zipfile.ZipFile(files["exported"]) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("models/model.json"):
                data = mutate(json.loads(data)).encode()
            dst.writestr(info, data)
    with pytest.raises(netray.FormatError, match=re.escape(reason)):
        manager.load(bad)


@pytest.mark.parametrize("stem", ["net", "legacy", "dynamic"])
def test_truncated_files(files: dict[str, Path], tmp_path: Path, manager: PluginManager, stem: str) -> None:
    data = files[stem].read_bytes()
    for fraction in (0.3, 0.7, 0.97):
        cut = tmp_path / f"cut{files[stem].suffix}"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(netray.FormatError):
            model = manager.load(cut)
            for _, tensor in model.all_tensors():  # a safe partial view must still fail cleanly on read
                tensor.numpy()


def test_random_and_corrupt_bytes(files: dict[str, Path], tmp_path: Path, manager: PluginManager) -> None:
    rng = np.random.default_rng(1)
    noise = tmp_path / "noise.pth"
    noise.write_bytes(rng.bytes(5000))
    with pytest.raises(netray.FormatError):
        manager.load(noise)
    pickle_noise = tmp_path / "noise.pkl"
    pickle_noise.write_bytes(b"\x80\x04" + rng.bytes(3000))
    with pytest.raises(netray.FormatError):
        manager.load(pickle_noise)
    corrupt = tmp_path / "corrupt.pth"
    data = bytearray(files["net"].read_bytes())
    start = data.find(b"data.pkl") + 40
    data[start : start + 200] = rng.bytes(200)
    corrupt.write_bytes(bytes(data))
    with pytest.raises(netray.FormatError):
        manager.load(corrupt)
    lying = tmp_path / "lying.pth"  # legacy header whose storage claims more bytes than the file has
    legacy = bytearray(files["legacy"].read_bytes())
    lying.write_bytes(bytes(legacy[:-8]))
    with pytest.raises(netray.FormatError, match=r"past the end|ends before"):
        manager.load(lying)


class _Storage:
    """Stands for a storage record in a hand-made data.pkl."""


class _LyingTensor:
    """Pickles as a tensor view far larger than its storage, or with a negative size."""

    def __init__(self, size: tuple[int, ...]) -> None:
        self.size = size

    def __reduce__(self):  # type: ignore[no-untyped-def]
        import collections

        return (torch._utils._rebuild_tensor_v2, (_Storage(), 0, self.size, (self.size[-1], 1), False, collections.OrderedDict()))


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):  # type: ignore[no-untyped-def]
        return ("storage", torch.FloatStorage, "0", "cpu", 4) if isinstance(obj, _Storage) else None


def test_tensor_larger_than_its_storage(tmp_path: Path, manager: PluginManager) -> None:
    def archive(size: tuple[int, ...]) -> Path:
        buffer = io.BytesIO()
        _TorchPickler(buffer, protocol=2).dump({"layer.weight": _LyingTensor(size)})
        path = tmp_path / "lying.pth"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", buffer.getvalue())
            z.writestr("archive/data/0", b"\0" * 16)
        return path

    model = manager.load(archive((1000, 1000)))
    (tensor,) = model.tensors.values()
    assert tensor.shape == (1000, 1000)
    with pytest.raises(netray.FormatError):
        tensor.numpy()
    with pytest.raises(netray.FormatError, match="negative"):
        manager.load(archive((-5, 4)))


# -- installs alone -------------------------------------------------------------------------
SLOW = os.environ.get("NETRAY_SLOW_TESTS") == "1" or os.environ.get("CI", "").lower() == "true"


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="creates a venv and installs packages: set NETRAY_SLOW_TESTS=1")
def test_plugins_install_alone_in_fresh_venv(
    files: dict[str, Path], tmp_path: Path, repo_root: Path, shared_models: Path
) -> None:
    """core alone -> hints; + netray-plugin-pytorch -> .pth opens; + netray-plugin-torchscript -> .jit opens."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    netray_cli = venv / "bin" / "netray"
    src = tmp_path / "src"  # a copy: building must not write into the working tree
    # Only what pip installs: the repository also holds benchmark models (bench/.models, sparse files
    # of many GB that a copy would fill in).
    skip = shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", "tests")
    for part in ("core", "plugins"):
        shutil.copytree(repo_root / part, src / part, ignore=skip)

    def pip(*args: str) -> None:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *args], check=True, timeout=900)

    def info(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(netray_cli), "info", str(path), "--json"], capture_output=True, text=True, timeout=300)

    jit = shared_models / "torchscript" / "silero_vad" / "silero_vad_v4.jit"
    pth = files["net"]
    pip(str(src / "core"))
    assert "pip install netray-plugin-pytorch" in info(pth).stderr + info(pth).stdout
    assert "pip install netray-plugin-torchscript" in info(jit).stderr + info(jit).stdout
    pip(str(src / "plugins" / "pytorch"))
    result = info(pth)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["format"].startswith("PyTorch state_dict")
    check = subprocess.run([str(py), "-c", "import torch"], capture_output=True)
    assert check.returncode != 0, "torch must not come with netray-plugin-pytorch"
    # The TorchScript plugin installs without torch (it is an extra) and then says what
    # to install; reading the archive with torch present is covered in test_plugin_torchscript.
    pip(str(src / "plugins" / "torchscript"))
    result = info(jit)
    assert result.returncode == 2
    assert "needs PyTorch: pip install torch" in result.stderr, result.stderr
