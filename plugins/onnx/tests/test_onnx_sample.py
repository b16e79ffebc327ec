"""The bundled sample (docs/sample/netray-sample.onnx, what `make demo` opens) is small and structured."""

from __future__ import annotations

from pathlib import Path

import onnx

import netray
from netray import Category

SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "sample" / "netray-sample.onnx"


def test_sample_is_a_small_self_contained_onnx_model() -> None:
    assert SAMPLE.stat().st_size < 5 * 1024 * 1024
    proto = onnx.load(SAMPLE)
    onnx.checker.check_model(proto)
    assert all(t.data_location == onnx.TensorProto.DEFAULT for t in proto.graph.initializer)


def test_sample_has_visible_structure() -> None:
    model = netray.load_model(SAMPLE)
    nodes = model.main.nodes
    scopes = {n.scope for n in nodes}
    assert {("blocks.0", "attn"), ("blocks.1", "attn"), ("stem", "bn1"), ("head",)} <= scopes
    assert {n.category for n in nodes} >= {Category.LAYER, Category.ACTIVATION, Category.NORMALIZATION, Category.SHAPE}
    sources = [n.source for n in nodes if n.source is not None]
    assert sources and all(Path(s.file).name == "make_sample.py" for s in sources)
    assert model.parameter_count() > 50_000
