"""OpenVINO operator metadata as data: category (colour), a one-line summary, and input slot names.

Summaries follow the operation specifications of OpenVINO's opsets (docs/articles_en/documentation/
openvino-ir-format/operation-sets/operation-specs in openvinotoolkit/openvino), written in our own
words. Layer types of the legacy IR v2-v7 (``Input``, ``FullyConnected``, ``Eltwise``, ``ScaleShift``
...) are listed too. Inputs beyond a spec's names are called ``input<i>``.
"""

from __future__ import annotations

from typing import NamedTuple

from netray import Category


class OpSpec(NamedTuple):
    category: Category
    summary: str
    inputs: tuple[str, ...] = ("input",)
    outputs: tuple[str, ...] = ("output",)


L, A, N, P, S, T, C, Q, OTH = (
    Category.LAYER,
    Category.ACTIVATION,
    Category.NORMALIZATION,
    Category.POOL,
    Category.SHAPE,
    Category.TENSOR,
    Category.CONTROL,
    Category.QUANTIZATION,
    Category.OTHER,
)

_AB = ("a", "b")
_CONV = ("input", "filter")
_RNN_CELL = ("X", "initial_hidden_state", "W", "R", "B")
_RNN_SEQ = ("X", "initial_hidden_state", "sequence_lengths", "W", "R", "B")
_LSTM_CELL = ("X", "initial_hidden_state", "initial_cell_state", "W", "R", "B")
_LSTM_SEQ = ("X", "initial_hidden_state", "initial_cell_state", "sequence_lengths", "W", "R", "B")
_REDUCE = ("data", "axes")
_NMS = ("boxes", "scores", "max_output_boxes_per_class", "iou_threshold", "score_threshold", "soft_nms_sigma")


def _unary(category: Category, summary: str) -> OpSpec:
    return OpSpec(category, summary, ("input",))


def _binary(summary: str, category: Category = T) -> OpSpec:
    return OpSpec(category, summary, _AB)


