"""Models exported from PyTorch (random weights) carry module scopes and source locations.

torch 2.13's default exporter (``dynamo=True``, torch.export + onnxscript) writes
per-node ``metadata_props``: ``pkg.torch.onnx.name_scopes`` and a stack trace. The
legacy TorchScript exporter (``dynamo=False``) encodes the module path in node names
(``/layers.0/self_attn/MatMul``). Both must give the same kind of scope.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

import netray  # noqa: E402
from netray import Category  # noqa: E402


class TinyTransformer(torch.nn.Module):
    """Embedding + two encoder layers + head: the shape of a real language model, small."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(8, 16)
        self.layers = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True) for _ in range(2)
        )
        self.head = torch.nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        for layer in self.layers:
            h = layer(h)  # the line exported nodes of the layers should point at
        return self.head(h)


SOURCE_LINE = next(i for i, line in enumerate(Path(__file__).read_text().splitlines(), 1) if "h = layer(h)" in line)


def export(tmp_path: Path, dynamo: bool) -> tuple[Path, TinyTransformer]:
    torch.manual_seed(0)
    module = TinyTransformer().eval()
    path = tmp_path / ("dynamo.onnx" if dynamo else "legacy.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(1, 5, 8),), str(path), dynamo=dynamo)
    return path, module


@pytest.fixture(scope="module")
def dynamo_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TinyTransformer]:
    return export(tmp_path_factory.mktemp("dynamo"), dynamo=True)


def test_dynamo_export_scopes(dynamo_export: tuple[Path, TinyTransformer]) -> None:
    path, _ = dynamo_export
    model = netray.load_model(path)
    scopes = {n.scope for n in model.main.nodes}
    assert ("layers.0", "self_attn") in scopes
    assert ("layers.1", "self_attn") in scopes
    assert ("head",) in scopes or any(s[:1] == ("head",) for s in scopes)
    # Torch's own bookkeeping keys become scope and source; the rest stays as metadata.
    node = next(n for n in model.main.nodes if n.scope[:2] == ("layers.0", "self_attn"))
    assert "pkg.torch.onnx.name_scopes" not in node.metadata
    assert "pkg.torch.onnx.class_hierarchy" in node.metadata


def test_dynamo_export_source_locations(dynamo_export: tuple[Path, TinyTransformer]) -> None:
    model = netray.load_model(dynamo_export[0])
    in_layers = [n for n in model.main.nodes if n.scope[:1] == ("layers.0",)]
    assert in_layers and all(n.source is not None for n in in_layers)
    for node in in_layers:
        assert node.source is not None
        assert Path(node.source.file).name == Path(__file__).name
        assert node.source.line == SOURCE_LINE
        assert node.source.function == "forward" and "File" in node.source.stack


def test_dynamo_export_weights_match_the_module(dynamo_export: tuple[Path, TinyTransformer]) -> None:
    path, module = dynamo_export
    model = netray.load_model(path)
    weights = {v.name: v.initializer for v in model.main.weights()}
    state = module.state_dict()
    for name in ("layers.0.norm1.weight", "layers.0.self_attn.out_proj.weight", "layers.1.linear1.bias"):
        tensor = weights[name]  # (the exporter folds some weights into transposed copies with new names)
        assert tensor is not None and np.allclose(tensor.numpy(), state[name].numpy()), name
    # (identical constants, e.g. LayerNorm weights of ones, are shared by the exporter, so count what ONNX holds)
    proto = onnx.load(path)
    assert model.parameter_count() == sum(int(np.prod(i.dims)) for i in proto.graph.initializer)
    assert model.producer == "pytorch"
    categories = {n.op: n.category for n in model.main.nodes}
    assert categories.get("LayerNormalization") is Category.NORMALIZATION
    assert categories.get("MatMul", categories.get("Gemm")) is Category.LAYER


def test_legacy_export_scopes_from_names(tmp_path: Path) -> None:
    path, _ = export(tmp_path, dynamo=False)
    model = netray.load_model(path)
    scopes = {n.scope for n in model.main.nodes}
    assert ("layers.0", "self_attn") in scopes and ("layers.1", "self_attn") in scopes
    assert all(n.source is None for n in model.main.nodes)  # the legacy exporter records no traces
