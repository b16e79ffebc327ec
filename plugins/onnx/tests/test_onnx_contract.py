"""The ONNX plugin keeps plugin contract 1.0 (netray.testing) on real files."""

from __future__ import annotations

from pathlib import Path

import netray.testing
import netray_onnx.plugin as plugin

REPO = Path(__file__).resolve().parents[3]


def test_contract_on_the_bundled_sample(tmp_path: Path) -> None:
    (model,) = netray.testing.check_plugin(plugin, [REPO / "docs" / "sample" / "netray-sample.onnx"], tmp_path)
    assert model.format == "ONNX" and len(model.main.nodes) > 50
