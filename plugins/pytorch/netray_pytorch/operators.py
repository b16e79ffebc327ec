"""Operator metadata for ATen / prim operators, kept as data: category (colour) and one line of documentation.

Keys are the operator's base name (``conv2d`` for ``aten::conv2d`` and
``torch.ops.aten.conv2d.default``). The TorchScript plugin uses this table too
(it depends on this distribution).
"""

from __future__ import annotations

from netray import Category, OpInfo

L, A, N, P, S, T, C, Q = (Category.LAYER, Category.ACTIVATION, Category.NORMALIZATION, Category.POOL,
                          Category.SHAPE, Category.TENSOR, Category.CONTROL, Category.QUANTIZATION)

OPERATORS: dict[str, tuple[Category, str]] = {
    "conv1d": (L, "1-D convolution over an input signal."),
    "conv2d": (L, "2-D convolution over an input image."),
    "conv3d": (L, "3-D convolution over a volume."),
    "convolution": (L, "Generic N-D convolution (transposed or not)."),
    "_convolution": (L, "Generic N-D convolution (transposed or not)."),
    "conv_transpose1d": (L, "1-D transposed convolution."),
    "conv_transpose2d": (L, "2-D transposed convolution."),
    "conv_transpose3d": (L, "3-D transposed convolution."),
    "linear": (L, "y = x · Wᵀ + b."),
    "addmm": (L, "beta·input + alpha·(mat1 @ mat2)."),
    "mm": (L, "Matrix product of two 2-D tensors."),
    "bmm": (L, "Batched matrix product."),
    "matmul": (L, "Matrix product with broadcasting."),
    "embedding": (L, "Looks up rows of a weight table by index."),
    "lstm": (L, "Long short-term memory recurrent layer."),
    "gru": (L, "Gated recurrent unit layer."),
    "rnn_tanh": (L, "Elman RNN with tanh."),
    "scaled_dot_product_attention": (L, "softmax(Q·Kᵀ/√d)·V attention."),
    "relu": (A, "max(x, 0)."),
    "relu_": (A, "max(x, 0), in place."),
    "relu6": (A, "min(max(x, 0), 6)."),
    "gelu": (A, "Gaussian error linear unit."),
    "silu": (A, "x · sigmoid(x)."),
    "sigmoid": (A, "1 / (1 + exp(-x))."),
    "tanh": (A, "Hyperbolic tangent."),
    "softmax": (A, "exp(x) / sum(exp(x)) along a dimension."),
    "_softmax": (A, "exp(x) / sum(exp(x)) along a dimension."),
    "log_softmax": (A, "log(softmax(x))."),
    "_log_softmax": (A, "log(softmax(x))."),
    "leaky_relu": (A, "x if x > 0 else slope·x."),
    "elu": (A, "Exponential linear unit."),
    "hardtanh": (A, "Clamp to [min_val, max_val]."),
    "hardswish": (A, "x · relu6(x + 3) / 6."),
    "hardsigmoid": (A, "relu6(x + 3) / 6."),
    "mish": (A, "x · tanh(softplus(x))."),
    "softplus": (A, "log(1 + exp(x))."),
    "prelu": (A, "Parametric ReLU."),
    "glu": (A, "Gated linear unit."),
    "batch_norm": (N, "Batch normalization with running statistics."),
    "_native_batch_norm_legit_no_training": (N, "Batch normalization in inference mode."),
    "native_batch_norm": (N, "Batch normalization."),
    "layer_norm": (N, "Normalizes over the last dimensions."),
    "native_layer_norm": (N, "Normalizes over the last dimensions."),
    "group_norm": (N, "Normalizes over groups of channels."),
    "instance_norm": (N, "Normalizes each channel of each sample."),
    "rms_norm": (N, "Root-mean-square normalization."),
    "max_pool1d": (P, "1-D max pooling."),
    "max_pool2d": (P, "2-D max pooling."),
    "max_pool3d": (P, "3-D max pooling."),
    "max_pool2d_with_indices": (P, "2-D max pooling, also returning indices."),
    "avg_pool1d": (P, "1-D average pooling."),
    "avg_pool2d": (P, "2-D average pooling."),
    "avg_pool3d": (P, "3-D average pooling."),
    "adaptive_avg_pool1d": (P, "Average pooling to a fixed output size."),
    "adaptive_avg_pool2d": (P, "Average pooling to a fixed output size."),
    "adaptive_max_pool2d": (P, "Max pooling to a fixed output size."),
    "view": (S, "Same data, new shape."),
    "_unsafe_view": (S, "Same data, new shape."),
    "reshape": (S, "Same elements, new shape."),
    "flatten": (S, "Collapses a range of dimensions into one."),
    "permute": (S, "Reorders dimensions."),
    "transpose": (S, "Swaps two dimensions."),
    "t": (S, "Transposes a 2-D tensor."),
    "squeeze": (S, "Removes dimensions of size 1."),
    "unsqueeze": (S, "Inserts a dimension of size 1."),
    "expand": (S, "Broadcasts to a larger shape without copying."),
    "contiguous": (S, "Makes the memory layout contiguous."),
    "size": (S, "The size of a dimension or the whole shape."),
    "dim": (S, "Number of dimensions."),
    "cat": (T, "Concatenates tensors along a dimension."),
    "stack": (T, "Stacks tensors along a new dimension."),
    "split": (T, "Splits into chunks of a size."),
    "split_with_sizes": (T, "Splits into chunks of given sizes."),
    "chunk": (T, "Splits into a number of chunks."),
    "slice": (T, "Elements start:end:step along a dimension."),
    "select": (T, "One index along a dimension (removes it)."),
    "narrow": (T, "A narrowed view along a dimension."),
    "index": (T, "Advanced indexing."),
    "index_select": (T, "Rows at given indices along a dimension."),
    "gather": (T, "Values at indices along a dimension."),
    "pad": (T, "Pads a tensor."),
    "constant_pad_nd": (T, "Pads with a constant."),
    "clone": (T, "A copy of the tensor."),
    "to": (T, "Converts dtype or device."),
    "_to_copy": (T, "Converts dtype or device (copy)."),
    "zeros": (T, "A tensor of zeros."),
    "ones": (T, "A tensor of ones."),
    "full": (T, "A tensor filled with a value."),
    "arange": (T, "Evenly spaced values."),
    "dropout": (Category.OTHER, "Randomly zeroes elements in training; identity in inference."),
    "quantize_per_tensor": (Q, "Quantizes with one scale and zero point."),
    "quantize_per_channel": (Q, "Quantizes with per-channel scales and zero points."),
    "dequantize": (Q, "Converts a quantized tensor back to floating point."),
    "If": (C, "Runs one of two blocks depending on a condition."),
    "Loop": (C, "Runs its block while a condition holds, up to a trip count."),
    "cond": (C, "Runs one of two subgraphs depending on a predicate."),
    "while_loop": (C, "Runs a body subgraph while a condition subgraph holds."),
    "map": (C, "Applies a subgraph to each slice of the inputs."),
    "ListConstruct": (T, "Builds a list from its inputs."),
    "TupleConstruct": (T, "Builds a tuple from its inputs."),
    "ListUnpack": (T, "Splits a list into its elements."),
    "TupleUnpack": (T, "Splits a tuple into its elements."),
    "TupleIndex": (T, "One element of a tuple."),
    "RaiseException": (C, "Raises an error at run time."),
    "Uninitialized": (Category.OTHER, "A placeholder value for a branch that raises."),
    "SetAttr": (Category.OTHER, "Writes a module attribute (state)."),
}

