"""A weights .bin opens the param it belongs to (``net.bin`` beside ``net.param`` or ``net.param.bin``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import netray
from netray_ncnn import plugin


def test_the_real_bin_opens_its_param(shared_models: Path) -> None:
    weights = shared_models / "ncnn" / "nanodet" / "nanodet-m.bin"
    opened, direct = netray.load_model(weights), netray.load_model(weights.with_suffix(".param"))
    assert opened.properties["opened from"] == "nanodet-m.bin, the weights of nanodet-m.param"
    assert [n.op for n in opened.main.nodes] == [n.op for n in direct.main.nodes]
    for mine, theirs in zip(opened.main.weights(), direct.main.weights(), strict=True):
        assert np.array_equal(mine.initializer.numpy(), theirs.initializer.numpy())


def test_both_encodings_beside_it_open_the_text_one_and_say_so(shared_models: Path, tmp_path: Path) -> None:
    source = shared_models / "ncnn" / "tencent_ncnn"
    shutil.copy(source / "squeezenet_v1.1.param", tmp_path / "squeezenet.param")
    shutil.copy(source / "squeezenet_v1.1.param.bin", tmp_path / "squeezenet.param.bin")
    (tmp_path / "squeezenet.bin").write_bytes(bytes(64))  # too short for its weights: placed as far as it goes
    model = netray.load_model(tmp_path / "squeezenet.bin")
    assert model.format_version == "text param"
    assert model.properties["opened from"] == (
        "squeezenet.bin, the weights of squeezenet.param (squeezenet.param.bin, the same network in binary, is beside it too)"
    )


def test_a_param_linked_from_elsewhere_is_not_used(shared_models: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(shared_models / "ncnn" / "nanodet" / "nanodet-m.param", tmp_path / "elsewhere")
    weights = Path(shutil.copy(shared_models / "ncnn" / "nanodet" / "nanodet-m.bin", tmp_path))
    try:
        (tmp_path / "nanodet-m.param").symlink_to(tmp_path / "elsewhere" / "nanodet-m.param")
    except OSError:
        pytest.skip("no symlinks on this file system")
    assert plugin.netray_sniff(weights, weights.read_bytes()[:4096]) is None
