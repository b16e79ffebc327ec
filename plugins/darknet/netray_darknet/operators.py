"""Darknet's sections as data: aliases, category, a summary, and the keys each parse_* reads.

Keys are ``(name, kind, default)``: ``kind`` is ``int``, ``float``, ``str``, ``ints`` or
``floats``; ``default`` is what Darknet's ``option_find_*`` falls back to, or None where
it has none (a key that must be given, or whose default depends on other keys and is
computed in :mod:`netray_darknet.network`). Keys are listed most telling first: the
viewer's boxes show the first attributes. The keys and defaults are those of
``src/parser.c`` in pjreddie/darknet and AlexeyAB/darknet; ``AB_DEFAULTS`` holds the
defaults where AlexeyAB's fork differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from netray import Category

Key = tuple[str, str, object]

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


@dataclass(frozen=True)
class SectionSpec:
    category: Category
    summary: str
    keys: tuple[Key, ...] = ()
    dialect: str = ""  # "pjreddie" or "AlexeyAB" when only that fork knows the section


ALIASES = {
    "conv": "convolutional",
    "deconv": "deconvolutional",
    "network": "net",
    "conn": "connected",
    "max": "maxpool",
    "avg": "avgpool",
    "lrn": "normalization",
    "soft": "softmax",
    "local_avg": "local_avgpool",
    "silence": "empty",
}

CONV_KEYS: tuple[Key, ...] = (
    ("activation", "str", "logistic"),
    ("filters", "int", 1),
    ("size", "int", 1),
    ("stride", "int", 1),
    ("pad", "int", 0),
    ("padding", "int", 0),
    ("batch_normalize", "int", 0),
    ("groups", "int", 1),
    ("binary", "int", 0),
    ("xnor", "int", 0),
    ("flipped", "int", 0),
    ("dot", "float", 0.0),
)
DETECT_KEYS: tuple[Key, ...] = (
    ("classes", "int", 20),
    ("num", "int", 1),
    ("jitter", "float", 0.2),
    ("random", "int", 0),
)

SECTIONS: dict[str, SectionSpec] = {
    "convolutional": SectionSpec(L, "2-D convolution (+ batch normalization) + activation, one layer.", CONV_KEYS),
    "deconvolutional": SectionSpec(
        L,
        "Transposed convolution (+ batch normalization) + activation.",
        (
            ("activation", "str", "logistic"),
            ("filters", "int", 1),
            ("size", "int", 1),
            ("stride", "int", 1),
            ("pad", "int", 0),
            ("padding", "int", 0),
            ("batch_normalize", "int", 0),
        ),
        "pjreddie",
    ),
    "local": SectionSpec(
        L,
        "Locally connected layer: a convolution with separate weights at every output position.",
        (
            ("activation", "str", "logistic"),
            ("filters", "int", 1),
            ("size", "int", 1),
            ("stride", "int", 1),
            ("pad", "int", 0),
        ),
    ),
    "connected": SectionSpec(
        L,
        "Fully connected layer (+ batch normalization) + activation.",
        (("activation", "str", "logistic"), ("output", "int", 1), ("batch_normalize", "int", 0)),
    ),
    "rnn": SectionSpec(
        L,
        "Vanilla recurrent layer: input, self and output connected layers over time_steps.",
        (
            ("activation", "str", "logistic"),
            ("output", "int", 1),
            ("batch_normalize", "int", 0),
            ("shortcut", "int", 0),
        ),
    ),
    "gru": SectionSpec(
        L, "Gated recurrent unit over time_steps.", (("output", "int", 1), ("batch_normalize", "int", 0))
    ),
    "lstm": SectionSpec(
        L, "Long short-term memory layer over time_steps.", (("output", "int", 1), ("batch_normalize", "int", 0))
    ),
    "crnn": SectionSpec(
        L,
        "Convolutional recurrent layer: input, self and output convolutions over time_steps.",
        (("activation", "str", "logistic"), ("batch_normalize", "int", 0), ("shortcut", "int", 0)),
    ),
    "conv_lstm": SectionSpec(
        L,
        "Convolutional LSTM over time_steps.",
        (
            ("activation", "str", "linear"),
            ("output", "int", 1),
            ("size", "int", 3),
            ("stride", "int", 1),
            ("dilation", "int", 1),
            ("pad", "int", 0),
            ("padding", "int", 0),
            ("groups", "int", 1),
            ("batch_normalize", "int", 0),
            ("peephole", "int", 0),
            ("bottleneck", "int", 0),
            ("lstm_activation", "str", "tanh"),
        ),
        "AlexeyAB",
    ),
    "history": SectionSpec(T, "Keeps the last history_size inputs.", (("history_size", "int", 4),), "AlexeyAB"),
    "maxpool": SectionSpec(
        P,
        "Max pooling; padding defaults to size-1 (Darknet's 'same'-like rule).",
        (("size", "int", None), ("stride", "int", 1), ("padding", "int", None)),
    ),
    "local_avgpool": SectionSpec(
        P,
        "Average pooling over windows, with maxpool's size and padding rules.",
        (("size", "int", None), ("stride", "int", 1), ("padding", "int", None)),
        "AlexeyAB",
    ),
    "avgpool": SectionSpec(P, "Global average pooling to 1x1 per channel."),
    "batchnorm": SectionSpec(N, "Batch normalization on its own (scales, rolling mean and variance)."),
    "normalization": SectionSpec(
        N,
        "Local response normalization across channels.",
        (("size", "int", 5), ("alpha", "float", 0.0001), ("beta", "float", 0.75), ("kappa", "float", 1.0)),
    ),
    "l2norm": SectionSpec(N, "Scales each position to unit L2 norm across channels.", (), "pjreddie"),
    "dropout": SectionSpec(
        N, "Drops inputs at random while training; identity at inference.", (("probability", "float", 0.5),)
    ),
    "activation": SectionSpec(A, "An activation function on its own.", (("activation", "str", "linear"),)),
    "logistic": SectionSpec(A, "Logistic (sigmoid) with a cross-entropy cost.", (), "pjreddie"),
    "softmax": SectionSpec(
        A,
        "Softmax over groups of the input (or a softmax tree, for hierarchical classes).",
        (("groups", "int", 1), ("temperature", "float", 1.0), ("spatial", "float", 0.0), ("noloss", "int", 0)),
    ),
    "route": SectionSpec(
        T,
        "Concatenates the outputs of the listed layers along channels (relative or absolute indices).",
        (("layers", "ints", None),),
    ),
    "shortcut": SectionSpec(
        T,
        "Adds the output of the layer 'from' to the previous layer's (residual connection).",
        (("from", "ints", None), ("activation", "str", "linear"), ("alpha", "float", 1.0), ("beta", "float", 1.0)),
    ),
    "sam": SectionSpec(
        T,
        "Spatial attention: multiplies the previous output by the layer 'from'.",
        (("from", "ints", None), ("activation", "str", "linear")),
        "AlexeyAB",
    ),
    "scale_channels": SectionSpec(
        T,
        "Scales the channels of the layer 'from' by the previous layer's per-channel output (squeeze-and-excitation).",
        (("from", "ints", None), ("scale_wh", "int", 0), ("activation", "str", "linear")),
        "AlexeyAB",
    ),
    "upsample": SectionSpec(
        S,
        "Nearest-neighbour upsampling by stride (downsampling when negative).",
        (("stride", "int", 2), ("scale", "float", 1.0)),
    ),
    "reorg": SectionSpec(
        S,
        "Space-to-depth: moves stride x stride blocks into channels (reverse: depth-to-space).",
        (("stride", "int", 1), ("reverse", "int", 0)),
    ),
    "reorg3d": SectionSpec(
        S,
        "Space-to-depth (AlexeyAB's reorg of pjreddie's current layout).",
        (("stride", "int", 1), ("reverse", "int", 0)),
        "AlexeyAB",
    ),
    "crop": SectionSpec(
        S,
        "Crops (and augments) the input image to crop_height x crop_width.",
        (("crop_height", "int", 1), ("crop_width", "int", 1), ("flip", "int", 0), ("angle", "float", 0.0)),
    ),
    "empty": SectionSpec(X, "Passes its input through unchanged.", (), "AlexeyAB"),
    "implicit": SectionSpec(
        T,
        "A learned constant tensor (YOLOR's implicit knowledge).",
        (("filters", "int", 128), ("atoms", "int", 1), ("mean", "float", 0.0), ("std", "float", 0.2)),
        "AlexeyAB",
    ),
    "yolo": SectionSpec(
        C,
        "YOLOv3 detection head: decodes boxes for the anchors chosen by mask.",
        (
            ("mask", "ints", None),
            ("anchors", "floats", None),
            *DETECT_KEYS,
            ("ignore_thresh", "float", 0.5),
            ("truth_thresh", "float", 1.0),
        ),
    ),
    "Gaussian_yolo": SectionSpec(
        C,
        "Gaussian YOLOv3 head: boxes with uncertainty.",
        (
            ("mask", "ints", None),
            ("anchors", "floats", None),
            *DETECT_KEYS,
            ("ignore_thresh", "float", 0.5),
            ("truth_thresh", "float", 1.0),
        ),
        "AlexeyAB",
    ),
    "region": SectionSpec(
        C,
        "YOLOv2 detection head: boxes for num anchors at every cell.",
        (
            ("anchors", "floats", None),
            ("coords", "int", 4),
            *DETECT_KEYS,
            ("softmax", "int", 0),
            ("thresh", "float", 0.5),
            ("bias_match", "int", 0),
        ),
    ),
    "detection": SectionSpec(
        C,
        "YOLOv1 detection head: side x side cells, each with num boxes and class scores.",
        (
            ("classes", "int", 1),
            ("coords", "int", 1),
            ("num", "int", 1),
            ("side", "int", 7),
            ("softmax", "int", 0),
            ("sqrt", "int", 0),
            ("rescore", "int", 0),
        ),
    ),
    "iseg": SectionSpec(C, "Instance segmentation head.", (("classes", "int", 20), ("ids", "int", 32)), "pjreddie"),
    "cost": SectionSpec(
        C,
        "Training cost (sse, masked, smooth, L1, seg, wgan).",
        (("type", "str", "sse"), ("scale", "float", 1.0), ("ratio", "float", 0.0)),
    ),
    "contrastive": SectionSpec(C, "Contrastive loss head.", (("classes", "int", 1000),), "AlexeyAB"),
}

# Defaults AlexeyAB's parser.c uses where they differ from pjreddie's.
AB_DEFAULTS: dict[tuple[str, str], object] = {("dropout", "probability"): 0.2}

# Keys only AlexeyAB's fork reads, per canonical section: seeing one means that dialect.
AB_KEYS: dict[str, frozenset[str]] = {
    "convolutional": frozenset(
        {
            "stride_x",
            "stride_y",
            "dilation",
            "antialiasing",
            "share_index",
            "cbn",
            "bin_output",
            "assisted_excitation",
            "sway",
            "rotate",
            "stretch",
            "stretch_sway",
            "coordconv",
            "deform",
            "stream",
            "wait_stream",
        }
    ),
    "maxpool": frozenset(
        {"stride_x", "stride_y", "maxpool_depth", "out_channels", "antialiasing", "maxpool_zero_nonmax"}
    ),
    "route": frozenset({"groups", "group_id", "stream", "wait_stream"}),
    "shortcut": frozenset({"weights_type", "weights_normalization"}),
    "rnn": frozenset({"logistic"}),
    "crnn": frozenset({"output", "hidden", "size", "stride", "dilation", "groups", "xnor"}),
    "yolo": frozenset(
        {
            "scale_x_y",
            "iou_loss",
            "iou_normalizer",
            "cls_normalizer",
            "obj_normalizer",
            "new_coords",
            "nms_kind",
            "beta_nms",
            "iou_thresh",
            "max_delta",
            "counters_per_class",
            "label_smooth_eps",
            "objectness_smooth",
            "resize",
            "embedding_layer",
            "track_history_size",
            "focal_loss",
        }
    ),
    "net": frozenset(
        {
            "mosaic",
            "letter_box",
            "cutmix",
            "mixup",
            "blur",
            "gaussian_noise",
            "flip",
            "track",
            "augment_speed",
            "ema_alpha",
            "loss_scale",
            "dynamic_minibatch",
            "optimized_memory",
            "adversarial_lr",
            "label_smooth_eps",
            "resize_step",
            "contrastive",
            "max_chart_loss",
            "learning_rate_min",
            "sgdr_cycle",
            "sgdr_mult",
        }
    ),
    "dropout": frozenset({"dropblock", "dropblock_size_rel", "dropblock_size_abs"}),
}
PJ_KEYS: dict[str, frozenset[str]] = {
    "crnn": frozenset({"output_filters", "hidden_filters"}),
    "reorg": frozenset({"flatten", "extra"}),
}

# Activation names each fork knows (get_activation); others fall back to relu in Darknet.
ACTIVATIONS = frozenset(
    {
        "logistic",
        "loggy",
        "relu",
        "elu",
        "selu",
        "relie",
        "plse",
        "hardtan",
        "lhtan",
        "linear",
        "ramp",
        "leaky",
        "tanh",
        "stair",
    }
)
AB_ACTIVATIONS = frozenset(
    {
        "relu6",
        "swish",
        "mish",
        "hard_mish",
        "normalize_channels",
        "normalize_channels_softmax",
        "normalize_channels_softmax_maxval",
        "gelu",
        "revleaky",
        "silu",
    }
)


def canonical(section_type: str) -> str:
    """``conv`` -> ``convolutional``: the name parser.c's string_to_layer_type maps it to."""
    return ALIASES.get(section_type, section_type)


def lookup(section_type: str) -> SectionSpec | None:
    return SECTIONS.get(canonical(section_type))
