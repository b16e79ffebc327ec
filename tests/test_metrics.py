"""Per-node metric tables: node data JSON in (netray's and Model Explorer's forms), JSON and CSV out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import onnx
import pytest

import netray
from netray.costs import compute_costs
from netray.metrics import Metric, format_number, load_node_data, write_csv, write_node_data

LIGHT_RESNET50 = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx"


@pytest.fixture(scope="module")
def resnet() -> netray.Model:
    return netray.load_model(LIGHT_RESNET50)


def test_model_explorer_node_data_by_output_name_and_id(resnet: netray.Model, tmp_path: Path) -> None:
    convs = [n for n in resnet.main.nodes if n.op == "Conv"]
    by_output = {next(convs[0].output_values()).name: {"value": 1.5}}
    by_id = {convs[1].id: {"value": -2}}
    document = {"results": {"main_graph": {"results": {**by_output, **by_id, "no such node": {"value": 9}}}}}
    path = tmp_path / "activations.json"
    path.write_text(json.dumps(document))
    (metric,) = load_node_data(path, resnet)
    assert metric.name == "activations"
    assert metric.values == {convs[0].id: 1.5, convs[1].id: -2.0}


def test_netray_form_round_trips(resnet: netray.Model, tmp_path: Path) -> None:
    macs = compute_costs(resnet).metrics()[0]
    path = write_node_data(macs, tmp_path / "macs.json")
    (again,) = load_node_data(path, resnet)
    assert (again.name, again.unit, again.aggregate, again.log) == ("MACs", "MAC", "sum", True)
    assert again.values == macs.values


def test_bad_node_data_is_one_clear_error(resnet: netray.Model, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(netray.FormatError, match=r"broken\.json"):
        load_node_data(broken, resnet)
    unrelated = tmp_path / "unrelated.json"
    unrelated.write_text(json.dumps({"some/other/model": 1.0}))
    with pytest.raises(netray.FormatError, match="no entry names a node"):
        load_node_data(unrelated, resnet)


def test_csv_has_a_row_per_node_and_empty_cells_for_unknown(resnet: netray.Model, tmp_path: Path) -> None:
    metrics = compute_costs(resnet).metrics()
    first = resnet.main.nodes[0].id
    partial = Metric("mine", {first: 3.0})
    path = write_csv([*metrics, partial], resnet, tmp_path / "costs.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(resnet.main.nodes)
    assert rows[0]["id"] == first and rows[0]["mine"] == "3"
    assert rows[1]["mine"] == ""
    total = sum(int(r["MACs (MAC)"]) for r in rows if r["MACs (MAC)"])
    assert total == compute_costs(resnet).total()["macs"]


def test_group_values_and_formatting() -> None:
    metric = Metric("peak", {"a": 1.0, "b": 5.0}, unit="B", aggregate="max")
    assert metric.group_value(["a", "b", "c"]) == 5.0
    assert metric.group_value(["c"]) is None
    assert Metric("m", {"a": 1.0, "b": 2.0}).group_value(["a", "b"]) == 3.0
    assert format_number(4_089_184_256, "MAC") == "4.09 GMAC"
    assert format_number(2.5e13, "FLOP") == "25 TFLOP" and format_number(9.81e18) == "9.81e+18"  # exponents past tera
    assert format_number(None, "MAC") == "unknown"
    with pytest.raises(ValueError):
        Metric("x", {}, aggregate="median")
