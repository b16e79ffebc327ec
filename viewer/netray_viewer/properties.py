"""The side panel's text: HTML for a node, an edge (value), a group, a tensor or the model.

Pure functions of the IR (no widgets), so they are easy to test. Links name nodes by
their stable id (:mod:`netray.ids`), percent-encoded: ``node:<id>`` (jump to the node)
and ``subgraph:<id>:<k>`` (open the node's k-th subgraph).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape
from typing import Any
from urllib.parse import quote

import numpy as np

from netray.hookspecs import OpInfo
from netray.ir import Attribute, AttrKind, Graph, Metadata, Model, Node, Tensor, Value, meta_text, shape_text
from netray.labels import constant_tensor
from netray.metrics import Metric, format_number
from netray.summary import tensor_summary
from netray.tensortree import TensorNode
from netray.units import human_bytes

MAX_LIST = 200  # rows shown per section before "… and N more"
MAX_LINKS = 8  # consumers linked per output before "and N more"
PANEL_VALUES = 64  # a tensor attribute of at most this many elements shows its values in the panel
INLINE_VALUES = 8  # a weight of at most this many elements shows its values beside its name
SHORT_KEY = 16  # keys up to this long are never broken
PANEL_TEXT = 4000  # characters of a metadata value shown (it wraps; beyond this it is cut with "…")


def breakable(text: str) -> str:
    """``text`` escaped for the panel. Long names wrap anywhere when they must (the panel's
    text wraps at word boundaries or anywhere), so no invisible break marks end up in copies."""
    return escape(text)


def _section(title: str, rows: Iterable[tuple[str, str]], raw: bool = False) -> str:
    """A titled two-column table as wide as the panel; values are escaped unless ``raw``.

    Long keys and values wrap inside their column instead of widening the panel.
    """
    body = []
    rows = list(rows)
    for k, (key, value) in enumerate(rows):
        if k == MAX_LIST:
            body.append(f"<tr><td colspan=2><i>… and {len(rows) - MAX_LIST} more</i></td></tr>")
            break
        shown = value if raw else breakable(value)
        if len(key) > SHORT_KEY:
            # A long key (GGUF's llama.attention.head_count_kv) reads better on a line of its own,
            # above its value, than broken mid-word in a narrow column.
            body.append(f"<tr><td colspan=2><b>{breakable(key)}</b><br>&nbsp;&nbsp;{shown}</td></tr>")
            continue
        # Short keys stay whole (the column fits them); long ones wrap instead of widening the panel.
        nowrap = " white-space:nowrap;" if len(key) <= SHORT_KEY else ""
        body.append(f"<tr><td width='25%' style='padding-right:8px;{nowrap}'><b>{escape(key)}</b></td><td>{shown}</td></tr>")
    if not body:
        return ""
    return (
        f"<h4 style='margin-bottom:2px'>{escape(title)}</h4>"
        f"<table width='100%' cellspacing=0 cellpadding=1>{''.join(body)}</table>"
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def value_type_text(value: Value) -> str:
    t = value.type
    return f"{t.dtype or '?'} {shape_text(t.shape)}" if t.shape is not None or t.dtype else "?"


def link_target(node: Node) -> str:
    """A node's id as it appears in links (percent-encoded: ids hold ``/``, ``:`` and ``#``)."""
    return quote(node.id, safe="")


def node_link(node: Node) -> str:
    return f"<a href='node:{link_target(node)}'>{breakable(node.name or node.op)}</a> ({escape(node.op)})"


ConstantOf = Callable[[Value], "Node | None"]


def inferred_mark(value: Value) -> str:
    """`` (inferred)`` after a shape the file did not state, its tooltip naming who inferred it; else ""."""
    by = value.type.inferred
    return f" <span title='inferred by {escape(by, quote=True)}'><small>(inferred)</small></span>" if by else ""


def _port_rows(ports: Iterable[Any], describe: Callable[[Value], str]) -> list[tuple[str, str]]:
    """One row per value of each port: its name and type, then what ``describe`` says of it."""
    rows = []
    for port in ports:
        if not port.values:
            rows.append((port.name, "<i>omitted</i>"))
        for v in port.values:
            rows.append((port.name, f"{breakable(v.name)}: <tt>{escape(value_type_text(v))}</tt>" + inferred_mark(v) + describe(v)))
    return rows


