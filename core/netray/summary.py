"""What `netray info` reports about a model, as plain data (also the JSON schema of `--json`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from netray import dtypes
from netray.ir import Graph, Metadata, MetaValue, Model, Value

MAX_ARRAY_ITEMS = 64  # metadata arrays longer than this are cut in `info --json` (the vocab of a GGUF)


def value_summary(value: Value) -> dict[str, Any]:
    shape = value.type.shape
    return {
        "name": value.name,
        "dtype": value.type.dtype,
        "shape": None if shape is None else list(shape),
    }


def graph_summary(graph: Graph) -> dict[str, Any]:
    """``nodes`` counts the operations the graph itself lists (not those of its subgraphs)."""
    out: dict[str, Any] = {
        "name": graph.name,
        "nodes": len(graph.nodes),
        "inputs": [value_summary(v) for v in graph.inputs],
        "outputs": [value_summary(v) for v in graph.outputs],
    }
    if graph.inferred:
        out["inferred"] = graph.inferred
    return out


def _cut(value: MetaValue) -> tuple[MetaValue, int | None]:
    """A metadata value with long arrays cut to their first items, and the full length if cut."""
    if isinstance(value, list) and len(value) > MAX_ARRAY_ITEMS:
        return value[:MAX_ARRAY_ITEMS], len(value)
    return value, None


def metadata_summary(metadata: Metadata) -> tuple[dict[str, MetaValue], dict[str, int]]:
    """Typed metadata as JSON-ready values, and the full lengths of the arrays that were cut."""
    values: dict[str, MetaValue] = {}
    cut: dict[str, int] = {}
    for key, value in metadata.items():
        values[key], length = _cut(value)
        if length is not None:
            cut[key] = length
    return values, cut


def tensor_summary(model: Model) -> dict[str, Any]:
    """Every tensor of the model: how many, how many elements, and stored bytes by dtype."""
    count = 0
    by_dtype: Counter[str] = Counter()
    elements: Counter[str] = Counter()
    unknown = 0
    for _, t in model.all_tensors():
        count += 1
        name = t.dtype or "?"
        size = t.size
        stored = t.byte_size if t.byte_size is not None else dtypes.byte_size(t.dtype, size)
        if stored is None:
            unknown += 1
        else:
            by_dtype[name] += stored
        elements[name] += size or 0
    return {
        "count": count,
        "named": len(model.tensors),
        "bytes": sum(by_dtype.values()),
        "bytes_by_dtype": dict(by_dtype.most_common()),
        "parameters_by_dtype": dict(elements.most_common()),
        "unknown_size": unknown,
    }


def op_histogram(model: Model) -> dict[str, int]:
    """Operation types across every graph, function and subgraph, most frequent first."""
    counts: Counter[str] = Counter()
    for g in model.all_graphs():
        counts.update(n.op for n in g.nodes)
    return dict(counts.most_common())


def model_summary(model: Model) -> dict[str, Any]:
    """The facts of `netray info --json`.

    ``metadata`` is what the file states (typed; arrays longer than 64 items are cut,
    ``metadata_cut`` gives their full lengths), ``properties`` what the plugin derived;
    ``tensors`` counts every tensor with its bytes by dtype; ``weights_only`` is true for a
    model of tensors and no operations.
    """
    producer = " ".join(p for p in (model.producer, model.producer_version) if p)
    metadata, metadata_cut = metadata_summary(model.metadata)
    properties, _ = metadata_summary(model.properties)
    out: dict[str, Any] = {
        "format": model.format + (f" {model.format_version}" if model.format_version else ""),
        "producer": producer,
        "description": model.description,
        "imports": dict(model.imports),
        "metadata": metadata,
        "properties": properties,
        "graphs": [graph_summary(g) for g in model.graphs],
        "functions": [graph_summary(g) for g in model.functions],
        "ops": op_histogram(model),
        "parameters": model.parameter_count(),
        "tensors": tensor_summary(model),
        "weights_only": model.weights_only and bool(model.tensors),
        "source": str(model.source) if model.source else None,
    }
    if metadata_cut:
        out["metadata_cut"] = metadata_cut
    return out


COST_METRICS = ("macs", "flops", "parameters", "weight_bytes", "activation_bytes")
TOP_NODES = 20


def costs_summary(model: Model, dims: dict[str, int] | None = None, graph: Graph | None = None) -> dict[str, Any]:
    """``info --costs``: totals, the top nodes by each metric, costs by op type and by group, the peak."""
    from netray.plugins import gc_paused

    with gc_paused():  # tables over every node: no full collections over the model meanwhile
        return _costs_summary(model, dims, graph if graph is not None else model.main)


def _costs_summary(model: Model, dims: dict[str, int] | None, graph: Graph) -> dict[str, Any]:
    from netray.costs import compute_costs
    from netray.hierarchy import Hierarchy

    report = compute_costs(model, graph, dims)
    by_id = {n.id: n for n in graph.nodes}

    def node_ref(node_id: str | None) -> dict[str, Any] | None:
        node = by_id.get(node_id or "")
        return None if node is None else {"node": node.id, "name": node.name, "op": node.op}

    top = {
        metric: [{**(node_ref(i) or {}), "value": v} for i, v in report.top(metric, TOP_NODES)] for metric in COST_METRICS
    }
    hierarchy = Hierarchy.build(graph)
    totals = report.group_totals(hierarchy)
    groups = [
        {"group": g.id, "label": g.label, "kind": g.kind, "depth": g.depth, "ops": g.op_count, **totals[g.id]}
        for g in hierarchy.root.walk()
        if g is not hierarchy.root and g.depth <= 2
    ]
    peak = node_ref(report.peak_node)
    return {
        "graph": graph.name,
        "total": report.total(),
        "assumed_dims": report.assumed_dims,
        "peak": {**(peak or {}), "bytes": report.peak_activation_bytes},
        "top": top,
        "by_op": report.by_op(),
        "groups": groups,
        "unknown_ops": report.unknown_ops,
    }
