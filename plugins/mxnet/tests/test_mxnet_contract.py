"""The MXNet plugin keeps plugin contract 1.0 (netray.testing) on the real files."""

from __future__ import annotations

from pathlib import Path

import netray.testing
import netray_mxnet.plugin as plugin


def test_contract_on_every_real_file(shared_models: Path, tmp_path: Path) -> None:
    files = sorted((shared_models / "mxnet").rglob("*.json")) + sorted((shared_models / "mxnet").rglob("*.params"))
    assert len(files) >= 12
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    assert all(m.format == "MXNet" for m in models)
