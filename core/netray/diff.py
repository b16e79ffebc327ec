"""Compare two models: which nodes pair up, and what changed between them.

:func:`diff_models` pairs the nodes of graph A with those of graph B, then lists
the differences of each pair, the nodes left over on either side, and what changed
at the model's level (graph inputs and outputs, metadata, opsets). Matching goes
in rounds, each working on what the previous left unmatched:

1. **names**: nodes with the same name and scope (then the same name, then the same
   first output's name), unique on each side, of the same op kind;
2. **neighbours**: from every matched pair, along the values at the same ports,
   producers and consumers of the same op kind (ties broken by weight shapes, then
   by order);
3. **sequence**: an alignment of the remaining nodes' topological op sequences
   (op kind, weight shapes and output count as the tokens), then neighbours again;
4. **fusions**: connected groups of unmatched nodes whose inputs and outputs line up
   with a group of the other side pair many-to-many (MatMul+Add -> Gemm, a
   quantized MatMul's five nodes -> MatMul); a group whose inputs and outputs both
   map onto one value of the other side was folded into the pair around that value
   (BatchNormalization into its Conv), and a group feeding only what became
   weights on the other side was constant-folded.

Ops are compared by :func:`netray.opkinds.op_kind`, so two formats compare through
the kinds and shapes they share. Weights are compared lazily, one tensor at a
time, in slices of a memory-mapped array: max absolute and relative difference
and cosine similarity.

The rounds are :class:`netray.diff_match.Matcher`'s; this module lists the differences
of what it paired. Nothing here knows Qt: the CLI prints a :class:`DiffResult`, the
viewer paints its :meth:`DiffResult.status_a` and metrics.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

import numpy as np

from netray.diff_match import Matcher, attr_value, has_live_input, inputs_of, kind_of, outputs_of, pair_values
from netray.ir import Attribute, Graph, Model, Node, Shape, Tensor, Value, meta_text, shape_text
from netray.metrics import Metric
from netray.opkinds import normalise

KINDS = ("added", "removed", "changed", "weights")
STATUS_RANK = {"same": 0, "weights": 1, "changed": 2, "added": 3, "removed": 3}
CHUNK = 1 << 22  # elements compared at a time


@dataclass
class FieldChange:
    """One difference of a pair (or of the model).

    ``field`` says what differs: ``"op"``, ``"attribute:<name>"``, ``"input_shape:<i>"``,
    ``"output_shape:<i>"``, ``"dtype"``, ``"weight:<name in A>"``, ``"weights"`` (their
    count), ``"fused"``; at the model's level ``"graph_input:<name>"``,
    ``"graph_output:<name>"``, ``"metadata:<key>"``, ``"opset:<domain>"``, ``"producer"``,
    ``"format"``, ``"tensor:<name>"``. ``a`` and ``b`` are JSON-ready (text, numbers, None
    for absent). ``numbers`` holds a weight's ``max_abs``, ``max_rel`` and ``cosine``.
    """

    field: str
    a: Any
    b: Any
    detail: str = ""
    numbers: dict[str, float] = _field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "a": self.a, "b": self.b}
        if self.detail:
            out["detail"] = self.detail
        if self.numbers:
            out.update({k: (v if math.isfinite(v) else str(v)) for k, v in self.numbers.items()})
        return out

    def text(self) -> str:
        if self.field.startswith(("weight:", "tensor:")) and self.numbers:
            return f"{self.field}: {self.detail}"
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.field}: {_show(self.a)} -> {_show(self.b)}{detail}"


@dataclass
class Change:
    """A difference between the models: a node added or removed, or a pair that changed.

    ``a`` and ``b`` are the nodes on each side (empty for an added or removed node's other
    side; several for a fused or split op). ``kind`` is "changed" when the op, attributes,
    shapes or dtypes differ (or nodes were fused), "weights" when only weights do.
    """

    kind: str
    a: list[Node]
    b: list[Node]
    fields: list[FieldChange] = _field(default_factory=list)
    scope: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "scope": self.scope,
            "a": _nodes_json(self.a),
            "b": _nodes_json(self.b),
            "fields": [f.to_json() for f in self.fields],
        }


def _nodes_json(nodes: list[Node]) -> dict[str, Any] | None:
    if not nodes:
        return None
    first = nodes[0]
    out: dict[str, Any] = {"id": first.id, "name": first.name, "op": first.op}
    if len(nodes) > 1:
        out["nodes"] = [{"id": n.id, "name": n.name, "op": n.op} for n in nodes]
    return out


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


@dataclass
class DiffResult:
    """What :func:`diff_models` found. ``pairs`` holds every matched pair (changed or not),
    ``changes`` the differences of nodes, ``model_changes`` those of the models themselves."""

    a: Model
    b: Model
    pairs: list[tuple[list[Node], list[Node]]]
    changes: list[Change]
    model_changes: list[FieldChange] = _field(default_factory=list)
    graph_a: Graph | None = None
    graph_b: Graph | None = None
    tolerance: float = 0.0
    weights_compared: bool = True
    _status: tuple[dict[str, str], dict[str, str]] | None = _field(default=None, repr=False)
    _partners: tuple[dict[str, list[str]], dict[str, list[str]]] | None = _field(default=None, repr=False)

    @property
    def same(self) -> bool:
        """No node and nothing of the models differs (within the tolerance)."""
        return not self.changes and not self.model_changes

    def summary(self) -> dict[str, int]:
        added = sum(len(c.b) for c in self.changes if c.kind == "added")
        removed = sum(len(c.a) for c in self.changes if c.kind == "removed")
        return {
            "matched": len(self.pairs),
            "changed": sum(1 for c in self.changes if c.kind == "changed"),
            "added": added,
            "removed": removed,
            "weights_changed": sum(1 for c in self.changes if c.kind in ("changed", "weights") and any(f.field.startswith("weight:") for f in c.fields)),
            "fused": sum(1 for a, b in self.pairs if len(a) != 1 or len(b) != 1),
            "model_changed": len(self.model_changes),
        }

    def _statuses(self) -> tuple[dict[str, str], dict[str, str]]:
        if self._status is None:
            sa: dict[str, str] = {}
            sb: dict[str, str] = {}
            for a_nodes, b_nodes in self.pairs:
                for n in a_nodes:
                    sa[n.id] = "same"
                for n in b_nodes:
                    sb[n.id] = "same"
            for c in self.changes:
                for n in c.a:
                    sa[n.id] = c.kind
                for n in c.b:
                    sb[n.id] = c.kind
            self._status = (sa, sb)
        return self._status

    def status_a(self) -> dict[str, str]:
        """Node id of A -> "removed", "changed", "weights" or "same"."""
        return self._statuses()[0]

    def status_b(self) -> dict[str, str]:
        """Node id of B -> "added", "changed", "weights" or "same"."""
        return self._statuses()[1]

    def _partner_maps(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        if self._partners is None:
            pa: dict[str, list[str]] = {}
            pb: dict[str, list[str]] = {}
            for a_nodes, b_nodes in self.pairs:
                ids_a = [n.id for n in a_nodes]
                ids_b = [n.id for n in b_nodes]
                for n in a_nodes:
                    pa[n.id] = ids_b
                for n in b_nodes:
                    pb[n.id] = ids_a
            self._partners = (pa, pb)
        return self._partners

    def partner_a(self, node_id: str) -> list[str]:
        """The ids in B paired with node ``node_id`` of A (empty when it was removed)."""
        return list(self._partner_maps()[0].get(node_id, []))

    def partner_b(self, node_id: str) -> list[str]:
        """The ids in A paired with node ``node_id`` of B (empty when it was added)."""
        return list(self._partner_maps()[1].get(node_id, []))

    def change_of_a(self, node_id: str) -> Change | None:
        for c in self.changes:
            if any(n.id == node_id for n in c.a):
                return c
        return None

    def change_of_b(self, node_id: str) -> Change | None:
        for c in self.changes:
            if any(n.id == node_id for n in c.b):
                return c
        return None

    def _metrics(self, side: int) -> list[Metric]:
        status = self._statuses()[side]
        change = Metric(
            "change",
            {i: float(STATUS_RANK[s]) for i, s in status.items()},
            description="0 same, 1 weights changed, 2 changed, 3 " + ("removed" if side == 0 else "added"),
            aggregate="max",
        )
        worst: dict[str, float] = {}
        for c in self.changes:
            numbers = [f.numbers["max_abs"] for f in c.fields if "max_abs" in f.numbers]
            if numbers:
                for n in c.a if side == 0 else c.b:
                    worst[n.id] = max(numbers)
        weight = Metric("weight max |diff|", worst, description="largest absolute difference of the node's weights", aggregate="max", log=True)
        return [change, weight]

    def metrics_a(self) -> list[Metric]:
        return self._metrics(0)

    def metrics_b(self) -> list[Metric]:
        return self._metrics(1)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": str(self.a.source or ""),
            "b": str(self.b.source or ""),
            "same": self.same,
            "tolerance": self.tolerance,
            "weights": self.weights_compared,
            "summary": self.summary(),
            "model": [f.to_json() for f in self.model_changes],
            "changes": [c.to_json() for c in self.changes],
        }

    def by_scope(self) -> dict[str, list[Change]]:
        groups: dict[str, list[Change]] = defaultdict(list)
        for c in self.changes:
            groups[c.scope].append(c)
        return dict(sorted(groups.items()))


# ---------------------------------------------------------------------------------------------
# Differences


DEFAULT_LOOKING = (0, 0.0, False, "", "NOTSET", ())


def _default_looking(attr: Attribute) -> bool:
    """Whether a value is what tools write out for "the default" (0, NOTSET, empty): optimizers
    (onnxruntime's) spell out defaults the exporter left out; that is no change."""
    value = attr_value(attr)
    return any(type(value) is type(d) and value == d for d in DEFAULT_LOOKING)


def _shapes_equal(a: Shape | None, b: Shape | None, cross: bool) -> bool:
    if a is None or b is None:
        return True  # unknown on one side: nothing to compare
    if cross:
        # Formats lay the same tensor out differently (NHWC against CHW, a batch axis or not,
        # Core ML's trailing 1x1): the same sizes, in any order, ones aside.
        known_a = sorted(d for d in a if isinstance(d, int) and d != 1)
        known_b = sorted(d for d in b if isinstance(d, int) and d != 1)
        return known_a == known_b
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, int) and isinstance(y, int) and x != y:
            return False
        if isinstance(x, int) != isinstance(y, int) and x is not None and y is not None:
            return False
    return True