_ARITHMETIC = ("add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "rsqrt", "abs", "mean", "sum",
               "max", "min", "eq", "ne", "gt", "lt", "ge", "le", "where", "clamp")


def split_target(target: str) -> tuple[str, str]:
    """``torch.ops.aten.conv2d.default`` -> (``aten``, ``conv2d``); ``aten::conv2d`` -> (``aten``, ``conv2d``)."""
    if "::" in target:
        domain, _, op = target.partition("::")
        return domain, op
    parts = target.split(".")
    if len(parts) >= 4 and parts[0] == "torch" and parts[1] == "ops":
        return parts[2], parts[3]
    if len(parts) > 1:
        return ".".join(parts[:-1]), parts[-1]
    return "", target


def category(op: str) -> Category:
    entry = OPERATORS.get(op) or OPERATORS.get(op.rstrip("_"))
    if entry:
        return entry[0]
    return Category.OTHER


def documentation(op: str) -> str:
    entry = OPERATORS.get(op) or OPERATORS.get(op.rstrip("_"))
    if entry:
        return entry[1]
    if op.rstrip("_") in _ARITHMETIC:
        return f"Element-wise or reducing {op.rstrip('_')}."
    return ""


def operator_info(op: str) -> OpInfo | None:
    """Category and summary of an aten (or prim) op for the node panel; None when unknown."""
    doc = documentation(op)
    cat = category(op)
    if not doc and cat is Category.OTHER:
        return None
    return OpInfo(category=cat, summary=doc)
