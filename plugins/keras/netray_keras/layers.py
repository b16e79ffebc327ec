"""Keras layer metadata, kept as data: category, one-line summary, weight names.

``WEIGHTS`` names the variables a layer stores, in order, so a Keras 3 weight
saved as ``vars/0`` shows as ``kernel``. Classes missing here that come from a
Keras module get category ``other``; classes from any other module are custom.
"""

from __future__ import annotations

from typing import NamedTuple


class LayerSpec(NamedTuple):
    category: str
    summary: str


_L, _A, _N, _P, _S, _T = "layer", "activation", "normalization", "pool", "shape", "tensor"

LAYERS: dict[str, LayerSpec] = {
    "Dense": LayerSpec(_L, "Fully connected layer: activation(inputs @ kernel + bias)."),
    "EinsumDense": LayerSpec(_L, "Dense layer expressed as an einsum equation."),
    "Conv1D": LayerSpec(_L, "1-D convolution."),
    "Conv2D": LayerSpec(_L, "2-D convolution."),
    "Conv3D": LayerSpec(_L, "3-D convolution."),
    "Conv1DTranspose": LayerSpec(_L, "Transposed 1-D convolution."),
    "Conv2DTranspose": LayerSpec(_L, "Transposed 2-D convolution."),
    "Conv3DTranspose": LayerSpec(_L, "Transposed 3-D convolution."),
    "SeparableConv1D": LayerSpec(_L, "Depthwise then pointwise 1-D convolution."),
    "SeparableConv2D": LayerSpec(_L, "Depthwise then pointwise 2-D convolution."),
    "DepthwiseConv1D": LayerSpec(_L, "Depthwise 1-D convolution."),
    "DepthwiseConv2D": LayerSpec(_L, "Depthwise 2-D convolution."),
    "Embedding": LayerSpec(_L, "Maps integer ids to dense vectors."),
    "LSTM": LayerSpec(_L, "Long short-term memory recurrent layer."),
    "GRU": LayerSpec(_L, "Gated recurrent unit layer."),
    "SimpleRNN": LayerSpec(_L, "Fully connected recurrent layer."),
    "CuDNNLSTM": LayerSpec(_L, "Keras 2's cuDNN LSTM (an LSTM with its gates' biases doubled)."),
    "CuDNNGRU": LayerSpec(_L, "Keras 2's cuDNN GRU."),
    "ConvLSTM1D": LayerSpec(_L, "Convolutional LSTM over sequences of 1-D maps."),
    "ConvLSTM2D": LayerSpec(_L, "Convolutional LSTM."),
    "ConvLSTM3D": LayerSpec(_L, "Convolutional LSTM over sequences of volumes."),
    "Bidirectional": LayerSpec(_L, "Runs a recurrent layer forwards and backwards."),
    "TimeDistributed": LayerSpec(_L, "Applies a layer to every time step."),
    "RNN": LayerSpec(_L, "Recurrent layer around a cell."),
    "MultiHeadAttention": LayerSpec(_L, "Multi-head scaled dot-product attention."),
    "Attention": LayerSpec(_L, "Dot-product attention."),
    "AdditiveAttention": LayerSpec(_L, "Additive (Bahdanau) attention."),
    "Activation": LayerSpec(_A, "Applies an activation function."),
    "ReLU": LayerSpec(_A, "Rectified linear unit."),
    "LeakyReLU": LayerSpec(_A, "Leaky rectified linear unit."),
    "PReLU": LayerSpec(_A, "ReLU with a learned slope."),
    "ELU": LayerSpec(_A, "Exponential linear unit."),
    "Softmax": LayerSpec(_A, "Normalised exponential."),
    "ThresholdedReLU": LayerSpec(_A, "ReLU with a threshold."),
    "BatchNormalization": LayerSpec(_N, "Normalises with batch statistics (moving averages at inference)."),
    "LayerNormalization": LayerSpec(_N, "Normalises over the feature axes of each sample."),
    "GroupNormalization": LayerSpec(_N, "Normalises over groups of channels."),
    "UnitNormalization": LayerSpec(_N, "Scales each sample to unit L2 norm."),
    "Normalization": LayerSpec(_N, "Feature-wise standardisation with adapted mean and variance."),
    "Dropout": LayerSpec(_N, "Randomly zeroes inputs during training; identity at inference."),
    "SpatialDropout1D": LayerSpec(_N, "Drops whole 1-D feature maps during training."),
    "SpatialDropout2D": LayerSpec(_N, "Drops whole 2-D feature maps during training."),
    "SpatialDropout3D": LayerSpec(_N, "Drops whole 3-D feature maps during training."),
    "ActivityRegularization": LayerSpec(_N, "Adds an L1/L2 penalty on its input to the loss; identity otherwise."),
    "RandomBrightness": LayerSpec(_N, "Random brightness changes during training; identity at inference."),
    "RandomContrast": LayerSpec(_N, "Random contrast changes during training; identity at inference."),
    "RandomCrop": LayerSpec(_S, "Random crops during training; a centre crop at inference."),
    "RandomFlip": LayerSpec(_N, "Random flips during training; identity at inference."),
    "RandomRotation": LayerSpec(_N, "Random rotations during training; identity at inference."),
    "RandomTranslation": LayerSpec(_N, "Random translations during training; identity at inference."),
    "RandomZoom": LayerSpec(_N, "Random zooms during training; identity at inference."),
    "GaussianNoise": LayerSpec(_N, "Adds Gaussian noise during training."),
    "GaussianDropout": LayerSpec(_N, "Multiplicative Gaussian noise during training."),
    "AlphaDropout": LayerSpec(_N, "Dropout keeping mean and variance."),
    "MaxPooling1D": LayerSpec(_P, "Maximum over 1-D windows."),
    "MaxPooling2D": LayerSpec(_P, "Maximum over 2-D windows."),
    "MaxPooling3D": LayerSpec(_P, "Maximum over 3-D windows."),
    "AveragePooling1D": LayerSpec(_P, "Average over 1-D windows."),
    "AveragePooling2D": LayerSpec(_P, "Average over 2-D windows."),
    "AveragePooling3D": LayerSpec(_P, "Average over 3-D windows."),
    "GlobalMaxPooling1D": LayerSpec(_P, "Maximum over the time axis."),
    "GlobalMaxPooling2D": LayerSpec(_P, "Maximum over the spatial axes."),
    "GlobalMaxPooling3D": LayerSpec(_P, "Maximum over the three spatial axes."),
    "GlobalAveragePooling1D": LayerSpec(_P, "Average over the time axis."),
    "GlobalAveragePooling2D": LayerSpec(_P, "Average over the spatial axes."),
    "GlobalAveragePooling3D": LayerSpec(_P, "Average over the spatial axes."),
    "Flatten": LayerSpec(_S, "Flattens all but the batch axis."),
    "Reshape": LayerSpec(_S, "Reshapes to a target shape (batch axis kept)."),
    "Permute": LayerSpec(_S, "Permutes the non-batch axes."),
    "RepeatVector": LayerSpec(_S, "Repeats the input n times along a new axis."),
    "ZeroPadding1D": LayerSpec(_S, "Pads with zeros along time."),
    "ZeroPadding2D": LayerSpec(_S, "Pads images with zeros."),
    "ZeroPadding3D": LayerSpec(_S, "Pads volumes with zeros."),
    "Cropping1D": LayerSpec(_S, "Crops along time."),
    "Cropping2D": LayerSpec(_S, "Crops images."),
    "Cropping3D": LayerSpec(_S, "Crops volumes."),
    "UpSampling1D": LayerSpec(_S, "Repeats each time step."),
    "UpSampling2D": LayerSpec(_S, "Repeats rows and columns."),
    "UpSampling3D": LayerSpec(_S, "Repeats along depth, rows and columns."),
    "Add": LayerSpec(_T, "Elementwise sum of its inputs."),
    "Subtract": LayerSpec(_T, "Difference of two inputs."),
    "Multiply": LayerSpec(_T, "Elementwise product of its inputs."),
    "Average": LayerSpec(_T, "Elementwise mean of its inputs."),
    "Maximum": LayerSpec(_T, "Elementwise maximum of its inputs."),
    "Minimum": LayerSpec(_T, "Elementwise minimum of its inputs."),
    "Concatenate": LayerSpec(_T, "Joins its inputs along an axis."),
    "Dot": LayerSpec(_T, "Dot product of two inputs along axes."),
    "Rescaling": LayerSpec(_T, "Multiplies by a scale and adds an offset."),
    "Resizing": LayerSpec(_S, "Resizes images to a fixed height and width."),
    "CenterCrop": LayerSpec(_S, "Crops the centre of images to a fixed height and width."),
    "Identity": LayerSpec(_T, "Passes its input through."),
    "Masking": LayerSpec(_T, "Masks time steps equal to a value."),
    "InputLayer": LayerSpec("other", "A model input."),
    "Lambda": LayerSpec("custom", "Wraps Python code; its function is shown, never run."),
    "TFOpLambda": LayerSpec("custom", "A TensorFlow operation recorded as a layer."),
}

