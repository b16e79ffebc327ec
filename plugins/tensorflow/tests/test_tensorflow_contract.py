"""The TensorFlow plugin keeps plugin contract 1.0 (netray.testing) on the real graphs and SavedModels."""

from __future__ import annotations

from pathlib import Path

import netray.testing
import netray_tensorflow.plugin as plugin


def test_contract_on_the_real_graphs_and_saved_models(shared_models: Path, tmp_path: Path) -> None:
    root = shared_models / "tensorflow"
    files = sorted(root.glob("frozen/*/*.pb")) + sorted(root.glob("metagraph/*/*.meta"))
    files += sorted(p.parent for p in root.glob("savedmodel/*/*/saved_model.pb"))
    assert len(files) >= 10
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    assert all(m.format.startswith("TensorFlow") for m in models)
