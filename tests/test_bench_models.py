"""The benchmark generators (bench/models.py) build what they claim, at small sizes."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

BENCH_MODELS = Path(__file__).resolve().parent.parent / "bench" / "models.py"


def load_bench_models():
    spec = importlib.util.spec_from_file_location("bench_models", BENCH_MODELS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_models"] = module
    spec.loader.exec_module(module)
    return module


bench_models = load_bench_models()


def name_scopes(node) -> list[str]:
    """The module scopes the dynamo exporter records in a node's metadata."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            return literal_list(prop.value)
    return []


def literal_list(text: str) -> list[str]:
    """Parse "['', 'model', 'model.layers.0']" without eval."""
    import ast

    return [str(item) for item in ast.literal_eval(text)]


@pytest.mark.parametrize("count", [1000, 7, 13])
def test_flat_has_exactly_n_unscoped_nodes(count: int) -> None:
    model = bench_models.flat_model(count)
    onnx.checker.check_model(model, full_check=True)
    names = [node.name for node in model.graph.node]
    assert len(names) == count
    assert len(set(names)) == count
    assert not any("/" in name for name in names)
    # One chain from input to output: every node's data input was written before it.
    written = {"input"} | {init.name for init in model.graph.initializer}
    for node in model.graph.node:
        assert all(name in written for name in node.input), node.name
        written.update(node.output)
    assert model.graph.node[-1].output[0] == "output"


def test_flat_uses_realistic_residual_blocks() -> None:
    ops = Counter(node.op_type for node in bench_models.flat_model(700).graph.node)
    assert ops == {"Conv": 200, "BatchNormalization": 200, "Relu": 200, "Add": 100}


@pytest.fixture(scope="module")
def unfused_two_layers(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("llama") / "unfused.onnx"
    bench_models.export_llama(path, layers=2, fused=False)
    return onnx.load(str(path))


def test_unfused_llama_has_scoped_names_per_layer(unfused_two_layers) -> None:
    onnx.checker.check_model(unfused_two_layers)
    names = [node.name for node in unfused_two_layers.graph.node]
    for layer in (0, 1):
        for part in ("self_attn", "mlp", "input_layernorm", "post_attention_layernorm"):
            assert any(name.startswith(f"/model/layers.{layer}/{part}/") for name in names), (layer, part)
    assert not any("/model/layers.2/" in name for name in names)


def test_unfused_llama_is_decomposed_into_primitive_ops(unfused_two_layers) -> None:
    ops = Counter(node.op_type for node in unfused_two_layers.graph.node)
    assert "RMSNormalization" not in ops and "Attention" not in ops
    # 7 projections and 2 attention products per layer, plus the LM head.
    assert ops["MatMul"] == 2 * 9 + 1
    assert ops["Softmax"] == 2
    assert ops["Sigmoid"] + ops["Silu"] >= 2  # SwiGLU's SiLU
    assert ops["Cos"] == 2 and ops["Sin"] == 2  # rotary tables, one per attention


def test_unfused_llama_uses_grouped_query_attention(unfused_two_layers) -> None:
    # k/v projections are narrower than q: KV_HEADS heads against HEADS, weights stored [out, in].
    weights = {init.name: tuple(init.dims) for init in unfused_two_layers.graph.initializer}
    head_dim = bench_models.HIDDEN // bench_models.HEADS
    for layer in (0, 1):
        prefix = f"model.layers.{layer}.self_attn"
        assert weights[f"{prefix}.q_proj.weight"] == (bench_models.HEADS * head_dim, bench_models.HIDDEN)
        assert weights[f"{prefix}.k_proj.weight"] == (bench_models.KV_HEADS * head_dim, bench_models.HIDDEN)
        assert weights[f"{prefix}.v_proj.weight"] == (bench_models.KV_HEADS * head_dim, bench_models.HIDDEN)
        assert weights[f"model.layers.{layer}.mlp.gate_proj.weight"] == (bench_models.FFN, bench_models.HIDDEN)


def test_fused_llama_keeps_fused_ops_and_records_scopes(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    path = tmp_path / "fused.onnx"
    bench_models.export_llama(path, layers=2, fused=True)
    model = onnx.load(str(path))
    ops = Counter(node.op_type for node in model.graph.node)
    assert ops["RMSNormalization"] == 2 * 2 + 1
    assert ops["Attention"] == 2
    scopes = {scope for node in model.graph.node for scope in name_scopes(node)}
    assert {"model.layers.0.self_attn", "model.layers.1.mlp", "model.norm"} <= scopes
    assert not any(scope.startswith("model.layers.2") for scope in scopes)


def test_build_caches_by_content_key(tmp_path: Path) -> None:
    first = bench_models.build("light_resnet50", tmp_path)
    assert first["build_s"] is not None
    assert first["nodes"] == len(onnx.load(first["path"]).graph.node)
    assert first["bytes"] == Path(first["path"]).stat().st_size
    again = bench_models.build("light_resnet50", tmp_path)
    assert again["build_s"] is None and again["key"] == first["key"]
    forced = bench_models.build("light_resnet50", tmp_path, force=True)
    assert forced["build_s"] is not None


def test_content_keys_differ_per_model() -> None:
    keys = {bench_models.content_key(name) for name in bench_models.MODEL_NAMES}
    assert len(keys) == len(bench_models.MODEL_NAMES)


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown benchmark model"):
        bench_models.build("nope", tmp_path)


@pytest.fixture(scope="module")
def llama100(tmp_path_factory: pytest.TempPathFactory):
    """The benchmark's 100-layer unfused Llama, exported by torch (random weights)."""
    pytest.importorskip("torch")
    import netray

    path = tmp_path_factory.mktemp("llama100") / "llama100.onnx"
    bench_models.export_llama(path, layers=100, fused=False)
    return netray.load_model(path).main


def test_hierarchy_finds_the_100_decoder_layers_from_scopes(llama100) -> None:
    from netray.hierarchy import Hierarchy

    hierarchy = Hierarchy.build(llama100)
    repeats = [g for g in hierarchy.groups.values() if g.kind == "repeat"]
    layers = [g for g in repeats if len(g.children) == 100]
    assert len(layers) == 1, [(g.id, len(g.children)) for g in repeats]
    assert [c.label for c in layers[0].children][:2] == ["layers.0", "layers.1"]


def test_folding_finds_the_100_decoder_layers_without_scopes(llama100) -> None:
    """With every scope removed (a flat export), folding alone finds the layers as repeats of one block."""
    from netray.hierarchy import Hierarchy

    saved = [node.scope for node in llama100.nodes]
    try:
        for node in llama100.nodes:
            node.scope = ()
        hierarchy = Hierarchy.build(llama100)
    finally:
        for node, scope in zip(llama100.nodes, saved, strict=True):
            node.scope = scope
    repeats = [g for g in hierarchy.groups.values() if g.kind == "repeat" and len(g.children) == 100]
    assert len(repeats) == 1, [(g.id, g.kind, len(g.children)) for g in hierarchy.groups.values() if g.kind == "repeat"]
    blocks = repeats[0].children
    ops = [[llama100.nodes[i].op for i in hierarchy.order[b.start : b.end]] for b in blocks]
    assert all(seq == ops[1] for seq in ops[1:-1])  # one block, 100 times
    assert repeats[0].op_count > 0.9 * len(llama100.nodes)