# Variables each layer class stores, in saving order (Keras 2 names them; Keras 3 numbers them).
WEIGHTS: dict[str, tuple[str, ...]] = {
    "Dense": ("kernel", "bias"),
    "Conv1D": ("kernel", "bias"),
    "Conv2D": ("kernel", "bias"),
    "Conv3D": ("kernel", "bias"),
    "Conv1DTranspose": ("kernel", "bias"),
    "Conv2DTranspose": ("kernel", "bias"),
    "Conv3DTranspose": ("kernel", "bias"),
    "DepthwiseConv1D": ("depthwise_kernel", "bias"),
    "DepthwiseConv2D": ("depthwise_kernel", "bias"),
    "SeparableConv1D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "Embedding": ("embeddings",),
    "LSTM": ("kernel", "recurrent_kernel", "bias"),
    "GRU": ("kernel", "recurrent_kernel", "bias"),
    "SimpleRNN": ("kernel", "recurrent_kernel", "bias"),
    "ConvLSTM1D": ("kernel", "recurrent_kernel", "bias"),
    "ConvLSTM2D": ("kernel", "recurrent_kernel", "bias"),
    "ConvLSTM3D": ("kernel", "recurrent_kernel", "bias"),
    "PReLU": ("alpha",),
}

MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})


def is_keras_module(module: str | None) -> bool:
    """Whether a Keras 3 ``module`` field names Keras itself (else the class is user code)."""
    return module is None or module == "keras" or module.startswith(("keras.", "tf_keras", "tensorflow.keras"))


def weight_names(class_name: str, config: dict[str, object]) -> tuple[str, ...]:
    """Names of a layer's stored variables in order; empty when unknown."""
    if class_name == "BatchNormalization":
        names = []
        if config.get("scale", True):
            names.append("gamma")
        if config.get("center", True):
            names.append("beta")
        return (*names, "moving_mean", "moving_variance")
    if class_name == "LayerNormalization":
        return tuple(n for n, flag in (("gamma", config.get("scale", True)), ("beta", config.get("center", True))) if flag)
    return WEIGHTS.get(class_name, ())
