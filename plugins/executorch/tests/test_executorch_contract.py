"""The ExecuTorch plugin keeps plugin contract 1.0 (netray.testing) on programs ExecuTorch wrote."""

from __future__ import annotations

from pathlib import Path

import executorch_exports as exports

import netray.testing
import netray_executorch.plugin as plugin


def test_contract_on_every_exported_program(tmp_path: Path) -> None:
    files = [build().path for build in exports.ALL]
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    assert all(m.format == "ExecuTorch" and m.graphs and m.main.nodes for m in models)


def test_operator_info_names_arguments_from_the_schema() -> None:
    info = plugin.netray_operator_info("ExecuTorch", "aten", "aten::convolution.out")
    assert info is not None and info.category == netray.Category.LAYER
    assert [name for name, _ in info.inputs][:3] == ["input", "weight", "bias"]
    assert [name for name, _ in info.outputs] == ["out"]
    xnn = plugin.netray_operator_info("ExecuTorch", "xnnpack", "XNNFullyConnected")
    assert xnn is not None and xnn.category == netray.Category.LAYER
    assert plugin.netray_operator_info("ExecuTorch", "delegate", "JumpFalseCall") is not None
    assert plugin.netray_operator_info("TFLite", "aten", "aten::add.out") is None


def test_sniffing(tmp_path: Path) -> None:
    program = exports.convnet().path
    head = program.read_bytes()[:4096]
    assert plugin.netray_sniff(program, head).confidence == 1.0
    other = tmp_path / "other.pte"
    assert plugin.netray_sniff(other, b"\x10\x00\x00\x00ET13" + bytes(8)).confidence == 0.5
    assert plugin.netray_sniff(tmp_path / "x.bin", b"\x10\x00\x00\x00ET13" + bytes(8)) is None
    assert plugin.netray_sniff(tmp_path / "x.tflite", b"\x10\x00\x00\x00TFL3" + bytes(8)) is None
