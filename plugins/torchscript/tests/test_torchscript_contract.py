"""The TorchScript plugin keeps plugin contract 1.0 (netray.testing) on the real archives."""

from __future__ import annotations

from pathlib import Path

import pytest

import netray.testing

pytest.importorskip("torch")
import netray_torchscript.plugin as plugin


def test_contract_on_every_real_archive(shared_models: Path, tmp_path: Path) -> None:
    files = sorted((shared_models / "torchscript").rglob("*.jit"))
    assert len(files) >= 5
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    assert all(m.format == "PyTorch TorchScript" and m.main.nodes for m in models)
