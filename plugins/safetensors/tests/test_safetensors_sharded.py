"""Sharded safetensors models: an index JSON and its shards, as transformers writes them.

The shards are written with ``safetensors.torch.save_file`` (bf16 and float32, ``{"format":
"pt"}`` metadata as transformers gives each shard); the index follows transformers'
``model.safetensors.index.json`` (``metadata.total_size`` and a sorted ``weight_map``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
from netray import FormatError
from netray.plugins import PluginManager

netray_safetensors = pytest.importorskip("netray_safetensors")
from netray_safetensors import plugin  # noqa: E402

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")

INDEX = "model.safetensors.index.json"


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "safetensors")
    return pm


def tiny_llama() -> dict[str, torch.Tensor]:
    """A two-block decoder's state_dict: bf16 weights, float32 norms."""
    torch.manual_seed(0)
    tensors: dict[str, torch.Tensor] = {"model.embed_tokens.weight": torch.randn(32, 8).to(torch.bfloat16)}
    for layer in range(2):
        prefix = f"model.layers.{layer}"
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            tensors[f"{prefix}.self_attn.{proj}.weight"] = torch.randn(8, 8).to(torch.bfloat16)
        tensors[f"{prefix}.mlp.up_proj.weight"] = torch.randn(16, 8).to(torch.bfloat16)
        tensors[f"{prefix}.mlp.down_proj.weight"] = torch.randn(8, 16).to(torch.bfloat16)
        tensors[f"{prefix}.input_layernorm.weight"] = torch.ones(8)
    tensors["model.norm.weight"] = torch.ones(8)
    tensors["lm_head.weight"] = torch.randn(32, 8).to(torch.bfloat16)
    return tensors


