"""ncnn layer types: categories, the binary param's type indices, and param names by id.

The per-type params and weights come from ncnn's operator documentation
(:mod:`netray_ncnn.operator_table`, generated); the category and the type index
order (``ncnn_add_layer`` order in ncnn's ``src/CMakeLists.txt``, which numbers the
layer type enum a ``.param.bin`` stores) are written here.
"""

from __future__ import annotations

from netray import Category
from netray_ncnn.operator_table import OPERATORS

# Index = the layer type enum value a .param.bin stores; CUSTOM_BIT marks custom layers.
LAYER_TYPES = (
    "AbsVal", "ArgMax", "BatchNorm", "Bias", "BNLL", "Concat", "Convolution", "Crop", "Deconvolution", "Dropout",
    "Eltwise", "ELU", "Embed", "Exp", "Flatten", "InnerProduct", "Input", "Log", "LRN", "MemoryData",
    "MVN", "Pooling", "Power", "PReLU", "Proposal", "Reduction", "ReLU", "Reshape", "ROIPooling", "Scale",
    "Sigmoid", "Slice", "Softmax", "Split", "SPP", "TanH", "Threshold", "Tile", "RNN", "LSTM",
    "BinaryOp", "UnaryOp", "ConvolutionDepthWise", "Padding", "Squeeze", "ExpandDims", "Normalize", "Permute", "PriorBox", "DetectionOutput",
    "Interp", "DeconvolutionDepthWise", "ShuffleChannel", "InstanceNorm", "Clip", "Reorg", "YoloDetectionOutput", "Quantize", "Dequantize", "Yolov3DetectionOutput",
    "PSROIPooling", "ROIAlign", "Packing", "Requantize", "Cast", "HardSigmoid", "SELU", "HardSwish", "Noop", "PixelShuffle",
    "DeepCopy", "Mish", "StatisticsPooling", "Swish", "Gemm", "GroupNorm", "LayerNorm", "Softplus", "GRU", "MultiHeadAttention",
    "GELU", "Convolution1D", "Pooling1D", "ConvolutionDepthWise1D", "Convolution3D", "ConvolutionDepthWise3D", "Pooling3D", "MatMul", "Deconvolution1D", "DeconvolutionDepthWise1D",
    "Deconvolution3D", "DeconvolutionDepthWise3D", "Einsum", "DeformableConv2D", "GLU", "Fold", "Unfold", "GridSample", "CumulativeSum", "CopyTo",
    "Erf", "Diag", "CELU", "Shrink", "RMSNorm", "Spectrogram", "InverseSpectrogram", "Flip", "SDPA", "RotaryEmbed",
)  # fmt: skip
CUSTOM_BIT = 1 << 8

L, A, N, P, S, T, C, Q = (
    Category.LAYER,
    Category.ACTIVATION,
    Category.NORMALIZATION,
    Category.POOL,
    Category.SHAPE,
    Category.TENSOR,
    Category.CONTROL,
    Category.QUANTIZATION,
)
_GROUPS: dict[Category, tuple[str, ...]] = {
    L: (
        "Convolution", "Convolution1D", "Convolution3D", "ConvolutionDepthWise", "ConvolutionDepthWise1D", "ConvolutionDepthWise3D",
        "Deconvolution", "Deconvolution1D", "Deconvolution3D", "DeconvolutionDepthWise", "DeconvolutionDepthWise1D",
        "DeconvolutionDepthWise3D", "DeformableConv2D", "InnerProduct", "Gemm", "MatMul", "Embed", "RNN", "LSTM", "GRU",
        "MultiHeadAttention", "SDPA", "Einsum", "RotaryEmbed", "Scale", "Bias",
    ),
    A: (
        "ReLU", "Sigmoid", "TanH", "ELU", "SELU", "CELU", "GELU", "GLU", "Mish", "Swish", "HardSigmoid", "HardSwish", "PReLU",
        "Softmax", "Softplus", "BNLL", "AbsVal", "Clip", "Threshold", "Shrink", "Erf", "Exp", "Log", "Power", "UnaryOp",
    ),
    N: ("BatchNorm", "InstanceNorm", "LayerNorm", "GroupNorm", "RMSNorm", "LRN", "MVN", "Normalize", "Dropout"),
    P: ("Pooling", "Pooling1D", "Pooling3D", "StatisticsPooling", "SPP", "ROIPooling", "PSROIPooling", "ROIAlign"),
    S: (
        "Reshape", "Flatten", "Permute", "Squeeze", "ExpandDims", "Crop", "Padding", "Interp", "PixelShuffle", "Reorg",
        "ShuffleChannel", "Tile", "Flip", "Fold", "Unfold", "GridSample", "Packing", "Diag",
    ),
    T: ("Concat", "Slice", "Split", "Eltwise", "BinaryOp", "CopyTo", "DeepCopy", "CumulativeSum", "ArgMax", "Reduction", "MemoryData", "Noop", "Cast"),
    C: ("DetectionOutput", "Yolov3DetectionOutput", "YoloDetectionOutput", "PriorBox", "Proposal", "Spectrogram", "InverseSpectrogram"),
    Q: ("Quantize", "Dequantize", "Requantize"),
}  # fmt: skip
CATEGORIES: dict[str, Category] = {op: cat for cat, ops in _GROUPS.items() for op in ops}

# Param types the table states: "int", "float", "array", "str".
Param = tuple[int, str, str, str]


def params_of(op: str) -> dict[int, Param]:
    entry = OPERATORS.get(op)
    rows = entry.get("params", []) if entry else []
    return {row[0]: row for row in rows if isinstance(row, tuple)} if isinstance(rows, list) else {}


def param_name(op: str, pid: int) -> str:
    row = params_of(op).get(pid)
    return row[1] if row else f"param_{pid}"


def param_type(op: str, pid: int) -> str:
    """``int``, ``float``, ``array``, ``str``, or ``""`` for an id the documentation does not list."""
    row = params_of(op).get(pid)
    return row[2] if row else ""


def category(op: str) -> Category:
    return CATEGORIES.get(op, Category.CUSTOM if op.startswith("Custom") else Category.OTHER)
