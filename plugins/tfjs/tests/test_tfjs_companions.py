"""A weight shard opens the model JSON beside it whose weightsManifest lists it, whatever that JSON's
name; two that list it cannot be told apart (one line names both); a JSON elsewhere is never read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import netray
from netray_tfjs import plugin

NSFW = "tfjs/nsfwjs_mobilenet_v2"


def copy_model(shared_models: Path, folder: Path, json_name: str = "model.json") -> Path:
    folder.mkdir(parents=True)
    shutil.copy(shared_models / NSFW / "model.json", folder / json_name)
    return Path(shutil.copy(shared_models / NSFW / "group1-shard1of1", folder))


def test_a_renamed_model_json_is_found_by_its_manifest(shared_models: Path, tmp_path: Path) -> None:
    shard = copy_model(shared_models, tmp_path / "renamed", "nsfw_mobilenet.json")
    claim = plugin.netray_sniff(shard, shard.read_bytes()[:4096])
    assert claim is not None and claim.confidence == 0.9
    model = netray.load_model(shard)
    assert model.source == shard.with_name("nsfw_mobilenet.json")
    assert model.properties["opened from"] == "group1-shard1of1, a weight shard of nsfw_mobilenet.json"
    assert model.main.nodes and all(w.initializer.has_data for w in model.main.weights())


def test_a_shard_two_model_jsons_list_is_one_line_naming_both(shared_models: Path, tmp_path: Path) -> None:
    shard = copy_model(shared_models, tmp_path / "two")
    shutil.copy(shard.with_name("model.json"), shard.with_name("copy.json"))
    with pytest.raises(netray.FormatError) as caught:
        netray.load_model(shard)
    assert str(caught.value) == f"{shard}: TensorFlow.js layers model: a weight shard of 2 models (model.json, copy.json): open one of them"


def test_a_model_json_linked_from_elsewhere_is_not_read(shared_models: Path, tmp_path: Path) -> None:
    shard = copy_model(shared_models, tmp_path / "linked")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shard.with_name("model.json").rename(elsewhere / "model.json")
    try:
        shard.with_name("model.json").symlink_to(elsewhere / "model.json")
    except OSError:
        pytest.skip("no symlinks on this file system")
    assert plugin.netray_sniff(shard, shard.read_bytes()[:4096]) is None
