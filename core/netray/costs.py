"""What each node costs: parameters, weight bytes, MACs, FLOPs, activation bytes, intensity.

One table, :data:`FORMULAS`, states each op kind's formula (kinds from
:mod:`netray.opkinds`); a plugin gives its own ops a kind through the
``netray_op_kind`` hook, or a whole formula through ``netray_op_cost``. A node whose
kind has no formula, or whose shapes are not known, has MACs and FLOPs ``None``
("unknown"): it is listed in ``unknown_ops`` and never counted as zero.

The formulas are written in what every format states the same way: shapes. A
convolution costs *output positions × weight elements* whatever order its weight
dimensions come in (ONNX's OIHW, TFLite's OHWI, Keras's HWIO, a separable conv's two
kernels), where output positions are output elements ÷ output channels.

Constants: a value is constant when it is a weight (an initializer) or is computed
from constants only (``Constant``, ``ConstantOfShape`` of a stored shape, a
``DequantizeLinear`` of stored int8). Nodes that compute only constants cost nothing
at run time (a runtime folds them); the constants that computing nodes read are
their parameters, each counted once, at its first reader.

Named dimensions (``batch``) count as the value given in ``dims`` or as 1, and the
report lists the ones assumed. A dimension that is not known at all makes the node's
cost unknown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netray import dtypes
from netray.dim_expressions import resolve_size
from netray.graph_order import execution_sequence
from netray.hierarchy import Hierarchy, is_constant_op
from netray.ir import Graph, Model, Node, Shape, Value
from netray.metrics import Metric
from netray.opkinds import normalise, op_kind

CHANNELS_LAST_FORMATS = ("TFLite", "Keras", "TensorFlow", "TF.js")
"""Format families whose activations are NHWC: a convolution's channels are its last axis."""


@dataclass(slots=True)
class NodeCost:
    """One node's costs; None is "unknown", never zero."""

    parameters: int = 0
    weight_bytes: int = 0
    macs: int | None = None
    flops: int | None = None
    input_bytes: int | None = None
    activation_bytes: int | None = None
    formula: str = ""
    kind: str = ""

    @property
    def intensity(self) -> float | None:
        """FLOPs per byte moved (weights, inputs and outputs read or written once)."""
        if self.flops is None or self.input_bytes is None or self.activation_bytes is None:
            return None
        moved = self.weight_bytes + self.input_bytes + self.activation_bytes
        return self.flops / moved if moved else None


@dataclass(slots=True)
class CostContext:
    """What a formula reads: the node, its activations' and weights' shapes with dims resolved."""

    node: Node
    inputs: list[tuple[int, ...] | None]  # every input value in order (constants too)
    constant: list[bool]
    outputs: list[tuple[int, ...] | None]
    channels_last: bool

    def data(self, index: int = 0) -> tuple[int, ...] | None:
        """The shape of the ``index``-th non-constant input."""
        shapes = [s for s, c in zip(self.inputs, self.constant, strict=True) if not c]
        return shapes[index] if index < len(shapes) else None

    def weights(self) -> list[tuple[int, ...] | None]:
        """Shapes of the inputs after the first that have rank 2 or more (kernels, not biases)."""
        return [s for s in self.inputs[1:] if s is None or len(s) >= 2]

    def attribute(self, *names: str) -> Any:
        for name in names:
            a = self.node.attribute(name)
            if a is not None:
                return a.value
        return None


Cost = tuple[int | None, int | None]  # MACs, FLOPs
CostFunction = Callable[[CostContext], Cost]


@dataclass(frozen=True)
class Formula:
    text: str
    compute: CostFunction


def _elements(shape: tuple[int, ...] | None) -> int | None:
    return None if shape is None else math.prod(shape)


def _out(ctx: CostContext) -> int | None:
    if not ctx.outputs or ctx.outputs[0] is None:
        return None
    return math.prod(ctx.outputs[0])


