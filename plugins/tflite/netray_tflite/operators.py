"""Operator metadata for TFLite builtin operators, kept as data.

Each entry: category (for colour), a one-line summary, and the names of the
operator's input slots (positions beyond the list are called ``input<i>``).
Operators missing here get category ``other`` and no documentation.
"""

from __future__ import annotations

from typing import NamedTuple

FORMAT = "TFLite"


class OpSpec(NamedTuple):
    category: str
    summary: str
    inputs: tuple[str, ...] = ("input",)


_CONV = ("input", "filter", "bias")

OPERATORS: dict[str, OpSpec] = {
    # layers: operations with learned weights
    "CONV_2D": OpSpec("layer", "2-D convolution over an NHWC input with an OHWI filter.", _CONV),
    "CONV_3D": OpSpec("layer", "3-D convolution over an NDHWC input.", _CONV),
    "CONV_3D_TRANSPOSE": OpSpec("layer", "Transposed 3-D convolution.", ("output_shape", "filter", "input", "bias")),
    "DEPTHWISE_CONV_2D": OpSpec("layer", "Depthwise 2-D convolution: one filter per input channel (times depth_multiplier).", _CONV),
    "TRANSPOSE_CONV": OpSpec("layer", "Transposed 2-D convolution (deconvolution).", ("output_shape", "weights", "input", "bias")),
    "FULLY_CONNECTED": OpSpec("layer", "Matrix product with a weight matrix plus bias (dense layer).", ("input", "weights", "bias")),
    "BATCH_MATMUL": OpSpec("layer", "Batched matrix product of two tensors.", ("x", "y")),
    "EMBEDDING_LOOKUP": OpSpec("layer", "Gathers rows of an embedding table by id.", ("ids", "params")),
    "EMBEDDING_LOOKUP_SPARSE": OpSpec("layer", "Sparse embedding lookup with a combiner.", ("ids", "indices", "shape", "weights", "params")),
    "HASHTABLE_LOOKUP": OpSpec("layer", "Looks up keys in a static hash table.", ("lookups", "keys", "values")),
    "LSTM": OpSpec("layer", "Long short-term memory cell."),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": OpSpec("layer", "LSTM run over a sequence in one direction."),
    "BIDIRECTIONAL_SEQUENCE_LSTM": OpSpec("layer", "LSTM run over a sequence in both directions."),
    "RNN": OpSpec("layer", "Basic recurrent cell.", ("input", "weights", "recurrent_weights", "bias", "hidden_state")),
    "UNIDIRECTIONAL_SEQUENCE_RNN": OpSpec("layer", "Basic RNN run over a sequence."),
    "BIDIRECTIONAL_SEQUENCE_RNN": OpSpec("layer", "Basic RNN run over a sequence in both directions."),
    "SVDF": OpSpec("layer", "Singular value decomposition filter (low-rank recurrent layer)."),
    "LSH_PROJECTION": OpSpec("layer", "Locality-sensitive hashing projection."),
    "PRELU": OpSpec("activation", "Leaky ReLU with a learned slope.", ("input", "alpha")),
    # activations
    "RELU": OpSpec("activation", "max(x, 0)."),
    "RELU6": OpSpec("activation", "min(max(x, 0), 6)."),
    "RELU_N1_TO_1": OpSpec("activation", "min(max(x, -1), 1)."),
    "RELU_0_TO_1": OpSpec("activation", "min(max(x, 0), 1)."),
    "LEAKY_RELU": OpSpec("activation", "x if x > 0 else alpha * x."),
    "LOGISTIC": OpSpec("activation", "Sigmoid 1 / (1 + exp(-x))."),
    "TANH": OpSpec("activation", "Hyperbolic tangent."),
    "ELU": OpSpec("activation", "Exponential linear unit."),
    "GELU": OpSpec("activation", "Gaussian error linear unit."),
    "HARD_SWISH": OpSpec("activation", "x * relu6(x + 3) / 6."),
    "SOFTMAX": OpSpec("activation", "Normalised exponential along the last axis."),
    "LOG_SOFTMAX": OpSpec("activation", "Logarithm of softmax."),
    # normalization
    "L2_NORMALIZATION": OpSpec("normalization", "Divides by the L2 norm along the last axis."),
    "LOCAL_RESPONSE_NORMALIZATION": OpSpec("normalization", "Local response normalization across channels."),
    # pooling and reductions
    "AVERAGE_POOL_2D": OpSpec("pool", "Average over sliding 2-D windows."),
    "MAX_POOL_2D": OpSpec("pool", "Maximum over sliding 2-D windows."),
    "L2_POOL_2D": OpSpec("pool", "L2 norm over sliding 2-D windows."),
    "MEAN": OpSpec("pool", "Mean over the given axes.", ("input", "axis")),
    "SUM": OpSpec("pool", "Sum over the given axes.", ("input", "axis")),
    "REDUCE_MAX": OpSpec("pool", "Maximum over the given axes.", ("input", "axis")),
    "REDUCE_MIN": OpSpec("pool", "Minimum over the given axes.", ("input", "axis")),
    "REDUCE_PROD": OpSpec("pool", "Product over the given axes.", ("input", "axis")),
    "REDUCE_ANY": OpSpec("pool", "Logical or over the given axes.", ("input", "axis")),
    "REDUCE_ALL": OpSpec("pool", "Logical and over the given axes.", ("input", "axis")),
    "REDUCE_WINDOW": OpSpec("pool", "Reduction over sliding windows."),
    # shape manipulation
    "RESHAPE": OpSpec("shape", "Same elements, new shape.", ("data", "shape")),
    "SQUEEZE": OpSpec("shape", "Removes dimensions of size 1."),
    "EXPAND_DIMS": OpSpec("shape", "Inserts a dimension of size 1.", ("input", "axis")),
    "TRANSPOSE": OpSpec("shape", "Permutes dimensions.", ("input", "perm")),
    "SHAPE": OpSpec("shape", "The shape of a tensor as a tensor."),
    "RANK": OpSpec("shape", "The rank of a tensor."),
    "SPACE_TO_DEPTH": OpSpec("shape", "Moves spatial blocks into channels."),
    "DEPTH_TO_SPACE": OpSpec("shape", "Moves channels into spatial blocks."),
    "SPACE_TO_BATCH_ND": OpSpec("shape", "Moves spatial blocks into the batch.", ("input", "block_shape", "paddings")),
    "BATCH_TO_SPACE_ND": OpSpec("shape", "Moves batch into spatial blocks.", ("input", "block_shape", "crops")),
    "BROADCAST_TO": OpSpec("shape", "Broadcasts to a shape.", ("input", "shape")),
    "BROADCAST_ARGS": OpSpec("shape", "The broadcast shape of two shapes."),
    # tensor operations
    "CONCATENATION": OpSpec("tensor", "Joins tensors along an axis."),
    "PACK": OpSpec("tensor", "Stacks tensors along a new axis."),
    "UNPACK": OpSpec("tensor", "Splits a tensor along an axis into slices."),
    "SPLIT": OpSpec("tensor", "Splits a tensor into equal parts.", ("axis", "input")),
    "SPLIT_V": OpSpec("tensor", "Splits a tensor into parts of given sizes.", ("input", "size_splits", "axis")),
    "SLICE": OpSpec("tensor", "Extracts a slice.", ("input", "begin", "size")),
    "STRIDED_SLICE": OpSpec("tensor", "Extracts a strided slice.", ("input", "begin", "end", "strides")),
    "GATHER": OpSpec("tensor", "Gathers slices by index along an axis.", ("params", "indices")),
    "GATHER_ND": OpSpec("tensor", "Gathers slices by multi-dimensional index.", ("params", "indices")),
    "SCATTER_ND": OpSpec("tensor", "Scatters updates into a new tensor.", ("indices", "updates", "shape")),
    "PAD": OpSpec("tensor", "Pads with zeros.", ("input", "paddings")),
    "PADV2": OpSpec("tensor", "Pads with a constant.", ("input", "paddings", "constant_values")),
    "MIRROR_PAD": OpSpec("tensor", "Pads by reflecting the input.", ("input", "paddings")),
    "TILE": OpSpec("tensor", "Repeats a tensor.", ("input", "multiples")),
    "FILL": OpSpec("tensor", "A tensor of a shape filled with a value.", ("dims", "value")),
    "ZEROS_LIKE": OpSpec("tensor", "Zeros of the input's shape."),
    "ONE_HOT": OpSpec("tensor", "One-hot encoding.", ("indices", "depth", "on_value", "off_value")),
    "RANGE": OpSpec("tensor", "A sequence of numbers.", ("start", "limit", "delta")),
    "SELECT": OpSpec("tensor", "Picks elements from two tensors by a condition.", ("condition", "x", "y")),
    "SELECT_V2": OpSpec("tensor", "Select with broadcasting.", ("condition", "x", "y")),
    "WHERE": OpSpec("tensor", "Coordinates of true elements."),
    "REVERSE_V2": OpSpec("tensor", "Reverses along axes.", ("input", "axis")),
    "REVERSE_SEQUENCE": OpSpec("tensor", "Reverses variable-length slices.", ("input", "seq_lengths")),
    "TOPK_V2": OpSpec("tensor", "The k largest entries and their indices.", ("input", "k")),
    "ARG_MAX": OpSpec("tensor", "Index of the largest value along an axis.", ("input", "axis")),
    "ARG_MIN": OpSpec("tensor", "Index of the smallest value along an axis.", ("input", "axis")),
    "UNIQUE": OpSpec("tensor", "Unique elements and their indices."),
    "CAST": OpSpec("tensor", "Converts the element type."),
    "DENSIFY": OpSpec("tensor", "Turns a sparse constant into a dense tensor."),
    "RESIZE_BILINEAR": OpSpec("tensor", "Resizes images with bilinear interpolation.", ("input", "size")),
    "RESIZE_NEAREST_NEIGHBOR": OpSpec("tensor", "Resizes images with nearest-neighbour sampling.", ("input", "size")),
    "CUMSUM": OpSpec("tensor", "Cumulative sum along an axis.", ("input", "axis")),
    "ADD": OpSpec("tensor", "Elementwise sum.", ("x", "y")),
    "SUB": OpSpec("tensor", "Elementwise difference.", ("x", "y")),
    "MUL": OpSpec("tensor", "Elementwise product.", ("x", "y")),
    "DIV": OpSpec("tensor", "Elementwise quotient.", ("x", "y")),
    "ADD_N": OpSpec("tensor", "Sum of many tensors."),
    # quantization
    "QUANTIZE": OpSpec("quantization", "Converts float to quantized values (or requantizes)."),
    "DEQUANTIZE": OpSpec("quantization", "Converts quantized values to float."),
    "FAKE_QUANT": OpSpec("quantization", "Simulates quantization in float."),
    # control flow and calls
    "IF": OpSpec("control", "Runs the then- or else-subgraph by a boolean condition.", ("cond",)),
    "WHILE": OpSpec("control", "Runs the body subgraph while the cond subgraph returns true."),
    "CALL": OpSpec("control", "Calls a subgraph."),
    "CALL_ONCE": OpSpec("control", "Runs an initialisation subgraph once."),
    "CUSTOM": OpSpec("custom", "An operator implemented outside the builtin set."),
    "DELEGATE": OpSpec("custom", "A delegated partition of the graph."),
    "VAR_HANDLE": OpSpec("control", "A handle to a resource variable."),
    "READ_VARIABLE": OpSpec("control", "Reads a resource variable."),
    "ASSIGN_VARIABLE": OpSpec("control", "Writes a resource variable."),
}

CUSTOM_SPEC = OpSpec("custom", "A custom operator: the runtime must register its implementation.")


def spec_for(op: str, custom: bool) -> OpSpec | None:
    """The metadata of a builtin ``op``, or the custom-op entry."""
    if custom:
        return CUSTOM_SPEC
    return OPERATORS.get(op)


def input_port_name(spec: OpSpec | None, position: int) -> str:
    """The name of the input slot at ``position``."""
    if spec is not None and position < len(spec.inputs):
        return spec.inputs[position]
    return "input" if position == 0 else f"input{position}"
