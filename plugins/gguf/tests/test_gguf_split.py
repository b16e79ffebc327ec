"""Split GGUF models (gguf-py's GGUFWriter with ``split_max_tensors``, as llama.cpp's converter
writes them): opening any shard opens the whole model, read from every shard beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter

import netray
import netray.testing
from netray.plugins import PluginManager
from netray_gguf import plugin

LAYER_TENSORS = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "gguf")
    return pm


def write_split(folder: Path, per_shard: int = 4) -> tuple[list[Path], dict[str, np.ndarray]]:
    """A two-block llama split into shards of ``per_shard`` tensors; the shards and every tensor's values."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    values: dict[str, np.ndarray] = {"token_embd.weight": rng.standard_normal((32, 8), dtype=np.float32)}
    for block in range(2):
        for kind in LAYER_TENSORS:
            shape = (8,) if kind.endswith("norm") else (16, 8) if kind in ("ffn_gate", "ffn_up") else (8, 16) if kind == "ffn_down" else (8, 8)
            values[f"blk.{block}.{kind}.weight"] = rng.standard_normal(shape, dtype=np.float32)
    values["output_norm.weight"] = rng.standard_normal((8,), dtype=np.float32)
    values["output.weight"] = rng.standard_normal((32, 8), dtype=np.float32)
    writer = GGUFWriter(folder / "tiny.gguf", "llama", split_max_tensors=per_shard)
    writer.add_name("tiny split llama")
    writer.add_block_count(2)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_feed_forward_length(16)
    writer.add_head_count(2)
    for name, array in values.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    shards = sorted(folder.glob("tiny-*-of-*.gguf"))
    assert len(shards) == -(-len(values) // per_shard) > 2
    return shards, values


def test_every_shard_opens_the_whole_model(tmp_path: Path) -> None:
    shards, values = write_split(tmp_path / "split")
    count = len(shards)
    models = netray.testing.check_plugin(plugin, shards, tmp_path / "check")
    for number, (shard, model) in enumerate(zip(shards, models, strict=True), start=1):
        assert sorted(model.tensors) == sorted(values), shard.name
        assert model.metadata["general.name"] == "tiny split llama"  # the first shard's key/values
        assert model.properties["split"] == (
            f"{count} shards (tiny-00001-of-{count:05d}.gguf ... tiny-{count:05d}-of-{count:05d}.gguf): "
            f"{count} read, holding {len(values)} tensors"
        )
        assert model.properties["tensor count"] == len(values)
        assert "shard problems" not in model.properties and "split tensors" not in model.properties
        if number == 1:
            assert "opened from" not in model.properties
        else:
            assert model.properties["opened from"] == f"{shard.name}, shard {number} of {count}"
        assert model.graphs and len(model.main.nodes) > 10  # the llama layout, inferred from every shard's tensors
        for name, array in values.items():
            assert np.array_equal(model.tensors[name].numpy(), array), name
            assert model.tensors[name].location.startswith("tiny-"), name


def test_a_missing_damaged_or_foreign_shard_is_named_and_the_rest_still_open(tmp_path: Path) -> None:
    shards, values = write_split(tmp_path / "split")
    count = len(shards)
    held = {shard.name: set(manager().load(shard).tensors) for shard in shards}  # (whole model each time)
    shards[1].unlink()
    shards[2].write_bytes(shards[2].read_bytes()[:20])
    model = manager().load(shards[-1])
    problems = model.properties["shard problems"]
    assert problems[0] == f"{shards[1].name}: missing"
    assert problems[1].startswith(f"{shards[2].name}: not read: ") and len(problems) == 2
    assert model.properties["split"].startswith(f"{count} shards (") and f": {count - 2} read, holding " in model.properties["split"]
    assert model.properties["split tensors"].startswith(f"the split states {len(values)} tensors; the shards read hold ")
    assert len(model.tensors) < len(values) and model.metadata["general.name"] == "tiny split llama"
    del held
    # A file of another split under a shard's name is not used.
    other, _ = write_split(tmp_path / "other", per_shard=5)
    shutil.copy(other[1], shards[1])
    model = manager().load(shards[0])
    assert any(p.startswith(f"{shards[1].name}: states split.no 1 of {len(other)}, not 1 of {count}") for p in model.properties["shard problems"])


def test_without_its_first_shard_the_key_values_are_said_to_be_missing(tmp_path: Path) -> None:
    shards, _ = write_split(tmp_path / "split")
    shards[0].unlink()
    model = manager().load(shards[1])
    assert model.properties["key/values"] == f"only {shards[1].name}'s: the first shard, which holds the model's, was not read"
    assert "general.name" not in model.metadata


def test_a_shard_that_links_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    shards, _ = write_split(tmp_path / "split")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = elsewhere / shards[1].name
    shards[1].rename(moved)
    try:
        shards[1].symlink_to(moved)
    except OSError:
        pytest.skip("no symlinks on this file system")
    model = manager().load(shards[0])
    assert model.properties["shard problems"] == [f"{shards[1].name}: a link to a file outside the folder: not read"]