def _positions(shape: tuple[int, ...] | None, channels_last: bool, spatial: int) -> int | None:
    """Elements ÷ channels of an activation laid out NC... or N...C."""
    if shape is None or not shape:
        return None
    axis = len(shape) - 1 if channels_last else max(len(shape) - spatial - 1, 0)
    return math.prod(shape) // shape[axis] if shape[axis] else 0


def _kernel_elements(ctx: CostContext) -> tuple[int, int] | None:
    """(weight elements, spatial rank) of the node's kernels; None if a kernel's shape is unknown."""
    kernels = ctx.weights()
    if not kernels or any(k is None for k in kernels):
        return None
    total = sum(math.prod(k) for k in kernels if k is not None)
    spatial = max(len(kernels[0] or ()) - 2, 1)
    return total, spatial


def _conv(ctx: CostContext) -> Cost:
    kernel = _kernel_elements(ctx)
    out = ctx.outputs[0] if ctx.outputs else None
    if kernel is None or out is None:
        return None, None
    positions = _positions(out, ctx.channels_last, kernel[1])
    if positions is None:
        return None, None
    macs = positions * kernel[0]
    return macs, 2 * macs


def _conv_transpose(ctx: CostContext) -> Cost:
    kernel = _kernel_elements(ctx)
    positions = _positions(ctx.data(), ctx.channels_last, kernel[1]) if kernel else None
    if kernel is None or positions is None:
        return None, None
    macs = positions * kernel[0]
    return macs, 2 * macs


