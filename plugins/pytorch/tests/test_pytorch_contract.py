"""The PyTorch plugin keeps plugin contract 1.0 (netray.testing) on files torch writes."""

from __future__ import annotations

from pathlib import Path

import pytest

import netray.testing
import netray_pytorch.plugin as plugin

torch = pytest.importorskip("torch")


def test_contract_on_a_state_dict_a_checkpoint_and_an_exported_program(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(4))
    net(torch.zeros(1, 3, 8, 8))
    torch.save(net.state_dict(), tmp_path / "net.pth")
    torch.save({"model": net.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    torch.export.save(torch.export.export(net.eval(), (torch.zeros(1, 3, 8, 8),)), tmp_path / "net.pt2")
    files = [tmp_path / "net.pth", tmp_path / "ckpt.pt", tmp_path / "net.pt2"]
    state, checkpoint, program = netray.testing.check_plugin(plugin, files, tmp_path / "checks")
    assert state.weights_only and len(state.tensors) == len(net.state_dict())
    assert checkpoint.metadata["epoch"] == 3
    assert program.main.nodes and not program.weights_only
