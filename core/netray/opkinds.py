"""What an operator *is*, across formats: ``Conv``, ``CONV_2D``, ``Conv2D``, ``aten.convolution``,
Caffe's ``Convolution`` and Darknet's ``convolutional`` are all the kind ``"conv"``.

Costs and the shared shape propagation are written once per kind, not once per
format. :func:`op_kind` normalises an op type (case, namespaces such as ``aten::``,
overload suffixes such as ``.default``, ``_``, a trailing ``2D``) and looks it up in
:data:`KINDS`; a plugin whose op names are not covered maps them through the
``netray_op_kind`` hook. An op of no known kind gets ``""`` and its costs are unknown.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Kinds and the normalised op names that have them (lower case, no "_", no trailing 1d/2d/3d).
_NAMES: dict[str, tuple[str, ...]] = {
    "conv": (
        "conv", "convolution", "convolutional", "convnd", "qlinearconv", "convinteger", "depthwiseconv",
        "depthwiseconvnative", "depthwiseconvolution", "convolutiondepthwise", "groupconvolution",
        "convolutionint8", "convolutiondepthwiseint8", "separableconv", "fusedconv", "nhwcconv", "cudnnconvolution",
    ),
    "conv_transpose": (
        "convtranspose", "transposeconv", "deconvolution", "deconv", "convbackpropinput", "conv2dtranspose",
        "deconvolutiondepthwise", "groupconvolutionbackpropdata", "convolutionbackpropdata", "convtransposend", "deconvolutional",
    ),
    "dense": ("dense", "fc", "fullyconnected", "innerproduct", "linear", "connected", "qlinearmatmulweights"),
    "gemm": ("gemm", "addmm", "fusedgemm"),
    "matmul": (
        "matmul", "batchmatmul", "batchmatmulv2", "batchmatmulv3", "bmm", "mm", "matmulv2", "qlinearmatmul",
        "matmulinteger", "matmulnbits", "baddbmm", "fusedmatmul", "matmulintegertofloat", "batchedmatmul",
    ),
    "pool": (
        "maxpool", "averagepool", "avgpool", "pool", "pooling", "lppool", "maxpoolv2", "maxpoolwithargmax",
        "avgpool3d", "maxpooling", "averagepooling", "maxpoolwithindices", "adaptiveavgpool", "adaptivemaxpool",
        "qlinearaveragepool",
    ),
    "global_pool": (
        "globalaveragepool", "globalmaxpool", "globalavgpool", "globalaveragepooling", "globalmaxpooling",
        "qlinearglobalaveragepool", "globallppool",
    ),
    "normalization": (
        "batchnormalization", "batchnorm", "fusedbatchnorm", "fusedbatchnormv2", "fusedbatchnormv3", "layernormalization",
        "layernorm", "instancenormalization", "instancenorm", "groupnormalization", "groupnorm", "rmsnorm",
        "simplifiedlayernormalization", "skiplayernormalization", "skipsimplifiedlayernormalization", "lrn",
        "localresponsenormalization", "nativebatchnorm", "nativelayernorm", "nativegroupnorm", "nativebatchnormlegitnograd",
        "nativebatchnormlegit", "batchnorminference", "mvn", "normalize", "l2normalization", "l2normalize",
        "meanvariancenormalization", "scale", "bnll", "rmsnormalization",
    ),
    "softmax": ("softmax", "logsoftmax", "softmaxv2", "safesoftmax", "hardmax"),
    "binary": (
        "add", "sub", "mul", "div", "pow", "max", "min", "maximum", "minimum", "sum", "addv2", "biasadd", "realdiv",
        "floordiv", "floormod", "mod", "squareddifference", "subtract", "multiply", "average", "eltwise", "binaryop",
        "elementwiseadd", "elementwisemul", "elementwisesub", "elementwisediv", "shortcut", "prelu", "where", "equal",
        "greater", "less", "greaterorequal", "lessorequal", "and", "or", "xor", "bitshift", "rsub", "addn", "bias",
        "truediv", "bitwiseand", "bitwiseor", "ge", "gt", "le", "lt", "eq", "ne", "notequal", "greaterequal", "lessequal",
        "logicaland", "logicalor", "addrelu", "quantizedadd", "qlinearadd", "qlinearmul", "biasaddv1",
    ),
    "unary": (
        "relu", "relu6", "leakyrelu", "sigmoid", "tanh", "gelu", "silu", "swish", "hardswish", "hardsigmoid", "elu",
        "selu", "celu", "softplus", "softsign", "mish", "exp", "log", "sqrt", "rsqrt", "reciprocal", "abs", "neg",
        "negative", "floor", "ceil", "round", "sign", "sin", "cos", "erf", "clip", "clamp", "not", "isnan", "isinf",
        "square", "activation", "logistic", "thresholdedrelu", "hardtanh", "quickgelu", "fastgelu", "biasgelu",
        "unaryop", "relun", "threshold", "power", "logsigmoid", "logicalnot", "bitwisenot", "expm1",
        "log1p", "tan", "asin", "acos", "atan", "sinh", "cosh", "mishactivation", "hardswishactivation", "gelutanh",
        "relux", "leaky", "linearactivation", "qlinearleakyrelu", "qlinearsigmoid",
    ),
    "reduce": (
        "mean", "reducemean", "reducesum", "reducemax", "reducemin", "reduceprod", "reducel1", "reducel2", "reducelogsum",
        "reducelogsumexp", "reducesumsquare", "reduction", "argmax", "argmin", "amax", "amin", "prod", "any", "all",
        "cumsum", "topk", "var", "std", "norm", "linalgvectornorm",
    ),
    "embedding": ("embedding", "gather", "gatherv2", "embeddinglookup", "resourcegather", "indexselect", "gatherelements", "gathernd", "take"),
    "resize": ("resize", "upsample", "resizebilinear", "resizenearestneighbor", "interp", "upsamplebilinear", "upsamplenearest", "interpolate", "upsampling"),
    "data_movement": (
        "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "concat", "concatenate", "concatenation", "concatv2",
        "cat", "split", "splitv", "slice", "stridedslice", "expand", "expanddims", "tile", "pad", "padv2", "mirrorpad",
        "identity", "dropout", "cast", "shape", "size", "view", "unsafeview", "clone", "contiguous", "copy", "tolist", "to",
        "constant", "const", "constantofshape", "range", "zeros", "ones", "full", "fill", "emptylike", "zeroslike",
        "oneslike", "fulllike", "empty", "arange", "alias", "detach", "select", "narrow", "chunk", "stack", "pack",
        "unpack", "unstack", "unbind", "crop", "permutedims", "reorg", "route", "spacetodepth", "depthtospace",
        "pixelshuffle", "pixelunshuffle", "shufflechannel", "channelshuffle", "broadcastto", "expandas", "viewas",
        "reshapelike", "squeezev2", "flattenv2", "placeholder", "placeholderwithdefault", "noop", "nop", "input",
        "output", "data", "getitem", "listconstruct", "listunpack", "tupleconstruct", "tupleunpack", "numtotensor",
        "scatternd", "scatterelements", "scatter", "indexput", "slicescatter", "selectscatter", "nonzero",
        "quantizelinear", "dequantizelinear", "quantize", "dequantize", "fakequant", "gatherelementsv2", "trilu",
        "triu", "tril", "maskedfill", "onehot", "readvariableop", "varhandleop", "enter", "exit",
        "assign", "sequenceconstruct", "optional", "splitwithsizes",
    ),
    "einsum": ("einsum",),
    "attention": ("attention", "multiheadattention", "scaleddotproductattention", "groupqueryattention", "sdpa", "flashattention", "efficientattention"),
    "recurrent": ("lstm", "gru", "rnn", "simplernn", "lstmcell", "grucell", "unidirectionalsequencelstm", "bidirectionalsequencelstm"),
}

KINDS: dict[str, str] = {name: kind for kind, names in _NAMES.items() for name in names}
"""Normalised op name -> kind; the one table costs and shape propagation read."""

_PREFIX = re.compile(r"^(?:aten|prim|quantized|onnx|torch|tf|tfl|nn|ops|mx|paddle|ncnn|caffe|ai\.onnx(?:\.ml)?|com\.microsoft)(?:::|\.|_(?=[a-z]))")
_OVERLOAD = re.compile(r"\.(?:default|tensor|scalar|int|self|out|input|using_ints|using_tensor|dim|dim_intlist|intlist|float|t|tensor_mode|scalar_tensor|self_int)$")
_TRAILING = re.compile(r"(?:_?[123]d|nd|_?v[0-9])$")


@lru_cache(maxsize=4096)
def normalise(op: str) -> str:
    """``"aten::_convolution"`` -> ``"convolution"``; ``"CONV_2D"`` -> ``"conv"``; ``"aten.add.Tensor"`` -> ``"add"``."""
    s = op.strip().lower()
    s = _OVERLOAD.sub("", s)
    while True:
        stripped = _PREFIX.sub("", s)
        if stripped == s:
            break
        s = stripped
    s = s.strip("_")
    if s in KINDS:
        return s
    compact = s.replace("_", "").replace("-", "")
    if compact in KINDS:
        return compact
    return _TRAILING.sub("", compact)


@lru_cache(maxsize=4096)
def op_kind(op: str) -> str:
    """The kind of an op type (a key of :data:`_NAMES`), or ``""`` when none is known."""
    return KINDS.get(normalise(op), "")
