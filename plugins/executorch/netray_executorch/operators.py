"""What ExecuTorch's operators do, as data: a category (the box's colour) and a one-line summary.

Kernel operators are keyed by their base name: ``aten::convolution.out`` is
``convolution``; operators of other namespaces by ``namespace::name``
(``quantized_decomposed::quantize_per_tensor``). The instruction kinds that are not
kernels (MoveCall, JumpFalseCall, FreeCall) and XNNPACK's node types (the boxes inside an
XnnpackBackend delegate) are here too. Argument names come from :mod:`schemas`.
"""

from __future__ import annotations

from netray_executorch.formats import FORMAT

__all__ = ["FORMAT", "KERNELS", "INSTRUCTIONS", "XNNPACK", "lookup", "base_name"]

L, A, N, P, S, T, C, Q, X = "layer", "activation", "normalization", "pool", "shape", "tensor", "control", "quantization", "custom"

KERNELS: dict[str, tuple[str, str]] = {
    # layers
    "convolution": (L, "N-d convolution (transposed when `transposed`), with optional bias"),
    "convolution_backward": (L, "gradients of a convolution"),
    "linear": (L, "y = x·Wᵀ + b"),
    "addmm": (L, "beta·self + alpha·(mat1 @ mat2): a fully connected layer after permuting its weight"),
    "mm": (L, "matrix product of two 2-D tensors"),
    "bmm": (L, "batched matrix product of two 3-D tensors"),
    "matmul": (L, "matrix product with broadcasting"),
    "baddbmm": (L, "beta·self + alpha·(batch1 @ batch2)"),
    "embedding": (L, "look up rows of `weight` at `indices`"),
    "_scaled_dot_product_flash_attention_for_cpu": (L, "softmax(Q·Kᵀ·scale + mask)·V"),
    "scaled_dot_product_attention": (L, "softmax(Q·Kᵀ·scale + mask)·V"),
    "_cdist_forward": (L, "p-norm distance between each pair of rows of two tensors"),
    "native_dropout": (L, "dropout (identity at inference)"),
    # activations
    "relu": (A, "max(x, 0)"),
    "gelu": (A, "x·Φ(x), exact or tanh approximation"),
    "sigmoid": (A, "1 / (1 + exp(-x))"),
    "tanh": (A, "hyperbolic tangent"),
    "hardtanh": (A, "clamp(x, min_val, max_val)"),
    "hardswish": (A, "x·relu6(x + 3) / 6"),
    "hardsigmoid": (A, "relu6(x + 3) / 6"),
    "leaky_relu": (A, "x if x > 0 else negative_slope·x"),
    "elu": (A, "x if x > 0 else alpha·(exp(x) − 1)"),
    "silu": (A, "x·sigmoid(x)"),
    "glu": (A, "a·sigmoid(b) for the two halves a, b of `dim`"),
    "prelu": (A, "x if x > 0 else weight·x, learned slope"),
    "softmax": (A, "exp(x) / Σ exp(x) along `dim`"),
    "_softmax": (A, "exp(x) / Σ exp(x) along `dim`"),
    "log_softmax": (A, "log of softmax along `dim`"),
    "_log_softmax": (A, "log of softmax along `dim`"),
    "clamp": (A, "limit values to [min, max]"),
    "logit": (A, "log(x / (1 − x))"),
    # normalization
    "native_layer_norm": (N, "layer normalization over the last dimensions, with weight and bias"),
    "layer_norm": (N, "layer normalization over the last dimensions"),
    "native_group_norm": (N, "group normalization"),
    "native_batch_norm": (N, "batch normalization"),
    "_native_batch_norm_legit": (N, "batch normalization (running statistics given or not)"),
    "_native_batch_norm_legit_no_training": (N, "batch normalization with running statistics (inference)"),
    "rms_norm": (N, "x / sqrt(mean(x²) + eps) · weight"),
    # pooling and reductions
    "max_pool2d_with_indices": (P, "2-D max pooling, with the argmax indices"),
    "max_pool2d": (P, "2-D max pooling"),
    "avg_pool2d": (P, "2-D average pooling"),
    "_adaptive_avg_pool2d": (P, "2-D average pooling to a given output size"),
    "adaptive_avg_pool2d": (P, "2-D average pooling to a given output size"),
    "mean": (P, "mean over `dim`"),
    "sum": (P, "sum over `dim`"),
    "amax": (P, "maximum over `dim`"),
    "amin": (P, "minimum over `dim`"),
    "max": (P, "maximum (over `dim`, with indices)"),
    "min": (P, "minimum (over `dim`, with indices)"),
    "argmax": (P, "index of the maximum along `dim`"),
    "argmin": (P, "index of the minimum along `dim`"),
    "prod": (P, "product over `dim`"),
    "var": (P, "variance over `dim`"),
    "var_mean": (P, "variance and mean over `dim`"),
    "cumsum": (P, "cumulative sum along `dim`"),
    "any": (P, "whether any element is true (over `dim`)"),
    "all": (P, "whether every element is true (over `dim`)"),
    "topk": (P, "the k largest (or smallest) values along `dim`, with indices"),
    "sort": (P, "sort along `dim`, with indices"),
    # elementwise tensor arithmetic
    "add": (T, "self + alpha·other"),
    "sub": (T, "self − alpha·other"),
    "rsub": (T, "other − alpha·self"),
    "mul": (T, "self · other"),
    "div": (T, "self / other (rounding mode optional)"),
    "remainder": (T, "Python-style modulus"),
    "fmod": (T, "C-style modulus"),
    "floor_divide": (T, "floor(self / other)"),
    "pow": (T, "self ** exponent"),
    "neg": (T, "−x"),
    "abs": (T, "|x|"),
    "exp": (T, "eˣ"),
    "expm1": (T, "eˣ − 1"),
    "log": (T, "natural logarithm"),
    "log1p": (T, "log(1 + x)"),
    "log2": (T, "base-2 logarithm"),
    "log10": (T, "base-10 logarithm"),
    "sqrt": (T, "√x"),
    "rsqrt": (T, "1 / √x"),
    "reciprocal": (T, "1 / x"),
    "sin": (T, "sine"),
    "cos": (T, "cosine"),
    "tan": (T, "tangent"),
    "atan": (T, "arctangent"),
    "atan2": (T, "arctangent of self / other, by quadrant"),
    "erf": (T, "error function"),
    "floor": (T, "round down"),
    "ceil": (T, "round up"),
    "round": (T, "round half to even"),
    "trunc": (T, "round toward zero"),
    "sign": (T, "−1, 0 or 1 by sign"),
    "maximum": (T, "elementwise maximum"),
    "minimum": (T, "elementwise minimum"),
    "where": (T, "self where condition else other"),
    "eq": (T, "self == other"),
    "ne": (T, "self != other"),
    "lt": (T, "self < other"),
    "le": (T, "self <= other"),
    "gt": (T, "self > other"),
    "ge": (T, "self >= other"),
    "logical_and": (T, "logical and"),
    "logical_or": (T, "logical or"),
    "logical_not": (T, "logical not"),
    "logical_xor": (T, "logical exclusive or"),
    "bitwise_and": (T, "bitwise and"),
    "bitwise_or": (T, "bitwise or"),
    "bitwise_not": (T, "bitwise not"),
    "isnan": (T, "whether each element is NaN"),
    "isinf": (T, "whether each element is infinite"),
    "masked_fill": (T, "fill where mask is true with a value"),
    "scalar_tensor": (T, "a 0-d tensor holding a scalar"),
    "full": (T, "a tensor of `size` filled with a value"),
    "full_like": (T, "a tensor shaped like self, filled with a value"),
    "zeros": (T, "a tensor of zeros"),
    "ones": (T, "a tensor of ones"),
    "arange": (T, "evenly spaced values in [start, end)"),
    "fill": (T, "fill self with a value"),
    "rand": (T, "uniform random values"),
    "randn": (T, "normal random values"),
    "native_dropout_backward": (T, "gradient of dropout"),
    "_to_copy": (T, "a copy in another dtype or layout"),
    "_to_dim_order_copy": (T, "a copy in another dtype or dim order (memory layout)"),
    "_clone_dim_order": (T, "a copy in a given dim order (memory layout)"),
    "_empty_dim_order": (T, "an uninitialised tensor in a given dim order"),
    "clone": (T, "a copy"),
    "copy": (T, "copy src into self's shape"),
    "copy_": (T, "copy src into self, in place"),
    "empty": (T, "an uninitialised tensor"),
    "index": (T, "advanced indexing: self[indices]"),
    "index_put": (T, "self[indices] = values (a copy)"),
    "index_put_": (T, "self[indices] = values, in place"),
    "index_select": (T, "rows of self along `dim` at `index`"),
    "gather": (T, "values along `dim` at `index`"),
    "scatter": (T, "write src along `dim` at `index`"),
    "scatter_add": (T, "add src along `dim` at `index`"),
    "slice_scatter": (T, "write src into a slice of self"),
    "select_scatter": (T, "write src into an index of self along `dim`"),
    "diagonal_copy": (T, "the diagonal of self"),
    "tril": (T, "lower triangle"),
    "triu": (T, "upper triangle"),
    "flip": (T, "reverse along `dims`"),
    "roll": (T, "rotate along `dims`"),
    "nonzero": (T, "indices of the non-zero elements"),
    "constant_pad_nd": (T, "pad with a constant"),
    "reflection_pad2d": (T, "pad by reflecting the border"),
    "replication_pad2d": (T, "pad by repeating the border"),
    "upsample_bilinear2d": (T, "bilinear resize"),
    "upsample_nearest2d": (T, "nearest-neighbour resize"),
    "grid_sampler_2d": (T, "sample self at grid positions"),
    "pixel_shuffle": (S, "move channels into space (depth to space)"),
    "pixel_unshuffle": (S, "move space into channels (space to depth)"),
    "_local_scalar_dense": (T, "the value of a one-element tensor as a scalar"),
    # shape and layout
    "view_copy": (S, "the same data with another shape"),
    "_unsafe_view": (S, "the same data with another shape"),
    "reshape": (S, "the same data with another shape"),
    "permute_copy": (S, "reorder dimensions"),
    "transpose_copy": (S, "swap two dimensions"),
    "t_copy": (S, "swap the two dimensions of a matrix"),
    "squeeze_copy": (S, "drop dimensions of size 1"),
    "unsqueeze_copy": (S, "insert a dimension of size 1"),
    "expand_copy": (S, "broadcast to a larger shape"),
    "repeat": (S, "tile along each dimension"),
    "repeat_interleave": (S, "repeat each element"),
    "cat": (S, "join tensors along `dim`"),
    "stack": (S, "join tensors along a new dimension"),
    "split_copy": (S, "split into chunks along `dim`"),
    "split_with_sizes_copy": (S, "split into chunks of given sizes along `dim`"),
    "unbind_copy": (S, "split into slices along `dim`"),
    "slice_copy": (S, "a slice start:end:step along `dim`"),
    "select_copy": (S, "one index along `dim`, dropping it"),
    "narrow_copy": (S, "a slice of length along `dim`"),
    "alias_copy": (S, "the same values"),
    "detach_copy": (S, "the same values, no gradient"),
    "unfold_copy": (S, "sliding windows along `dim`"),
    "as_strided_copy": (S, "a view with given sizes and strides"),
    "sym_size": (S, "the size of a dimension, as a (symbolic) integer"),
    "sym_numel": (S, "the number of elements, as a (symbolic) integer"),
    # ExecuTorch's own
    "executorch_prim::et_view": (S, "a view of self with another shape, sharing memory"),
    "executorch_prim::et_copy_index": (T, "copy a tensor into a slice of a list (loop outputs)"),
    "et_copy::_h2d_copy": (T, "copy from host to device memory"),
    "et_copy::_d2h_copy": (T, "copy from device to host memory"),
    "llama::sdpa_with_kv_cache": (L, "attention that updates the key/value caches"),
    "llama::custom_sdpa": (L, "scaled dot-product attention over the caches"),
    "llama::update_cache": (T, "write new keys or values into a cache"),
    "llama::fast_hadamard_transform": (L, "Hadamard transform"),
    # quantization
    "quantized_decomposed::quantize_per_tensor": (Q, "round(x / scale) + zero_point, clamped: one scale"),
    "quantized_decomposed::dequantize_per_tensor": (Q, "(q − zero_point) · scale: one scale"),
    "quantized_decomposed::quantize_per_channel": (Q, "quantize with one scale per channel along `axis`"),
    "quantized_decomposed::dequantize_per_channel": (Q, "dequantize with one scale per channel along `axis`"),
    "quantized_decomposed::quantize_per_token": (Q, "quantize with one scale per token"),
    "quantized_decomposed::dequantize_per_token": (Q, "dequantize with one scale per token"),
    "quantized_decomposed::choose_qparams": (Q, "choose scale and zero point from the range of the input"),
    "quantized_decomposed::choose_qparams_per_token_asymmetric": (Q, "choose a scale and zero point per token"),
    "quantized_decomposed::embedding_byte": (Q, "embedding lookup in 8-bit quantized rows"),
    "quantized_decomposed::embedding_4bit": (Q, "embedding lookup in 4-bit quantized rows"),
    "quantized_decomposed::embedding_2bit": (Q, "embedding lookup in 2-bit quantized rows"),
    "quantized_decomposed::add": (Q, "add two quantized tensors"),
    "quantized_decomposed::mixed_mm": (Q, "matrix product with quantized weights"),
    "quantized_decomposed::mixed_linear": (Q, "linear layer with quantized weights"),
}

