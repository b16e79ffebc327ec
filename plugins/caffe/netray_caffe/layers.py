"""Caffe's three layer syntaxes (``layer``, legacy ``layers``, V0) read into one Layer record.

``layer`` (LayerParameter) names its type as a string; the legacy ``layers``
(V1LayerParameter) as an enum, mapped here to the string Caffe's own upgrade
(``UpgradeV1LayerType`` in upgrade_proto.cpp) gives; V0 nests a V0LayerParameter with a
lower-case type string inside a V1 entry. Blobs stay lazy: a Blob holds a loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PHASES = ("TRAIN", "TEST")

# V1LayerParameter.LayerType -> the type string of a V2 layer (Caffe's UpgradeV1LayerType).
V1_TYPES = {
    "NONE": "",
    "ABSVAL": "AbsVal",
    "ACCURACY": "Accuracy",
    "ARGMAX": "ArgMax",
    "BNLL": "BNLL",
    "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss",
    "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution",
    "DATA": "Data",
    "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss",
    "ELTWISE": "Eltwise",
    "EXP": "Exp",
    "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data",
    "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss",
    "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss",
    "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN",
    "MEMORY_DATA": "MemoryData",
    "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN",
    "POOLING": "Pooling",
    "POWER": "Power",
    "RELU": "ReLU",
    "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss",
    "SILENCE": "Silence",
    "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss",
    "SPLIT": "Split",
    "SLICE": "Slice",
    "TANH": "TanH",
    "WINDOW_DATA": "WindowData",
    "THRESHOLD": "Threshold",
}

# V0LayerParameter.type strings -> V2 type strings (Caffe's UpgradeV0LayerType).
V0_TYPES = {
    "accuracy": "Accuracy",
    "bnll": "BNLL",
    "concat": "Concat",
    "conv": "Convolution",
    "data": "Data",
    "dropout": "Dropout",
    "euclidean_loss": "EuclideanLoss",
    "flatten": "Flatten",
    "hdf5_data": "HDF5Data",
    "hdf5_output": "HDF5Output",
    "im2col": "Im2col",
    "images": "ImageData",
    "infogain_loss": "InfogainLoss",
    "innerproduct": "InnerProduct",
    "lrn": "LRN",
    "multinomial_logistic_loss": "MultinomialLogisticLoss",
    "padding": "Padding",
    "pool": "Pooling",
    "relu": "ReLU",
    "sigmoid": "Sigmoid",
    "softmax": "Softmax",
    "softmax_loss": "SoftmaxWithLoss",
    "split": "Split",
    "tanh": "TanH",
    "window_data": "WindowData",
}


@dataclass
class Blob:
    """One learned blob of a layer: its shape and type as stored, and how to read it (or None)."""

    shape: tuple[int, ...]
    dtype: str | None
    loader: Callable[[], np.ndarray] | None
    byte_size: int | None
    location: str = ""
    note: str = ""


@dataclass
class Layer:
    """A layer of any syntax: what the graph builder needs."""

    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    message: Any  # LayerParameter, V1LayerParameter or V0LayerParameter (blobs left out when read from binary)
    syntax: int  # 2 = layer, 1 = layers, 0 = V0
    phases: frozenset[str] = frozenset(PHASES)  # the phases in which the layer is part of the net
    rules: list[str] = field(default_factory=list)  # include/exclude rules as text
    blobs: list[Blob] = field(default_factory=list)


def text(value: Any) -> str:
    """A proto2 string field as str: protobuf hands back bytes where the file's bytes are not UTF-8."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def texts(values: Any) -> list[str]:
    return [text(v) for v in values]


def rule_text(rule: Any) -> str:
    parts = []
    if rule.HasField("phase"):
        parts.append("phase " + PHASES[rule.phase] if 0 <= rule.phase < 2 else f"phase {rule.phase}")
    if rule.HasField("min_level"):
        parts.append(f"min_level {rule.min_level}")
    if rule.HasField("max_level"):
        parts.append(f"max_level {rule.max_level}")
    parts += [f"stage {s}" for s in texts(rule.stage)]
    parts += [f"not_stage {s}" for s in texts(rule.not_stage)]
    return ", ".join(parts) or "always"


def phases_of(message: Any) -> tuple[frozenset[str], list[str]]:
    """The phases a layer runs in by its include/exclude phase rules, and the rules as text.

    Rules on stages and levels are shown but do not hide a layer: they depend on a NetState
    the file does not fix."""
    phases = set(PHASES)
    rules: list[str] = []
    includes = list(message.include)
    if includes:
        included = set()
        for rule in includes:
            rules.append("include " + rule_text(rule))
            if rule.HasField("phase") and 0 <= rule.phase < 2:
                included.add(PHASES[rule.phase])
            else:
                included.update(PHASES)
        phases &= included
    for rule in message.exclude:
        rules.append("exclude " + rule_text(rule))
        if (
            rule.HasField("phase")
            and 0 <= rule.phase < 2
            and not (rule.stage or rule.not_stage or rule.HasField("min_level") or rule.HasField("max_level"))
        ):
            phases.discard(PHASES[rule.phase])
    if _has_phase_field(message) and message.HasField("phase") and 0 <= message.phase < 2:
        # LayerParameter.phase is set by Caffe itself on a net it instantiated (rare in files).
        rules.append("phase " + PHASES[message.phase])
    return frozenset(phases), rules


def _has_phase_field(message: Any) -> bool:
    return "phase" in message.DESCRIPTOR.fields_by_name


def from_v2(message: Any) -> Layer:
    phases, rules = phases_of(message)
    return Layer(
        text(message.name), text(message.type), texts(message.bottom), texts(message.top), message, 2, phases, rules
    )


def from_v1(message: Any) -> Layer:
    """A legacy ``layers`` entry; a V0 layer when it nests one in its ``layer`` field."""
    if message.HasField("layer"):
        v0 = message.layer
        name = text(v0.name or message.name)
        layer_type = V0_TYPES.get(text(v0.type), text(v0.type))
        return Layer(name, layer_type, texts(message.bottom), texts(message.top), v0, 0)
    phases, rules = phases_of(message)
    enum = message.DESCRIPTOR.fields_by_name["type"].enum_type
    value = enum.values_by_number.get(message.type)
    layer_type = V1_TYPES.get(value.name, value.name) if value is not None else f"LayerType{message.type}"
    return Layer(text(message.name), layer_type, texts(message.bottom), texts(message.top), message, 1, phases, rules)


def text_blob(blob: Any, where: str) -> Blob:
    """A blob written in the text file itself (rare): its values are already in memory."""
    shape = blob_shape(blob)
    if len(blob.double_data):
        values, dtype = blob.double_data, "float64"
    else:
        values, dtype = blob.data, "float32"
    count = len(values)
    if not shape and count:
        shape = (count,)

    def load() -> np.ndarray:
        return np.asarray(values, dtype=dtype).reshape(shape)

    stored = count if count == _count(shape) else None
    note = "" if stored is not None else f"{count} values stored for shape {shape}"
    loader = load if count and stored is not None else None
    return Blob(shape, dtype, loader, count * np.dtype(dtype).itemsize if stored is not None else None, where, note)


def blob_shape(blob: Any) -> tuple[int, ...]:
    """A BlobProto's shape: BlobShape dims, or the legacy num/channels/height/width."""
    if blob.HasField("shape"):
        return tuple(int(d) for d in blob.shape.dim)
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return (blob.num, blob.channels, blob.height, blob.width)
    return ()


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
