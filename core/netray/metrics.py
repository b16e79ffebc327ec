"""Per-node numbers painted onto the graph: costs, run statistics, a user's own data.

A :class:`Metric` is a table from stable node ids (:mod:`netray.ids`) to numbers,
with a name, a unit and how it should be drawn. Costs (:mod:`netray.costs`) produce
some; the run issue's activations and a user's ``.json`` (Model Explorer's node data,
or netray's own form) produce others; plugins may add more. The viewer colours the
graph by any one of them and colours a collapsed group by :meth:`Metric.group_value`.

Nothing here knows Qt: the CLI writes the CSV, the viewer reads the same tables.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netray.errors import FormatError
from netray.ir import Model, Node

AGGREGATES = ("sum", "max", "mean")
NODE_DATA_FORMAT = "node data (JSON)"


@dataclass
class Metric:
    """One number per node id, with what it means and how to draw it.

    * ``unit``: "" for a count, "B" for bytes, "MAC", "FLOP", "FLOP/B"; the viewer formats with it.
    * ``aggregate``: how a group combines its members' numbers ("sum" for parameters and
      MACs; "max" for a peak or an intensity; "mean").
    * ``diverging``: the numbers have a meaningful centre (0: a difference, a gradient
      sign) and are drawn with two hues; otherwise one sequential hue.
    * ``log``: draw on a log scale by default (numbers spanning decades: MACs, bytes).
    """

    name: str
    values: dict[str, float]
    unit: str = ""
    description: str = ""
    aggregate: str = "sum"
    diverging: bool = False
    log: bool = False
    unknown: frozenset[str] = field(default_factory=frozenset)  # node ids whose number is unknown (not zero)

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, not {self.aggregate!r}")

    def group_value(self, node_ids: Iterable[str]) -> float | None:
        """The group's number from its members' (None when no member has one)."""
        numbers = [self.values[i] for i in node_ids if i in self.values]
        if not numbers:
            return None
        if self.aggregate == "max":
            return max(numbers)
        if self.aggregate == "mean":
            return sum(numbers) / len(numbers)
        return math.fsum(numbers)

    def finite_range(self) -> tuple[float, float] | None:
        """The smallest and largest finite number, or None when there is none."""
        finite = [v for v in self.values.values() if math.isfinite(v)]
        return (min(finite), max(finite)) if finite else None


def format_number(value: float | None, unit: str = "") -> str:
    """``12_345_678, "MAC"`` -> ``12.3 MMAC``; bytes in KB/MB/GB; None -> "unknown"."""
    if value is None:
        return "unknown"
    if not math.isfinite(value):
        return str(value)
    if unit == "B":
        from netray.units import human_bytes

        return human_bytes(int(value))
    magnitude = abs(value)
    if magnitude >= 1e15:  # past tera, a prefix reads worse than an exponent ("9.81e+06 T")
        return f"{value:.3g} {unit}".rstrip()
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= scale:
            text = f"{value / scale:.3g} {prefix}{unit}"
            return text.rstrip()
    if value == int(value):
        return f"{int(value)} {unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def _node_keys(model: Model) -> dict[str, str]:
    """What a node data file may name a node by -> its id: the id, its name, or an output's name."""
    keys: dict[str, str] = {}
    nodes: list[Node] = [n for g in model.all_graphs() for n in g.nodes if n.id]
    for node in nodes:  # outputs and names first, so ids win where they collide
        for value in node.output_values():
            keys.setdefault(value.name, node.id)
    for node in nodes:
        if node.name:
            keys[node.name] = node.id
    for node in nodes:
        keys[node.id] = node.id
    return keys


def _number(raw: Any) -> float | None:
    if isinstance(raw, dict):
        raw = raw.get("value")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    return float(raw)


def _tables(document: Any, stem: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, {key: entry}, options) for each table a node data document holds.

    Accepted forms:

    * netray's: ``{"name": ..., "unit": ..., "values": {key: number}}``, or a list of those;
    * Model Explorer's: ``{"results": {graph_id: {"results": {key: {"value": number}}}}}``;
    * a bare ``{key: number or {"value": number}}``.
    """
    if isinstance(document, list):
        return [t for item in document for t in _tables(item, stem)]
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("values"), dict):
        options = {k: document[k] for k in ("unit", "description", "aggregate", "diverging", "log") if k in document}
        return [(str(document.get("name") or stem), document["values"], options)]
    results = document.get("results")
    if isinstance(results, dict):
        tables: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for graph_id, graph_results in results.items():
            entries = graph_results.get("results") if isinstance(graph_results, dict) else None
            if isinstance(entries, dict):
                name = stem if len(results) == 1 else f"{stem} ({graph_id})"
                tables.append((name, entries, {}))
        return tables
    return [(stem, document, {})]


def load_node_data(path: str | Path, model: Model) -> list[Metric]:
    """Read a node data ``.json`` into metrics keyed by this model's node ids.

    Keys may be node ids, node names or the names of nodes' outputs (Model Explorer
    files name nodes either way). Entries naming no node of the model are left out;
    a file none of whose keys names a node is an error, as is a file that is not JSON.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(path, NODE_DATA_FORMAT, f"cannot read: {exc}") from None
    keys = _node_keys(model)
    metrics: list[Metric] = []
    for name, entries, options in _tables(document, path.stem):
        values: dict[str, float] = {}
        for key, raw in entries.items():
            number = _number(raw)
            node_id = keys.get(str(key))
            if number is not None and node_id is not None:
                values[node_id] = number
        if values:
            aggregate = options.get("aggregate", "sum")
            metrics.append(
                Metric(
                    name,
                    values,
                    unit=str(options.get("unit", "")),
                    description=str(options.get("description", f"from {path.name}")),
                    aggregate=aggregate if aggregate in AGGREGATES else "sum",
                    diverging=bool(options.get("diverging", False)),
                    log=bool(options.get("log", False)),
                )
            )
    if not metrics:
        raise FormatError(path, NODE_DATA_FORMAT, "no entry names a node of this model (keys must be node ids, node names or output names)")
    return metrics


def write_node_data(metrics: Metric | Sequence[Metric], path: str | Path) -> Path:
    """Write one metric, or a list of them, in netray's node data form (what :func:`load_node_data` reads back)."""
    path = Path(path)

    def table(metric: Metric) -> dict[str, Any]:
        return {
            "name": metric.name,
            "unit": metric.unit,
            "description": metric.description,
            "aggregate": metric.aggregate,
            "diverging": metric.diverging,
            "log": metric.log,
            "values": metric.values,
        }

    document: Any = table(metrics) if isinstance(metrics, Metric) else [table(m) for m in metrics]
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def write_csv(metrics: Sequence[Metric], model: Model, path: str | Path) -> Path:
    """One row per node (id, name, op) and one column per metric; unknown numbers are empty."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "op", *(f"{m.name} ({m.unit})" if m.unit else m.name for m in metrics)])
        for graph in model.all_graphs():
            for node in graph.nodes:
                row: list[Any] = [node.id, node.name, node.op]
                for m in metrics:
                    v = m.values.get(node.id)
                    row.append("" if v is None else (int(v) if float(v).is_integer() else v))
                writer.writerow(row)
    return path
