"""Quantization parameters of values, from Quantize/Dequantize/QLinear* nodes and annotations.

Scale and zero point are small constant tensors (initializers or Constant nodes);
reading them eagerly is cheap, and capped at :data:`MAX_ELEMENTS` so a hostile
file cannot make opening slow.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from netray import FormatError, Graph, Node, Quantization, Tensor, Value

MAX_ELEMENTS: Final = 4096

# op -> ((side, index of the quantized value, index of its scale, index of its zero point), ...)
# side "in"/"out" says whether the quantized value is an input or an output of the node;
# scale and zero point are always inputs.
QUANTIZED_PORTS: Final[dict[str, tuple[tuple[str, int, int, int], ...]]] = {
    "DequantizeLinear": (("in", 0, 1, 2),),
    "QuantizeLinear": (("out", 0, 1, 2),),
    "QLinearConv": (("in", 0, 1, 2), ("in", 3, 4, 5), ("out", 0, 6, 7)),
    "QLinearMatMul": (("in", 0, 1, 2), ("in", 3, 4, 5), ("out", 0, 6, 7)),
    "QLinearAdd": (("in", 0, 1, 2), ("in", 3, 4, 5), ("out", 0, 6, 7)),
    "QLinearMul": (("in", 0, 1, 2), ("in", 3, 4, 5), ("out", 0, 6, 7)),
    "QLinearSigmoid": (("in", 0, 1, 2), ("out", 0, 3, 4)),
    "QLinearLeakyRelu": (("in", 0, 1, 2), ("out", 0, 3, 4)),
    "QLinearSoftmax": (("in", 0, 1, 2), ("out", 0, 3, 4)),
    "QLinearAveragePool": (("in", 0, 1, 2), ("out", 0, 3, 4)),
    "QLinearGlobalAveragePool": (("in", 0, 1, 2), ("out", 0, 3, 4)),
    "QGemm": (("in", 0, 1, 2), ("in", 3, 4, 5)),
}


class ConstantFinder:
    """Small constant arrays by value name: initializers and Constant node outputs."""

    def __init__(self, graph: Graph, constants: dict[str, Tensor]) -> None:
        self.graph = graph
        self.constants = constants  # Constant node output name -> its value tensor

    def array(self, name: str) -> np.ndarray | None:
        if not name:
            return None
        value = self.graph.values.get(name)
        tensor = value.initializer if value is not None else None
        if tensor is None:
            tensor = self.constants.get(name)
        if tensor is None or tensor.size is None or tensor.size > MAX_ELEMENTS:
            return None
        try:
            return np.asarray(tensor.numpy()).reshape(-1)
        except (FormatError, ValueError, TypeError):
            return None  # a broken scale only costs the annotation, not the model


def _as_quantization(scale: np.ndarray | None, zero_point: np.ndarray | None, axis: int | None) -> Quantization | None:
    if scale is None:
        return None
    try:
        scales = [float(s) for s in scale.astype(np.float64)]
        points = [int(z) for z in zero_point.astype(np.int64)] if zero_point is not None else []
    except (ValueError, TypeError, OverflowError):
        return None
    return Quantization(scale=scales, zero_point=points, axis=axis if len(scales) > 1 else None)


def _port_value(values: list[Value | None], index: int) -> Value | None:
    return values[index] if index < len(values) else None


def annotate_node(node: Node, input_names: list[str], finder: ConstantFinder) -> None:
    """Give the quantized inputs/outputs of one Quantize/Dequantize/QLinear node their parameters."""
    layout = QUANTIZED_PORTS.get(node.op)
    if layout is None:
        return
    axis_attr = node.attribute("axis")
    axis = int(axis_attr.value) if axis_attr is not None and isinstance(axis_attr.value, int) else 1
    inputs: list[Value | None] = [finder.graph.values.get(n) if n else None for n in input_names]
    outputs: list[Value | None] = list(node.output_values())
    for side, index, scale_index, zero_index in layout:
        target = _port_value(inputs if side == "in" else outputs, index)
        if target is None or target.quantization is not None:
            continue
        scale_name = input_names[scale_index] if scale_index < len(input_names) else ""
        zero_name = input_names[zero_index] if zero_index < len(input_names) else ""
        quantization = _as_quantization(finder.array(scale_name), finder.array(zero_name), axis)
        if quantization is not None:
            target.quantization = quantization


def annotate_from_graph_annotations(annotations: list[tuple[str, dict[str, str]]], finder: ConstantFinder) -> None:
    """``graph.quantization_annotation``: tensor -> {"SCALE_TENSOR": name, "ZERO_POINT_TENSOR": name}."""
    for tensor_name, params in annotations:
        target = finder.graph.values.get(tensor_name)
        if target is None or target.quantization is not None:
            continue
        quantization = _as_quantization(
            finder.array(params.get("SCALE_TENSOR", "")), finder.array(params.get("ZERO_POINT_TENSOR", "")), None
        )
        if quantization is not None:
            target.quantization = quantization
