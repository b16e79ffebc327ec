"""The shared shape rules, by op kind, in ONNX's attribute conventions (``kernel_shape``,
``strides``, ``pads``, ``dilations``, ``axis``, ``perm``), which many formats copy.

:data:`KIND_RULES` covers convolution, pooling, matmul and dense layers, elementwise ops
with broadcasting, reductions, gather and einsum; data movement (reshape, concat,
transpose, flatten, squeeze, slice, range ...) goes by normalised op name. These are what
:func:`netray.propagate.propagate` uses unless a plugin gives its own, and
:func:`default_contents` follows small integer tensors through shape arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from netray.ir import AttrKind, Dim, Node, Shape
from netray.opkinds import normalise, op_kind
from netray.propagate import (
    MAX_CONTENTS,
    Contents,
    Rule,
    Site,
    broadcast,
    concat_shapes,
    integers,
    normalise_axis,
    remaining_size,
    window_size,
)


def _tensor_attribute(site: Site) -> Any:
    for a in site.node.attributes:
        if a.kind is AttrKind.TENSOR and a.value is not None:
            return a.value
    return None


_SCALAR_ARITHMETIC: dict[str, Callable[[int, int], int | None]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a // b if b else None,
    "floordiv": lambda a, b: a // b if b else None,
    "max": max,
    "min": min,
}


def default_contents(site: Site) -> Contents | None:
    """What a shape-computing node's first output holds, in ONNX's terms; elements unknown as None."""
    op = normalise(site.node.op)
    if op == "shape":
        s = site.shape(0)
        if s is None:
            return None
        start, end = site.attr("start", 0), site.attr("end", None)
        return list(s)[start:end]  # named dimensions travel by name
    if op == "constant":
        tensor = _tensor_attribute(site)
        if tensor is None or (tensor.size or MAX_CONTENTS + 1) > MAX_CONTENTS:
            return None
        return integers(tensor)
    if op == "gather" and site.rank(0) == 1:
        items, indices = site.contents(0), site.contents(1)
        if items is None or indices is None:
            return None
        return [items[i] if isinstance(i, int) and -len(items) <= i < len(items) else None for i in indices]
    if op == "slice" and site.rank(0) == 1 and len(site.inputs) >= 3:
        items, starts, ends = site.contents(0), site.contents(1), site.contents(2)
        steps = site.contents(4) if len(site.inputs) > 4 else [1]
        if items is None or starts is None or ends is None or steps is None or len(starts) != 1 or len(ends) != 1 or len(steps) != 1:
            return None
        begin, end, step = starts[0], ends[0], steps[0]
        if not (isinstance(begin, int) and isinstance(end, int) and isinstance(step, int) and step):
            return None
        return items[begin:end:step]
    if op in _SCALAR_ARITHMETIC and len(site.inputs) == 2:
        a, b = site.contents(0), site.contents(1)
        if a is None or b is None or (len(a) != len(b) and 1 not in (len(a), len(b))):
            return None
        pairs = zip(a * len(b) if len(a) == 1 else a, b * len(a) if len(b) == 1 else b, strict=True)
        return [_SCALAR_ARITHMETIC[op](x, y) if isinstance(x, int) and isinstance(y, int) else None for x, y in pairs]
    if op in ("identity", "cast", "unsqueeze", "squeeze", "reshape"):
        return site.contents(0)
    if op in ("concat", "concatenate") and all(site.rank(i) == 1 for i in range(len(site.inputs))):
        parts = [site.contents(i) for i in range(len(site.inputs))]
        return [x for p in parts if p is not None for x in p] if all(p is not None for p in parts) else None
    return None


# -- rules by kind, in ONNX's attribute conventions ----------------------------------------------------


def same(site: Site) -> list[Shape | None]:
    return [site.shape(0)]


def elementwise(site: Site) -> list[Shape | None]:
    return [broadcast(*(site.shape(i) for i in range(len(site.inputs))))]


def matmul(site: Site) -> list[Shape | None]:
    first = 1 if normalise(site.node.op) in ("addmm", "baddbmm") else 0
    a, b = site.shape(first), site.shape(first + 1)
    if a is None or b is None or not a or not b:
        return [None]
    ta = bool(site.attr("transA", 0) or site.attr("transpose_a", False) or site.attr("adj_x", False))
    tb = bool(site.attr("transB", 0) or site.attr("transpose_b", False) or site.attr("adj_y", False))
    if len(a) == 1 and len(b) == 1:
        return [()]
    if len(a) == 1:
        return [(*b[:-2], b[-2] if tb else b[-1])]
    if len(b) == 1:
        return [a[:-1]]
    batch = broadcast(a[:-2], b[:-2])
    return [None if batch is None else (*batch, a[-1] if ta else a[-2], b[-2] if tb else b[-1])]


def dense(site: Site) -> list[Shape | None]:
    x, w = site.shape(0), site.shape(1)
    if x is None or w is None or len(w) != 2 or not x:
        return [None]
    units = w[1] if w[0] == x[-1] else w[0] if w[1] == x[-1] else None
    return [(*x[:-1], units)]


def _pads(site: Site, spatial: int) -> list[tuple[int, int]]:
    pads = site.ints("pads") or [0] * (2 * spatial)
    if len(pads) != 2 * spatial:
        return [(0, 0)] * spatial
    return [(pads[k], pads[k + spatial]) for k in range(spatial)]


def _windowed(site: Site, kernel: Sequence[Dim], channels: Dim, ceil: bool = False) -> Shape | None:
    """Conv and pool outputs on a channels-first input: N, C, then each spatial axis by its window."""
    x = site.shape(0)
    if x is None or len(x) < 3:
        return None
    spatial = len(x) - 2
    if len(kernel) != spatial:
        return None
    strides = site.ints("strides") or [1] * spatial
    dilations = site.ints("dilations") or [1] * spatial
    auto_pad = str(site.attr("auto_pad", "NOTSET"))
    same_pad = auto_pad.startswith("SAME")
    pads = _pads(site, spatial)
    out = [x[0], channels]
    for k in range(spatial):
        out.append(window_size(x[2 + k], kernel[k], strides[k], dilations[k], pads[k], same_pad, ceil))
    return tuple(out)


def conv(site: Site) -> list[Shape | None]:
    w = site.shape(1)
    if w is None or len(w) < 3:
        return [None]
    return [_windowed(site, w[2:], w[0])]


def conv_transpose(site: Site) -> list[Shape | None]:
    x, w = site.shape(0), site.shape(1)
    if x is None or w is None or len(w) < 3 or len(x) != len(w):
        return [None]
    spatial = len(x) - 2
    group = int(site.attr("group", 1))
    strides = site.ints("strides") or [1] * spatial
    dilations = site.ints("dilations") or [1] * spatial
    extra = site.ints("output_padding") or [0] * spatial
    pads = _pads(site, spatial)
    channels = w[1] * group if isinstance(w[1], int) else None
    out: list[Dim] = [x[0], channels]
    for k in range(spatial):
        size, kernel = x[2 + k], w[2 + k]
        if not isinstance(size, int) or not isinstance(kernel, int):
            out.append(None)
            continue
        out.append(strides[k] * (size - 1) + extra[k] + (kernel - 1) * dilations[k] + 1 - pads[k][0] - pads[k][1])
    return [tuple(out)]


def pool(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    kernel = site.ints("kernel_shape")
    if x is None or kernel is None:
        return [None]
    return [_windowed(site, kernel, x[1], ceil=bool(site.attr("ceil_mode", 0)))]


def global_pool(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    return [None if x is None or len(x) < 3 else (x[0], x[1], *([1] * (len(x) - 2)))]


def reduce(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    axes = site.ints("axes")
    if axes is None and len(site.inputs) > 1:
        found = site.contents(1)
        if found is None or not all(isinstance(a, int) for a in found):
            return [None]
        axes = [int(a) for a in found if isinstance(a, int)]
    keep = bool(site.attr("keepdims", 1))
    picked = set(range(len(x))) if not axes else {normalise_axis(a, len(x)) for a in axes}
    if None in picked:
        return [None]
    return [tuple(1 if k in picked else d for k, d in enumerate(x) if keep or k not in picked)]


def reshape(site: Site) -> list[Shape | None]:
    target = site.contents(1) if len(site.inputs) > 1 else site.ints("shape")
    x = site.shape(0)
    if target is None:
        return [None]
    dims: list[Dim] = []
    for k, d in enumerate(target):
        if d == 0 and x is not None and k < len(x) and not site.attr("allowzero", 0):
            dims.append(x[k])  # ONNX: 0 copies the input's dimension
        else:
            dims.append(None if d is None or (isinstance(d, int) and d < 0) else d)
    if target.count(-1) == 1 and x is not None:
        dims[target.index(-1)] = remaining_size(x, [d for k, d in enumerate(dims) if k != target.index(-1)])
    return [tuple(dims)]


def flatten(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    axis = normalise_axis(int(site.attr("axis", 1)), len(x) + 1)
    if axis is None:
        return [None]

    def product(dims: Shape) -> Dim:
        return math.prod(int(d) for d in dims if d is not None) if all(isinstance(d, int) for d in dims) else None

    return [(product(x[:axis]), product(x[axis:]))]


def transpose(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    perm = site.ints("perm") or (site.contents(1) if len(site.inputs) > 1 else None) or list(range(len(x)))[::-1]
    if len(perm) != len(x) or not all(isinstance(p, int) for p in perm):
        return [None]
    return [tuple(x[int(p)] for p in perm if isinstance(p, int))]


def concat(site: Site) -> list[Shape | None]:
    axis = site.attr("axis", site.attr("dim"))
    return [concat_shapes([site.shape(i) for i in range(len(site.inputs))], axis if isinstance(axis, int) else None)]


def squeeze(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    axes = site.ints("axes") or (site.contents(1) if len(site.inputs) > 1 else None)
    if not axes:
        return [None] if any(d is None for d in x) else [tuple(d for d in x if d != 1)]
    picked = {normalise_axis(a, len(x)) if isinstance(a, int) else None for a in axes}
    return [None] if None in picked else [tuple(d for k, d in enumerate(x) if k not in picked)]


def unsqueeze(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    axes = site.ints("axes") or (site.contents(1) if len(site.inputs) > 1 else None)
    if x is None or not axes or not all(isinstance(a, int) for a in axes):
        return [None]
    rank = len(x) + len(axes)
    picked = {normalise_axis(a, rank) if isinstance(a, int) else None for a in axes}
    if None in picked:
        return [None]
    rest = iter(x)
    return [tuple(1 if k in picked else next(rest) for k in range(rank))]


def gather(site: Site) -> list[Shape | None]:
    data, indices = site.shape(0), site.shape(1)
    if data is None or indices is None:
        return [None]
    axis = normalise_axis(int(site.attr("axis", 0)), len(data))
    return [None if axis is None else (*data[:axis], *indices, *data[axis + 1 :])]


def constant(site: Site) -> list[Shape | None]:
    tensor = _tensor_attribute(site)
    if tensor is not None:
        return [tensor.shape]
    scalar_attrs = ("value_float", "value_int", "value_string")
    if any(site.node.attribute(a) is not None for a in scalar_attrs):
        return [()]
    listed = next((site.attr(a) for a in ("value_floats", "value_ints", "value_strings") if site.node.attribute(a) is not None), None)
    return [None if listed is None else (len(listed),)]


def from_contents(site: Site) -> list[Shape | None]:
    """ConstantOfShape and friends: the output's shape is the first input's contents."""
    found = site.contents(0)
    return [None if found is None else tuple(found)]


def shape_of(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    start, end = site.attr("start", 0), site.attr("end", None)
    return [(len(range(len(x))[start:end]),)]


def expand(site: Site) -> list[Shape | None]:
    target = site.contents(1)
    return [None if target is None else broadcast(site.shape(0), tuple(target))]


def tile(site: Site) -> list[Shape | None]:
    x, repeats = site.shape(0), site.contents(1)
    if x is None or repeats is None or len(repeats) != len(x):
        return [None]
    return [tuple(d * r if isinstance(d, int) and isinstance(r, int) else d if r == 1 else None for d, r in zip(x, repeats, strict=True))]


def slice_rule(site: Site) -> list[Shape | None]:
    """ONNX Slice: starts, ends, axes, steps as inputs 1-4."""
    x = site.shape(0)
    starts, ends = site.contents(1), site.contents(2)
    if x is None or starts is None or ends is None or len(starts) != len(ends):
        return [None]
    axes = site.contents(3) if len(site.inputs) > 3 else list(range(len(starts)))
    steps = site.contents(4) if len(site.inputs) > 4 else [1] * len(starts)
    if axes is None or steps is None or len(axes) != len(starts) or len(steps) != len(starts):
        return [None]
    out: list[Dim] = list(x)
    for begin, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        at = normalise_axis(axis, len(x)) if isinstance(axis, int) else None
        if at is None:
            return [None]
        size = x[at]
        if isinstance(size, int) and isinstance(begin, int) and isinstance(end, int) and isinstance(step, int) and step:
            out[at] = len(range(size)[begin:end:step])
        else:
            out[at] = None
    return [tuple(out)]


def range_rule(site: Site) -> list[Shape | None]:
    start, delta = site.scalar(0), site.scalar(2)
    limit = site.contents(1)
    if start is None or not delta or limit is None or len(limit) != 1:
        return [(None,)]
    end = limit[0]
    if isinstance(end, str) and start == 0 and delta == 1:
        return [(end,)]  # range(0, seq): as long as the named dimension
    if not isinstance(end, int):
        return [(None,)]
    return [(max(0, -(-(end - start) // delta)),)]


def einsum(site: Site) -> list[Shape | None]:
    equation = site.attr("equation")
    if not isinstance(equation, str) or "..." in equation or "->" not in equation:
        return [None]
    operands, result = equation.replace(" ", "").split("->")
    sizes: dict[str, Dim] = {}
    for letters, k in zip(operands.split(","), range(len(site.inputs)), strict=False):
        shape = site.shape(k)
        if shape is None or len(shape) != len(letters):
            return [None]
        for letter, d in zip(letters, shape, strict=True):
            if sizes.get(letter) is None:
                sizes[letter] = d
    return [tuple(sizes.get(letter) for letter in result)]


_MOVES: dict[str, Rule] = {
    "constant": constant, "constantofshape": from_contents, "shape": shape_of, "expand": expand, "tile": tile,
    "slice": slice_rule, "range": range_rule, "trilu": same, "triu": same, "tril": same,
    "reshape": reshape, "view": reshape, "flatten": flatten, "transpose": transpose, "permute": transpose,
    "concat": concat, "concatenate": concat, "concatenation": concat, "cat": concat, "squeeze": squeeze,
    "unsqueeze": unsqueeze, "identity": same, "dropout": same, "cast": same, "clone": same, "contiguous": same,
    "quantizelinear": same, "dequantizelinear": same, "detach": same,
}
KIND_RULES: dict[str, Rule] = {
    "unary": same, "normalization": same, "softmax": same, "binary": elementwise, "matmul": matmul, "gemm": matmul,
    "dense": dense, "conv": conv, "conv_transpose": conv_transpose, "pool": pool, "global_pool": global_pool,
    "reduce": reduce, "embedding": gather, "einsum": einsum,
}
"""Rules by op kind; ops that move data have theirs by normalised name (:data:`_MOVES`)."""


def kind_rule(node: Node) -> Rule | None:
    """The shared rule for a node: by its normalised op name for data movement, else by its kind."""
    kind = op_kind(node.op)
    if kind == "data_movement":
        return _MOVES.get(normalise(node.op))
    return KIND_RULES.get(kind)
