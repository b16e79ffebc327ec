"""What the panel says about Caffe's layer types: category and a one-line summary (data, not code)."""

from __future__ import annotations

from netray import Category

L, A, N, P, S, T, C, X = (
    Category.LAYER,
    Category.ACTIVATION,
    Category.NORMALIZATION,
    Category.POOL,
    Category.SHAPE,
    Category.TENSOR,
    Category.CONTROL,
    Category.OTHER,
)

OPERATORS: dict[str, tuple[Category, str]] = {
    "Convolution": (L, "N-d convolution: num_output filters of kernel_size, with stride, pad, dilation and group"),
    "Deconvolution": (L, "transposed convolution (the gradient of Convolution), upsampling by stride"),
    "InnerProduct": (L, "fully connected: y = x W^T + b over the axes from axis on"),
    "Embed": (L, "looks up rows of a learned input_dim x num_output table by integer index"),
    "LSTM": (L, "long short-term memory recurrent layer"),
    "RNN": (L, "simple recurrent layer"),
    "ReLU": (A, "max(x, 0), or a leaky slope negative_slope below 0"),
    "PReLU": (A, "ReLU with a learned slope per channel for negative inputs"),
    "ELU": (A, "exponential linear unit: x for x > 0, alpha (exp(x) - 1) below"),
    "Sigmoid": (A, "1 / (1 + exp(-x))"),
    "TanH": (A, "hyperbolic tangent"),
    "AbsVal": (A, "|x|"),
    "BNLL": (A, "binomial normal log likelihood: log(1 + exp(x))"),
    "Power": (A, "(shift + scale x) ^ power"),
    "Exp": (A, "base ^ (shift + scale x)"),
    "Log": (A, "log_base(shift + scale x)"),
    "Threshold": (A, "1 where x > threshold, else 0"),
    "Clip": (A, "clamps x to [min, max]"),
    "Swish": (A, "x sigmoid(beta x)"),
    "Softmax": (A, "softmax along axis"),
    "Dropout": (A, "drops units at dropout_ratio while training; identity at test"),
    "BatchNorm": (
        N,
        "normalizes by the stored mean and variance (divided by the scale factor blob); Scale usually follows",
    ),
    "Scale": (N, "multiplies by a learned (or second-input) scale along axis, plus an optional bias"),
    "Bias": (N, "adds a learned (or second-input) bias along axis"),
    "LRN": (N, "local response normalization across or within channels"),
    "MVN": (N, "mean-variance normalization"),
    "Normalize": (N, "L2 normalization with a learned scale (SSD)"),
    "Pooling": (P, "max, average or stochastic pooling over kernel_size windows"),
    "SPP": (P, "spatial pyramid pooling"),
    "Flatten": (S, "flattens the axes from axis to end_axis into one"),
    "Reshape": (S, "new shape: 0 copies a dimension, -1 is inferred"),
    "Concat": (S, "concatenates the bottoms along axis"),
    "Slice": (S, "splits the bottom along axis at slice_point"),
    "Split": (S, "copies the bottom to every top"),
    "Crop": (S, "crops the first bottom to the second's shape from axis on, at offset"),
    "Permute": (S, "reorders axes (SSD)"),
    "Tile": (S, "repeats the bottom tiles times along axis"),
    "Eltwise": (T, "element-wise PROD, SUM (with coefficients) or MAX of the bottoms"),
    "ArgMax": (T, "indices (and values) of the top_k maxima"),
    "Reduction": (T, "SUM, ASUM, SUMSQ or MEAN over the axes from axis on"),
    "Silence": (C, "consumes bottoms so they are not outputs"),
    "Input": (C, "the net's input blobs with their shapes"),
    "Data": (C, "reads batches from a LevelDB or LMDB database"),
    "ImageData": (C, "reads images listed in a text file"),
    "HDF5Data": (C, "reads batches from HDF5 files"),
    "HDF5Output": (C, "writes blobs to an HDF5 file"),
    "MemoryData": (C, "takes batches from memory (set through the API)"),
    "DummyData": (C, "constant or filler-generated blobs"),
    "WindowData": (C, "reads image windows for detection (R-CNN)"),
    "Python": (C, "a layer implemented by a Python class"),
    "Accuracy": (X, "top_k classification accuracy"),
    "SoftmaxWithLoss": (X, "softmax then multinomial logistic loss"),
    "EuclideanLoss": (X, "sum of squared differences / 2N"),
    "SigmoidCrossEntropyLoss": (X, "sigmoid then cross-entropy loss"),
    "HingeLoss": (X, "one-vs-all hinge loss"),
    "InfogainLoss": (X, "infogain-weighted multinomial logistic loss"),
    "MultinomialLogisticLoss": (X, "log loss on probabilities"),
    "ContrastiveLoss": (X, "contrastive loss for siamese nets"),
}


def lookup(op: str) -> tuple[Category, str] | None:
    return OPERATORS.get(op)


def category(op: str) -> Category:
    found = OPERATORS.get(op)
    return found[0] if found else Category.OTHER