# Instructions that are not kernel calls (DelegateCall boxes are named by their backend).
INSTRUCTIONS: dict[str, tuple[str, str]] = {
    "MoveCall": (C, "copy (move) one value into another: how control flow hands values on"),
    "JumpFalseCall": (C, "jump to `destination_instruction` when the condition value is false"),
    "FreeCall": (C, "release the memory of a tensor whose value is no longer needed"),
    "DelegateCall": (C, "run a subgraph compiled ahead of time by a backend (its processed data)"),
}

XNNPACK: dict[str, tuple[str, str]] = {
    "XNNAdd": (T, "a + b"),
    "XNNSubtract": (T, "a − b"),
    "XNNMultiply": (T, "a · b"),
    "XNNDiv": (T, "a / b"),
    "XNNMinimum": (T, "elementwise minimum"),
    "XNNMaximum": (T, "elementwise maximum"),
    "XNNFullyConnected": (L, "y = x·Wᵀ + b"),
    "XNNConv2d": (L, "2-D convolution (NHWC)"),
    "XNNDepthwiseConv2d": (L, "2-D depthwise convolution (NHWC)"),
    "XNNConvTranspose2d": (L, "2-D transposed convolution (NHWC)"),
    "XNNBatchMatrixMultiply": (L, "batched matrix product"),
    "XNNScaledDotProductAttention": (L, "softmax(Q·Kᵀ·scale + mask)·V"),
    "XNNSoftmax": (A, "softmax over the last dimension"),
    "XNNSigmoid": (A, "1 / (1 + exp(-x))"),
    "XNNTanh": (A, "hyperbolic tangent"),
    "XNNClamp": (A, "clamp to [output_min, output_max]"),
    "XNNHardswish": (A, "x·relu6(x + 3) / 6"),
    "XNNLeakyReLU": (A, "x if x > 0 else negative_slope·x"),
    "XNNELU": (A, "x if x > 0 else alpha·(exp(x) − 1)"),
    "XNNPReLU": (A, "x if x > 0 else slope·x"),
    "XNNGelu": (A, "x·Φ(x)"),
    "XNNAvgPooling2d": (P, "2-D average pooling"),
    "XNNMaxPooling2d": (P, "2-D max pooling"),
    "XNNArgMaxPooling2d": (P, "2-D max pooling with indices"),
    "XNNGlobalAvgPooling2d": (P, "average over height and width"),
    "XNNStaticTranspose": (S, "reorder dimensions"),
    "XNNStaticReshape": (S, "another shape, same data"),
    "XNNStaticSlice": (S, "a slice"),
    "XNNStaticConstantPad": (T, "pad with a constant"),
    "XNNStaticResizeBilinear2D": (T, "bilinear resize"),
    "XNNConcatenate2": (S, "join 2 tensors along `axis`"),
    "XNNConcatenate3": (S, "join 3 tensors along `axis`"),
    "XNNConcatenate4": (S, "join 4 tensors along `axis`"),
    "XNNConcatenate5": (S, "join 5 tensors along `axis`"),
    "XNNConvert": (Q, "convert between types (quantize, dequantize, cast)"),
    "XNNCopy": (T, "a copy"),
    "XNNFloor": (T, "round down"),
    "XNNCeiling": (T, "round up"),
    "XNNSquareRoot": (T, "√x"),
    "XNNReciprocalSquareRoot": (T, "1 / √x"),
    "XNNSquare": (T, "x²"),
    "XNNNegate": (T, "−x"),
    "XNNAbs": (T, "|x|"),
    "XNNLog": (T, "natural logarithm"),
    "XNNExp": (T, "eˣ"),
    "XNNSin": (T, "sine"),
    "XNNCos": (T, "cosine"),
}