def _input_rows(ports: Iterable[Any], constant_of: ConstantOf | None = None) -> list[tuple[str, str]]:
    """Where each input value comes from: a weight, a folded constant, or a link to its producer."""

    def source(v: Value) -> str:
        constant = constant_of(v) if constant_of is not None and v.initializer is None else None
        if v.initializer is not None:
            values = tensor_values_text(v.initializer, INLINE_VALUES)
            text = " (weight)" + (f"<br><tt>{escape(values)}</tt>" if values else "")
        elif constant is not None:
            values = tensor_values_text(constant_tensor(constant), INLINE_VALUES)
            text = f"<br>folded constant {node_link(constant)}, drawn in this box" + (f"<br><tt>{escape(values)}</tt>" if values else "")
        elif v.producer is not None:
            text = f"<br>from {node_link(v.producer)}"
        else:
            text = "<br>from the graph's inputs"
        if v.quantization is not None and str(v.quantization):
            text += f"<br><small>{escape(str(v.quantization))}</small>"
        return text

    return _port_rows(ports, source)


def _output_rows(ports: Iterable[Any], graph_outputs: set[int] | None = None) -> list[tuple[str, str]]:
    """Who reads each output value (links to its consumers), and whether it is a graph output."""

    def readers(v: Value) -> str:
        links = [node_link(c) for c in v.consumers[:MAX_LINKS]]
        if len(v.consumers) > MAX_LINKS:
            links.append(f"and {len(v.consumers) - MAX_LINKS} more")
        text = "<br>to " + ", ".join(links) if links else ""
        if graph_outputs is not None and id(v) in graph_outputs:
            text += "<br>a graph output"
        return text

    return _port_rows(ports, readers)


def tensor_values_text(tensor: Tensor | None, max_elements: int = PANEL_VALUES) -> str | None:
    """A small tensor's values, nested like its shape (``[[1, 2], [3, 4]]``); None if large or unreadable."""
    if tensor is None or not tensor.has_data or tensor.size is None or tensor.size > max_elements:
        return None
    try:
        array = np.asarray(tensor.numpy())
    except Exception:  # the weight view below says why it cannot be read
        return None
    if array.size > max_elements:
        return None
    if array.dtype.kind in "biuf":
        return np.array2string(
            array, separator=", ", threshold=max_elements, max_line_width=10_000, formatter={"float_kind": lambda v: f"{v:.6g}"}
        )
    return repr(array.tolist())[:400]


def attribute_text(attribute: Attribute) -> str:
    """An attribute's value as text; a value that does not match its kind is shown raw, not raised.

    A tensor attribute (a Constant's ``value``) shows its type and, when small, its values.
    """
    if attribute.kind is AttrKind.TENSOR and isinstance(attribute.value, Tensor):
        t = attribute.value
        values = tensor_values_text(t)
        kind = f"{t.dtype or '?'} {shape_text(t.shape)}"
        return f"{kind}: {values}" if values is not None else f"{kind} (values below)"
    try:
        return attribute.text(200)
    except (TypeError, ValueError):
        return repr(attribute.value)[:200]


def _repeats(doc: str, summary: str) -> bool:
    """True when the documentation begins with the summary (whitespace aside): show it once."""
    head = " ".join(summary.split())[:60]
    return bool(head) and " ".join(doc.split()).startswith(head)


