"""TensorFlow's ops for :mod:`netray.propagate`: shapes the graph does not state, in TF's conventions.

A value keeps what the file states (``_output_shapes``, a Placeholder's ``shape``, a Const's
tensor); the shared engine fills what is unknown with these rules, marked ``inferred``. Small
integer tensors (Const, Shape, their Pack, StridedSlice, ConcatV2 ...) are followed by their
contents, so that Reshape, Fill, Tile or Pad see the shapes they are given. A rule returns one
shape per output, positional as TensorFlow numbers them (:func:`numbered_outputs`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from netray import AttrKind, Graph, Node, Shape, Value
from netray.ir import Dim
from netray.propagate import (
    Contents,
    Rule,
    Site,
    broadcast,
    concat_shapes,
    normalise_axis,
    propagate,
    remaining_size,
    window_size,
)

# -- helpers --------------------------------------------------------------------------------------


def _sizes(site: Site, i: int) -> list[int | None] | None:
    """An input's contents as sizes (TensorFlow names no dimensions: anything else is unknown)."""
    c = site.contents(i)
    return None if c is None else [d if isinstance(d, int) else None for d in c]


def _data_format(site: Site) -> str:
    return str(site.attr("data_format", "NHWC"))


def _spatial(site: Site, kernel: Sequence[Dim], channels: Dim) -> Shape | None:
    """Conv and pool outputs: N, spatial dims by window, channels, in the node's data format."""
    x = site.shape(0)
    if x is None or len(x) < 3:
        return None
    rank = len(x)
    first = _data_format(site).startswith("NC")
    spatial_axes = list(range(2, rank)) if first else list(range(1, rank - 1))
    strides = list(site.attr("strides", [1] * rank))
    dilations = list(site.attr("dilations", [1] * rank))
    explicit = list(site.attr("explicit_paddings", []))
    padding = str(site.attr("padding", "VALID"))
    if len(strides) != rank or len(dilations) != rank:
        return None
    out: list[Dim] = list(x)
    for k, axis in enumerate(spatial_axes):
        pads = (explicit[2 * axis], explicit[2 * axis + 1]) if padding == "EXPLICIT" and len(explicit) == 2 * rank else (0, 0)
        size = kernel[k] if k < len(kernel) else None
        out[axis] = window_size(x[axis], size, strides[axis], dilations[axis], pads, same=padding == "SAME")
    out[1 if first else rank - 1] = channels
    return tuple(out)


# -- rules ----------------------------------------------------------------------------------------


def same(site: Site) -> list[Shape | None]:
    return [site.shape(0)] * max(1, len(list(site.node.output_values())))


def elementwise(site: Site) -> list[Shape | None]:
    return [broadcast(*(site.shape(i) for i in range(len(site.inputs))))]


def scalar(site: Site) -> list[Shape | None]:
    return [()]


def conv(site: Site) -> list[Shape | None]:
    f = site.shape(1)
    if f is None or len(f) < 3:
        return [None]
    return [_spatial(site, f[:-2], f[-1])]


def depthwise(site: Site) -> list[Shape | None]:
    f = site.shape(1)
    if f is None or len(f) != 4:
        return [None]
    channels = f[2] * f[3] if isinstance(f[2], int) and isinstance(f[3], int) else None
    return [_spatial(site, f[:2], channels)]