def write_sharded(folder: Path, tensors: dict[str, torch.Tensor], shards: int = 3) -> Path:
    """Shards of about equal size in key order, and the index beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(tensors)
    groups = [names[k::shards] for k in range(shards)]
    weight_map: dict[str, str] = {}
    total = 0
    for k, group in enumerate(groups, start=1):
        shard = f"model-{k:05d}-of-{shards:05d}.safetensors"
        st_torch.save_file({n: tensors[n] for n in group}, str(folder / shard), metadata={"format": "pt"})
        for n in group:
            weight_map[n] = shard
            total += tensors[n].numel() * tensors[n].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return folder / INDEX


def as_float(t: torch.Tensor) -> np.ndarray:
    return t.float().numpy()


def test_the_index_opens_all_shards_as_one_model(tmp_path: Path) -> None:
    tensors = tiny_llama()
    index = write_sharded(tmp_path / "llama", tensors)
    model = netray.testing.check_plugin(plugin, [index], tmp_path / "checks")[0]
    assert model.format == "safetensors" and model.graphs == []
    assert set(model.tensors) == set(tensors)
    for name, expected in tensors.items():
        tensor = model.tensors[name]
        assert tensor.shape == tuple(expected.shape)
        assert tensor.dtype == ("bfloat16" if expected.dtype == torch.bfloat16 else "float32")
        assert np.array_equal(tensor.numpy().astype(np.float32), as_float(expected)), name
    # Shard by shard, each in its file's order.
    shard_of = json.loads(index.read_text())["weight_map"]
    order = [shard_of[n] for n in model.tensors]
    assert order == sorted(order)
    assert model.tensors["lm_head.weight"].location.startswith(shard_of["lm_head.weight"] + " @ ")
    assert model.metadata == {"total_size": json.loads(index.read_text())["metadata"]["total_size"], "format": "pt"}
    assert model.properties["shards"] == 3 and model.properties["tensors"] == len(tensors)
    assert model.properties["parameters"] == sum(t.numel() for t in tensors.values())
    assert "total_size check" not in model.properties and "index problems" not in model.properties


def test_netray_load_model_finds_the_index_by_its_content(tmp_path: Path) -> None:
    index = write_sharded(tmp_path / "m", tiny_llama(), shards=2)
    renamed = index.with_name("weights.json")  # not the usual name: the weight_map proves it
    index.rename(renamed)
    model = netray.load_model(renamed)
    assert model.properties["shards"] == 2


def test_a_shard_opens_the_whole_model_of_its_index(tmp_path: Path) -> None:
    tensors = tiny_llama()
    index = write_sharded(tmp_path / "llama", tensors)
    shard = index.parent / "model-00002-of-00003.safetensors"
    model = manager().load(shard)
    whole = manager().load(index)
    assert sorted(model.tensors) == sorted(whole.tensors) == sorted(tensors)
    assert model.properties["opened from"] == f"{shard.name}, shard 2 of 3 listed by {INDEX}"
    assert model.properties["shards"] == 3
    for name, tensor in tensors.items():
        assert np.array_equal(model.tensors[name].numpy().astype(np.float32), tensor.float().numpy()), name


def test_a_shard_of_two_indexes_or_of_none_opens_on_its_own(tmp_path: Path) -> None:
    tensors = tiny_llama()
    index = write_sharded(tmp_path / "llama", tensors)
    shard = index.parent / "model-00002-of-00003.safetensors"
    listed = [n for n, s in json.loads(index.read_text())["weight_map"].items() if s == shard.name]
    shutil.copy(index, index.with_name("copy.safetensors.index.json"))
    model = manager().load(shard)
    assert sorted(model.tensors) == sorted(listed)
    assert model.properties["shard"] == (
        f"listed by 2 indexes (copy.safetensors.index.json, {INDEX}): opened on its own; open one of them for the whole model"
    )
    assert model.metadata == {"format": "pt"}
    index.unlink()
    index.with_name("copy.safetensors.index.json").unlink()
    alone = manager().load(shard)
    assert alone.properties["shard"] == "2 of 3 by the file's name (no index file beside it)"


def test_a_shard_whose_index_is_broken_opens_on_its_own(tmp_path: Path) -> None:
    index = write_sharded(tmp_path / "llama", tiny_llama())
    shard = index.parent / "model-00002-of-00003.safetensors"
    (index.parent / "model-00003-of-00003.safetensors").write_bytes(b"\xff" * 16)  # another shard, damaged
    model = manager().load(shard)
    assert model.properties["shard"].startswith(f"shard 2 of 3 listed by {INDEX}, which was not read (")
    assert model.properties["shard"].endswith("): opened on its own")


def test_a_missing_shard_leaves_its_tensors_listed_but_not_stored(tmp_path: Path) -> None:
    tensors = tiny_llama()
    index = write_sharded(tmp_path / "llama", tensors)
    (index.parent / "model-00003-of-00003.safetensors").unlink()
    model = manager().load(index)
    assert set(model.tensors) == set(tensors)
    assert model.properties["missing shards"] == ["model-00003-of-00003.safetensors"]
    absent = [n for n, s in json.loads(index.read_text())["weight_map"].items() if s.startswith("model-00003")]
    for name in absent:
        tensor = model.tensors[name]
        assert not tensor.has_data and tensor.location == "model-00003-of-00003.safetensors (missing)"
        with pytest.raises(FormatError, match="not stored"):
            tensor.numpy()
    present = model.tensors["model.embed_tokens.weight"]
    assert present.has_data and np.array_equal(present.numpy().astype(np.float32), as_float(tensors["model.embed_tokens.weight"]))
    netray.testing.check_model(model, tmp_path / "checked")


def test_index_and_shards_that_disagree_are_reported(tmp_path: Path) -> None:
    tensors = tiny_llama()
    index = write_sharded(tmp_path / "llama", tensors, shards=2)
    doc = json.loads(index.read_text())
    doc["weight_map"]["ghost.weight"] = "model-00001-of-00002.safetensors"  # listed, not in the shard
    del doc["weight_map"]["lm_head.weight"]  # in a shard, not listed
    doc["metadata"]["total_size"] += 2
    index.write_text(json.dumps(doc))
    model = manager().load(index)
    problems = model.properties["index problems"]
    assert isinstance(problems, list) and len(problems) == 2
    assert any("not in the weight_map" in p and "lm_head.weight" in p for p in problems)
    assert any("not in it" in p and "ghost.weight" in p for p in problems)
    assert not model.tensors["ghost.weight"].has_data and model.tensors["lm_head.weight"].has_data
    assert str(model.properties["total_size check"]).startswith("the index states")


def test_shards_that_disagree_on_metadata_keep_each_value(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    st_torch.save_file({"a": torch.ones(2)}, str(folder / "a.safetensors"), metadata={"format": "pt", "step": "1"})
    st_torch.save_file({"b": torch.ones(2)}, str(folder / "b.safetensors"), metadata={"format": "pt", "step": "2"})
    (folder / INDEX).write_text(json.dumps({"weight_map": {"a": "a.safetensors", "b": "b.safetensors"}}))
    model = manager().load(folder / INDEX)
    assert model.metadata == {"format": "pt", "a.safetensors: step": "1", "b.safetensors: step": "2"}


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "sub/../../outside.safetensors"])
def test_a_shard_outside_the_folder_is_refused(tmp_path: Path, shard: str) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    st_torch.save_file({"a": torch.ones(2)}, str(tmp_path / "outside.safetensors"))
    (folder / INDEX).write_text(json.dumps({"weight_map": {"a": shard}}))
    with pytest.raises(FormatError, match="not a file inside the index's folder") as caught:
        manager().load(folder / INDEX)
    assert INDEX in str(caught.value) and "\n" not in str(caught.value)


def test_a_shard_linking_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    st_torch.save_file({"a": torch.ones(2)}, str(tmp_path / "elsewhere.safetensors"))
    (folder / "model.safetensors").symlink_to(tmp_path / "elsewhere.safetensors")
    (folder / INDEX).write_text(json.dumps({"weight_map": {"a": "model.safetensors"}}))
    with pytest.raises(FormatError, match="link to a file outside"):
        manager().load(folder / INDEX)


def test_the_hugging_face_cache_layout_opens(tmp_path: Path) -> None:
    """huggingface_hub keeps files in <repo>/blobs/<hash> and links them from snapshots/<revision>/."""
    source = write_sharded(tmp_path / "written", tiny_llama(), shards=2).parent
    repo = tmp_path / "hub" / "models--org--tiny"
    blobs = repo / "blobs"
    snapshot = repo / "snapshots" / "0123abcd"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for k, path in enumerate(sorted(source.iterdir())):
        blob = blobs / f"{k:040x}"
        shutil.copy(path, blob)
        (snapshot / path.name).symlink_to(Path("../../blobs") / blob.name)
    model = manager().load(snapshot / INDEX)
    assert model.properties["shards"] == 2 and all(t.has_data for t in model.tensors.values())
    assert model.tensors["model.norm.weight"].numpy().tolist() == [1.0] * 8


def test_a_pytorch_bin_index_is_not_claimed(tmp_path: Path) -> None:
    path = tmp_path / "pytorch_model.bin.index.json"
    path.write_text(json.dumps({"metadata": {"total_size": 8}, "weight_map": {"a": "pytorch_model-00001-of-00001.bin"}}))
    assert plugin.netray_sniff(path=path, head=path.read_bytes()) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"metadata": {}}', "no weight_map"),
        ('{"weight_map": {}}', "weight_map is empty"),
        ('{"weight_map": {"a": 3}}', "no shard file name"),
        ('{"weight_map": {"a": "x.safetensors"}, "metadata": []}', "metadata is not a JSON object"),
        ('{"weight_map": {', "not valid JSON"),
        ('{"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}}', "appears twice"),
        ("[" * 100_000 + "]" * 100_000, "nests JSON too deeply"),
    ],
)
def test_a_broken_index_is_one_format_error(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / INDEX
    path.write_text(text)
    with pytest.raises(FormatError, match=reason) as caught:
        manager().load(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_broken_shard_names_the_shard(tmp_path: Path) -> None:
    index = write_sharded(tmp_path / "llama", tiny_llama(), shards=2)
    shard = index.parent / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(FormatError) as caught:
        manager().load(index)
    assert str(caught.value).startswith(str(shard)) and "runs past the end" in str(caught.value)