def _node_fields(na: Node, nb: Node, cross: bool) -> list[FieldChange]:
    """Differences of a one-to-one pair, weights aside."""
    fields: list[FieldChange] = []
    if cross:
        if kind_of(na) != kind_of(nb):
            fields.append(FieldChange("op", na.op, nb.op, "another kind of op"))
    elif na.op != nb.op or na.domain != nb.domain:
        fields.append(FieldChange("op", _op_text(na), _op_text(nb)))
    if not cross:
        attrs_a = {a.name: a for a in na.attributes}
        attrs_b = {a.name: a for a in nb.attributes}
        for name in dict.fromkeys([*attrs_a, *attrs_b]):
            x, y = attrs_a.get(name), attrs_b.get(name)
            if x is not None and y is not None and attr_value(x) == attr_value(y):
                continue
            if (x is None and y is not None and _default_looking(y)) or (y is None and x is not None and _default_looking(x)):
                continue  # written out by one side, left to its default by the other
            fields.append(FieldChange(f"attribute:{name}", x.text() if x else None, y.text() if y else None))
    ins_a = [v for v in na.input_values()]
    ins_b = [v for v in nb.input_values()]
    if len(ins_a) == len(ins_b):
        for i, (va, vb) in enumerate(zip(ins_a, ins_b, strict=True)):
            if va.initializer is not None or vb.initializer is not None:
                continue
            if not _shapes_equal(va.type.shape, vb.type.shape, cross):
                fields.append(FieldChange(f"input_shape:{i}", shape_text(va.type.shape), shape_text(vb.type.shape)))
    else:
        fields.append(FieldChange("inputs", len(ins_a), len(ins_b), "number of inputs"))
    outs_a, outs_b = outputs_of(na), outputs_of(nb)
    if len(outs_a) == len(outs_b):
        dt_a = [v.type.dtype for v in outs_a]
        dt_b = [v.type.dtype for v in outs_b]
        for i, (va, vb) in enumerate(zip(outs_a, outs_b, strict=True)):
            if not _shapes_equal(va.type.shape, vb.type.shape, cross):
                fields.append(FieldChange(f"output_shape:{i}", shape_text(va.type.shape), shape_text(vb.type.shape)))
        if any(x is not None and y is not None and x != y for x, y in zip(dt_a, dt_b, strict=True)):
            fields.append(FieldChange("dtype", ", ".join(str(x) for x in dt_a), ", ".join(str(y) for y in dt_b)))
    else:
        fields.append(FieldChange("outputs", len(outs_a), len(outs_b), "number of outputs"))
    return fields


