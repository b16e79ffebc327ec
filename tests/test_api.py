"""The public Python API: docs/api.md's examples run as written; round trips of in-memory models; show()."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_netrayfile import assert_same, round_trip

import netray

REPO = Path(__file__).resolve().parent.parent
API_DOC = REPO / "docs" / "api.md"
SAMPLE = REPO / "docs" / "sample" / "netray-sample.onnx"


def code_blocks(markdown: str, info: str = "python") -> list[str]:
    """The bodies of the fenced blocks whose info string is exactly ``info``."""
    return [m.group(1) for m in re.finditer(r"^```" + re.escape(info) + r"[ \t]*\n(.*?)^```[ \t]*$", markdown, re.M | re.S)]


def test_docs_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Every ```python block of docs/api.md, in order, in a folder holding the sample model."""
    blocks = code_blocks(API_DOC.read_text())
    assert len(blocks) >= 8
    shutil.copy(SAMPLE, tmp_path / SAMPLE.name)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"docs/api.md python block {number} failed: {type(exc).__name__}: {exc}\n{block}") from exc
    printed = capsys.readouterr().out
    assert "Model('ONNX', 1 graphs)" in printed
    assert "cannot read: " in printed
    assert "cannot export to .bmp" in printed
    for name in ("sample.svg", "sample-dark.png", "sample.pdf", "sample.json", "copy.netray", "sample.netray", "structure-only.netray"):
        assert (tmp_path / name).stat().st_size > 0


def test_every_public_call_is_documented() -> None:
    text = API_DOC.read_text()
    for name in ("load_model", "save_model", "export", "show"):
        assert callable(getattr(netray, name))
        assert f"netray.{name}(" in text
        assert getattr(netray, name).__doc__


def test_importing_the_exporter_module_keeps_the_export_function() -> None:
    import netray.exporter
    import netray.notebook

    assert callable(netray.export) and netray.export.__module__ == "netray.api"


def test_onnx_model_proto_round_trip(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from test_netrayfile import onnx_model_with_subgraphs

    original = netray.load_model(onnx_model_with_subgraphs())
    assert isinstance(original, netray.Model) and original.format.startswith("ONNX")
    assert_same(original, round_trip(original, tmp_path), data=True)
    # An in-memory object exports like a file.
    out = netray.export(onnx.load(SAMPLE, load_external_data=False), tmp_path / "proto.svg")
    assert b"<text" in out.read_bytes()


def test_keras_model_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "keras" not in sys.modules:
        monkeypatch.setenv("KERAS_BACKEND", "torch")  # keras 3 needs a backend; torch is installed here
    keras = pytest.importorskip("keras")
    inputs = keras.Input((16,), name="features")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    normal = keras.layers.LayerNormalization(name="norm")(hidden)
    outputs = keras.layers.Dense(3, activation="softmax", name="classes")(normal)
    model = keras.Model(inputs, outputs, name="tiny")
    try:
        original = netray.load_model(model)
    except netray.NoReaderError:
        pytest.skip("no installed plugin reads keras models")
    assert {"hidden", "norm", "classes"} <= {n.name for n in original.main.nodes}
    loaded = round_trip(original, tmp_path)
    assert_same(original, loaded, data=True)
    kernel = next(v for v in loaded.main.weights() if v.initializer is not None and v.initializer.shape == (16, 8))
    assert np.array_equal(kernel.initializer.numpy(), model.get_layer("hidden").kernel.numpy())  # type: ignore[union-attr]


def test_show_in_a_script_without_a_display_is_a_clear_error() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    code = (
        "import netray\n"
        "try:\n"
        f"    netray.show({str(SAMPLE)!r})\n"
        "except RuntimeError as e:\n"
        "    print('refused:', e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "refused: netray.show needs a display" in result.stdout
    assert "netray.export" in result.stdout


def test_show_in_a_script_opens_the_viewer_on_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With a display, show() hands the file to the viewer's run(); an in-memory model goes as a .netray copy."""
    from netray_viewer import frontend

    opened: list[tuple[str, str]] = []

    def fake_run(path: str | None = None, expand: str = "auto") -> int:
        assert path is not None
        opened.append((path, expand))
        assert len(netray.load_model(path).main.nodes) == len(model.main.nodes)
        return 0

    monkeypatch.setattr(frontend, "run", fake_run)  # what netray-core finds through the netray.app entry point
    monkeypatch.setenv("DISPLAY", ":99")
    model = netray.load_model(SAMPLE)
    assert netray.show(SAMPLE, expand=1) == 0
    assert opened[-1] == (str(SAMPLE), "1")
    model.source = None  # as if built in memory
    assert netray.show(model) == 0
    assert opened[-1][0].endswith(".netray") and opened[-1][1] == "auto"


class SmallNet:
    """A tiny convolutional network with random weights, made on demand (torch imported lazily)."""

    @staticmethod
    def build() -> Any:
        torch = pytest.importorskip("torch")
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(8, 4),
        ).eval()


def write_exported_program(path: Path) -> None:
    import torch

    program = torch.export.export(SmallNet.build(), (torch.randn(1, 3, 16, 16),))
    torch.export.save(program, path)


def write_state_dict(path: Path) -> None:
    import torch

    torch.save(SmallNet.build().state_dict(), path)


def write_onnx_text(path: Path) -> None:
    import onnx

    path.write_text(onnx.printer.to_text(onnx.load(SAMPLE, load_external_data=False)))


# Formats whose round trip tests/test_netrayfile.py does not cover (it has no such shared file).
GENERATED = {
    "model.pt2": (write_exported_program, "PyTorch ExportedProgram"),
    "weights.pt": (write_state_dict, "PyTorch state_dict"),
    "model.onnxtxt": (write_onnx_text, "ONNX"),  # read as ONNX, from its text form
}


@pytest.mark.parametrize("name", list(GENERATED))
def test_round_trip_of_generated_files(name: str, tmp_path: Path) -> None:
    pytest.importorskip("torch" if name.endswith(("pt2", ".pt")) else "onnx")
    write, expected_format = GENERATED[name]
    path = tmp_path / name
    write(path)
    original = netray.load_model(path)
    assert original.format.startswith(expected_format), original.format
    assert original.graphs or original.tensors
    assert_same(original, round_trip(original, tmp_path), data=True)