def _dense(ctx: CostContext) -> Cost:
    """MACs = rows × in features × out features, found without knowing the layout.

    With x = rows × K elements, out = rows × U and the weight K × U in any orientation,
    x · out · weight = (rows · K · U)²: Core ML's [K, 1, 1] activations and TFLite's
    [U, K] weights need no special case.
    """
    out, x = _out(ctx), _elements(ctx.data())
    kernels = [k for k in ctx.weights() if k is not None]
    if out is None:
        return None, None
    if not kernels:  # the weight arrives as an activation: a plain matmul
        return _matmul(ctx)
    weight = math.prod(kernels[0])
    if x is not None:
        macs = math.isqrt(x * out * weight)
        if macs * macs == x * out * weight:
            return macs, 2 * macs
    shape = ctx.outputs[0] or (0,)
    macs = (out // shape[-1] if shape[-1] else 0) * weight
    return macs, 2 * macs


def _matmul(ctx: CostContext) -> Cost:
    """MACs = output elements × K, K the contracted dimension of the left operand."""
    out = _out(ctx)
    first = 1 if normalise(ctx.node.op) in ("addmm", "baddbmm") else 0  # torch puts the bias first
    left = ctx.inputs[first] if first < len(ctx.inputs) else None
    if out is None or left is None or not left:
        return None, None
    transposed = bool(ctx.attribute("transA", "transpose_a", "adj_x", "trans_x"))
    k = left[-2] if transposed and len(left) >= 2 else left[-1]
    macs = out * k
    return macs, 2 * macs


def _einsum(ctx: CostContext) -> Cost:
    """MACs = the product of every index's size (each combination is one multiply-add)."""
    equation = ctx.attribute("equation")
    if not isinstance(equation, str) or "..." in equation:
        return None, None
    operands = equation.replace(" ", "").split("->")[0].split(",")
    if len(operands) != len(ctx.inputs) or len(operands) < 2:
        return None, None
    sizes: dict[str, int] = {}
    for letters, shape in zip(operands, ctx.inputs, strict=True):
        if shape is None or len(shape) != len(letters):
            return None, None
        sizes.update(zip(letters, shape, strict=True))
    macs = math.prod(sizes.values())
    return macs, 2 * macs


def _attention(ctx: CostContext) -> Cost:
    """Fused attention on (q, k, v) of shape [..., S, D]: QKᵀ and the weighted sum of V."""
    q, k = ctx.data(0), ctx.data(1)
    if q is None or k is None or len(q) < 3 or len(k) < 3:
        return None, None
    macs = 2 * math.prod(q) * k[-2]
    return macs, 2 * macs + 4 * (math.prod(q) // q[-1]) * k[-2]


def _recurrent(ctx: CostContext) -> Cost:
    """Each step multiplies the whole input and recurrent kernels once per sequence item."""
    x = ctx.data()
    kernels = [k for k in ctx.weights() if k is not None]
    if x is None or not x or not kernels:
        return None, None
    steps = math.prod(x) // x[-1] if x[-1] else 0
    macs = steps * sum(math.prod(k) for k in kernels)
    return macs, 2 * macs


def _per_output(flops_per_element: int) -> CostFunction:
    def cost(ctx: CostContext) -> Cost:
        out = _out(ctx)
        return (0, None) if out is None else (0, flops_per_element * out)

    return cost


def _binary(ctx: CostContext) -> Cost:
    out = _out(ctx)
    return (0, None) if out is None else (0, out * max(len(ctx.inputs) - 1, 1))


def _per_input(ctx: CostContext) -> Cost:
    x = _elements(ctx.data())
    return (0, None) if x is None else (0, x)


def _pool(ctx: CostContext) -> Cost:
    out = _out(ctx)
    kernel = ctx.attribute("kernel_shape", "ksize", "kernel_size", "pool_size", "size")
    if isinstance(kernel, int):
        kernel = [kernel, kernel]
    window: int | None
    if isinstance(kernel, list) and kernel and all(isinstance(k, int) for k in kernel):
        window = math.prod(kernel)
    else:  # no window stated: each input element is read once
        x = _elements(ctx.data())
        window = x // out if x is not None and out else None
    return (0, None) if out is None or window is None else (0, out * window)


def _free(ctx: CostContext) -> Cost:
    return 0, 0


FORMULAS: dict[str, Formula] = {
    "conv": Formula("MACs = output positions × kernel elements (output positions = output elements ÷ output channels); FLOPs = 2 × MACs", _conv),
    "conv_transpose": Formula("MACs = input positions × kernel elements (input positions = input elements ÷ input channels); FLOPs = 2 × MACs", _conv_transpose),
    "dense": Formula("MACs = rows × input features × output features (= √(input elements × output elements × weight elements)); FLOPs = 2 × MACs", _dense),
    "gemm": Formula("MACs = output elements × K (K: the left operand's contracted dimension); FLOPs = 2 × MACs", _matmul),
    "matmul": Formula("MACs = output elements × K (K: the left operand's contracted dimension, batches broadcast); FLOPs = 2 × MACs", _matmul),
    "einsum": Formula("MACs = product of the sizes of all indices of the equation; FLOPs = 2 × MACs", _einsum),
    "attention": Formula("MACs = 2 × query elements × key length (QKᵀ and the weighted sum of V); FLOPs = 2 × MACs + 4 × scores (softmax)", _attention),
    "recurrent": Formula("MACs = sequence items × kernel elements (input and recurrent kernels, all gates and directions); FLOPs = 2 × MACs", _recurrent),
    "pool": Formula("FLOPs = output elements × window elements", _pool),
    "global_pool": Formula("FLOPs = input elements", _per_input),
    "reduce": Formula("FLOPs = input elements", _per_input),
    "normalization": Formula("FLOPs = 5 × output elements (mean, variance, normalise, scale, shift; inference batch norm folds to 2, counted as 5)", _per_output(5)),
    "softmax": Formula("FLOPs = 4 × output elements (subtract max, exp, sum, divide)", _per_output(4)),
    "binary": Formula("FLOPs = output elements × (inputs − 1)", _binary),
    "unary": Formula("FLOPs = output elements (one operation each, transcendental ones too)", _per_output(1)),
    "resize": Formula("FLOPs = output elements (one interpolation step each)", _per_output(1)),
    "embedding": Formula("no arithmetic: rows are copied (FLOPs = 0)", _free),
    "data_movement": Formula("no arithmetic: data is moved or relabelled (FLOPs = 0)", _free),
}


@dataclass
class CostReport:
    """Costs of one graph: per node (by id), totals, by op type, and the activation peak."""

    graph: Graph
    nodes: dict[str, NodeCost]
    assumed_dims: dict[str, int] = field(default_factory=dict)
    peak_activation_bytes: int | None = None
    peak_node: str | None = None
    unknown_ops: dict[str, int] = field(default_factory=dict)  # op -> nodes whose cost is unknown

    def total(self) -> dict[str, Any]:
        """The JSON totals: parameters, weight bytes, MACs, FLOPs, peak activation bytes, unknown ops."""
        return {
            "parameters": sum(c.parameters for c in self.nodes.values()),
            "weight_bytes": sum(c.weight_bytes for c in self.nodes.values()),
            "macs": sum(c.macs or 0 for c in self.nodes.values()),
            "flops": sum(c.flops or 0 for c in self.nodes.values()),
            "activation_bytes": sum(c.activation_bytes or 0 for c in self.nodes.values()),
            "peak_activation_bytes": self.peak_activation_bytes,
            "unknown_ops": sum(self.unknown_ops.values()),
        }

    def by_op(self) -> dict[str, dict[str, int]]:
        """Totals per op type, the op with most MACs first."""
        table: dict[str, dict[str, int]] = {}
        for node in self.graph.nodes:
            cost = self.nodes.get(node.id)
            if cost is None:
                continue
            row = table.setdefault(node.op, {"count": 0, "parameters": 0, "weight_bytes": 0, "macs": 0, "flops": 0, "unknown": 0})
            row["count"] += 1
            row["parameters"] += cost.parameters
            row["weight_bytes"] += cost.weight_bytes
            row["macs"] += cost.macs or 0
            row["flops"] += cost.flops or 0
            row["unknown"] += cost.flops is None
        return dict(sorted(table.items(), key=lambda kv: (-kv[1]["macs"], -kv[1]["flops"], kv[0])))

    def top(self, metric: str, count: int = 20) -> list[tuple[str, int | float]]:
        """The ``count`` nodes with the largest ``metric`` (a NodeCost field), as (id, number)."""
        numbers = [(i, getattr(c, metric)) for i, c in self.nodes.items()]
        known = [(i, v) for i, v in numbers if v is not None and v > 0]
        known.sort(key=lambda item: -item[1])
        return known[:count]

    def group_totals(self, hierarchy: Hierarchy) -> dict[str, dict[str, int]]:
        """Parameters, weight bytes, MACs and FLOPs of each group of ``hierarchy`` (all levels below it)."""
        nodes = self.graph.nodes
        out: dict[str, dict[str, int]] = {}
        for gid, group in hierarchy.groups.items():
            members = [self.nodes.get(nodes[i].id) for i in hierarchy.order[group.start : group.end].tolist()]
            costs = [c for c in members if c is not None]
            out[gid] = {
                "parameters": sum(c.parameters for c in costs),
                "weight_bytes": sum(c.weight_bytes for c in costs),
                "macs": sum(c.macs or 0 for c in costs),
                "flops": sum(c.flops or 0 for c in costs),
            }
        return out

    def metrics(self) -> list[Metric]:
        """The per-node tables the viewer paints and ``--csv`` writes."""

        def table(field_name: str) -> tuple[dict[str, float], frozenset[str]]:
            values: dict[str, float] = {}
            unknown: set[str] = set()
            for node_id, cost in self.nodes.items():
                v = getattr(cost, field_name)
                if v is None:
                    unknown.add(node_id)
                else:
                    values[node_id] = float(v)
            return values, frozenset(unknown)

        specs = (
            ("MACs", "macs", "MAC", "sum", "multiply-accumulates"),
            ("FLOPs", "flops", "FLOP", "sum", "floating-point operations"),
            ("parameters", "parameters", "", "sum", "weight elements the node reads"),
            ("weight bytes", "weight_bytes", "B", "sum", "bytes of the weights as stored"),
            ("activation bytes", "activation_bytes", "B", "sum", "bytes of the node's outputs"),
            ("arithmetic intensity", "intensity", "FLOP/B", "max", "FLOPs per byte of weights, inputs and outputs"),
        )
        metrics = []
        for name, attr, unit, aggregate, description in specs:
            values, unknown = table(attr)
            metrics.append(Metric(name, values, unit, description, aggregate, log=attr != "intensity", unknown=unknown))
        return metrics


# -- computing ----------------------------------------------------------------------------------


def _resolve(shape: Shape | None, dims: Mapping[str, int], assumed: dict[str, int]) -> tuple[int, ...] | None:
    """A shape with named dims (and expressions of them) replaced by their values, names not given
    counting as 1; None if any is unknown."""
    if shape is None:
        return None
    out = []
    for d in shape:
        if isinstance(d, int):
            if d < 0:
                return None
            out.append(d)
        elif isinstance(d, str):
            size = resolve_size(d, dims, assumed)  # a name, or arithmetic on names ("2*s27 - 1")
            if size is None:
                return None
            out.append(size)
        else:
            return None
    return tuple(out)


def constant_values(graph: Graph) -> set[int]:
    """ids of the graph's values computable from weights alone (see the module's note)."""
    constant = {id(v) for v in graph.values.values() if v.initializer is not None}
    for node in graph.nodes:
        if node.subgraphs or node.control_inputs:
            continue
        ins = list(node.input_values())
        # A node with no inputs makes a constant only as a constant op (not a random or input op).
        if all(id(v) in constant for v in ins) and (ins or is_constant_op(node)):
            constant.update(id(v) for v in node.output_values())
    return constant


def _value_bytes(value: Value, shape: tuple[int, ...] | None) -> int | None:
    if shape is None:
        return None
    return dtypes.byte_size(value.type.dtype or "float32", math.prod(shape))


def _stored_bytes(value: Value, shape: tuple[int, ...] | None) -> int:
    """Bytes a constant takes as stored: its tensor's, or, computed from a stored tensor (dequantized), that one's."""
    source = value
    producer = value.producer
    if value.initializer is None and producer is not None and shape is not None and op_kind(producer.op) == "data_movement":
        # A weight stored in another form (DequantizeLinear of int8, Cast, Transpose): the stored one's bytes.
        count = math.prod(shape)
        stored = [v for v in producer.input_values() if v.initializer is not None and v.initializer.size == count]
        source = stored[0] if stored else value
    tensor = source.initializer
    if tensor is not None and tensor.byte_size is not None:
        return tensor.byte_size
    if tensor is not None:
        return dtypes.byte_size(tensor.dtype, tensor.size) or 0
    return _value_bytes(source, shape) or 0


KindLookup = Callable[[Node], "Formula | None"]


def compute_costs(
    model: Model,
    graph: Graph | None = None,
    dims: Mapping[str, int] | None = None,
    formula_for: KindLookup | None = None,
) -> CostReport:
    """Costs of every node of ``graph`` (the main graph by default).

    ``formula_for`` gives a node's formula; by default the installed plugins are asked
    (``netray_op_cost``) and then :data:`FORMULAS` by the op's kind, once per op type.
    """
    from netray.plugins import gc_paused

    with gc_paused():  # tens of thousands of small objects: no full collections over the model meanwhile
        return _compute(model, graph if graph is not None else model.main, dims or {}, formula_for)


def _compute(model: Model, graph: Graph, dims: Mapping[str, int], formula_for: KindLookup | None) -> CostReport:
    assumed: dict[str, int] = {}
    channels_last = model.format.startswith(CHANNELS_LAST_FORMATS)
    constant = constant_values(graph)
    counted: set[int] = set()
    facts: dict[int, tuple[tuple[int, ...] | None, int | None]] = {}  # id(value) -> (shape, bytes)

    def fact(v: Value) -> tuple[tuple[int, ...] | None, int | None]:
        known = facts.get(id(v))
        if known is None:
            declared = v.type.shape
            if declared is None and v.initializer is not None:
                declared = v.initializer.shape
            shape = _resolve(declared, dims, assumed)
            known = facts[id(v)] = (shape, _value_bytes(v, shape))
        return known

    lookup = formula_for or plugin_formulas(model.format)
    report = CostReport(graph, {})
    for node in graph.nodes:
        ins = list(node.input_values())
        outs = list(node.output_values())
        cost = NodeCost(kind=op_kind(node.op))
        report.nodes[node.id] = cost
        if outs and all(id(v) in constant for v in outs):
            cost.macs, cost.flops, cost.input_bytes, cost.activation_bytes = 0, 0, 0, 0
            cost.formula = "computes constants only (folded by a runtime)"
            continue
        is_constant = [id(v) in constant for v in ins]
        in_facts = [fact(v) for v in ins]
        out_facts = [fact(v) for v in outs]
        input_bytes: int | None = 0
        for v, const, (shape, size) in zip(ins, is_constant, in_facts, strict=True):
            if not const:
                input_bytes = None if input_bytes is None or size is None else input_bytes + size
            elif id(v) not in counted:
                counted.add(id(v))
                cost.parameters += math.prod(shape) if shape is not None else 0
                cost.weight_bytes += _stored_bytes(v, shape)
        out_sizes = [size for _, size in out_facts]
        cost.input_bytes = input_bytes
        cost.activation_bytes = None if None in out_sizes else sum(s or 0 for s in out_sizes)
        formula = lookup(node)
        if formula is not None:
            ctx = CostContext(node, [f[0] for f in in_facts], is_constant, [f[0] for f in out_facts], channels_last)
            cost.macs, cost.flops = formula.compute(ctx)
            cost.formula = formula.text
        if cost.flops is None:
            report.unknown_ops[node.op] = report.unknown_ops.get(node.op, 0) + 1
    report.assumed_dims = assumed
    report.peak_activation_bytes, report.peak_node = peak_memory(graph, constant, lambda v: fact(v)[1])
    return report


def plugin_formulas(format: str) -> KindLookup:
    """A node's formula as the plugins and the core's table give it, asked once per (domain, op)."""
    from netray.plugins import get_manager

    manager = get_manager()
    known: dict[tuple[str, str], Formula | None] = {}

    def lookup(node: Node) -> Formula | None:
        key = (node.domain, node.op)
        if key not in known:
            known[key] = manager.cost_formula(format, node.domain, node.op)
        return known[key]

    return lookup


def peak_memory(graph: Graph, constant: set[int], size_of: Callable[[Value], int | None]) -> tuple[int | None, str | None]:
    """The largest sum of live activation bytes while running the nodes in topological order, and where.

    A value is live from its producer (the start, for graph inputs) to its last reader
    (the end, for graph outputs); weights do not count. Values of unknown size count 0,
    and the peak is then a lower bound.
    """
    if not graph.nodes:
        return None, None
    order = execution_sequence(graph)
    position = {id(graph.nodes[i]): step for step, i in enumerate(order)}
    outputs = {id(v) for v in graph.outputs}
    end = len(order)
    frees: list[int] = [0] * (end + 1)
    live = 0
    for v in graph.inputs:
        if id(v) not in constant:
            size = size_of(v) or 0
            live += size
            last = max((position.get(id(c), -1) for c in v.consumers), default=-1)
            frees[end if id(v) in outputs else last + 1 if last >= 0 else 0] += size
    peak, peak_step = live, -1
    for step, i in enumerate(order):
        live -= frees[step]
        node = graph.nodes[i]
        for v in node.output_values():
            if id(v) in constant:
                continue
            size = size_of(v) or 0
            live += size
            last = max((position.get(id(c), -1) for c in v.consumers), default=step)
            frees[end if id(v) in outputs else max(last, step) + 1] += size
        if live > peak:
            peak, peak_step = live, step
    return peak, graph.nodes[order[peak_step]].id if peak_step >= 0 else None
