"""What the plugin knows of Core ML operators, as data: a category (colour) and a one-line summary.

Three domains: ``NeuralNetwork`` (the layer oneof names of NeuralNetwork.proto), ``MIL`` (ML
Program operation types, coremltools' ``mil/ops/defs``) and ``model`` (the Model ``Type`` oneof
names, for pipelines' stages and for the models that are no graph).
"""

from __future__ import annotations

from netray import Category, OpInfo

NN_DOMAIN = "NeuralNetwork"
MIL_DOMAIN = "MIL"
MODEL_DOMAIN = "model"

_NN_CATEGORIES: dict[Category, str] = {
    Category.LAYER: (
        "convolution convolution3d innerProduct embedding embeddingND batchedMatmul simpleRecurrent gru "
        "uniDirectionalLSTM biDirectionalLSTM dot"
    ),
    Category.ACTIVATION: "activation softmax softmaxND clampedReLU gelu erf sigmoid tanh",
    Category.NORMALIZATION: "batchnorm mvn l2normalize lrn layerNormalization scaler meanImage",
    Category.POOL: (
        "pooling pooling3d globalPooling3d reduce reduceL1 reduceL2 reduceMax reduceMin reduceSum reduceProd "
        "reduceMean reduceLogSum reduceSumSquare reduceLogSumExp argMax argMin topK argSort cumSum"
    ),
    Category.SHAPE: (
        "reshape flatten permute concat split reorganizeData slice crop padding upsample resizeBilinear cropResize "
        "tile stack splitND concatND transpose sliceStatic sliceDynamic sliceBySize squeeze expandDims flattenTo2D "
        "reshapeLike reshapeStatic reshapeDynamic rankPreservingReshape constantPad getShape broadcastToLike "
        "broadcastToStatic broadcastToDynamic slidingWindows sequenceRepeat reverse reverseSeq"
    ),
    Category.TENSOR: (
        "loadConstant loadConstantND gather scatter gatherND scatterND gatherAlongAxis scatterAlongAxis fillLike "
        "fillStatic fillDynamic rangeStatic rangeDynamic oneHot whereNonZero matrixBandPart lowerTriangular "
        "upperTriangular copy"
    ),
    Category.CONTROL: "branch loop loopBreak loopContinue",
    Category.CUSTOM: "custom",
}

_MIL_CATEGORIES: dict[Category, str] = {
    Category.LAYER: "conv conv_transpose linear matmul einsum lstm gru rnn embedding scaled_dot_product_attention",
    Category.ACTIVATION: (
        "relu relu6 leaky_relu prelu sigmoid sigmoid_hard silu tanh gelu elu softmax log_softmax softplus "
        "softplus_parametric softsign clamped_relu scaled_tanh thresholded_relu linear_activation erf"
    ),
    Category.NORMALIZATION: "batch_norm instance_norm layer_norm l2_norm local_response_norm",
    Category.POOL: (
        "avg_pool max_pool l2_pool reduce_mean reduce_sum reduce_max reduce_min reduce_prod reduce_l1_norm "
        "reduce_l2_norm reduce_log_sum reduce_log_sum_exp reduce_sum_square reduce_argmax reduce_argmin topk argsort "
        "cumsum"
    ),
    Category.SHAPE: (
        "reshape transpose concat split squeeze expand_dims slice_by_index slice_by_size pad tile stack "
        "space_to_depth depth_to_space pixel_shuffle pixel_unshuffle upsample_nearest_neighbor upsample_bilinear "
        "resize_bilinear resize_nearest_neighbor crop crop_resize flatten2d shape reverse reverse_sequence "
        "sliding_windows reshape_like batch_to_space space_to_batch"
    ),
    Category.TENSOR: (
        "gather gather_nd gather_along_axis scatter scatter_nd scatter_along_axis fill fill_like range_1d one_hot "
        "non_zero band_part identity cast const select"
    ),
    Category.CONTROL: "cond while_loop make_list list_read list_write list_gather list_scatter list_length",
    Category.QUANTIZATION: (
        "quantize dequantize constexpr_affine_dequantize constexpr_cast constexpr_lut_to_dense "
        "constexpr_sparse_to_dense constexpr_blockwise_shift_scale constexpr_lut_to_sparse constexpr_sparse_blockwise_shift_scale "
        "constexpr_cpalettize_to_dense"
    ),
}