def _op_text(node: Node) -> str:
    return f"{node.domain}::{node.op}" if node.domain and node.domain not in ("ai.onnx", "") else node.op


class _WeightComparer:
    """Weight statistics, a tensor at a time, each pair of tensors once."""

    def __init__(self, tolerance: float, enabled: bool) -> None:
        self.tolerance = tolerance
        self.enabled = enabled
        self.cache: dict[tuple[int, int], FieldChange | None] = {}

    def compare(self, label: str, va: Value, vb: Value, graph_b: Graph) -> FieldChange | None:
        ta, tb = va.initializer, vb.initializer
        assert ta is not None and tb is not None
        key = (id(ta), id(tb))
        if key in self.cache:
            cached = self.cache[key]
            return None if cached is None else FieldChange(label, cached.a, cached.b, cached.detail, dict(cached.numbers))
        result = self._compare(label, ta, tb, vb, graph_b)
        self.cache[key] = result
        return result

    def compare_tensors(self, label: str, ta: Tensor, tb: Tensor, graph_b: Graph) -> FieldChange | None:
        """Two tensors held as attributes (a Constant's or ConstantOfShape's ``value``)."""
        key = (id(ta), id(tb))
        if key not in self.cache:
            self.cache[key] = self._compare(label, ta, tb, Value(tb.name, initializer=tb), graph_b)
        return self.cache[key]

    def _compare(self, label: str, ta: Tensor, tb: Tensor, vb: Value, graph_b: Graph) -> FieldChange | None:
        desc_a = f"{ta.dtype}[{shape_text(ta.shape)}]"
        desc_b = f"{tb.dtype}[{shape_text(tb.shape)}]"
        if ta.shape != tb.shape and ta.size != tb.size:
            return FieldChange(label, desc_a, desc_b, "another shape")
        quantized = ta.dtype != tb.dtype and _is_float(ta.dtype) and not _is_float(tb.dtype)
        if ta.dtype != tb.dtype and not quantized:
            if not self.enabled or not (_is_float(ta.dtype) and _is_float(tb.dtype)):
                return FieldChange(label, desc_a, desc_b, "another dtype")
        if not self.enabled or not ta.has_data or not tb.has_data:
            return None if (ta.dtype == tb.dtype and ta.shape == tb.shape) else FieldChange(label, desc_a, desc_b, "another shape")
        try:
            x = ta.numpy()
            if quantized:
                y = _dequantize(vb, tb, graph_b)
                if y is None:
                    return FieldChange(label, desc_a, desc_b, "quantized; its scale was not found")
            else:
                y = tb.numpy()
        except Exception as exc:  # an unreadable weight is reported, not fatal
            return FieldChange(label, desc_a, desc_b, f"cannot compare: {exc}")
        y, permuted = _aligned(x, y)
        numbers = _stats(x, y)
        if numbers is None:
            return None
        if numbers["max_abs"] <= self.tolerance and not quantized:
            return None
        detail = f"max |diff| {numbers['max_abs']:.3g}, max rel {numbers['max_rel']:.3g}, cosine {numbers['cosine']:.6f}"
        if quantized:
            detail = f"quantized to {tb.dtype}: " + detail
        if permuted:
            detail += f" (axes {permuted} of {shape_text(tb.shape)} against {shape_text(ta.shape)})"
        elif ta.shape != tb.shape:
            detail += f" (shape {shape_text(ta.shape)} -> {shape_text(tb.shape)})"
        return FieldChange(label, desc_a, desc_b, detail, numbers)