OPERATORS: dict[str, OpSpec] = {
    # layers: operations that carry the learned weights
    "Convolution": OpSpec(L, "N-D convolution of the input with a filter [C_out, C_in, k...].", _CONV),
    "GroupConvolution": OpSpec(
        L, "Grouped convolution: the channels split into groups, one filter [G, C_out/G, C_in/G, k...] each.", _CONV
    ),
    "ConvolutionBackpropData": OpSpec(
        L,
        "Transposed convolution (deconvolution): the gradient of a convolution with respect to its input.",
        (*_CONV, "output_shape"),
    ),
    "GroupConvolutionBackpropData": OpSpec(L, "Grouped transposed convolution.", (*_CONV, "output_shape")),
    "DeformableConvolution": OpSpec(
        L,
        "Convolution whose sampling positions move by learned offsets (and masks, v8).",
        ("input", "offsets", "filter", "mask"),
    ),
    "BinaryConvolution": OpSpec(L, "Convolution of binarized inputs with a 1-bit filter (XNOR and popcount).", _CONV),
    "MatMul": OpSpec(
        L, "Matrix product of A and B (batched, with optional transposes): the dense layer of IR v10+.", ("A", "B")
    ),
    "Einsum": OpSpec(L, "Einstein summation of the inputs by an equation.", ("inputs",)),
    "FullyConnected": OpSpec(L, "Dense layer (IR v7): input x weightsᵀ + biases.", ("input",)),
    "Gemm": OpSpec(L, "General matrix product alpha * A x B + beta * C (IR v7).", ("A", "B", "C")),
    "Deconvolution": OpSpec(L, "Transposed convolution (IR v7).", ("input",)),
    "ScaleShift": OpSpec(L, "Per-channel scale and shift: input * weights + biases (IR v7).", ("input",)),
    "RNNCell": OpSpec(L, "One step of a vanilla recurrent cell.", _RNN_CELL),
    "RNNSequence": OpSpec(L, "A vanilla recurrent layer run over a sequence.", _RNN_SEQ, ("Y", "Ho")),
    "GRUCell": OpSpec(L, "One step of a gated recurrent unit.", _RNN_CELL),
    "GRUSequence": OpSpec(L, "A gated recurrent unit run over a sequence.", _RNN_SEQ, ("Y", "Ho")),
    "AUGRUCell": OpSpec(L, "One step of an attention-updated GRU.", (*_RNN_CELL, "A")),
    "AUGRUSequence": OpSpec(L, "An attention-updated GRU run over a sequence.", (*_RNN_SEQ, "A"), ("Y", "Ho")),
    "LSTMCell": OpSpec(L, "One step of a long short-term memory cell.", _LSTM_CELL, ("Ho", "Co")),
    "LSTMSequence": OpSpec(L, "A long short-term memory layer run over a sequence.", _LSTM_SEQ, ("Y", "Ho", "Co")),
    "ScaledDotProductAttention": OpSpec(
        L,
        "softmax(Q·Kᵀ·scale + mask)·V, the attention of transformers.",
        ("query", "key", "value", "attention_mask", "scale"),
    ),
    "EmbeddingBagOffsetsSum": OpSpec(
        L,
        "Sums (or weighs and sums) embedding rows in bags given by offsets.",
        ("emb_table", "indices", "offsets", "default_index", "per_sample_weights"),
    ),
    "EmbeddingBagOffsets": OpSpec(
        L,
        "Reduces embedding rows in bags given by offsets (sum or mean).",
        ("emb_table", "indices", "offsets", "default_index", "per_sample_weights"),
    ),
    "EmbeddingBagPackedSum": OpSpec(
        L, "Sums embedding rows in equal-sized bags.", ("emb_table", "indices", "per_sample_weights")
    ),
    "EmbeddingBagPacked": OpSpec(
        L, "Reduces embedding rows in equal-sized bags (sum or mean).", ("emb_table", "indices", "per_sample_weights")
    ),
    "EmbeddingSegmentsSum": OpSpec(
        L,
        "Sums embedding rows by segment ids.",
        ("emb_table", "indices", "segment_ids", "num_segments", "default_index", "per_sample_weights"),
    ),
    # activations
    "ReLU": _unary(A, "max(x, 0)."),
    "Relu": _unary(A, "max(x, 0)."),
    "Sigmoid": _unary(A, "1 / (1 + exp(-x))."),
    "Tanh": _unary(A, "Hyperbolic tangent."),
    "TanH": _unary(A, "Hyperbolic tangent (IR v7)."),
    "Elu": _unary(A, "x if x > 0 else alpha * (exp(x) - 1)."),
    "ELU": _unary(A, "Exponential linear unit (IR v7)."),
    "Selu": OpSpec(
        A,
        "Scaled exponential linear unit: lambda * (x if x > 0 else alpha * (exp(x) - 1)).",
        ("data", "alpha", "lambda"),
    ),
    "Gelu": _unary(A, "Gaussian error linear unit, exact (erf) or tanh approximation."),
    "GELU": _unary(A, "Gaussian error linear unit."),
    "Swish": OpSpec(A, "x * sigmoid(beta * x).", ("data", "beta")),
    "HSwish": _unary(A, "x * min(max(x + 3, 0), 6) / 6."),
    "HSigmoid": _unary(A, "min(max(x + 3, 0), 6) / 6."),
    "HardSigmoid": OpSpec(A, "max(0, min(1, alpha * x + beta)).", ("data", "alpha", "beta")),
    "Mish": _unary(A, "x * tanh(softplus(x))."),
    "SoftPlus": _unary(A, "ln(1 + exp(x))."),
    "SoftSign": _unary(A, "x / (1 + |x|)."),
    "PReLU": OpSpec(A, "x if x > 0 else slope * x, with a learned slope per channel.", ("data", "slope")),
    "Clamp": _unary(A, "Clips the values to [min, max]."),
    "Exp": _unary(A, "e to the power of x, elementwise."),
    "SoftMax": OpSpec(A, "Softmax along an axis: exp(x) / sum(exp(x))."),
    "Softmax": OpSpec(A, "Softmax along an axis: exp(x) / sum(exp(x))."),
    "LogSoftmax": OpSpec(A, "Logarithm of the softmax along an axis."),
    "Activation": _unary(A, "An activation chosen by its type attribute (IR v7: sigmoid, tanh, elu, relu6 ...)."),
    "ReLU6": _unary(A, "min(max(x, 0), 6) (IR v7)."),
    "Identity": _unary(OTH, "Passes its input through unchanged."),
    # normalization
    "BatchNormInference": OpSpec(
        N,
        "Batch normalization with fixed statistics: gamma * (x - mean) / sqrt(var + eps) + beta.",
        ("data", "gamma", "beta", "mean", "variance"),
    ),
    "BatchNormalization": OpSpec(N, "Batch normalization with fixed statistics (IR v7)."),
    "MVN": OpSpec(N, "Mean-variance normalization over the given axes (layer and instance norm).", ("data", "axes")),
    "LRN": OpSpec(N, "Local response normalization across channels or spatial positions.", ("data", "axes")),
    "Norm": _unary(N, "Local response normalization (IR v7)."),
    "GRN": _unary(N, "Global response normalization: x divided by the L2 norm across channels."),
    "NormalizeL2": OpSpec(N, "Divides by the L2 norm over the given axes.", ("data", "axes")),
    "Normalize": _unary(N, "L2 normalization across channels or spatial positions, then a learned scale (IR v7)."),
    "GroupNormalization": OpSpec(
        N, "Normalizes groups of channels, then scales and shifts per channel.", ("data", "scale", "bias")
    ),
    "RMS": OpSpec(N, "Root-mean-square normalization times a learned scale.", ("data", "gamma")),
    # pooling and reductions
    "MaxPool": OpSpec(
        P, "Maximum over sliding windows (v8+ also gives the argmax indices).", ("input",), ("output", "indices")
    ),
    "AvgPool": _unary(P, "Average over sliding windows."),
    "Pooling": _unary(P, "Max or average pooling over windows (IR v7)."),
    "AdaptiveAvgPool": OpSpec(P, "Average pooling to a fixed output size.", ("data", "output_shape")),
    "AdaptiveMaxPool": OpSpec(
        P, "Max pooling to a fixed output size.", ("data", "output_shape"), ("output", "indices")
    ),
    "ROIPooling": OpSpec(P, "Max or bilinear pooling of regions of interest to a fixed size.", ("input", "boxes")),
    "PSROIPooling": OpSpec(P, "Position-sensitive pooling of regions of interest.", ("input", "boxes")),
    "DeformablePSROIPooling": OpSpec(
        P, "Position-sensitive ROI pooling with learned offsets.", ("input", "boxes", "offsets")
    ),
    "ROIAlign": OpSpec(
        P,
        "Pooling of regions of interest with bilinear sampling (no quantization of the boxes).",
        ("input", "rois", "batch_indices"),
    ),
    "ROIAlignRotated": OpSpec(P, "ROIAlign over rotated boxes.", ("input", "rois", "batch_indices")),
    "ReduceMean": OpSpec(P, "Mean over the given axes.", _REDUCE),
    "ReduceSum": OpSpec(P, "Sum over the given axes.", _REDUCE),
    "ReduceMax": OpSpec(P, "Maximum over the given axes.", _REDUCE),
    "ReduceMin": OpSpec(P, "Minimum over the given axes.", _REDUCE),
    "ReduceProd": OpSpec(P, "Product over the given axes.", _REDUCE),
    "ReduceL1": OpSpec(P, "L1 norm over the given axes.", _REDUCE),
    "ReduceL2": OpSpec(P, "L2 norm over the given axes.", _REDUCE),
    "ReduceLogicalAnd": OpSpec(P, "Logical and over the given axes.", _REDUCE),
    "ReduceLogicalOr": OpSpec(P, "Logical or over the given axes.", _REDUCE),
    # shape
    "Reshape": OpSpec(
        S, "Same elements, new shape (0 copies a dimension with special_zero, -1 is inferred).", ("data", "shape")
    ),
    "ShapeOf": _unary(S, "The shape of the input as a 1-D tensor."),
    "Squeeze": OpSpec(S, "Removes dimensions of size 1.", ("data", "axes")),
    "Unsqueeze": OpSpec(S, "Inserts dimensions of size 1 at the given axes.", ("data", "axes")),
    "Transpose": OpSpec(S, "Permutes the dimensions by a given order.", ("data", "order")),
    "Flatten": _unary(S, "Collapses a range of axes into one (IR v7)."),
    "Permute": _unary(S, "Permutes the dimensions (IR v7)."),
    "DepthToSpace": _unary(S, "Moves blocks of channels into spatial positions."),
    "SpaceToDepth": _unary(S, "Moves spatial blocks into channels."),
    "BatchToSpace": OpSpec(
        S,
        "Moves blocks of the batch into spatial positions, then crops.",
        ("data", "block_shape", "crops_begin", "crops_end"),
    ),
    "SpaceToBatch": OpSpec(
        S, "Pads, then moves spatial blocks into the batch.", ("data", "block_shape", "pads_begin", "pads_end")
    ),
    "ShuffleChannels": _unary(S, "Regroups the channels: reshape to [groups, C/groups], transpose, reshape back."),
    "Broadcast": OpSpec(S, "Broadcasts the data to a target shape.", ("data", "target_shape", "axes_mapping")),
    # tensor operations: elementwise arithmetic, logic, movement, types
    "Add": _binary("Elementwise sum, with numpy broadcasting."),
    "Subtract": _binary("Elementwise difference a - b."),
    "Multiply": _binary("Elementwise product."),
    "Divide": _binary("Elementwise quotient a / b (integer division rounds toward -inf with pythondiv)."),
    "Power": _binary("Elementwise a to the power b (IR v7: (shift + scale * x) ^ power)."),
    "Maximum": _binary("Elementwise maximum."),
    "Minimum": _binary("Elementwise minimum."),
    "SquaredDifference": _binary("Elementwise (a - b)²."),
    "FloorMod": _binary("Elementwise remainder with the sign of the divisor."),
    "Mod": _binary("Elementwise remainder with the sign of the dividend."),
    "Atan2": OpSpec(T, "Elementwise arctangent of y / x in the right quadrant.", ("y", "x")),
    "Eltwise": OpSpec(
        T,
        "An elementwise operation chosen by its operation attribute (IR v7: sum, mul, max ...).",
        ("input0", "input1"),
    ),
    "Equal": _binary("Elementwise a == b."),
    "NotEqual": _binary("Elementwise a != b."),
    "Less": _binary("Elementwise a < b."),
    "LessEqual": _binary("Elementwise a <= b."),
    "Greater": _binary("Elementwise a > b."),
    "GreaterEqual": _binary("Elementwise a >= b."),
    "LogicalAnd": _binary("Elementwise logical and."),
    "LogicalOr": _binary("Elementwise logical or."),
    "LogicalXor": _binary("Elementwise logical exclusive or."),
    "LogicalNot": _unary(T, "Elementwise logical not."),
    "BitwiseAnd": _binary("Elementwise bitwise and."),
    "BitwiseOr": _binary("Elementwise bitwise or."),
    "BitwiseXor": _binary("Elementwise bitwise exclusive or."),
    "BitwiseNot": _unary(T, "Elementwise bitwise not."),
    "BitwiseLeftShift": _binary("Elementwise a << b."),
    "BitwiseRightShift": _binary("Elementwise a >> b."),
    "Abs": _unary(T, "Elementwise absolute value."),
    "Negative": _unary(T, "Elementwise -x."),
    "Sign": _unary(T, "Elementwise sign: -1, 0 or 1."),
    "Sqrt": _unary(T, "Elementwise square root."),
    "Log": _unary(T, "Elementwise natural logarithm."),
    "Erf": _unary(T, "Elementwise Gauss error function."),
    "ErfInv": _unary(T, "Elementwise inverse of the error function."),
    "Floor": _unary(T, "Elementwise floor."),
    "Ceiling": _unary(T, "Elementwise ceiling."),
    "Round": _unary(T, "Elementwise rounding, half to even or away from zero."),
    "Sin": _unary(T, "Elementwise sine."),
    "Cos": _unary(T, "Elementwise cosine."),
    "Tan": _unary(T, "Elementwise tangent."),
    "Asin": _unary(T, "Elementwise arcsine."),
    "Acos": _unary(T, "Elementwise arccosine."),
    "Atan": _unary(T, "Elementwise arctangent."),
    "Sinh": _unary(T, "Elementwise hyperbolic sine."),
    "Cosh": _unary(T, "Elementwise hyperbolic cosine."),
    "Asinh": _unary(T, "Elementwise inverse hyperbolic sine."),
    "Acosh": _unary(T, "Elementwise inverse hyperbolic cosine."),
    "Atanh": _unary(T, "Elementwise inverse hyperbolic tangent."),
    "IsFinite": _unary(T, "Elementwise: true where the value is neither infinite nor NaN."),
    "IsInf": _unary(T, "Elementwise: true where the value is infinite."),
    "IsNaN": _unary(T, "Elementwise: true where the value is NaN."),
    "CumSum": OpSpec(T, "Cumulative sum along an axis (exclusive or reversed by attribute).", ("data", "axis")),
    "Select": OpSpec(
        T, "Picks elements of then or else by a boolean condition, with broadcasting.", ("cond", "then", "else")
    ),
    "Convert": _unary(T, "Converts the element type (destination_type)."),
    "ConvertLike": OpSpec(T, "Converts the data to the element type of a second tensor.", ("data", "like")),
    "ConvertPromoteTypes": _binary("Converts two tensors to their common promoted type."),
    "Concat": OpSpec(T, "Joins the inputs along an axis.", ("inputs",)),
    "Split": OpSpec(T, "Splits the data into equal parts along an axis.", ("data", "axis")),
    "VariadicSplit": OpSpec(
        T, "Splits the data into parts of given lengths along an axis.", ("data", "axis", "split_lengths")
    ),
    "StridedSlice": OpSpec(
        T,
        "Extracts a strided slice by begin, end and stride, with masks for numpy-like indexing.",
        ("data", "begin", "end", "stride"),
    ),
    "Slice": OpSpec(
        T, "Extracts a slice by start, stop and step along the given axes.", ("data", "start", "stop", "step", "axes")
    ),
    "SliceScatter": OpSpec(
        T, "Writes updates into a slice of the data.", ("data", "updates", "start", "stop", "step", "axes")
    ),
    "Crop": _unary(T, "Crops the input to a size or to a reference (IR v7)."),
    "Gather": OpSpec(
        T, "Takes slices of the data by index along an axis (the embedding lookup).", ("data", "indices", "axis")
    ),
    "GatherElements": OpSpec(T, "Takes elements of the data by an index tensor of the same rank.", ("data", "indices")),
    "GatherND": OpSpec(T, "Takes slices of the data by multi-dimensional indices.", ("data", "indices")),
    "GatherTree": OpSpec(
        T,
        "Reassembles beam-search sequences from step ids and parent ids.",
        ("step_ids", "parent_idx", "max_seq_len", "end_token"),
    ),
    "ScatterUpdate": OpSpec(
        T,
        "Writes slices of updates into a copy of the data at indices along an axis.",
        ("data", "indices", "updates", "axis"),
    ),
    "ScatterElementsUpdate": OpSpec(
        T,
        "Writes elements of updates into a copy of the data at an index tensor (with a reduction, v12).",
        ("data", "indices", "updates", "axis"),
    ),
    "ScatterNDUpdate": OpSpec(
        T, "Writes updates into a copy of the data at multi-dimensional indices.", ("data", "indices", "updates")
    ),
    "Pad": OpSpec(
        T, "Pads with a constant, edge, reflected or symmetric values.", ("data", "pads_begin", "pads_end", "pad_value")
    ),
    "Tile": OpSpec(T, "Repeats the data along each axis.", ("data", "repeats")),
    "Reverse": OpSpec(T, "Reverses the data along the given axes.", ("data", "axes")),
    "ReverseSequence": OpSpec(T, "Reverses variable-length prefixes of the sequences.", ("data", "seq_lengths")),
    "Roll": OpSpec(T, "Shifts elements along axes, wrapping around.", ("data", "shift", "axes")),
    "ExtractImagePatches": _unary(T, "Gathers sliding patches into the depth dimension."),
    "Col2Im": OpSpec(
        T, "Sums sliding blocks back into an image (the inverse of im2col).", ("data", "output_size", "kernel_size")
    ),
    "Unique": OpSpec(
        T,
        "The unique elements, with their indices and counts.",
        ("data", "axis"),
        ("unique", "indices", "reverse_indices", "counts"),
    ),
    "NonZero": _unary(T, "The coordinates of the non-zero elements."),
    "Bucketize": OpSpec(T, "The bucket index of each element for the given boundaries.", ("data", "buckets")),
    "SearchSorted": OpSpec(
        T, "Indices where values would be inserted to keep a sorted sequence sorted.", ("sorted_sequence", "values")
    ),
    "TopK": OpSpec(
        T, "The k largest or smallest elements along an axis and their indices.", ("data", "k"), ("values", "indices")
    ),
    "ArgMax": _unary(T, "Indices (and values) of the largest elements (IR v7)."),
    "OneHot": OpSpec(
        T, "One-hot encoding of indices with on and off values.", ("indices", "depth", "on_value", "off_value")
    ),
    "Range": OpSpec(T, "A sequence of numbers from start to stop by step.", ("start", "stop", "step")),
    "Eye": OpSpec(
        T,
        "An identity-like matrix with ones on a diagonal.",
        ("num_rows", "num_columns", "diagonal_index", "batch_shape"),
    ),
    "RandomUniform": OpSpec(T, "Random numbers drawn uniformly from [min, max).", ("output_shape", "min", "max")),
    "Multinomial": OpSpec(T, "Samples class indices from probabilities.", ("probs", "num_samples")),
    "Interpolate": OpSpec(
        T,
        "Resizes by nearest, linear, cubic or bilinear-pillow interpolation (to sizes or by scales).",
        ("data", "sizes_or_scales", "axes"),
    ),
    "Resample": _unary(T, "Resizes the input by nearest or linear sampling (IR v7)."),
    "Interp": _unary(T, "Bilinear resize (IR v7)."),
    "GridSample": OpSpec(T, "Samples the data at grid coordinates (bilinear, bicubic or nearest).", ("data", "grid")),
    "NV12toRGB": OpSpec(T, "Converts an NV12 image to RGB.", ("y", "uv")),
    "NV12toBGR": OpSpec(T, "Converts an NV12 image to BGR.", ("y", "uv")),
    "I420toRGB": OpSpec(T, "Converts an I420 image to RGB.", ("y", "u", "v")),
    "I420toBGR": OpSpec(T, "Converts an I420 image to BGR.", ("y", "u", "v")),
    "DFT": OpSpec(T, "Discrete Fourier transform over the given axes.", ("data", "axes", "signal_size")),
    "IDFT": OpSpec(T, "Inverse discrete Fourier transform.", ("data", "axes", "signal_size")),
    "RDFT": OpSpec(T, "Discrete Fourier transform of real input.", ("data", "axes", "signal_size")),
    "IRDFT": OpSpec(T, "Inverse discrete Fourier transform with real output.", ("data", "axes", "signal_size")),
    "STFT": OpSpec(T, "Short-time Fourier transform.", ("signal", "window", "frame_size", "frame_step")),
    "Inverse": _unary(T, "Inverse of square matrices."),
    "StringTensorPack": OpSpec(T, "Packs begins, ends and bytes into a string tensor.", ("begins", "ends", "symbols")),
    "StringTensorUnpack": OpSpec(
        T, "Unpacks a string tensor into begins, ends and bytes.", ("data",), ("begins", "ends", "symbols")
    ),
    "Copy": _unary(T, "Copies its input (IR v7)."),
    # quantization
    "FakeQuantize": OpSpec(
        Q,
        "Quantizes and dequantizes: clamps to [input_low, input_high], rounds to `levels` steps, maps to [output_low, output_high].",
        ("X", "input_low", "input_high", "output_low", "output_high"),
    ),
    "FakeConvert": OpSpec(
        Q, "Emulates a round trip through an fp8 type with a scale and shift.", ("data", "scale", "shift")
    ),
    "Quantize": OpSpec(
        Q, "Quantizes to levels between ranges (IR v7).", ("X", "input_low", "input_high", "output_low", "output_high")
    ),
    # control flow, state and infrastructure
    "If": OpSpec(C, "Runs the then-body or the else-body by a boolean condition.", ("cond",)),
    "Loop": OpSpec(
        C, "Runs the body while a condition holds, up to a trip count.", ("trip_count", "execution_condition")
    ),
    "TensorIterator": OpSpec(C, "Runs the body over slices of its inputs (a recurrent loop).", ("input",)),
    "ReadValue": OpSpec(C, "Reads a state variable (its initial value the first time).", ("init_value",)),
    "Assign": OpSpec(C, "Writes a state variable for the next inference.", ("new_value",)),
    "Memory": _unary(C, "Keeps a value between inferences (IR v7 state)."),
    "Parameter": OpSpec(OTH, "A graph input.", ()),
    "Input": OpSpec(OTH, "A graph input (IR v7).", ()),
    "Result": OpSpec(OTH, "A graph output.", ("input",), ()),
    "Const": OpSpec(OTH, "A constant tensor read from the .bin by offset and size.", ()),
    "Constant": OpSpec(OTH, "A constant tensor read from the .bin by offset and size.", ()),
    # detection and other post-processing
    "DetectionOutput": OpSpec(
        OTH,
        "SSD post-processing: decodes boxes, applies per-class NMS, keeps the top detections.",
        ("box_logits", "class_preds", "proposals", "aux_class_preds", "aux_box_preds"),
    ),
    "PriorBox": OpSpec(OTH, "SSD prior (anchor) boxes for a feature map.", ("output_size", "image_size")),
    "PriorBoxClustered": OpSpec(
        OTH, "Prior boxes of given widths and heights for a feature map.", ("output_size", "image_size")
    ),
    "Proposal": OpSpec(
        OTH,
        "Region proposals from class scores and box deltas (Faster R-CNN).",
        ("class_probs", "bbox_deltas", "image_shape"),
    ),
    "RegionYolo": _unary(OTH, "YOLO region layer: sigmoid and softmax over the detection grid."),
    "ReorgYolo": _unary(S, "YOLO reorganization: moves spatial blocks into channels."),
    "NonMaxSuppression": OpSpec(
        OTH,
        "Selects boxes by score, dropping those overlapping a better one.",
        _NMS,
        ("selected_indices", "selected_scores", "valid_outputs"),
    ),
    "MatrixNms": OpSpec(
        OTH,
        "Matrix non-maximum suppression (SOLOv2): decays scores by overlap.",
        ("boxes", "scores"),
        ("selected_outputs", "selected_indices", "valid_outputs"),
    ),
    "MulticlassNms": OpSpec(
        OTH,
        "Non-maximum suppression per class, then across classes.",
        ("boxes", "scores", "roisnum"),
        ("selected_outputs", "selected_indices", "valid_outputs"),
    ),
    "NMSRotated": OpSpec(
        OTH,
        "Non-maximum suppression of rotated boxes.",
        ("boxes", "scores", "max_output_boxes_per_class", "iou_threshold", "score_threshold"),
    ),
    "GenerateProposals": OpSpec(
        OTH, "Region proposals from anchors, scores and deltas.", ("im_info", "anchors", "deltas", "scores")
    ),
    "ExperimentalDetectronDetectionOutput": OpSpec(
        OTH, "Mask R-CNN detection output: refines boxes and applies NMS.", ("rois", "deltas", "scores", "im_info")
    ),
    "ExperimentalDetectronGenerateProposalsSingleImage": OpSpec(
        OTH, "Mask R-CNN proposals for one image.", ("im_info", "anchors", "deltas", "scores")
    ),
    "ExperimentalDetectronPriorGridGenerator": OpSpec(
        OTH, "Mask R-CNN anchors over a feature grid.", ("priors", "feature_map", "im_data")
    ),
    "ExperimentalDetectronROIFeatureExtractor": OpSpec(
        P, "Mask R-CNN ROI features from a feature pyramid.", ("rois", "pyramid_level_0")
    ),
    "ExperimentalDetectronTopKROIs": OpSpec(OTH, "The top-k regions of interest by probability.", ("rois", "probs")),
    "CTCGreedyDecoder": OpSpec(OTH, "Greedy decoding of CTC class probabilities.", ("data", "sequence_mask")),
    "CTCGreedyDecoderSeqLen": OpSpec(
        OTH,
        "Greedy decoding of CTC class probabilities with sequence lengths.",
        ("data", "sequence_length", "blank_index"),
    ),
    "CTCLoss": OpSpec(
        OTH,
        "Connectionist temporal classification loss.",
        ("logits", "logit_length", "labels", "label_length", "blank_index"),
    ),
    "SimplerNMS": _unary(OTH, "Simplified region proposal with NMS (IR v7)."),
}


def spec_for(op: str) -> OpSpec | None:
    """The metadata of ``op``; None when it is not an opset or legacy layer type known here."""
    return OPERATORS.get(op)


def category_of(op: str, version: str) -> Category:
    """The colour of ``op``: its spec's category, else custom for an extension's op, else other."""
    spec = OPERATORS.get(op)
    if spec is not None:
        return spec.category
    if version and not version.startswith("opset"):
        return Category.CUSTOM
    return Category.OTHER


def input_name(spec: OpSpec | None, position: int, count: int) -> str:
    """The name of the input slot at ``position`` of ``count``; a variadic spec (``("inputs",)``) numbers its slots."""
    if spec is not None and spec.inputs:
        if len(spec.inputs) == 1 and spec.inputs[0].endswith("s"):
            return spec.inputs[0] if count == 1 else f"{spec.inputs[0][:-1]}{position}"
        if position < len(spec.inputs):
            return spec.inputs[position]
    return "input" if position == 0 and count == 1 else f"input{position}"


def output_name(spec: OpSpec | None, position: int, count: int) -> str:
    """The name of the output slot at ``position`` of ``count``."""
    if spec is not None and position < len(spec.outputs):
        return spec.outputs[position]
    return "output" if count == 1 else f"output{position}"