_MODEL_CATEGORIES: dict[Category, str] = {
    Category.LAYER: (
        "neuralNetwork neuralNetworkClassifier neuralNetworkRegressor mlProgram glmRegressor glmClassifier "
        "supportVectorRegressor supportVectorClassifier treeEnsembleRegressor treeEnsembleClassifier "
        "kNearestNeighborsClassifier bayesianProbitRegressor itemSimilarityRecommender"
    ),
    Category.NORMALIZATION: "scaler normalizer imputer",
    Category.TENSOR: "oneHotEncoder featureVectorizer dictVectorizer categoricalMapping arrayFeatureExtractor identity",
    Category.CONTROL: "pipeline pipelineClassifier pipelineRegressor",
    Category.CUSTOM: "customModel linkedModel serializedModel",
}


def _table(categories: dict[Category, str]) -> dict[str, Category]:
    return {op: category for category, ops in categories.items() for op in ops.split()}


NN_OPS = _table(_NN_CATEGORIES)
MIL_OPS = _table(_MIL_CATEGORIES)
MODEL_OPS = _table(_MODEL_CATEGORIES)

SUMMARIES: dict[tuple[str, str], str] = {
    (NN_DOMAIN, "convolution"): "2-D convolution or deconvolution; weights [C_out, C_in / groups, kH, kW].",
    (NN_DOMAIN, "innerProduct"): "Fully connected layer; weights [C_out, C_in].",
    (NN_DOMAIN, "activation"): "Element-wise non-linearity; NonlinearityType names which.",
    (NN_DOMAIN, "batchnorm"): "Batch normalization with stored gamma, beta, mean and variance.",
    (NN_DOMAIN, "pooling"): "Max, average or L2 pooling over 2-D windows.",
    (NN_DOMAIN, "softmax"): "Softmax over the channel axis.",
    (NN_DOMAIN, "flatten"): "Flattens [C, H, W] into one channel axis.",
    (NN_DOMAIN, "scaler"): "Image preprocessing: scale, then add per-channel biases, before the first layer.",
    (NN_DOMAIN, "meanImage"): "Image preprocessing: subtract a mean image before the first layer.",
    (
        NN_DOMAIN,
        "classifier",
    ): "The classifier's head: picks the class label from the probabilities (implied by the spec).",
    (MIL_DOMAIN, "conv"): "N-D convolution.",
    (MIL_DOMAIN, "linear"): "x @ weight.T + bias.",
    (MIL_DOMAIN, "matmul"): "Matrix product of x and y.",
    (MIL_DOMAIN, "const"): "A constant tensor (shown as a weight of its consumers).",
    (MODEL_DOMAIN, "pipeline"): "A chain of models, each reading the features the earlier ones wrote.",
}


def category(domain: str, op: str) -> Category:
    table = NN_OPS if domain == NN_DOMAIN else MIL_OPS if domain == MIL_DOMAIN else MODEL_OPS
    found = table.get(op)
    if found is not None:
        return found
    if domain == MIL_DOMAIN and op.startswith("constexpr_"):
        return Category.QUANTIZATION
    if domain == MIL_DOMAIN and op.startswith(("reduce_", "list_")):
        return Category.POOL if op.startswith("reduce_") else Category.CONTROL
    return Category.OTHER


def operator_info(domain: str, op: str) -> OpInfo | None:
    kind = category(domain, op)
    summary = SUMMARIES.get((domain, op), "")
    if kind is Category.OTHER and not summary:
        return None
    return OpInfo(category=kind, summary=summary)
