"""The GGUF plugin on the real files in shared/models/gguf: llama.cpp's vocabulary files and a
tiny random llama-2 from ollama. The gguf package's own GGUFReader is the reference."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

import netray.testing
from netray import Category, Model
from netray.netrayfile import load, save
from netray.plugins import PluginManager
from netray_gguf import plugin as gguf_plugin

VOCAB_FILES = ["bert-bge", "falcon", "gpt-2", "llama-spm", "phi-3"]
LLAMA = "ollama/llama-2-tiny-random.gguf"


def vocab_path(root: Path, name: str) -> Path:
    return root / "gguf" / "llama_cpp" / f"ggml-vocab-{name}.gguf"


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(gguf_plugin, "gguf")
    return pm


@pytest.fixture(scope="module")
def llama(shared_models: Path, manager: PluginManager) -> Model:
    return manager.load(shared_models / "gguf" / LLAMA)


def test_contract_on_the_llama_file(shared_models: Path, tmp_path: Path) -> None:
    files = [shared_models / "gguf" / LLAMA]
    netray.testing.check_plugin(gguf_plugin, files, tmp_path)


@pytest.mark.parametrize("name", VOCAB_FILES)
def test_vocab_files_are_key_values_only(
    shared_models: Path, manager: PluginManager, tmp_path: Path, name: str
) -> None:
    """No tensors and no graph: check_model refuses such a model ("neither a graph nor named
    tensors"), so its other checks run here: claim, typed metadata, the .netray round trip."""
    path = vocab_path(shared_models, name)
    netray.testing.check_sniff(gguf_plugin, tmp_path / "foreign", [path])
    found = manager.detect(path)
    assert found is not None and found[1].confidence == 1.0
    model = manager.load(path)
    assert model.format == "GGUF" and model.format_version == "3"
    assert model.graphs == [] and model.tensors == {} and model.weights_only
    for key, value in model.metadata.items():
        assert netray.testing._is_meta(value), key
    saved = load(save(model, tmp_path / "vocab.netray", weights=False))
    assert saved.metadata == model.metadata
    assert "vocabulary-only" in str(model.properties["structure"])


@pytest.mark.parametrize("name", [*VOCAB_FILES, "llama-2"])
def test_key_values_match_gguf_reader(shared_models: Path, manager: PluginManager, name: str) -> None:
    """Every key/value, with its type and whole arrays, as llama.cpp's own Python reader reads it."""
    path = shared_models / "gguf" / LLAMA if name == "llama-2" else vocab_path(shared_models, name)
    model = manager.load(path)
    reader = gguf.GGUFReader(path)
    expected = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert list(model.metadata) == list(expected)
    for key, value in expected.items():
        got = model.metadata[key]
        assert got == value, key
        assert type(got) is type(value), key
        if isinstance(value, list) and value:
            assert type(got[0]) is type(value[0]), key
    assert model.properties["key/value count"] == len(expected)
    assert model.properties["GGUF version"] == reader.fields["GGUF.version"].contents()


def test_vocab_contents(shared_models: Path, manager: PluginManager) -> None:
    falcon = manager.load(vocab_path(shared_models, "falcon"))
    assert len(falcon.metadata["tokenizer.ggml.tokens"]) == 65024  # kept whole, not cut
    assert len(falcon.metadata["tokenizer.ggml.merges"]) == 64784
    assert falcon.metadata["tokenizer.ggml.merges"][:2] == ["Ġ t", "Ġ a"]
    assert falcon.metadata["falcon.attention.head_count"] == 71
    assert falcon.metadata["falcon.attention.layer_norm_epsilon"] == pytest.approx(1e-5)
    assert falcon.description == "Falcon; falcon architecture"
    assert falcon.properties["file type"] == "MOSTLY_F16"
    bert = manager.load(vocab_path(shared_models, "bert-bge"))
    assert bert.metadata["bert.attention.causal"] is False
    llama = manager.load(vocab_path(shared_models, "llama-spm"))
    assert llama.metadata["tokenizer.ggml.add_bos_token"] is True
    assert isinstance(llama.metadata["tokenizer.ggml.scores"][0], float)
    phi3 = manager.load(vocab_path(shared_models, "phi-3"))
    assert str(phi3.metadata["tokenizer.chat_template"]).startswith("{{ bos_token }}")


def test_llama_tensors(llama: Model, shared_models: Path) -> None:
    reader = gguf.GGUFReader(shared_models / "gguf" / LLAMA)
    assert list(llama.tensors) == [t.name for t in reader.tensors]
    for rt in reader.tensors:
        t = llama.tensors[rt.name]
        assert t.shape == tuple(reversed(rt.shape.tolist()))  # numpy order: ggml's ne reversed
        assert t.dtype == {"F16": "float16", "F32": "float32"}[rt.tensor_type.name]
        assert t.byte_size == rt.n_bytes
        values = t.numpy()
        assert values.dtype == rt.data.dtype and values.shape == t.shape
        assert np.array_equal(values, rt.data)
    assert llama.tensors["token_embd.weight"].shape == (32000, 8)
    assert llama.properties["parameters"] == llama.parameter_count() == 513048
    assert llama.properties["bytes F16"] == 1026048 and llama.properties["bytes F32"] == 96
    assert llama.description == "LLaMA v2; llama architecture"


def test_llama_inferred_graph(llama: Model) -> None:
    g = llama.main
    assert g.inferred == "inferred from tensor names and llama.* metadata; GGUF stores no graph"
    ops = [n.op for n in g.nodes]
    assert ops[0] == "Embedding" and ops[-2:] == ["RMSNorm", "Linear"]
    block = [n for n in g.nodes if n.scope[:1] == ("blk.0",)]
    assert [n.op for n in block if n.scope[1] == "attn"] == [
        "RMSNorm",
        "Linear",
        "Linear",
        "Linear",
        "Attention",
        "Linear",
        "Add",
    ]
    assert sorted(n.op for n in block if n.scope[1] == "ffn") == sorted(
        ["RMSNorm", "Linear", "Linear", "SiLU", "Mul", "Linear", "Add"]
    )
    assert len(g.nodes) == 3 + 14
    # Every tensor is a weight of a node, the same object as in Model.tensors.
    weights = {v.name: v.initializer for n in g.nodes for v in n.weights()}
    assert set(weights) == set(llama.tensors)
    assert all(weights[name] is llama.tensors[name] for name in weights)
    by_name = {n.name: n for n in g.nodes}
    attn = by_name["blk.0.attn"]
    assert attn.attribute("attention.head_count").value == 2
    assert attn.attribute("context_length").value == 4096
    assert attn.category is Category.LAYER
    q = next(attn.input_values())
    assert q.type.shape == ("seq", 2, 4)  # 2 heads of 4
    assert by_name["token_embd"].outputs[0].values[0].type.shape == ("seq", 8)
    assert g.outputs[0].type.shape == ("seq", 32000)
    assert g.inputs[0].type.dtype == "int32"
    assert g.inputs[0].description == "token ids; seq is at most context_length 4,096"