def pool(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    ksize = list(site.attr("ksize", []))
    if len(ksize) != len(x):
        return [None]
    first = _data_format(site).startswith("NC")
    kernel = ksize[2:] if first else ksize[1:-1]
    return [_spatial(site, kernel, x[1] if first else x[-1])]


def matmul(site: Site) -> list[Shape | None]:
    a, b = site.shape(0), site.shape(1)
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return [None]
    ta = bool(site.attr("transpose_a", False) or site.attr("adj_x", False))
    tb = bool(site.attr("transpose_b", False) or site.attr("adj_y", False))
    rows = a[-1] if ta else a[-2]
    cols = b[-2] if tb else b[-1]
    batch = broadcast(a[:-2], b[:-2])
    return [None if batch is None else (*batch, rows, cols)]


def bias_add(site: Site) -> list[Shape | None]:
    return [site.shape(0)]


def batch_norm(site: Site) -> list[Shape | None]:
    scale = site.shape(1)
    channels = scale if scale is not None and len(scale) == 1 else None
    return [site.shape(0)] + [channels] * 5


def reshape(site: Site) -> list[Shape | None]:
    target = _sizes(site, 1)
    if target is None:
        return [_rank_of_contents(site, 1)]
    dims: list[Dim] = [None if d is None or d < 0 else d for d in target]
    x = site.shape(0)
    if target.count(-1) == 1 and x is not None:
        dims[target.index(-1)] = remaining_size(x, [d for d in target if d != -1])
    return [tuple(dims)]


def _concat(site: Site, values: list[int], axis: int | None) -> Shape | None:
    return concat_shapes([site.shape(i) for i in values], axis)


def concat_v2(site: Site) -> list[Shape | None]:
    n = len(site.inputs) - 1
    return [_concat(site, list(range(n)), site.scalar(n))]


def concat(site: Site) -> list[Shape | None]:
    return [_concat(site, list(range(1, len(site.inputs))), site.scalar(0))]


def pack(site: Site) -> list[Shape | None]:
    shapes = [site.shape(i) for i in range(len(site.inputs))]
    base = next((s for s in shapes if s is not None), None)
    if base is None:
        return [None]
    merged = [next((s[k] for s in shapes if s is not None and k < len(s) and s[k] is not None), None) for k in range(len(base))]
    axis = normalise_axis(int(site.attr("axis", 0)), len(base) + 1)
    if axis is None:
        return [None]
    merged.insert(axis, len(shapes))
    return [tuple(merged)]


def unpack(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    axis = normalise_axis(int(site.attr("axis", 0)), len(x))
    if axis is None:
        return [None]
    part = x[:axis] + x[axis + 1 :]
    return [part] * int(site.attr("num", 1))


def _split_along(x: Shape | None, axis: int | None, sizes: Sequence[Dim]) -> list[Shape | None]:
    if x is None or axis is None:
        return [None] * len(sizes)
    axis = normalise_axis(axis, len(x))
    if axis is None:
        return [None] * len(sizes)
    return [(*x[:axis], s, *x[axis + 1 :]) for s in sizes]


def split(site: Site) -> list[Shape | None]:
    n = int(site.attr("num_split", 1))
    x = site.shape(1)
    axis = site.scalar(0)
    if x is None or axis is None or normalise_axis(axis, len(x)) is None:
        return [None] * n
    d = x[normalise_axis(axis, len(x)) or 0]
    return _split_along(x, axis, [d // n if isinstance(d, int) else None] * n)


def split_v(site: Site) -> list[Shape | None]:
    sizes = _sizes(site, 1)
    x = site.shape(0)
    if sizes is None:
        return [None] * int(site.attr("num_split", 1))
    axis = site.scalar(2)
    dims: list[Dim] = [None if s is None or s < 0 else s for s in sizes]
    if sizes.count(-1) == 1 and x is not None and axis is not None and normalise_axis(axis, len(x)) is not None:
        d = x[normalise_axis(axis, len(x)) or 0]
        if isinstance(d, int) and all(isinstance(s, int) for s in sizes):
            dims[sizes.index(-1)] = d - sum(int(s) for s in sizes if s is not None and s >= 0)
    return _split_along(x, axis, dims)


def transpose(site: Site) -> list[Shape | None]:
    x, perm = site.shape(0), _sizes(site, 1)
    if x is None or perm is None or len(perm) != len(x) or any(p is None for p in perm):
        return [None]
    return [tuple(x[int(p)] for p in perm if p is not None)]


def reduce(site: Site) -> list[Shape | None]:
    x, axes = site.shape(0), _sizes(site, 1)
    if x is None or axes is None or any(a is None for a in axes):
        return [None]
    picked = {normalise_axis(a, len(x)) for a in axes}
    if None in picked:
        return [None]
    keep = bool(site.attr("keep_dims", False) or site.attr("keepdims", False))
    return [tuple(1 if k in picked else d for k, d in enumerate(x) if keep or k not in picked)]


def arg_reduce(site: Site) -> list[Shape | None]:
    x, axis = site.shape(0), site.scalar(1)
    if x is None or not x:
        return [None]
    at = normalise_axis(axis, len(x))
    return [(None,) * (len(x) - 1) if at is None else x[:at] + x[at + 1 :]]


def squeeze(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    axes = list(site.attr("squeeze_dims", []) or site.attr("axis", []))
    if not axes:
        if any(d is None for d in x):
            return [None]
        return [tuple(d for d in x if d != 1)]
    picked = {normalise_axis(a, len(x)) for a in axes}
    return [tuple(d for k, d in enumerate(x) if k not in picked)]


def expand_dims(site: Site) -> list[Shape | None]:
    x, axis = site.shape(0), site.scalar(1)
    if x is None:
        return [None]
    if axis is None:
        return [(None,) * (len(x) + 1)]
    at = normalise_axis(axis, len(x) + 1)
    return [None if at is None else (*x[:at], 1, *x[at:])]


def _rank_of_contents(site: Site, index: int) -> Shape | None:
    """A shape given as a 1-D tensor whose values are unknown: its length is the rank."""
    s = site.shape(index)
    return (None,) * s[0] if s is not None and len(s) == 1 and isinstance(s[0], int) else None


def from_contents(index: int) -> Rule:
    """Ops whose output shape is the contents of one input (Fill, RandomUniform, BroadcastTo ...)."""

    def rule(site: Site) -> list[Shape | None]:
        c = _sizes(site, index)
        return [_rank_of_contents(site, index) if c is None else tuple(None if d is None or d < 0 else d for d in c)]

    return rule


def _same_rank(x: Shape | None) -> Shape | None:
    return None if x is None else (None,) * len(x)


def shape_op(site: Site) -> list[Shape | None]:
    return [(site.rank(i),) for i in range(max(1, len(site.inputs)))]


def pad(site: Site) -> list[Shape | None]:
    x, pads = site.shape(0), _sizes(site, 1)
    if x is None or pads is None or len(pads) != 2 * len(x):
        return [_same_rank(x)]
    out: list[Dim] = []
    for k, d in enumerate(x):
        before, after = pads[2 * k], pads[2 * k + 1]
        out.append(d + before + after if isinstance(d, int) and before is not None and after is not None else None)
    return [tuple(out)]


def tile(site: Site) -> list[Shape | None]:
    x, times = site.shape(0), _sizes(site, 1)
    if x is None or times is None or len(times) != len(x):
        return [_same_rank(x)]
    return [tuple(d * t if isinstance(d, int) and t is not None else None for d, t in zip(x, times, strict=True))]


def slice_op(site: Site) -> list[Shape | None]:
    x, begin, size = site.shape(0), _sizes(site, 1), _sizes(site, 2)
    if x is None or begin is None or size is None or len(size) != len(x):
        return [_same_rank(x)]
    out: list[Dim] = []
    for d, b, s in zip(x, begin, size, strict=False):
        if s is not None and s >= 0:
            out.append(s)
        else:
            out.append(d - b if isinstance(d, int) and b is not None and s == -1 else None)
    return [tuple(out)]


def _slice_spec(site: Site) -> tuple[list[int | None], list[int | None], list[int | None]] | None:
    begin, end, strides = _sizes(site, 1), _sizes(site, 2), _sizes(site, 3)
    if begin is None or end is None or strides is None or not len(begin) == len(end) == len(strides):
        return None
    return begin, end, strides


def strided_dims(site: Site, dims: Sequence[Dim]) -> list[Any] | None:
    """StridedSlice's spec applied to the input dims: per output axis a size (new or ellipsis-covered
    axes) or ``(dim, begin, end, stride, shrink)`` for a sliced axis; None where it cannot be followed."""
    spec = _slice_spec(site)
    if spec is None:
        return None
    begin, end, strides = spec
    masks = {m: int(site.attr(m, 0)) for m in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    rank = len(dims)
    out: list[Any] = []
    axis = 0
    for i in range(len(begin)):
        if masks["ellipsis_mask"] >> i & 1:
            after = sum(1 for j in range(i + 1, len(begin)) if not masks["new_axis_mask"] >> j & 1)
            cover = rank - axis - after
            out.extend(dims[axis : axis + cover])
            axis += cover
            continue
        if masks["new_axis_mask"] >> i & 1:
            out.append(1)
            continue
        if axis >= rank:
            return None
        d = dims[axis]
        axis += 1
        b = None if masks["begin_mask"] >> i & 1 else begin[i]
        e = None if masks["end_mask"] >> i & 1 else end[i]
        s = strides[i]
        shrink = masks["shrink_axis_mask"] >> i & 1
        out.append((d, b, e, s, shrink))
    out.extend(dims[axis:])
    return out


def _sliced_size(item: Any) -> Dim | str:
    """One sliced axis's size; "shrink" where the axis goes away. Begin and end are None only where masked."""
    if not isinstance(item, tuple):
        return item
    d, b, e, s, shrink = item
    if shrink:
        return "shrink"
    if not isinstance(d, int) or not s:
        return None
    return len(range(d)[slice(b, e, s)])


def strided_slice(site: Site) -> list[Shape | None]:
    x = site.shape(0)
    if x is None:
        return [None]
    spec = _slice_spec(site)
    if spec is None or any(v is None for part in spec for v in part):
        # unknown begin/end: only the rank is known, and only without shrinking or new axes
        return [None]
    followed = strided_dims(site, list(x))
    if followed is None:
        return [None]
    out: list[Dim] = []
    for item in followed:
        size = _sliced_size(item)
        if size != "shrink":
            out.append(size if not isinstance(size, str) else None)
    return [tuple(out)]


def gather(site: Site) -> list[Shape | None]:
    params, indices = site.shape(0), site.shape(1)
    axis = site.scalar(2) if len(site.inputs) > 2 else 0
    if params is None or indices is None or axis is None:
        return [None]
    at = normalise_axis(axis, len(params))
    batch = int(site.attr("batch_dims", 0))
    if at is None:
        return [None]
    return [(*params[:at], *indices[batch if batch >= 0 else len(indices) + batch :], *params[at + 1 :])]


def gather_nd(site: Site) -> list[Shape | None]:
    params, indices = site.shape(0), site.shape(1)
    if params is None or indices is None or not indices or not isinstance(indices[-1], int):
        return [None]
    return [(*indices[:-1], *params[indices[-1] :])]


def resize(site: Site) -> list[Shape | None]:
    x, size = site.shape(0), _sizes(site, 1)
    if x is None or len(x) != 4:
        return [None]
    if size is None or len(size) != 2:
        return [(x[0], None, None, x[3])]
    return [(x[0], size[0], size[1], x[3])]


def range_op(site: Site) -> list[Shape | None]:
    start, limit, delta = site.scalar(0), site.scalar(1), site.scalar(2)
    if start is None or limit is None or not delta:
        return [(None,)]
    return [(max(0, -(-(limit - start) // delta)),)]


def select(site: Site) -> list[Shape | None]:
    cond, t, e = site.shape(0), site.shape(1), site.shape(2)
    if site.node.op == "SelectV2":
        return [broadcast(cond, t, e)]
    branch = t if t is not None else e
    return [broadcast(t, e) if t is not None and e is not None and len(t) == len(e) else branch]


def top_k(site: Site) -> list[Shape | None]:
    x, k = site.shape(0), site.scalar(1) if len(site.inputs) > 1 else site.attr("k")
    if x is None or not x:
        return [None, None]
    return [(*x[:-1], k)] * 2


def identity_n(site: Site) -> list[Shape | None]:
    return [site.shape(i) for i in range(len(site.inputs))]


def read_variable(site: Site) -> list[Shape | None]:
    handle = site.inputs[0].producer if site.inputs else None
    if handle is not None and handle.op == "VarHandleOp":
        shape = handle.attribute("shape")
        return [shape.value if shape is not None and shape.kind is AttrKind.SHAPE else None]
    return [None]


def variable(site: Site) -> list[Shape | None]:
    shape = site.node.attribute("shape")
    return [shape.value if shape is not None and shape.kind is AttrKind.SHAPE else None]


def placeholder_with_default(site: Site) -> list[Shape | None]:
    return [site.shape(0)]


UNARY = (
    "Identity Snapshot StopGradient PreventGradient CheckNumerics Relu Relu6 Elu Selu LeakyRelu Sigmoid Tanh "
    "Softplus Softsign Softmax LogSoftmax Neg Abs Exp Expm1 Log Log1p Sqrt Rsqrt Square Floor Ceil Round Rint "
    "Sign Reciprocal Inv Erf Erfc Sin Cos Tan Asin Acos Atan Sinh Cosh IsNan IsInf IsFinite LogicalNot Cast "
    "ZerosLike OnesLike LRN ClipByValue Cumsum Cumprod FakeQuantWithMinMaxVars FakeQuantWithMinMaxArgs "
    "Dequantize Enter Exit NextIteration Merge Switch ReverseV2 Invert Mish Gelu Swish Prelu Assign"
)
BINARY = (
    "Add AddV2 Sub Mul RealDiv Div DivNoNan TruncateDiv FloorDiv FloorMod Mod TruncateMod Maximum Minimum Pow "
    "SquaredDifference Greater GreaterEqual Less LessEqual Equal NotEqual LogicalAnd LogicalOr AddN Atan2 "
    "BitwiseAnd BitwiseOr BitwiseXor LeftShift RightShift BiasAddGrad"
)

RULES: dict[str, Rule] = {
    **{op: same for op in UNARY.split()},
    **{op: elementwise for op in BINARY.split()},
    "BiasAdd": bias_add,
    "BiasAddV1": bias_add,
    "Conv2D": conv,
    "_FusedConv2D": conv,
    "Conv3D": conv,
    "DepthwiseConv2dNative": depthwise,
    "FusedDepthwiseConv2dNative": depthwise,
    "MaxPool": pool,
    "AvgPool": pool,
    "MaxPool3D": pool,
    "AvgPool3D": pool,
    "MatMul": matmul,
    "_FusedMatMul": matmul,
    "BatchMatMul": matmul,
    "BatchMatMulV2": matmul,
    "BatchMatMulV3": matmul,
    "FusedBatchNorm": batch_norm,
    "FusedBatchNormV2": batch_norm,
    "FusedBatchNormV3": batch_norm,
    "_FusedBatchNormEx": batch_norm,
    "Reshape": reshape,
    "ConcatV2": concat_v2,
    "Concat": concat,
    "Pack": pack,
    "Unpack": unpack,
    "Split": split,
    "SplitV": split_v,
    "Transpose": transpose,
    **{op: reduce for op in ("Mean", "Sum", "Max", "Min", "Prod", "All", "Any", "EuclideanNorm")},
    "ArgMax": arg_reduce,
    "ArgMin": arg_reduce,
    "Squeeze": squeeze,
    "ExpandDims": expand_dims,
    "Shape": shape_op,
    "ShapeN": shape_op,
    "Size": scalar,
    "Rank": scalar,
    "L2Loss": scalar,
    "Fill": from_contents(0),
    "BroadcastTo": from_contents(1),
    "RandomUniform": from_contents(0),
    "RandomStandardNormal": from_contents(0),
    "TruncatedNormal": from_contents(0),
    "RandomUniformInt": from_contents(0),
    "Zeros": from_contents(0),
    "Pad": pad,
    "PadV2": pad,
    "MirrorPad": pad,
    "Tile": tile,
    "Slice": slice_op,
    "StridedSlice": strided_slice,
    "GatherV2": gather,
    "Gather": gather,
    "GatherNd": gather_nd,
    "ResizeBilinear": resize,
    "ResizeNearestNeighbor": resize,
    "ResizeBicubic": resize,
    "Range": range_op,
    "Select": select,
    "SelectV2": select,
    "TopKV2": top_k,
    "IdentityN": identity_n,
    "ReadVariableOp": read_variable,
    "VariableV2": variable,
    "Variable": variable,
    "VarHandleOp": scalar,
    "PlaceholderWithDefault": placeholder_with_default,
}

# Output dtypes where they are not the node's ``T`` (or its first input's).
BOOL_OPS = frozenset("Greater GreaterEqual Less LessEqual Equal NotEqual LogicalAnd LogicalOr LogicalNot IsNan IsInf IsFinite".split())
DTYPE_ATTR = {
    "Cast": "DstT",
    "Shape": "out_type",
    "ShapeN": "out_type",
    "Size": "out_type",
    "ArgMax": "output_type",
    "ArgMin": "output_type",
    "Const": "dtype",
    "ReadVariableOp": "dtype",
    "VariableV2": "dtype",
    "Variable": "dtype",
    "RandomUniform": "dtype",
    "RandomStandardNormal": "dtype",
    "TruncatedNormal": "dtype",
    "Range": "Tidx",
}
DTYPE_DEFAULT = {"Shape": "int32", "ShapeN": "int32", "Size": "int32", "Rank": "int32", "ArgMax": "int64", "ArgMin": "int64"}


def _out_dtype(node: Node, inputs: list[Value]) -> str | None:
    if node.op in BOOL_OPS:
        return "bool"
    if node.op == "VarHandleOp":
        return "resource"
    if node.op not in RULES and node.op not in DTYPE_ATTR:
        return None
    attr = node.attribute(DTYPE_ATTR.get(node.op, "T"))
    if attr is not None and attr.kind is AttrKind.DTYPE:
        return str(attr.value)
    if node.op in DTYPE_DEFAULT:
        return DTYPE_DEFAULT[node.op]
    return inputs[0].type.dtype if inputs else None


# -- contents of small integer tensors --------------------------------------------------------------


def _contents_of(site: Site) -> Contents | None:
    """What a shape-computing node's (first) output holds, elements unknown as None."""
    op = site.node.op
    if op in ("Shape", "ShapeN"):
        s = site.shape(0)
        return None if s is None else [d if isinstance(d, int) else None for d in s]
    if op in ("Identity", "Cast", "Snapshot", "StopGradient", "ExpandDims", "Reshape", "Squeeze"):
        return site.contents(0)
    if op == "Size":
        s = site.shape(0)
        return [math.prod(int(d) for d in s if d is not None)] if s is not None and all(isinstance(d, int) for d in s) else None
    if op == "Rank":
        r = site.rank(0)
        return None if r is None else [r]
    if op == "Pack" and all(site.rank(i) == 0 for i in range(len(site.inputs))):
        return [site.scalar(i) for i in range(len(site.inputs))]
    if op == "ConcatV2" and all(site.rank(i) == 1 for i in range(len(site.inputs) - 1)):
        parts = [site.contents(i) for i in range(len(site.inputs) - 1)]
        if all(p is not None for p in parts):
            return [x for p in parts if p is not None for x in p]
        return None
    if op == "StridedSlice" and site.rank(0) == 1 and site.contents(0) is not None:
        items = site.contents(0) or []
        spec = _slice_spec(site)
        if spec is None or any(v is None for part in spec for v in part):
            return None
        followed = strided_dims(site, [len(items)])
        if followed is None or len(followed) != 1 or not isinstance(followed[0], tuple):
            return None
        _, b, e, s, shrink = followed[0]
        if shrink:
            return [items[b]] if b is not None and -len(items) <= b < len(items) else None
        return list(items[slice(b, e, s)])
    if op in ("Mul", "Add", "AddV2", "Sub", "FloorDiv", "Maximum", "Minimum") and all(site.rank(i) == 0 for i in (0, 1)):
        a, b = site.scalar(0), site.scalar(1)
        if a is None or b is None:
            return [None]
        result = {
            "Mul": a * b, "Add": a + b, "AddV2": a + b, "Sub": a - b, "FloorDiv": a // b if b else None,
            "Maximum": max(a, b), "Minimum": min(a, b),
        }[op]
        return [result]
    return None


# -- the pass -----------------------------------------------------------------------------------------


def numbered_outputs(node: Node) -> list[Value | None]:
    """Output values in TensorFlow's numbering: ports ``0, 1 ...`` or ``arg:0, arg:1 ...``; none where uncertain."""
    ports = node.outputs
    if len(ports) == 1 and len(ports[0].values) == 1:
        value = ports[0].values[0]
        index = value.name.rpartition(":")[2]
        return [*([None] * int(index)), value] if index.isdigit() and int(index) < 64 else [value]
    numbered: dict[int, Value] = {}
    args = {p.name.rpartition(":")[0] for p in ports}
    for p in ports:
        index = p.name.rpartition(":")[2]
        if not index.isdigit() or len(p.values) != 1 or len(args) != 1:
            return []
        numbered[int(index)] = p.values[0]
    return [numbered.get(i) for i in range(max(numbered) + 1)] if numbered else []


def propagate_model(graphs: Sequence[Graph]) -> int:
    """Propagate shapes through each graph; returns how many values got one."""
    return sum(
        propagate(g, RULES, contents_of=_contents_of, dtype_of=_out_dtype, outputs_of=numbered_outputs) for g in graphs
    )
