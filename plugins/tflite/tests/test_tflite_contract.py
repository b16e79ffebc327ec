"""The TFLite plugin keeps plugin contract 1.0 (netray.testing) on the real files."""

from __future__ import annotations

from pathlib import Path

import netray
import netray.testing
import netray_tflite.plugin as plugin


def test_contract_on_every_real_file(shared_models: Path, tmp_path: Path) -> None:
    files = sorted((shared_models / "tflite").rglob("*.tflite"))
    assert len(files) >= 5
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    assert all(m.format == "TFLite" and m.main.nodes for m in models)


def test_string_tensors_come_back_as_strings(shared_models: Path) -> None:
    model = netray.load_model(shared_models / "tflite" / "tf_serving" / "parse_example.tflite")
    strings = {name: t.numpy().tolist() for name, t in model.all_tensors() if t.dtype == "string"}
    assert strings["ParseExample/ParseExampleV2/dense_keys"] == ["x", "y"]
    assert strings["ParseExample/key_y"] == ["missing"]
