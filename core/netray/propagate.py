"""Shape propagation that any plugin can call: shapes the file does not state, from the ones it does.

The engine walks a graph in topological order and asks a *rule* per node for the shapes of
its outputs; a value keeps what the file states and only unknown shapes or dimensions are
filled, marked ``inferred`` (:attr:`netray.ir.TensorType.inferred`). Small integer tensors
(stored shapes, axes, ``Shape`` of a known value) are followed by value, so that a
``Reshape`` to a computed shape still gets one.

This module is the engine and the shape arithmetic rules share; the rules themselves, by op
kind, are :mod:`netray.shape_rules` (the default). A plugin whose ops differ passes its own
rules (the TensorFlow plugin does) and may reuse :class:`Site`, :func:`broadcast`,
:func:`window_size`, :func:`concat_shapes` and :func:`remaining_size`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from netray.ir import Dim, Graph, Node, Shape, TensorType, Value
from netray.opkinds import op_kind

INFERRED = "netray propagation"
MAX_CONTENTS = 64  # integer tensors of at most this many elements are followed by value
INTEGRAL_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"})
Contents = list[Dim]  # a small integer tensor's elements: sizes, dimension names, or unknown
Rule = Callable[["Site"], Sequence[Shape | None]]


class Site:
    """One node as the rules see it: its inputs' shapes and known contents, its attributes."""

    def __init__(self, node: Node, inputs: list[Value], contents: dict[int, Contents]) -> None:
        self.node = node
        self.inputs = inputs
        self._contents = contents

    def shape(self, i: int) -> Shape | None:
        if i >= len(self.inputs):
            return None
        v = self.inputs[i]
        if v.type.shape is None and v.initializer is not None:
            return v.initializer.shape
        return v.type.shape

    def rank(self, i: int) -> int | None:
        s = self.shape(i)
        return None if s is None else len(s)

    def contents(self, i: int) -> Contents | None:
        return self._contents.get(id(self.inputs[i])) if i < len(self.inputs) else None

    def scalar(self, i: int) -> int | None:
        c = self.contents(i)
        return c[0] if c is not None and len(c) == 1 and isinstance(c[0], int) else None

    def attr(self, name: str, default: Any = None) -> Any:
        a = self.node.attribute(name)
        return default if a is None or a.value is None else a.value

    def ints(self, name: str) -> list[int] | None:
        """An attribute that is a list of ints (or one int), else None."""
        value = self.attr(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return list(value)
        return None


# -- shape arithmetic ------------------------------------------------------------------------------


def normalise_axis(axis: int | None, rank: int) -> int | None:
    """``axis`` in ``[0, rank)`` (negative counts from the end); None when out of range."""
    if axis is None or not -rank <= axis < max(rank, 1):
        return None
    return axis + rank if axis < 0 else axis


def broadcast(*shapes: Shape | None) -> Shape | None:
    """NumPy broadcasting with unknown dimensions; None when a rank is unknown."""
    if any(s is None for s in shapes) or not shapes:
        return None
    rank = max(len(s) for s in shapes if s is not None)
    out: list[Dim] = []
    for k in range(rank):
        dims = [s[len(s) - rank + k] for s in shapes if s is not None and len(s) - rank + k >= 0]
        sizes = {d for d in dims if d != 1 and d is not None}
        if len(sizes) == 1:
            out.append(sizes.pop())
        elif not sizes and all(d == 1 for d in dims):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def window_size(size: Dim, kernel: Dim, stride: int, dilation: int, pads: tuple[int, int], same: bool = False, ceil: bool = False) -> Dim:
    """Output length of a convolution or pooling window along one axis."""
    if not isinstance(size, int) or stride <= 0:
        return None
    if same:
        return -(-size // stride)
    if not isinstance(kernel, int):
        return None
    extent = (kernel - 1) * dilation + 1
    span = size + pads[0] + pads[1] - extent
    if span < 0:
        return None
    return (-(-span // stride) if ceil else span // stride) + 1


def remaining_size(whole: Shape, part: Sequence[Dim]) -> Dim:
    """The one size that makes ``part`` hold as many elements as ``whole`` (reshape's -1).

    Named dimensions cancel by name ([batch, 2, 2, seq, 16] into [batch, -1, seq, 16] gives 4).
    """
    names = [d for d in whole if isinstance(d, str)]
    sizes = [d for d in whole if isinstance(d, int)]
    if len(names) + len(sizes) != len(whole):
        return None
    for d in part:
        if isinstance(d, str) and d in names:
            names.remove(d)
        elif not isinstance(d, int):
            return None
    if names:
        return None
    rest = math.prod(int(d) for d in part if isinstance(d, int))
    total = math.prod(sizes)
    return total // rest if rest and total % rest == 0 else None


def concat_shapes(shapes: Sequence[Shape | None], axis: int | None) -> Shape | None:
    """Shapes joined along ``axis``: sizes added there, the others agreed; the rank alone where the axis is unknown."""
    known = [s for s in shapes if s is not None]
    if not known or any(len(s) != len(known[0]) for s in known):
        return None
    rank = len(known[0])
    at = None if axis is None else normalise_axis(axis, rank)
    if at is None:
        return (None,) * rank
    out: list[Dim] = []
    for k in range(rank):
        dims = [s[k] if s is not None else None for s in shapes]
        if k == at:
            out.append(sum(int(d) for d in dims if d is not None) if all(isinstance(d, int) for d in dims) else None)
        else:
            out.append(next((d for d in dims if d is not None), None))
    return tuple(out)


def merge(stated: Shape | None, inferred: Shape | None) -> Shape | None:
    """The stated shape with its unknown dims filled from the inferred one; None when nothing is added."""
    if inferred is None:
        return None
    if stated is None:
        return inferred
    if len(stated) != len(inferred):
        return None
    filled = tuple(s if s is not None else i for s, i in zip(stated, inferred, strict=True))
    return filled if filled != stated else None


def topological(graph: Graph) -> list[Node]:
    """Nodes with every data producer first; nodes on cycles after, in the graph's order."""
    pending: dict[int, int] = {}
    readers: dict[int, list[Node]] = {}
    for node in graph.nodes:
        producers = {id(v.producer) for p in node.inputs for v in p.values if v.producer is not None and v.producer is not node}
        pending[id(node)] = len(producers)
        for pid in producers:
            readers.setdefault(pid, []).append(node)
    ready = [n for n in reversed(graph.nodes) if pending[id(n)] == 0]
    order: list[Node] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for reader in readers.get(id(node), ()):
            pending[id(reader)] -= 1
            if pending[id(reader)] == 0:
                ready.append(reader)
    placed = {id(n) for n in order}
    order.extend(n for n in graph.nodes if id(n) not in placed)
    return order


def stored_contents(value: Value) -> Contents | None:
    """The elements of a small stored integer tensor, or None."""
    t = value.initializer
    if t is None or t.size is None or t.size > MAX_CONTENTS or not t.has_data:
        return None
    return integers(t)


def integers(tensor: Any) -> Contents | None:
    """A small tensor's elements when they are whole numbers (shape arithmetic is done in float too)."""
    if tensor.dtype not in INTEGRAL_DTYPES:
        return None
    try:
        array = np.asarray(tensor.numpy()).reshape(-1)
    except Exception:  # a constant that cannot be read leaves the shapes it feeds unknown
        return None
    if array.dtype.kind == "f" and not bool(np.all(np.isfinite(array) & (array == np.round(array)))):
        return None
    return [int(x) for x in array]


# -- the pass ---------------------------------------------------------------------------------------

RuleLookup = Callable[[Node], "Rule | None"]
ContentsRule = Callable[[Site], "Contents | None"]
DtypeRule = Callable[[Node, list[Value]], "str | None"]
OutputsRule = Callable[[Node], "list[Value | None]"]


def _settled(value: Value) -> bool:
    """A value whose shape is complete and whose contents cannot matter to a shape (rank above 1)."""
    shape = value.type.shape
    return shape is not None and len(shape) > 1 and None not in shape


def _all_outputs(node: Node) -> list[Value | None]:
    return list(node.output_values())


def _first_dtype(node: Node, inputs: list[Value]) -> str | None:
    kind = op_kind(node.op)
    if kind in ("conv", "conv_transpose", "dense", "gemm", "matmul", "pool", "global_pool", "normalization", "softmax", "unary", "binary"):
        return next((v.type.dtype for v in inputs if v.type.dtype), None)
    return None


def propagate(
    graph: Graph,
    rules: RuleLookup | Mapping[str, Rule] | None = None,
    *,
    contents_of: ContentsRule | None = None,
    dtype_of: DtypeRule | None = None,
    outputs_of: OutputsRule | None = None,
    inferred: str = INFERRED,
) -> int:
    """Fill unknown shapes (and dtypes) of the graph's node outputs; returns how many values got one.

    ``rules`` maps op types to rules, or looks a node's rule up (default: :func:`kind_rule`).
    ``contents_of`` tells what a node's first output holds when it computes a small integer
    tensor (default: ``Shape``, ``Identity``/``Cast``, ``Concat`` and ``Unsqueeze`` of known
    contents); ``dtype_of`` a node's output dtype; ``outputs_of`` its outputs in the order the
    rules return shapes (None for a position with no value).
    """
    from netray.shape_rules import default_contents, kind_rule  # the shared rules build on this engine

    lookup: RuleLookup
    if rules is None:
        lookup = kind_rule
    elif isinstance(rules, Mapping):
        table = rules
        lookup = lambda node: table.get(node.op)  # noqa: E731
    else:
        lookup = rules
    contents_of = contents_of or default_contents
    dtype_of = dtype_of or _first_dtype
    outputs_of = outputs_of or _all_outputs
    contents: dict[int, Contents] = {}
    filled = 0
    for node in topological(graph):
        inputs = [v for p in node.inputs for v in p.values]
        for v in inputs:
            if id(v) not in contents and v.initializer is not None:
                c = stored_contents(v)
                if c is not None:
                    contents[id(v)] = c
        outputs = outputs_of(node)
        if not outputs or all(v is None or _settled(v) for v in outputs):
            continue
        site = Site(node, inputs, contents)
        rule = lookup(node)
        shapes: Sequence[Shape | None] = []
        if rule is not None:
            try:
                shapes = rule(site)
            except (TypeError, ValueError, IndexError, ZeroDivisionError, OverflowError):
                shapes = []  # attributes of an unexpected form: the shapes stay unknown
        dtype = dtype_of(node, inputs)
        for k, out in enumerate(outputs):
            if out is None:
                continue
            if out.type.dtype is None and dtype is not None:
                out.type.dtype = dtype
            if out.initializer is not None:
                c = stored_contents(out)
                if c is not None:
                    contents[id(out)] = c
                continue
            new = merge(out.type.shape, shapes[k] if k < len(shapes) else None)
            if new is not None:
                out.type = TensorType(out.type.dtype, new, out.type.denotation, inferred)
                filled += 1
            if k == 0 and out.type.shape is not None and len(out.type.shape) <= 1:
                try:
                    c = contents_of(site)
                except (TypeError, ValueError, IndexError):
                    c = None
                if c is not None and len(c) <= MAX_CONTENTS:
                    contents[id(out)] = c
    return filled
