"""What `netray info` reports about a model, as plain data (also the JSON schema of `--json`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from netray.ir import Graph, Model, Value


def value_summary(value: Value) -> dict[str, Any]:
    shape = value.type.shape
    return {
        "name": value.name,
        "dtype": value.type.dtype,
        "shape": None if shape is None else list(shape),
    }


def graph_summary(graph: Graph) -> dict[str, Any]:
    """``nodes`` counts the operations the graph itself lists (not those of its subgraphs)."""
    return {
        "name": graph.name,
        "nodes": len(graph.nodes),
        "inputs": [value_summary(v) for v in graph.inputs],
        "outputs": [value_summary(v) for v in graph.outputs],
    }


def op_histogram(model: Model) -> dict[str, int]:
    """Operation types across every graph, function and subgraph, most frequent first."""
    counts: Counter[str] = Counter()
    for g in model.all_graphs():
        counts.update(n.op for n in g.nodes)
    return dict(counts.most_common())


def model_summary(model: Model) -> dict[str, Any]:
    """The facts of `netray info --json`: format, producer, graphs (main first), ops, parameters."""
    producer = " ".join(p for p in (model.producer, model.producer_version) if p)
    return {
        "format": model.format + (f" {model.format_version}" if model.format_version else ""),
        "producer": producer,
        "description": model.description,
        "imports": dict(model.imports),
        "metadata": dict(model.metadata),
        "graphs": [graph_summary(g) for g in model.graphs],
        "functions": [graph_summary(g) for g in model.functions],
        "ops": op_histogram(model),
        "parameters": model.parameter_count(),
        "source": str(model.source) if model.source else None,
    }
