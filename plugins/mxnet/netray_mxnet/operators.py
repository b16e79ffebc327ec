"""MXNet operator metadata as data: category (for colour) and a one-line summary per op.

Ops absent here are shown as Category.OTHER with no documentation; names that
start with ``_contrib_`` or ``_sg_`` fall back to their base name first.
"""

from __future__ import annotations

from netray import Category

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

OPERATORS: dict[str, tuple[Category, str]] = {
    "Convolution": (L, "N-D convolution of the data with a learned kernel, plus an optional bias."),
    "Deconvolution": (L, "Transposed convolution (fractionally strided), used to upsample."),
    "FullyConnected": (L, "Dense layer: data x weightᵀ + bias."),
    "RNN": (L, "Fused recurrent layer (rnn_relu, rnn_tanh, lstm or gru)."),
    "Embedding": (L, "Looks up rows of the weight matrix by integer index."),
    "Activation": (A, "Element-wise activation: relu, sigmoid, tanh, softrelu or softsign (act_type)."),
    "LeakyReLU": (A, "Leaky, parametric (prelu), randomized (rrelu), elu, selu or gelu activation (act_type)."),
    "relu": (A, "max(x, 0) element-wise."),
    "sigmoid": (A, "1 / (1 + exp(-x)) element-wise."),
    "tanh": (A, "Hyperbolic tangent element-wise."),
    "softmax": (A, "Softmax along an axis."),
    "log_softmax": (A, "Log of the softmax along an axis."),
    "SoftmaxActivation": (A, "Softmax over channels or instances (deprecated form of softmax)."),
    "SoftmaxOutput": (A, "Softmax in the forward pass with a cross-entropy gradient (training head)."),
    "LinearRegressionOutput": (A, "Identity forward with an L2 loss gradient (training head)."),
    "LogisticRegressionOutput": (A, "Sigmoid forward with a logistic loss gradient (training head)."),
    "BatchNorm": (N, "Batch normalization with learned gamma/beta and moving mean/variance."),
    "InstanceNorm": (N, "Normalizes each instance and channel over its spatial dimensions."),
    "LayerNorm": (N, "Normalizes over the last axis with learned gamma/beta."),
    "GroupNorm": (N, "Normalizes over groups of channels."),
    "L2Normalization": (N, "Scales the input to unit L2 norm (instance, channel or spatial)."),
    "LRN": (N, "Local response normalization across channels."),
    "Dropout": (N, "Zeroes elements at random during training; identity at inference."),
    "Pooling": (P, "Max, average, sum or Lp pooling over windows (pool_type, global_pool)."),
    "ROIPooling": (P, "Max pooling of regions of interest to a fixed size."),
    "UpSampling": (S, "Nearest or bilinear upsampling by an integer scale."),
    "Flatten": (S, "Collapses all but the first axis."),
    "Reshape": (S, "Gives the data a new shape (special codes 0, -1, -2, -3, -4)."),
    "reshape": (S, "Gives the data a new shape."),
    "transpose": (S, "Permutes the axes."),
    "expand_dims": (S, "Inserts an axis of size 1."),
    "squeeze": (S, "Removes axes of size 1."),
    "SwapAxis": (S, "Swaps two axes."),
    "Concat": (T, "Joins the inputs along an axis (dim)."),
    "concat": (T, "Joins the inputs along an axis."),
    "SliceChannel": (T, "Splits the input into num_outputs equal parts along an axis."),
    "split": (T, "Splits the input into equal parts along an axis."),
    "slice": (T, "Takes a slice by begin/end/step."),
    "slice_axis": (T, "Takes a slice along one axis."),
    "Crop": (T, "Crops the data to a given size or to the size of a second input."),
    "Pad": (T, "Pads with a constant, edge or reflection."),
    "Cast": (T, "Converts the element type."),
    "clip": (T, "Clips values to [a_min, a_max]."),
    "take": (T, "Gathers elements along an axis by index."),
    "where": (T, "Chooses elements of x or y by a condition."),
    "elemwise_add": (T, "Element-wise sum."),
    "elemwise_mul": (T, "Element-wise product."),
    "_Plus": (T, "Element-wise sum."),
    "_plus": (T, "Element-wise sum."),
    "_minus_scalar": (T, "Subtracts a scalar."),
    "_mul_scalar": (T, "Multiplies by a scalar."),
    "_plus_scalar": (T, "Adds a scalar."),
    "_div_scalar": (T, "Divides by a scalar."),
    "broadcast_add": (T, "Sum with broadcasting."),
    "broadcast_mul": (T, "Product with broadcasting."),
    "broadcast_sub": (T, "Difference with broadcasting."),
    "broadcast_div": (T, "Quotient with broadcasting."),
    "add_n": (T, "Sum of all inputs."),
    "ElementWiseSum": (T, "Sum of all inputs."),
    "dot": (L, "Matrix product of two arrays."),
    "batch_dot": (L, "Batched matrix product."),
    "_contrib_quantize": (Q, "Quantizes float data to int8/uint8 with min/max ranges."),
    "_contrib_quantize_v2": (Q, "Quantizes float data to int8/uint8, calibrated or on the fly."),
    "_contrib_dequantize": (Q, "Dequantizes int8/uint8 data back to float."),
    "_contrib_requantize": (Q, "Requantizes int32 data to int8."),
    "_foreach": (C, "Runs a subgraph over slices of the inputs along the first axis."),
    "_while_loop": (C, "Runs a subgraph while a condition subgraph holds."),
    "_cond": (C, "Runs one of two subgraphs chosen by a condition subgraph."),
    "_CachedOp": (C, "Runs a cached (hybridized) subgraph."),
}


def lookup(op: str) -> tuple[Category, str] | None:
    """Category and summary of ``op``; None when the op is unknown."""
    found = OPERATORS.get(op)
    if found is None:
        for prefix in ("_contrib_", "_sg_mkldnn_", "_sg_onednn_", "_npi_", "_np_"):
            if op.startswith(prefix) and op[len(prefix) :] in OPERATORS:
                return OPERATORS[op[len(prefix) :]]
        if op.startswith("_sg_"):
            return (Category.CUSTOM, "A fused subgraph operator from a graph partitioning backend.")
    return found
