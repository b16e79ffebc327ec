"""Operator categories (for colour) as data: every standard ONNX operator and common contrib ops.

Documentation comes from ``onnx.defs`` at runtime (see ``opdocs.py``); only the
category, which ONNX does not record, lives here.
"""

from __future__ import annotations

from typing import Final

from netray import Category


def _table(**groups: str) -> dict[str, Category]:
    table: dict[str, Category] = {}
    for category, names in groups.items():
        for name in names.split():
            table[name] = Category(category)
    return table


# The default domain ("" / "ai.onnx"), every operator including a few removed experimental ones.
ONNX_OPS: Final[dict[str, Category]] = _table(
    layer="""Conv ConvTranspose ConvInteger DeformConv Gemm MatMul MatMulInteger Einsum LSTM GRU RNN
        Attention LinearAttention CausalConvWithState RotaryEmbedding FC""",
    activation="""Relu LeakyRelu PRelu Sigmoid HardSigmoid Tanh Softmax LogSoftmax Hardmax Elu Selu Celu Gelu
        Mish Softplus Softsign HardSwish Swish ThresholdedRelu Shrink ScaledTanh ParametricSoftplus""",
    normalization="""BatchNormalization LayerNormalization GroupNormalization InstanceNormalization
        RMSNormalization LRN LpNormalization MeanVarianceNormalization Dropout ImageScaler Scale""",
    pool="""AveragePool MaxPool GlobalAveragePool GlobalMaxPool GlobalLpPool LpPool MaxRoiPool MaxUnpool
        RoiAlign""",
    shape="""Reshape Transpose Concat Gather GatherElements GatherND Flatten Squeeze Unsqueeze Slice Split
        Expand Tile Pad Shape Size DepthToSpace SpaceToDepth Resize Upsample Identity Compress Scatter
        ScatterElements ScatterND TensorScatter CenterCropPad Col2Im ReverseSequence Crop AffineGrid GridSample
        SplitToSequence ConcatFromSequence SequenceAt SequenceConstruct SequenceEmpty SequenceErase
        SequenceInsert SequenceLength Optional OptionalGetElement OptionalHasElement""",
    control="If Loop Scan SequenceMap",
    quantization="QuantizeLinear DequantizeLinear DynamicQuantizeLinear QLinearConv QLinearMatMul",
    tensor="""Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh Bernoulli BitCast BitShift
        BitwiseAnd BitwiseNot BitwiseOr BitwiseXor BlackmanWindow Cast CastLike Ceil Clip Constant
        ConstantOfShape Cos Cosh CumProd CumSum DFT Det Div Equal Erf Exp EyeLike Floor Greater GreaterOrEqual
        HammingWindow HannWindow ImageDecoder IsInf IsNaN Less LessOrEqual Log Max Mean MelWeightMatrix Min
        Mod Mul Multinomial Neg NegativeLogLikelihoodLoss NonMaxSuppression NonZero Not OneHot Or Pow
        RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2
        ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare
        RegexFullMatch Round STFT Sign Sin Sinh SoftmaxCrossEntropyLoss Sqrt StringConcat StringNormalizer
        StringSplit Sub Sum Tan TfIdfVectorizer TopK Trilu Unique Where Xor ATen GivenTensorFill
        ConstantFill""",
)

# Other standard domains.
ONNX_ML_OPS: Final[dict[str, Category]] = _table(
    layer="""LinearClassifier LinearRegressor SVMClassifier SVMRegressor TreeEnsemble TreeEnsembleClassifier
        TreeEnsembleRegressor""",
    normalization="Normalizer Scaler",
    shape="ArrayFeatureExtractor FeatureVectorizer DictVectorizer ZipMap CastMap",
    tensor="Binarizer CategoryMapper Imputer LabelEncoder OneHotEncoder",
)
PREVIEW_OPS: Final[dict[str, Category]] = _table(
    layer="FlexAttention",
    tensor="Adagrad Adam Gradient Momentum",
)

# ONNX Runtime's contrib operators (domain com.microsoft), the ones exporters commonly emit.
MICROSOFT_OPS: Final[dict[str, Category]] = _table(
    layer="""FusedConv FusedGemm FusedMatMul Attention MultiHeadAttention GroupQueryAttention
        PackedAttention DecoderMaskedMultiHeadAttention MatMulNBits GatherBlockQuantized
        RotaryEmbedding EmbedLayerNormalization TransposeMatMul NhwcConv NhwcFusedConv FusedMatMulActivation
        ConvTransposeWithDynamicPads""",
    activation="BiasGelu FastGelu QuickGelu Gelu BiasSoftmax",
    normalization="""SkipLayerNormalization SimplifiedLayerNormalization SkipSimplifiedLayerNormalization
        LayerNormalization""",
    quantization="""QGemm QAttention DynamicQuantizeMatMul MatMulIntegerToFloat DynamicQuantizeLSTM
        QuantizeLinear DequantizeLinear""",
    pool="NhwcMaxPool",
    shape="Trilu",
)

# ONNX Runtime's layout-transformed kernels (written by its optimizers into ORT and optimized ONNX files).
NCHWC_OPS: Final[dict[str, Category]] = _table(
    layer="Conv",
    pool="MaxPool AveragePool GlobalAveragePool GlobalMaxPool",
    shape="ReorderInput ReorderOutput Upsample",
)

DOMAIN_TABLES: Final[dict[str, dict[str, Category]]] = {
    "": ONNX_OPS,
    "ai.onnx": ONNX_OPS,
    "ai.onnx.ml": ONNX_ML_OPS,
    "ai.onnx.preview": PREVIEW_OPS,
    "ai.onnx.preview.training": PREVIEW_OPS,
    "com.microsoft": MICROSOFT_OPS,
    "com.microsoft.nchwc": NCHWC_OPS,
    "com.ms.internal.nhwc": {**ONNX_OPS, **MICROSOFT_OPS},  # NHWC versions of ONNX and contrib ops, same names
}


def category_of(domain: str, op: str) -> Category:
    """The colour category of ``op`` in ``domain``: custom for domains ONNX does not define."""
    table = DOMAIN_TABLES.get(domain)
    if table is None:
        return Category.CUSTOM
    category = table.get(op)
    if category is not None:
        return category
    if op.startswith(("QLinear", "Quantize", "Dequantize")):
        return Category.QUANTIZATION
    return Category.OTHER
