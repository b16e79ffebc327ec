"""The Keras plugin keeps plugin contract 1.0 (netray.testing) on the real files."""

from __future__ import annotations

from pathlib import Path

import netray.testing
import netray_keras.plugin as plugin


def test_contract_on_every_real_file(shared_models: Path, tmp_path: Path) -> None:
    files = sorted(p for p in (shared_models / "keras").rglob("*") if p.suffix in (".h5", ".hdf5", ".keras"))
    assert len(files) >= 7
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    assert all(m.format.startswith("Keras") and m.main.nodes for m in models)
