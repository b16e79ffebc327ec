"""A .params file opens the symbol graph it belongs to (``<prefix>-<epoch>.params`` beside
``<prefix>-symbol.json``); alone, or beside a broken or out-of-folder symbol, its weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import netray

INSIGHTFACE = "mxnet/insightface"


def test_every_real_params_file_opens_its_symbol(shared_models: Path) -> None:
    for params in sorted((shared_models / INSIGHTFACE).glob("*.params")):
        symbol = params.with_name(params.name.rsplit("-", 1)[0] + "-symbol.json")
        opened, direct = netray.load_model(params), netray.load_model(symbol)
        assert opened.properties["opened from"] == f"{params.name}, the weights of {symbol.name}"
        assert [n.op for n in opened.main.nodes] == [n.op for n in direct.main.nodes] and opened.main.nodes
        weights = {v.name: v.initializer.numpy() for v in opened.main.weights() if v.initializer and v.initializer.has_data}
        assert weights and all(np.array_equal(weights[v.name], v.initializer.numpy()) for v in direct.main.weights() if v.name in weights)


def test_a_broken_or_outside_symbol_leaves_the_weights_alone(shared_models: Path, tmp_path: Path) -> None:
    params = Path(shutil.copy(shared_models / INSIGHTFACE / "det1-0001.params", tmp_path))
    alone = netray.load_model(params)
    assert alone.graphs == [] and alone.tensors and alone.properties["symbol"] == "no -symbol.json beside the params file: weights only"
    (tmp_path / "det1-symbol.json").write_text('{"nodes": [{"op": "null", "name": "data"}], "heads": [[7, 0]]')
    broken = netray.load_model(params)
    assert broken.graphs == [] and broken.properties["symbol"].startswith("det1-symbol.json beside it not read (")
    (tmp_path / "det1-symbol.json").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(shared_models / INSIGHTFACE / "det1-symbol.json", elsewhere)
    try:
        (tmp_path / "det1-symbol.json").symlink_to(elsewhere / "det1-symbol.json")
    except OSError:
        pytest.skip("no symlinks on this file system")
    linked = netray.load_model(params)
    assert linked.graphs == [] and linked.properties["symbol"] == "no -symbol.json beside the params file: weights only"
