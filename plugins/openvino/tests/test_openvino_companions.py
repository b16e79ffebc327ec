"""A .bin opens the IR whose weights it holds: the .xml of its name beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import netray


def test_every_real_bin_opens_its_xml(shared_models: Path) -> None:
    bins = sorted((shared_models / "openvino").rglob("*.bin"))
    assert len(bins) == 3
    for weights in bins:
        opened, direct = netray.load_model(weights), netray.load_model(weights.with_suffix(".xml"))
        assert opened.format == direct.format == "OpenVINO IR"
        assert opened.properties["opened from"] == f"{weights.name}, the weights of {weights.stem}.xml"
        assert [n.op for n in opened.main.nodes] == [n.op for n in direct.main.nodes]
        for mine, theirs in zip(opened.main.weights(), direct.main.weights(), strict=True):
            assert np.array_equal(mine.initializer.numpy(), theirs.initializer.numpy())


def test_a_bin_without_its_xml_is_one_line(shared_models: Path, tmp_path: Path) -> None:
    weights = Path(shutil.copy(shared_models / "openvino" / "ovms_test" / "summator.bin", tmp_path))
    with pytest.raises(netray.FormatError) as caught:
        netray.load_model(weights)
    assert "\n" not in str(caught.value)