def base_name(op: str) -> tuple[str, str]:
    """``"aten::add.out"`` -> (``"aten"``, ``"add"``); names without a namespace are aten's."""
    namespace, _, rest = op.rpartition("::")
    return namespace or "aten", rest.split(".", 1)[0]


def lookup(op: str, domain: str = "") -> tuple[str, str] | None:
    """(category, summary) of a box's op, or None when this table does not know it."""
    if domain == "xnnpack":
        return XNNPACK.get(op)
    if op in INSTRUCTIONS:
        return INSTRUCTIONS[op]
    namespace, base = base_name(op)
    found = KERNELS.get(f"{namespace}::{base}")
    if found is None and namespace in ("aten", "edge", "dim_order_ops", "executorch_prim"):
        found = KERNELS.get(base)
    if found is None and namespace == "cortex_m":
        found = _cortex_m(base)
    return found


def category(op: str, domain: str = "") -> str:
    """The box colour of any op: the table's, else a guess from the name, else "other"."""
    found = lookup(op, domain)
    if found is not None:
        return found[0]
    namespace, base = base_name(op)
    if base.startswith(("quantize", "dequantize", "choose_qparams")) or namespace.startswith("quantized"):
        return Q
    if namespace == "executorch_prim":
        return S
    return "other"


def _cortex_m(base: str) -> tuple[str, str] | None:
    """Arm's Cortex-M (CMSIS-NN) kernels: int8 versions of the aten ops their names carry."""
    if base.startswith(("quantize_", "dequantize_")):
        return Q, "quantize or dequantize for CMSIS-NN (int8)"
    for word, entry in (("conv", L), ("linear", L), ("pool", P), ("softmax", A), ("add", T), ("mul", T), ("pad", T)):
        if word in base:
            return entry, f"{base.replace('_', ' ')} in int8 (CMSIS-NN)"
    return None
