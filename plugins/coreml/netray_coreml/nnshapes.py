"""Blob shapes of NeuralNetwork layers, from the layers' parameters.

A NeuralNetwork stores no shapes for the blobs between its layers (before spec 4 not even a
rank); the shapes follow from the input features and each layer's parameters. This covers the
classic layers on ``[C, H, W]`` blobs (and ``[C]`` vectors): element-wise layers keep the shape,
convolution and pooling apply their window arithmetic (NeuralNetwork.proto's ``ValidPadding``,
``SamePadding`` and ``includeLastPixel`` formulas), flatten gives ``[C*H*W, 1, 1]``, inner
products ``[C_out, 1, 1]``, concat adds channels. Other layers and unknown inputs leave the shape
unknown; shapes the file states (features, ``outputTensor``) are never replaced.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from netray import Graph, Node, TensorType

Shape = tuple[int, ...]

SAME_SHAPE = frozenset(
    "activation batchnorm mvn l2normalize softmax lrn unary scale bias copy clip ceil floor sign round exp2 sin cos "
    "tan asin acos atan sinh cosh tanh asinh acosh atanh erf gelu clampedReLU scaler meanImage".split()
)
ELEMENTWISE = frozenset("add multiply average max min".split())


def _attrs(node: Node) -> dict[str, Any]:
    return {a.name: a.value for a in node.attributes}


def _pair(values: Any, default: int) -> tuple[int, int]:
    if isinstance(values, list) and len(values) == 2 and all(isinstance(v, int) for v in values):
        return int(values[0]), int(values[1])
    return default, default


def _borders(attrs: dict[str, Any], prefix: str) -> tuple[int, int]:
    """Total padding along height and width from ``<prefix>.paddingAmounts.borderAmounts``."""
    amounts = attrs.get(f"{prefix}.paddingAmounts.borderAmounts")
    if not isinstance(amounts, list) or len(amounts) != 2:
        return 0, 0
    totals = []
    for edge in amounts:
        edge = edge if isinstance(edge, dict) else {}
        totals.append(int(edge.get("startEdgeSize", 0)) + int(edge.get("endEdgeSize", 0)))
    return totals[0], totals[1]


def _window(size: int, kernel: int, stride: int, padding: str, pad: int, dilation: int = 1) -> int | None:
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return math.ceil(size / stride)
    out = (size + pad - effective) // stride + 1
    return out if out > 0 else None


def _convolution(node: Node, shape: Shape) -> Shape | None:
    if len(shape) != 3:
        return None
    attrs = _attrs(node)
    channels = attrs.get("outputChannels")
    kernel = _pair(attrs.get("kernelSize"), 3)
    stride = _pair(attrs.get("stride"), 1)
    dilation = _pair(attrs.get("dilationFactor"), 1)
    padding = attrs.get("ConvolutionPaddingType", "valid")
    if not isinstance(channels, int):
        return None
    if attrs.get("isDeconvolution"):
        declared = attrs.get("outputShape")
        if isinstance(declared, list) and len(declared) == 2:
            return (channels, int(declared[0]), int(declared[1]))
        if padding == "same":
            return (channels, shape[1] * stride[0], shape[2] * stride[1])
        pads = _borders(attrs, "valid")
        return (
            channels,
            (shape[1] - 1) * stride[0] + (kernel[0] - 1) * dilation[0] + 1 - pads[0],
            (shape[2] - 1) * stride[1] + (kernel[1] - 1) * dilation[1] + 1 - pads[1],
        )
    pads = _borders(attrs, "valid") if padding == "valid" else (0, 0)
    height = _window(shape[1], kernel[0], stride[0], padding, pads[0], dilation[0])
    width = _window(shape[2], kernel[1], stride[1], padding, pads[1], dilation[1])
    return (channels, height, width) if height and width else None


def _pooling(node: Node, shape: Shape) -> Shape | None:
    if len(shape) != 3:
        return None
    attrs = _attrs(node)
    if attrs.get("globalPooling"):
        return (shape[0], 1, 1)
    kernel = _pair(attrs.get("kernelSize"), 3)
    stride = _pair(attrs.get("stride"), 1)
    padding = attrs.get("PoolingPaddingType", "valid")
    if padding == "includeLastPixel":
        amounts = attrs.get("includeLastPixel.paddingAmounts")
        pad = _pair(amounts, 0)
        sizes = []
        for size, k, s, p in zip(shape[1:], kernel, stride, pad, strict=True):
            out = math.ceil((size + 2 * p - k) / s) + 1
            if p and (out - 1) * s >= size + p:
                out -= 1
            sizes.append(out)
        return (shape[0], sizes[0], sizes[1]) if min(sizes) > 0 else None
    pads = _borders(attrs, "valid") if padding == "valid" else (0, 0)
    height = _window(shape[1], kernel[0], stride[0], padding, pads[0])
    width = _window(shape[2], kernel[1], stride[1], padding, pads[1])
    return (shape[0], height, width) if height and width else None


def _flatten(node: Node, shape: Shape) -> Shape | None:
    return (math.prod(shape), 1, 1) if len(shape) == 3 else None


def _inner_product(node: Node, shape: Shape) -> Shape | None:
    channels = _attrs(node).get("outputChannels")
    if not isinstance(channels, int):
        return None
    return (channels, 1, 1) if len(shape) == 3 else (channels,)


def _upsample(node: Node, shape: Shape) -> Shape | None:
    if len(shape) != 3:
        return None
    factor = _pair(_attrs(node).get("scalingFactor"), 1)
    return (shape[0], shape[1] * factor[0], shape[2] * factor[1])


def _padding(node: Node, shape: Shape) -> Shape | None:
    if len(shape) != 3:
        return None
    pads = _borders(_attrs(node), "")
    return (shape[0], shape[1] + pads[0], shape[2] + pads[1])


RULES: dict[str, Callable[[Node, Shape], Shape | None]] = {
    "convolution": _convolution,
    "pooling": _pooling,
    "flatten": _flatten,
    "innerProduct": _inner_product,
    "upsample": _upsample,
    "padding": _padding,
}


def _known(value: Any) -> Shape | None:
    shape = value.type.shape
    if shape is None or not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        return None
    return tuple(shape)


def _data_inputs(node: Node) -> list[Shape | None]:
    return [_known(v) for p in node.inputs if p.name.startswith("input") for v in p.values]


def infer(graph: Graph) -> int:
    """Fills unknown output shapes of the graph's layers, in order; returns how many it filled."""
    filled = 0
    for node in graph.nodes:
        shapes = _data_inputs(node)
        if not shapes or shapes[0] is None:
            continue
        first = shapes[0]
        out: Shape | None = None
        if node.op in SAME_SHAPE:
            out = first
        elif node.op in ELEMENTWISE:
            out = first if all(s == first for s in shapes) else None
        elif node.op == "concat" and not _attrs(node).get("sequenceConcat"):
            if all(s is not None and len(s) == len(first) and s[1:] == first[1:] for s in shapes):
                out = (sum(s[0] for s in shapes if s is not None), *first[1:])
        elif node.op in RULES:
            out = RULES[node.op](node, first)
        outputs = [v for p in node.outputs for v in p.values]
        if out is None or len(outputs) != 1 or outputs[0].type.shape is not None:
            continue
        outputs[0].type = TensorType(outputs[0].type.dtype, out, outputs[0].type.denotation)
        filled += 1
    return filled