def _is_float(dtype: str | None) -> bool:
    return bool(dtype) and (str(dtype).startswith(("float", "bfloat", "complex")))


def _aligned(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, str]:
    """``y`` with its axes in ``x``'s order where the two hold the same sizes in another order
    (Keras's HWIO kernel against Core ML's OIHW, a Dense kernel against its transpose): the
    permutation that agrees best, judged on a sample. Returns ``y`` as it is otherwise."""
    if x.shape == y.shape or x.ndim != y.ndim or sorted(x.shape) != sorted(y.shape) or x.ndim > 5:
        return y, ""
    candidates = [p for p in itertools.permutations(range(y.ndim)) if tuple(y.shape[i] for i in p) == x.shape]
    if not candidates:
        return y, ""
    sample = slice(0, min(x.size, CHUNK))

    def agreement(order: tuple[int, ...]) -> float:
        a = x.reshape(-1)[sample].astype(np.float64)
        b = np.transpose(y, order).reshape(-1)[sample].astype(np.float64)
        return -float(np.abs(a - b).sum())

    best = max(candidates, key=agreement)
    return np.ascontiguousarray(np.transpose(y, best)), "".join(str(i) for i in best)


def _stats(x: np.ndarray, y: np.ndarray) -> dict[str, float] | None:
    """None when equal; else max_abs, max_rel and cosine, read a slice at a time."""
    if x.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        return None if np.array_equal(x, y) else {"max_abs": math.inf, "max_rel": math.inf, "cosine": 0.0}
    fx = x.reshape(-1)
    fy = y.reshape(-1)
    n = fx.size
    if n == 0:
        return None
    if fx.dtype == fy.dtype:
        if all(np.array_equal(fx[i : i + CHUNK], fy[i : i + CHUNK]) for i in range(0, n, CHUNK)):
            return None
    max_abs = 0.0
    max_rel = 0.0
    dot = na2 = nb2 = 0.0
    for i in range(0, n, CHUNK):
        a = fx[i : i + CHUNK].astype(np.float64)
        b = fy[i : i + CHUNK].astype(np.float64)
        d = np.abs(a - b)
        if d.size:
            max_abs = max(max_abs, float(np.nanmax(d)) if not np.all(np.isnan(d)) else math.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = d / np.maximum(np.abs(a), np.finfo(np.float64).tiny)
            rel = rel[d > 0]
            if rel.size:
                max_rel = max(max_rel, float(np.nanmax(rel)))
        dot += float(a @ b)
        na2 += float(a @ a)
        nb2 += float(b @ b)
    if max_abs == 0.0:
        return None
    denominator = math.sqrt(na2) * math.sqrt(nb2)
    cosine = dot / denominator if denominator > 0 else (1.0 if na2 == nb2 else 0.0)
    return {"max_abs": max_abs, "max_rel": max_rel, "cosine": cosine}


def _dequantize(value: Value, tensor: Tensor, graph: Graph) -> np.ndarray | None:
    """A quantized weight's real values: from its Quantization, a DequantizeLinear consuming
    it, or onnxruntime's naming (``W_quantized`` beside ``W_scale`` and ``W_zero_point``)."""
    q = tensor.numpy().astype(np.float64)
    quant = value.quantization or tensor.quantization
    if quant is not None and quant.scale and quant.scheme == "affine":
        scale = np.asarray(quant.scale, dtype=np.float64)
        zero = np.asarray(quant.zero_point or [0], dtype=np.float64)
        if quant.axis is not None and scale.size > 1:
            shape = [1] * q.ndim
            shape[quant.axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape) if zero.size > 1 else zero
        return (q - zero) * scale
    for c in value.consumers:
        if normalise(c.op) == "dequantizelinear":
            ins = inputs_of(c)
            if len(ins) >= 2 and ins[1].initializer is not None:
                scale = ins[1].initializer.numpy().astype(np.float64)
                zero = ins[2].initializer.numpy().astype(np.float64) if len(ins) > 2 and ins[2].initializer is not None else np.zeros(1)
                axis = c.attribute("axis")
                if scale.size > 1:
                    shape = [1] * q.ndim
                    shape[int(axis.value) if axis is not None else 1] = -1
                    scale = scale.reshape(shape)
                    zero = zero.reshape(shape) if zero.size > 1 else zero
                return (q - zero) * scale
    base = value.name
    for suffix in ("_quantized", "_quant", "_q"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    scale_v = graph.values.get(base + "_scale")
    zero_v = graph.values.get(base + "_zero_point")
    if scale_v is not None and scale_v.initializer is not None:
        scale = scale_v.initializer.numpy().astype(np.float64)
        zero = zero_v.initializer.numpy().astype(np.float64) if zero_v is not None and zero_v.initializer is not None else np.zeros(1)
        if scale.size > 1:  # per output channel: the last axis of a MatMul weight
            if scale.size == q.shape[-1]:
                return (q - zero) * scale
            shape = [1] * q.ndim
            shape[0] = -1
            return (q - zero.reshape(shape) if zero.size > 1 else q - zero) * scale.reshape(shape)
        return (q - zero) * scale
    return None


def _weights_fields(nodes_a: list[Node], nodes_b: list[Node], comparer: _WeightComparer, graph_b: Graph) -> list[FieldChange]:
    """Weight differences of a pair: by position for one-to-one pairs of equal counts, else by shape."""
    wa = [v for n in nodes_a for v in n.weights()]
    wb = [v for n in nodes_b for v in n.weights()]
    fields: list[FieldChange] = []
    pairs: list[tuple[Value, Value]] = []
    if len(nodes_a) == 1 and len(nodes_b) == 1 and len(wa) == len(wb):
        pairs = list(zip(wa, wb, strict=True))
    else:
        # Fused or split: the same name, else the same shape (matrices and kernels only: a
        # BatchNormalization's scale and a Conv's bias share a shape and nothing else).
        names_b = {v.name: v for v in wb}
        by_shape: dict[Any, list[Value]] = defaultdict(list)
        for v in wb:
            t = v.initializer
            if t is not None and t.shape is not None and len(t.shape) >= 2:
                by_shape[t.shape].append(v)
        for v in wa:
            t = v.initializer
            if t is None:
                continue
            same = names_b.get(v.name)
            if same is not None:
                pairs.append((v, same))
                continue
            candidates = by_shape.get(t.shape) if t.shape is not None and len(t.shape) >= 2 else None
            if candidates:
                pairs.append((v, candidates.pop(0)))
        if len(nodes_a) == 1 and len(nodes_b) == 1:
            fields.append(FieldChange("weights", len(wa), len(wb), "number of weights"))
    seen: set[tuple[int, int]] = set()
    for va, vb in pairs:
        if (id(va), id(vb)) in seen:
            continue
        seen.add((id(va), id(vb)))
        change = comparer.compare(f"weight:{va.name}", va, vb, graph_b)
        if change is not None:
            fields.append(change)
    return fields


def _tensor_attribute_fields(nodes_a: list[Node], nodes_b: list[Node], comparer: _WeightComparer, graph_b: Graph) -> list[FieldChange]:
    """Weights held as tensor attributes of a one-to-one pair (ONNX ``Constant``/``ConstantOfShape``
    ``value``: onnx's light models make every weight that way), compared like weights."""
    if len(nodes_a) != 1 or len(nodes_b) != 1:
        return []
    na, nb = nodes_a[0], nodes_b[0]
    held_b = {a.name: a.value for a in nb.attributes if isinstance(a.value, Tensor)}
    fields: list[FieldChange] = []
    for attr in na.attributes:
        tb = held_b.get(attr.name)
        if isinstance(attr.value, Tensor) and tb is not None:
            made = next(iter(na.output_values()), None)
            label = f"weight:{made.name if made is not None else na.name}" + ("" if attr.name == "value" else f".{attr.name}")
            change = comparer.compare_tensors(label, attr.value, tb, graph_b)
            if change is not None:
                fields.append(change)
    return fields


def _is_quantization(node: Node) -> bool:
    op = normalise(node.op)
    return node.category.value == "quantization" or "quant" in op or op.endswith("integer") or op.startswith("qlinear")


def _is_weight(graph: Graph, name: str) -> bool:
    v = graph.values.get(name)
    return v is not None and v.initializer is not None


def _group_fields(nodes_a: list[Node], nodes_b: list[Node]) -> list[FieldChange]:
    """What a many-to-many pair says: the ops fused (or split), and constants folded away."""
    ops_a = [n for n in nodes_a if has_live_input(n)]
    ops_b = [n for n in nodes_b if has_live_input(n)]
    const_a = len(nodes_a) - len(ops_a)
    const_b = len(nodes_b) - len(ops_b)
    fields: list[FieldChange] = []
    text_a = "+".join(n.op for n in ops_a)
    text_b = "+".join(n.op for n in ops_b)
    if text_a != text_b:
        quantized = any(_is_quantization(n) for n in ops_b) and not any(_is_quantization(n) for n in ops_a)
        how = "quantized" if quantized else "fused" if len(ops_a) > len(ops_b) else "split" if len(ops_a) < len(ops_b) else "replaced"
        fields.append(FieldChange(how, text_a or None, text_b or None, f"{len(ops_a)} -> {len(ops_b)} ops"))
    if const_a or const_b:
        fields.append(FieldChange("constant-folded", const_a, const_b, "constant nodes (folded into weights on the other side)"))
    return fields


def _scope(nodes_a: list[Node], nodes_b: list[Node]) -> str:
    node = (nodes_b or nodes_a)[0]
    return "/".join(node.scope)


def _model_fields(a: Model, b: Model, ga: Graph, gb: Graph, comparer: _WeightComparer) -> list[FieldChange]:
    fields: list[FieldChange] = []
    if a.format != b.format:
        fields.append(FieldChange("format", a.format, b.format))
    for name in ("producer", "producer_version", "description"):
        x, y = getattr(a, name), getattr(b, name)
        if x != y:
            fields.append(FieldChange(name, x or None, y or None))
    used_a = {n.domain for n in ga.nodes} | {"", "ai.onnx"}
    used_b = {n.domain for n in gb.nodes} | {"", "ai.onnx"}
    for domain in dict.fromkeys([*a.imports, *b.imports]):
        x, y = a.imports.get(domain), b.imports.get(domain)
        if (x is None and domain not in used_b) or (y is None and domain not in used_a):
            continue  # a domain declared but used by no node (onnxruntime declares all of its own)
        if x != y:
            fields.append(FieldChange(f"opset:{domain}", x, y))
    for key in dict.fromkeys([*a.metadata, *b.metadata]):
        x, y = a.metadata.get(key), b.metadata.get(key)
        if x != y:
            fields.append(FieldChange(f"metadata:{key}", meta_text(x) if x is not None else None, meta_text(y) if y is not None else None))
    # Inputs that are weights are no inputs; nor is an unused input that was a weight on the
    # other side (onnxruntime keeps the inputs of initializers it folded away).
    live_a = [v for v in ga.inputs if v.initializer is None and not (not v.consumers and _is_weight(gb, v.name))]
    live_b = [v for v in gb.inputs if v.initializer is None and not (not v.consumers and _is_weight(ga, v.name))]
    for label, ports_a, ports_b in (("graph_input", live_a, live_b), ("graph_output", ga.outputs, gb.outputs)):
        paired = list(pair_values(ports_a, ports_b))
        done_a = {id(x) for x, _ in paired}
        done_b = {id(y) for _, y in paired}
        for va, vb in paired:
            ta, tb = str(va.type), str(vb.type)
            dtypes_differ = va.type.dtype and vb.type.dtype and va.type.dtype != vb.type.dtype
            if va.name != vb.name or dtypes_differ or not _shapes_equal(va.type.shape, vb.type.shape, a.format != b.format):
                fields.append(FieldChange(f"{label}:{va.name}", f"{va.name}: {ta}", f"{vb.name}: {tb}"))
        for va in ports_a:
            if id(va) not in done_a:
                fields.append(FieldChange(f"{label}:{va.name}", f"{va.name}: {va.type}", None, "removed"))
        for vb in ports_b:
            if id(vb) not in done_b:
                fields.append(FieldChange(f"{label}:{vb.name}", None, f"{vb.name}: {vb.type}", "added"))
    # Named tensors outside any graph (weights-only models), by name.
    if a.tensors or b.tensors:
        for name in dict.fromkeys([*a.tensors, *b.tensors]):
            x, y = a.tensors.get(name), b.tensors.get(name)
            if x is None or y is None:
                fields.append(FieldChange(f"tensor:{name}", repr(x) if x else None, repr(y) if y else None, "removed" if y is None else "added"))
                continue
            change = comparer.compare(f"tensor:{name}", Value(name, initializer=x), Value(name, initializer=y), gb)
            if change is not None:
                fields.append(change)
    return fields


def diff_models(
    a: Model,
    b: Model,
    *,
    weights: bool = True,
    tolerance: float = 0.0,
    graph_a: Graph | None = None,
    graph_b: Graph | None = None,
) -> DiffResult:
    """Pair the nodes of ``graph_a`` (default: A's main graph) with those of ``graph_b``
    and list what differs. ``weights=False`` compares weights by dtype and shape only;
    ``tolerance`` is the largest absolute weight difference still counted as equal."""
    ga = graph_a if graph_a is not None else (a.graphs[0] if a.graphs else Graph("(weights only)"))
    gb = graph_b if graph_b is not None else (b.graphs[0] if b.graphs else Graph("(weights only)"))
    cross = a.format.split()[0] != b.format.split()[0]
    matcher = Matcher(ga, gb)
    matcher.run()
    comparer = _WeightComparer(tolerance, weights)
    pairs: list[tuple[list[Node], list[Node]]] = []
    changes: list[Change] = []
    for nodes_a, nodes_b, how in matcher.pairs():
        pairs.append((nodes_a, nodes_b))
        if len(nodes_a) == 1 and len(nodes_b) == 1 and not how:
            fields = _node_fields(nodes_a[0], nodes_b[0], cross)
        else:
            fields = _group_fields(nodes_a, nodes_b)
        structural = bool(fields)
        fields += _weights_fields(nodes_a, nodes_b, comparer, gb)
        fields += _tensor_attribute_fields(nodes_a, nodes_b, comparer, gb)
        if fields:
            changes.append(Change("changed" if structural else "weights", nodes_a, nodes_b, fields, _scope(nodes_a, nodes_b)))
    for n in ga.nodes:
        if matcher.free_a(n):
            changes.append(Change("removed", [n], [], [], _scope([n], [])))
    for n in gb.nodes:
        if matcher.free_b(n):
            changes.append(Change("added", [], [n], [], _scope([], [n])))
    order_b = {id(n): n.index for n in gb.nodes}

    def position(c: Change) -> tuple[int, int]:
        if c.b:
            return (order_b.get(id(c.b[0]), 0), 0 if not c.a else 1)
        return (_nearest_b(c.a[0], matcher, order_b), 2)

    changes.sort(key=position)
    return DiffResult(a, b, pairs, changes, _model_fields(a, b, ga, gb, comparer), ga, gb, tolerance, weights)


def _nearest_b(node: Node, matcher: Matcher, order_b: dict[int, int]) -> int:
    """Where a removed node of A would sit in B's order: after its nearest matched producer."""
    stack: list[Node] = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        for v in n.input_values():
            p = v.producer
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            partner = matcher.a_to_b.get(id(p))
            if partner is not None:
                return order_b.get(id(partner), 0)
            stack.append(p)
    return -1


def iter_fields(result: DiffResult) -> Iterable[FieldChange]:
    for c in result.changes:
        yield from c.fields


# ---------------------------------------------------------------------------------------------
# Text


def _node_text(nodes: list[Node]) -> str:
    if not nodes:
        return "-"
    if len(nodes) == 1:
        n = nodes[0]
        return f"{n.op} {n.name or n.id}"
    return "+".join(n.op for n in nodes) + f" ({nodes[0].name or nodes[0].id}, …)"


def diff_lines(result: DiffResult, limit: int | None = None) -> list[str]:
    """The report ``netray diff`` prints: a summary, model-level changes, then node changes by scope.

    ``limit`` caps the node changes listed (the rest are counted)."""
    s = result.summary()
    name_a = str(result.a.source.name if result.a.source else "A")
    name_b = str(result.b.source.name if result.b.source else "B")
    lines = [
        f"A {name_a} ({result.a.format}, {len(result.graph_a.nodes) if result.graph_a else 0} nodes)",
        f"B {name_b} ({result.b.format}, {len(result.graph_b.nodes) if result.graph_b else 0} nodes)",
        f"matched {s['matched']} (fused or split {s['fused']}), changed {s['changed']}, added {s['added']}, "
        f"removed {s['removed']}, weights changed {s['weights_changed']}, model changes {s['model_changed']}",
    ]
    if result.same:
        tol = f" within tolerance {result.tolerance:g}" if result.tolerance else ""
        lines.append(f"the models are the same{tol}" + ("" if result.weights_compared else " (weights compared by dtype and shape only)"))
        return lines
    if result.model_changes:
        lines.append("")
        lines.append("model")
        lines.extend(f"  {f.text()}" for f in result.model_changes)
    shown = 0
    for scope, changes in result.by_scope().items():
        if limit is not None and shown >= limit:
            break
        lines.append("")
        lines.append(scope or "(top level)")
        for c in changes:
            if limit is not None and shown >= limit:
                break
            shown += 1
            sign = {"added": "+", "removed": "-", "changed": "~", "weights": "w"}[c.kind]
            if c.kind == "added":
                lines.append(f"  {sign} added    {_node_text(c.b)}")
            elif c.kind == "removed":
                lines.append(f"  {sign} removed  {_node_text(c.a)}")
            else:
                label = "changed " if c.kind == "changed" else "weights "
                head = _node_text(c.a)
                other = _node_text(c.b)
                lines.append(f"  {sign} {label} {head}" + ("" if other == head else f" -> {other}"))
                lines.extend(f"      {f.text()}" for f in c.fields)
    rest = len(result.changes) - shown
    if rest > 0:
        lines.append(f"… and {rest} more changes (--json for all)")
    return lines
