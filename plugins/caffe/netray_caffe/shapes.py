"""Output shapes of the common Caffe layers from their input shapes, as Caffe's Reshape computes them.

Caffe files state only the net's input shapes; every other blob's shape follows from the
layers. ``infer`` gives each top's shape (None where a layer type is not covered or an
input is unknown); ``param_shapes`` gives the learned blobs' shapes for a net whose
.caffemodel is absent. Any arithmetic on an unknown dimension just yields None.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

from netray_caffe.layers import Layer

Shape = tuple[int, ...]
MaybeShape = tuple[int | None, ...] | None

SAME_SHAPE = frozenset(
    {
        "AbsVal",
        "BatchNorm",
        "Bias",
        "BNLL",
        "Clip",
        "Dropout",
        "ELU",
        "Exp",
        "Log",
        "LRN",
        "MVN",
        "Normalize",
        "Power",
        "PReLU",
        "ReLU",
        "ReLU6",
        "Scale",
        "Sigmoid",
        "Softmax",
        "Swish",
        "TanH",
        "Threshold",
        "Eltwise",
    }
)
LOSSES = frozenset(
    {
        "Accuracy",
        "ContrastiveLoss",
        "EuclideanLoss",
        "HingeLoss",
        "InfogainLoss",
        "MultinomialLogisticLoss",
        "SigmoidCrossEntropyLoss",
        "SoftmaxWithLoss",
    }
)


def _param(layer: Layer, name: str) -> Any:
    """The layer's ``name`` parameter message (defaults when unset), or None for a V0 layer."""
    fields = layer.message.DESCRIPTOR.fields_by_name
    return getattr(layer.message, name) if name in fields else None


def _axis(axis: int, rank: int) -> int:
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise ValueError(f"axis {axis} outside rank {rank}")
    return axis


def _pick(values: Sequence[int], i: int, default: int) -> int:
    if not values:
        return default
    return int(values[i] if len(values) > 1 else values[0])


def _conv_geometry(p: Any, spatial: int) -> list[tuple[int, int, int, int]]:
    """(kernel, pad, stride, dilation) per spatial axis of a ConvolutionParameter."""
    out = []
    for i in range(spatial):
        k = _pick(p.kernel_size, i, 0)
        pad = _pick(p.pad, i, 0)
        stride = _pick(p.stride, i, 1)
        if spatial == 2 and (p.HasField("kernel_h") or p.HasField("kernel_w")):
            k = p.kernel_h if i == 0 else p.kernel_w
        if spatial == 2 and (p.HasField("pad_h") or p.HasField("pad_w")):
            pad = p.pad_h if i == 0 else p.pad_w
        if spatial == 2 and (p.HasField("stride_h") or p.HasField("stride_w")):
            stride = p.stride_h if i == 0 else p.stride_w
        out.append((k, pad, stride, _pick(p.dilation, i, 1)))
    return out