def node_html(
    node: Node, info: OpInfo | None, constant_of: ConstantOf | None = None, graph: Graph | None = None, costs: str = ""
) -> str:
    """Everything about one operation but its documentation (:func:`doc_markdown`, shown folded below the weights).

    Inputs link to their producers and outputs to their consumers; ``constant_of`` names
    the folded constant making a value, shown with its values. ``costs`` (:func:`costs_html`)
    follows the outputs, next to the shapes it is computed from.
    """
    head = f"<h3 style='margin-bottom:0'>{escape(node.op)}</h3>"
    if node.name:
        head += f"<div><tt>{breakable(node.name)}</tt></div>"
    parts = [head]
    if info is not None and info.summary and not _repeats(info.doc, info.summary):
        parts.append(f"<p>{escape(info.summary)}</p>")
    general = [("type", node.op), ("category", node.category.value)]
    if node.domain:
        general.append(("domain", node.domain))
    if node.scope:
        general.append(("scope", " / ".join(node.scope)))
    if node.source is not None:
        general.append(("source", str(node.source)))
    if node.device:
        general.append(("device", node.device))
    parts.append(_section("Node", general))
    parts.append(_section("Attributes", [(a.name, attribute_text(a)) for a in node.attributes]))
    parts.append(_section("Inputs", _input_rows(node.inputs, constant_of), raw=True))
    outputs = {id(v) for v in graph.outputs} if graph is not None else None
    parts.append(_section("Outputs", _output_rows(node.outputs, outputs), raw=True))
    parts.append(costs)
    if node.subgraphs:
        links = [
            (sub.name or f"graph {k}", f"<a href='subgraph:{link_target(node)}:{k}'>open ({_count(len(sub.nodes), 'node')})</a>")
            for k, sub in enumerate(node.subgraphs)
        ]
        parts.append(_section("Subgraphs", links, raw=True))
    if node.control_inputs:
        parts.append(_section("Control inputs", [("after", node_link(n)) for n in node.control_inputs], raw=True))
    parts.append(_section("Metadata", meta_rows(node.metadata)))
    if node.doc:
        parts.append(f"<h4>Description</h4><p>{escape(node.doc)}</p>")
    return "".join(parts)


# A node's costs as the panel lists them: (label, NodeCost attribute, unit for format_number).
COST_ROWS = (
    ("parameters", "parameters", ""),
    ("weight bytes", "weight_bytes", "B"),
    ("MACs", "macs", "MAC"),
    ("FLOPs", "flops", "FLOP"),
    ("activations", "activation_bytes", "B"),
    ("intensity", "intensity", "FLOP/B"),
)


def _cost_text(number: float | None, unit: str) -> str:
    """``118 MMAC (118,013,952)``: rounded with its unit, and exact when rounding hides digits."""
    text = format_number(number, unit)
    if number is not None and unit != "B" and float(number).is_integer() and abs(number) >= 1000:
        text += f" ({int(number):,})"
    return text


def costs_html(
    cost: Any | None, metric: Metric | None = None, metric_value: float | None = None, pending: bool = False, note: str = ""
) -> str:
    """A node's costs (a :class:`netray.costs.NodeCost`), "unknown" where a number is not known, its
    formula in small text; then the number the graph is coloured by, when a metric is chosen, and ``note`` on it."""
    parts = []
    if cost is not None:
        rows = [(label, escape(_cost_text(getattr(cost, attr, None), unit))) for label, attr, unit in COST_ROWS]
        formula = getattr(cost, "formula", "")
        if formula:
            rows.append(("formula", f"<small>{escape(formula)}</small>"))
        parts.append(_section("Costs", rows, raw=True))
    elif pending:
        parts.append(_section("Costs", [("", "<i>computing…</i>")], raw=True))
    if metric is not None:
        unknown = metric_value is None
        shown = "unknown" if unknown else _cost_text(metric_value, metric.unit)
        small = [text for text in (metric.description, note) if text]
        row = (metric.name, escape(shown) + "".join(f"<br><small>{escape(text)}</small>" for text in small))
        parts.append(_section("Coloured by", [row], raw=True))
    return "".join(parts)


def doc_markdown(info: OpInfo | None) -> str:
    """The operator's documentation as markdown (plugins write markdown: tables, lists, code), or ""."""
    if info is None or not info.doc or info.doc.strip() == info.summary.strip():
        return ""
    return info.doc


def value_html(value: Value) -> str:
    """An edge: the tensor, who makes it and who reads it."""
    parts = [f"<h3 style='margin-bottom:0'>{breakable(value.name)}</h3>"]
    rows = [("type", value_type_text(value) + (f" (inferred by {value.type.inferred})" if value.type.inferred else ""))]
    if value.type.denotation:
        rows.append(("denotation", value.type.denotation))
    if value.quantization is not None and str(value.quantization):
        rows.append(("quantization", str(value.quantization)))
    if value.description:
        rows.append(("description", value.description))
    parts.append(_section("Value", rows))
    producer = [("from", node_link(value.producer))] if value.producer is not None else [("from", "graph input or constant")]
    parts.append(_section("Producer", producer, raw=True))
    parts.append(_section("Consumers", [(str(k + 1), node_link(n)) for k, n in enumerate(value.consumers)], raw=True))
    parts.append(_section("Metadata", meta_rows(value.metadata)))
    return "".join(parts)