def _convolution(layer: Layer, x: Shape, deconv: bool) -> Shape:
    p = _param(layer, "convolution_param")
    axis = _axis(p.axis, len(x))
    spatial = x[axis + 1 :]
    dims = []
    for size, (k, pad, stride, dilation) in zip(spatial, _conv_geometry(p, len(spatial)), strict=True):
        extent = dilation * (k - 1) + 1
        dims.append(stride * (size - 1) + extent - 2 * pad if deconv else (size + 2 * pad - extent) // stride + 1)
    return (*x[:axis], p.num_output, *dims)


def _pooling(layer: Layer, x: Shape) -> Shape:
    p = _param(layer, "pooling_param")
    n, c, h, w = x
    if p.global_pooling:
        return (n, c, 1, 1)
    kh, kw = (p.kernel_h, p.kernel_w) if p.HasField("kernel_h") else (p.kernel_size, p.kernel_size)
    ph, pw = (p.pad_h, p.pad_w) if p.HasField("pad_h") else (p.pad, p.pad)
    sh, sw = (p.stride_h, p.stride_w) if p.HasField("stride_h") else (p.stride, p.stride)
    floor = "round_mode" in p.DESCRIPTOR.fields_by_name and p.round_mode == 1  # FLOOR
    dims = []
    for size, k, pad, stride in ((h, kh, ph, sh), (w, kw, pw, sw)):
        span = (size + 2 * pad - k) / stride
        out = (math.floor(span) if floor else math.ceil(span)) + 1
        if pad and (out - 1) * stride >= size + pad:  # the last window must start inside the image
            out -= 1
        dims.append(int(out))
    return (n, c, *dims)


def _inner_product(layer: Layer, x: Shape) -> Shape:
    p = _param(layer, "inner_product_param")
    axis = _axis(p.axis, len(x))
    return (*x[:axis], p.num_output)


def _concat(layer: Layer, shapes: list[Shape]) -> Shape:
    p = _param(layer, "concat_param")
    axis = p.concat_dim if p.HasField("concat_dim") and not p.HasField("axis") else p.axis
    axis = _axis(axis, len(shapes[0]))
    total = sum(s[axis] for s in shapes)
    return (*shapes[0][:axis], total, *shapes[0][axis + 1 :])


def _flatten(layer: Layer, x: Shape) -> Shape:
    p = _param(layer, "flatten_param")
    start, end = _axis(p.axis, len(x)), _axis(p.end_axis, len(x))
    return (*x[:start], math.prod(x[start : end + 1]), *x[end + 1 :])


def _reshape(layer: Layer, x: Shape) -> Shape:
    p = _param(layer, "reshape_param")
    axis = p.axis + len(x) + 1 if p.axis < 0 else p.axis
    end = len(x) if p.num_axes == -1 else axis + p.num_axes
    dims = [int(d) for d in p.shape.dim]
    middle = [x[axis + i] if d == 0 else d for i, d in enumerate(dims)]
    if middle.count(-1) == 1:
        known = math.prod(d for d in middle if d != -1)
        middle[middle.index(-1)] = math.prod(x[axis:end]) // known
    return (*x[:axis], *middle, *x[end:])


def _slice(layer: Layer, x: Shape, tops: int) -> list[Shape]:
    p = _param(layer, "slice_param")
    axis = p.slice_dim if p.HasField("slice_dim") and not p.HasField("axis") else p.axis
    axis = _axis(axis, len(x))
    points = [0, *p.slice_point, x[axis]] if p.slice_point else [x[axis] * i // tops for i in range(tops + 1)]
    return [(*x[:axis], b - a, *x[axis + 1 :]) for a, b in itertools.pairwise(points)]


def _crop(layer: Layer, shapes: list[Shape]) -> Shape:
    p = _param(layer, "crop_param")
    x, like = shapes[0], shapes[1]
    axis = _axis(p.axis, len(x))
    return (*x[:axis], *like[axis:])


def _argmax(layer: Layer, x: Shape) -> Shape:
    p = _param(layer, "argmax_param")
    if p.HasField("axis"):
        axis = _axis(p.axis, len(x))
        return (*x[:axis], p.top_k, *x[axis + 1 :])
    return (x[0], 2 if p.out_max_val else 1, p.top_k)


def _data(layer: Layer) -> list[MaybeShape] | None:
    """(batch, channels, height, width) of a data layer's data top, as far as its parameters tell, and (batch,) labels."""
    crop = _param(layer, "transform_param").crop_size or None
    channels: int | None = None
    if layer.type == "Data":
        batch = _param(layer, "data_param").batch_size
        height = width = crop
    elif layer.type == "ImageData":
        p = _param(layer, "image_data_param")
        batch, channels = p.batch_size, 3 if p.is_color else 1
        height, width = (crop, crop) if crop else (p.new_height or None, p.new_width or None)
    elif layer.type == "HDF5Data":
        batch, height, width = _param(layer, "hdf5_data_param").batch_size, None, None
    else:
        return None
    if not batch:
        return None
    return [(batch, channels, height, width), (batch,)]  # type: ignore[list-item]  # None marks an unknown dimension


def _sources(layer: Layer) -> list[MaybeShape] | None:
    """Shapes a layer with no bottoms states for its tops."""
    if layer.type in ("Data", "ImageData", "HDF5Data"):
        return _data(layer)
    if layer.type == "Input":
        shapes = list(_param(layer, "input_param").shape)
    elif layer.type == "DummyData":
        shapes = list(_param(layer, "dummy_data_param").shape)
    elif layer.type == "MemoryData":
        p = _param(layer, "memory_data_param")
        return [(p.batch_size, p.channels, p.height, p.width), (p.batch_size,)]
    else:
        return None
    if not shapes:
        return None
    return [tuple(int(d) for d in (shapes[i] if len(shapes) > 1 else shapes[0]).dim) for i in range(len(layer.tops))]


def infer(layer: Layer, inputs: list[MaybeShape]) -> list[MaybeShape]:
    """Each top's shape, None where unknown."""
    unknown: list[MaybeShape] = [None] * len(layer.tops)
    if layer.syntax == 0:
        return unknown  # V0's parameter names differ; its nets are rare enough to go without
    try:
        if not layer.bottoms:
            return (list(_sources(layer) or unknown) + unknown)[: len(layer.tops)]
        if layer.type in LOSSES:
            return [(), *unknown[1:]]  # a loss or accuracy is a scalar; its second top (if any) varies
        if any(s is None for s in inputs) or not inputs:
            return unknown
        # Unknown dimensions (None) make the arithmetic below raise TypeError: that top is then unknown.
        shapes = [cast(Shape, s) for s in inputs if s is not None]
        x = shapes[0]
        rule: Callable[[], list[Shape]] | None = {
            "Convolution": lambda: [_convolution(layer, x, False)],
            "Deconvolution": lambda: [_convolution(layer, x, True)],
            "Pooling": lambda: [_pooling(layer, x)],
            "InnerProduct": lambda: [_inner_product(layer, x)],
            "Concat": lambda: [_concat(layer, shapes)],
            "Flatten": lambda: [_flatten(layer, x)],
            "Reshape": lambda: [_reshape(layer, x)],
            "Slice": lambda: _slice(layer, x, len(layer.tops)),
            "Split": lambda: [x] * len(layer.tops),
            "Crop": lambda: [_crop(layer, shapes)],
            "ArgMax": lambda: [_argmax(layer, x)],
        }.get(layer.type)
        if rule is not None:
            out: list[MaybeShape] = list(rule())
        elif layer.type in SAME_SHAPE:
            out = [x] * len(layer.tops)
        else:
            return unknown
    except (TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
        return unknown
    out = [s if s is not None and all(d is None or (isinstance(d, int) and d >= 0) for d in s) else None for s in out]
    return (out + unknown)[: len(layer.tops)]


def _product(dims: Sequence[int | None]) -> int | None:
    return None if any(d is None for d in dims) else math.prod(cast(Sequence[int], dims))


def param_shapes(layer: Layer, inputs: list[MaybeShape]) -> Sequence[tuple[str, MaybeShape]]:
    """The learned blobs a layer has, by port name, with their shapes as far as the inputs tell them."""
    x = inputs[0] if inputs else None
    t = layer.type
    if not layer.syntax:
        return []
    try:
        if t in ("Convolution", "Deconvolution"):
            p = _param(layer, "convolution_param")
            weight: MaybeShape = None
            if x is not None:
                axis = _axis(p.axis, len(x))
                kernel = tuple(k for k, _, _, _ in _conv_geometry(p, len(x) - axis - 1))
                channels = x[axis]
                group = p.group or 1
                if t == "Convolution":
                    weight = (p.num_output, None if channels is None else channels // group, *kernel)
                else:
                    weight = (channels, p.num_output // group, *kernel)
            return [("weight", weight)] + ([("bias", (p.num_output,))] if p.bias_term else [])
        if t == "InnerProduct":
            p = _param(layer, "inner_product_param")
            k = _product(x[_axis(p.axis, len(x)) :]) if x is not None else None
            weight = (k, p.num_output) if p.transpose else (p.num_output, k)
            return [("weight", weight)] + ([("bias", (p.num_output,))] if p.bias_term else [])
        c: MaybeShape = (x[1],) if x is not None and len(x) > 1 else None
        if t == "BatchNorm":
            return [("mean", c), ("variance", c), ("scale_factor", (1,))]
        if t == "Scale" and len(layer.bottoms) == 1:
            p = _param(layer, "scale_param")
            scale: MaybeShape = None
            if x is not None:
                axis = _axis(p.axis, len(x))
                scale = x[axis:] if p.num_axes == -1 else x[axis : axis + p.num_axes]
            return [("scale", scale)] + ([("bias", scale)] if p.bias_term else [])
        if t == "Bias" and len(layer.bottoms) == 1:
            return [("bias", c)]
        if t == "PReLU":
            return [("slope", (1,) if _param(layer, "prelu_param").channel_shared else c)]
        if t == "Embed":
            p = _param(layer, "embed_param")
            return [("weight", (p.input_dim, p.num_output))] + ([("bias", (p.num_output,))] if p.bias_term else [])
    except (TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
        return []
    return []