def group_html(group: Any) -> str:
    """A hierarchy group (collapsed box or expanded frame)."""
    rows = [
        ("id", str(group.id)),
        ("kind", str(getattr(group, "kind", ""))),
        ("operations", str(getattr(group, "op_count", len(getattr(group, "nodes", ()))))),
        ("parameters", f"{getattr(group, 'parameters', 0):,}"),
        ("depth", str(getattr(group, "depth", ""))),
    ]
    top = getattr(group, "top_ops", None) or []
    ops = [(str(op), str(n)) for op, n in (top.items() if isinstance(top, dict) else top)]
    return (
        f"<h3 style='margin-bottom:0'>{escape(str(group.label))}</h3><p><i>group — double-click to expand or collapse</i></p>"
        + _section("Group", rows)
        + _section("Top operations", ops)
    )


def meta_rows(mapping: Metadata, sort: bool = True) -> list[tuple[str, str]]:
    """Typed metadata as (key, text) rows; arrays show their first items and length."""
    rows = [(str(k), meta_text(v, PANEL_TEXT)) for k, v in mapping.items()]
    return sorted(rows) if sort else rows


def _io_rows(values: list[Value]) -> list[tuple[str, str]]:
    return [(v.name, value_type_text(v)) for v in values]


def model_html(model: Model, graph: Graph | None) -> str:
    """Model properties (shown when clicking empty space): what the file states and what was derived."""
    name = model.source.name if model.source is not None else ""
    parts = [f"<h3 style='margin-bottom:0'>{breakable(name or model.format)}</h3>"]
    rows = [("format", f"{model.format} {model.format_version}".strip())]
    if model.producer:
        rows.append(("producer", f"{model.producer} {model.producer_version}".strip()))
    rows.append(("parameters", f"{model.parameter_count():,}"))
    tensors = tensor_summary(model)
    if tensors["count"]:
        by_dtype = ", ".join(f"{k} {human_bytes(v)}" for k, v in tensors["bytes_by_dtype"].items())
        rows.append(("tensors", f"{tensors['count']:,} ({human_bytes(tensors['bytes'])}{': ' + by_dtype if by_dtype else ''})"))
    if model.weights_only:
        rows.append(("structure", "weights only: named tensors, no operations"))
    if model.description:
        rows.append(("description", model.description))
    parts.append(_section("Model", rows))
    if graph is not None and graph.inferred:
        parts.append(f"<p><b>Structure inferred:</b> {escape(graph.inferred)}</p>")
    parts.append(_section("Metadata (stated by the file)", meta_rows(model.metadata, sort=False)))
    parts.append(_section("Properties (derived by the reader)", meta_rows(model.properties, sort=False)))
    parts.append(_section("Imports", sorted(model.imports.items())))
    if graph is not None:
        parts.append(_section(f"Graph {graph.name}".strip(), [("operations", str(len(graph.nodes)))]))
        parts.append(_section("Inputs", _io_rows(graph.inputs)))
        parts.append(_section("Outputs", _io_rows(graph.outputs)))
    return "".join(parts)


def tensor_html(name: str, tensor: Tensor) -> str:
    """A named tensor of a weights-only model (its values and histogram follow in the panel)."""
    rows = [("dtype", tensor.dtype or "?"), ("shape", shape_text(tensor.shape)), ("elements", f"{tensor.size or 0:,}")]
    if tensor.byte_size is not None:
        rows.append(("stored", human_bytes(tensor.byte_size)))
    if tensor.quantization is not None and str(tensor.quantization):
        rows.append(("quantization", str(tensor.quantization)))
    if tensor.location:
        rows.append(("location", tensor.location))
    return (
        f"<h3 style='margin-bottom:0'>{breakable(name)}</h3>"
        + _section("Tensor", rows)
        + _section("Metadata", meta_rows(tensor.metadata))
    )


def module_html(node: TensorNode) -> str:
    """A module of the tensor tree: what it holds in all."""
    rows = [("tensors", f"{node.count:,}"), ("parameters", f"{node.parameters:,}"), ("stored", human_bytes(node.bytes))]
    if node.repeat:
        rows.append(("blocks", f"{node.repeat} " + ("identical (same tensors and shapes)" if node.uniform else "differing")))
    return f"<h3 style='margin-bottom:0'>{breakable(node.path or 'all tensors')}</h3>" + _section("Module", rows)
