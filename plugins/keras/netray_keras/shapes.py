"""Output shapes of Keras layers from their saved configs, as Keras' ``compute_output_shape`` gives them.

Nothing is imported from Keras and nothing from the file runs: each rule reads a
layer's config and its input shapes. A layer without a rule (Lambda, TF op layers,
user classes, anything unknown) leaves its outputs unknown: a shape is never guessed.
Shapes are tuples whose first item is the batch dimension, passed through as the
input states it (``"batch"`` from the builder, a number where the config fixes it).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from netray import Graph, Node, Port, TensorType, Value
from netray.dtypes import lookup as lookup_dtype
from netray.ir import Dim, Shape
from netray_keras.layers import is_keras_module

INFERRED = "Keras layer configs"

Config = dict[str, Any]
Rule = Callable[[Config, list[Shape | None]], list[Shape | None]]


class NoShape(Exception):
    """The config or the input shapes do not give the output shape."""


# -- reading configs -------------------------------------------------------------------------
def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise NoShape(f"not an integer: {value!r}")
    return value


def integers(value: Any, rank: int) -> tuple[int, ...]:
    """An int or a list of ``rank`` ints (Keras' ``standardize_tuple``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * rank
    if isinstance(value, (list, tuple)) and len(value) == rank:
        return tuple(integer(v) for v in value)
    raise NoShape(f"expected {rank} integers: {value!r}")


def pairs(value: Any, rank: int) -> tuple[tuple[int, int], ...]:
    """Padding or cropping: ``p``, ``(a, b, ...)`` per axis, or ``((before, after), ...)``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return ((value, value),) * rank
    if rank == 1 and isinstance(value, (list, tuple)) and len(value) == 2:
        return ((integer(value[0]), integer(value[1])),)
    if isinstance(value, (list, tuple)) and len(value) == rank:
        found = []
        for item in value:
            if isinstance(item, (list, tuple)) and len(item) == 2:
                found.append((integer(item[0]), integer(item[1])))
            else:
                found.append((integer(item), integer(item)))
        return tuple(found)
    raise NoShape(f"expected padding for {rank} axes: {value!r}")


def channels_first(config: Config) -> bool:
    return config.get("data_format") == "channels_first"


def known(dim: Dim) -> int | None:
    return dim if isinstance(dim, int) and not isinstance(dim, bool) else None


def need(shape: Shape | None, rank: int | None = None, at_least: int = 1) -> Shape:
    if shape is None:
        raise NoShape("input shape unknown")
    if (rank is not None and len(shape) != rank) or len(shape) < at_least:
        raise NoShape(f"input of rank {len(shape)}")
    return shape


def positive(dim: int | None) -> int | None:
    if dim is not None and dim <= 0:
        raise NoShape(f"output dimension {dim}")
    return dim


# -- arithmetic of Keras' conv_utils ---------------------------------------------------------
def conv_length(length: Dim, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    size = known(length)
    if size is None:
        return None
    if stride <= 0 or kernel <= 0 or dilation <= 0:
        raise NoShape("non-positive kernel, stride or dilation")
    span = (kernel - 1) * dilation + 1
    if padding in ("same", "causal"):
        out = size
    elif padding == "valid":
        out = size - span + 1
    elif padding == "full":
        out = size + span - 1
    else:
        raise NoShape(f"padding {padding!r}")
    return positive((out + stride - 1) // stride)


def deconv_length(length: Dim, kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None) -> int | None:
    size = known(length)
    if size is None:
        return None
    span = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == "valid":
            out = size * stride + max(span - stride, 0)
        elif padding == "same":
            out = size * stride
        elif padding == "full":
            out = size * stride - (stride + span - 2)
        else:
            raise NoShape(f"padding {padding!r}")
    else:
        pad = {"same": span // 2, "valid": 0, "full": span - 1}.get(padding)
        if pad is None:
            raise NoShape(f"padding {padding!r}")
        out = (size - 1) * stride + span - 2 * pad + output_padding
    return positive(out)


def spatial_split(shape: Shape, first: bool) -> tuple[Dim, tuple[Dim, ...], Dim]:
    """(batch, spatial dims, channels) of a ``channels_first`` or ``channels_last`` shape."""
    if first:
        return shape[0], tuple(shape[2:]), shape[1]
    return shape[0], tuple(shape[1:-1]), shape[-1]


def spatial_join(batch: Dim, spatial: Iterable[Dim], channels: Dim, first: bool) -> Shape:
    return (batch, channels, *spatial) if first else (batch, *spatial, channels)


def padding_of(config: Config) -> str:
    return str(config.get("padding", "valid")).lower()


# -- rules -------------------------------------------------------------------------------------
def single(rule: Callable[[Config, list[Shape | None]], Shape]) -> Rule:
    return lambda config, inputs: [rule(config, inputs)]


def preserve(config: Config, inputs: list[Shape | None]) -> Shape:
    return need(inputs[0] if inputs else None, at_least=0)


def conv(rank: int, kind: str = "conv") -> Rule:
    """Conv, SeparableConv (``kind="conv"``), DepthwiseConv (``"depthwise"``), ConvTranspose (``"transpose"``)."""

    def rule(config: Config, inputs: list[Shape | None]) -> Shape:
        first = channels_first(config)
        batch, spatial, channels = spatial_split(need(inputs[0], rank + 2), first)
        kernel = integers(config.get("kernel_size"), rank)
        strides = integers(config.get("strides", 1), rank)
        dilation = integers(config.get("dilation_rate", 1), rank)
        padding = padding_of(config)
        if kind == "transpose":
            raw = config.get("output_padding")
            extra = (None,) * rank if raw is None else integers(raw, rank)
            out = [deconv_length(d, k, s, r, padding, p) for d, k, s, r, p in zip(spatial, kernel, strides, dilation, extra, strict=True)]
        else:
            out = [conv_length(d, k, s, r, padding) for d, k, s, r in zip(spatial, kernel, strides, dilation, strict=True)]
        if kind == "depthwise":
            c = known(channels)
            filters: Dim = None if c is None else c * integer(config.get("depth_multiplier", 1))
        else:
            filters = integer(config.get("filters"))
        return spatial_join(batch, out, filters, first)

    return single(rule)


def pool(rank: int) -> Rule:
    def rule(config: Config, inputs: list[Shape | None]) -> Shape:
        first = channels_first(config)
        batch, spatial, channels = spatial_split(need(inputs[0], rank + 2), first)
        size = integers(config.get("pool_size", 2), rank)
        raw_strides = config.get("strides")
        strides = size if raw_strides is None else integers(raw_strides, rank)
        padding = padding_of(config)
        out = [conv_length(d, k, s, 1, padding) for d, k, s in zip(spatial, size, strides, strict=True)]
        return spatial_join(batch, out, channels, first)

    return single(rule)


def global_pool(rank: int) -> Rule:
    def rule(config: Config, inputs: list[Shape | None]) -> Shape:
        first = channels_first(config)
        batch, _, channels = spatial_split(need(inputs[0], rank + 2), first)
        if config.get("keepdims", False):
            return spatial_join(batch, (1,) * rank, channels, first)
        return (batch, channels)

    return single(rule)


def dense(config: Config, inputs: list[Shape | None]) -> Shape:
    return (*need(inputs[0], at_least=2)[:-1], integer(config.get("units")))


def flatten(config: Config, inputs: list[Shape | None]) -> Shape:
    shape = need(inputs[0])
    sizes = [known(d) for d in shape[1:]]
    return (shape[0], None if None in sizes else math.prod(d for d in sizes if d is not None))


def reshape(config: Config, inputs: list[Shape | None]) -> Shape:
    shape = need(inputs[0])
    target = config.get("target_shape")
    if not isinstance(target, (list, tuple)):
        raise NoShape("no target_shape")
    dims = [integer(d) for d in target]
    if dims.count(-1) > 1 or any(d < -1 or d == 0 for d in dims):
        raise NoShape(f"target_shape {dims}")
    if -1 not in dims:
        return (shape[0], *dims)
    sizes = [known(d) for d in shape[1:]]
    if None in sizes:
        return (shape[0], *(None if d == -1 else d for d in dims))
    total = math.prod(d for d in sizes if d is not None)
    rest = math.prod(d for d in dims if d != -1)
    if total % rest:
        raise NoShape(f"cannot reshape {total} elements to {dims}")
    return (shape[0], *(total // rest if d == -1 else d for d in dims))


def permute(config: Config, inputs: list[Shape | None]) -> Shape:
    shape = need(inputs[0])
    order = config.get("dims")
    if not isinstance(order, (list, tuple)) or sorted(integer(d) for d in order) != list(range(1, len(shape))):
        raise NoShape(f"dims {order!r}")
    return (shape[0], *(shape[d] for d in order))


def repeat_vector(config: Config, inputs: list[Shape | None]) -> Shape:
    shape = need(inputs[0], 2)
    return (shape[0], integer(config.get("n")), shape[1])


def resize_spatial(rank: int, key: str, sign: int) -> Rule:
    """ZeroPadding (``sign=1``) and Cropping (``sign=-1``) of ``rank`` spatial axes."""

    def rule(config: Config, inputs: list[Shape | None]) -> Shape:
        first = channels_first(config)
        batch, spatial, channels = spatial_split(need(inputs[0], rank + 2), first)
        default = 0 if key == "cropping" and rank == 2 else 1  # Keras' defaults
        amounts = pairs(config.get(key, default), rank)
        out = []
        for d, (before, after) in zip(spatial, amounts, strict=True):
            size = known(d)
            out.append(None if size is None else positive(size + sign * (before + after)))
        return spatial_join(batch, out, channels, first)

    return single(rule)


def upsampling(rank: int) -> Rule:
    def rule(config: Config, inputs: list[Shape | None]) -> Shape:
        first = channels_first(config)
        batch, spatial, channels = spatial_split(need(inputs[0], rank + 2), first)
        size = integers(config.get("size", 2), rank)
        out = [None if (length := known(d)) is None else positive(length * s) for d, s in zip(spatial, size, strict=True)]
        return spatial_join(batch, out, channels, first)

    return single(rule)


def image_size(config: Config, inputs: list[Shape | None]) -> Shape:
    """Resizing, CenterCrop, RandomCrop: the two image axes become (height, width)."""
    shape = need(inputs[0], at_least=3)
    size = (integer(config.get("height")), integer(config.get("width")))
    if channels_first(config):
        return (*shape[:-2], *size)
    return (*shape[:-3], *size, shape[-1])


def batch_of(shapes: list[Shape]) -> Dim:
    """The batch dimension the inputs agree on, else unknown."""
    found = {s[0] for s in shapes if s and s[0] is not None}
    return found.pop() if len(found) == 1 else None


def broadcast(a: Shape, b: Shape) -> Shape:
    """Keras' ``_compute_elemwise_op_output_shape`` on two shapes without their batch axis."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return a
    out = list(a[: len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b) :], b, strict=True):
        if known(i) is None or known(j) is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise NoShape(f"cannot broadcast {i} and {j}")
    return tuple(out)


def merge(config: Config, inputs: list[Shape | None]) -> Shape:
    shapes = [need(s) for s in inputs]
    if not shapes:
        raise NoShape("no inputs")
    out = shapes[0][1:]
    for shape in shapes[1:]:
        out = broadcast(out, shape[1:])
    return (batch_of(shapes), *out)


def concatenate(config: Config, inputs: list[Shape | None]) -> Shape:
    shapes = [need(s) for s in inputs]
    if not shapes or len({len(s) for s in shapes}) != 1:
        raise NoShape("inputs of different ranks")
    rank = len(shapes[0])
    axis = integer(config.get("axis", -1))
    if not -rank <= axis < rank or axis % rank == 0:
        raise NoShape(f"axis {axis}")
    axis %= rank
    out: list[Dim] = [batch_of(shapes)]
    for i in range(1, rank):
        dims = [known(s[i]) for s in shapes]
        if i == axis:
            out.append(None if None in dims else sum(d for d in dims if d is not None))
        else:
            out.append(next((d for d in dims if d is not None), None))
    return tuple(out)


def dot(config: Config, inputs: list[Shape | None]) -> Shape:
    if len(inputs) != 2:
        raise NoShape("Dot takes two inputs")
    a, b = list(need(inputs[0], at_least=2)), list(need(inputs[1], at_least=2))
    axes = config.get("axes")
    pair: tuple[int, ...]
    if isinstance(axes, int) and not isinstance(axes, bool):
        pair = (axes % len(a), axes % len(b)) if axes < 0 else (axes, axes)
    else:
        pair = integers(axes, 2)
    if not all(-len(s) <= x < len(s) and x % len(s) != 0 for s, x in zip((a, b), pair, strict=True)):
        raise NoShape(f"axes {axes!r}")
    a.pop(pair[0])
    b.pop(pair[1])
    out = a + b[1:]
    return tuple([*out, 1] if len(out) == 1 else out)


def embedding(config: Config, inputs: list[Shape | None]) -> Shape:
    shape = need(inputs[0])
    length = config.get("input_length")  # Keras 2: fixes an unknown sequence length
    if len(shape) == 2 and shape[1] is None and isinstance(length, int) and not isinstance(length, bool):
        shape = (shape[0], length)
    return (*shape, integer(config.get("output_dim")))


RNN_STATES = {"LSTM": 2, "CuDNNLSTM": 2, "GRU": 1, "CuDNNGRU": 1, "SimpleRNN": 1}
CELL_STATES = {"LSTMCell": 2, "GRUCell": 1, "SimpleRNNCell": 1}


def recurrent(config: Config, inputs: list[Shape | None], units: int, states: int) -> list[Shape | None]:
    shape = need(inputs[0], 3)
    time_major = bool(config.get("time_major", False))
    batch, steps = (shape[1], shape[0]) if time_major else (shape[0], shape[1])
    if config.get("return_sequences", False):
        out: Shape = (steps, batch, units) if time_major else (batch, steps, units)
    else:
        out = (batch, units)
    state: Shape = (batch, units)
    return [out, *([state] * states if config.get("return_state", False) else [])]


def rnn_layer(states: int) -> Rule:
    return lambda config, inputs: recurrent(config, inputs, integer(config.get("units")), states)


def rnn_with_cell(config: Config, inputs: list[Shape | None]) -> list[Shape | None]:
    """``keras.layers.RNN`` around an LSTMCell/GRUCell/SimpleRNNCell, or a stack of them."""
    cell = config.get("cell")
    cells = cell if isinstance(cell, list) else [cell]
    if isinstance(cell, dict) and cell.get("class_name") == "StackedRNNCells":
        cells = (cell.get("config") or {}).get("cells") or []
    units, states = None, 0
    for item in cells:
        if not isinstance(item, dict) or item.get("class_name") not in CELL_STATES:
            raise NoShape("unknown RNN cell")
        units = integer((item.get("config") or {}).get("units"))
        states += CELL_STATES[item["class_name"]]
    if units is None:
        raise NoShape("no RNN cell")
    return recurrent(config, inputs, units, states)


def conv_lstm(rank: int) -> Rule:
    def rule(config: Config, inputs: list[Shape | None]) -> list[Shape | None]:
        shape = need(inputs[0], rank + 3)
        first = channels_first(config)
        steps = shape[1]
        batch, spatial, _ = spatial_split((shape[0], *shape[2:]), first)
        kernel = integers(config.get("kernel_size"), rank)
        strides = integers(config.get("strides", 1), rank)
        dilation = integers(config.get("dilation_rate", 1), rank)
        padding = padding_of(config)
        out = [conv_length(d, k, s, r, padding) for d, k, s, r in zip(spatial, kernel, strides, dilation, strict=True)]
        step = spatial_join(batch, out, integer(config.get("filters")), first)
        result: Shape = (batch, steps, *step[1:]) if config.get("return_sequences", False) else step
        return [result, *([step] * 2 if config.get("return_state", False) else [])]

    return rule


def attention(config: Config, inputs: list[Shape | None]) -> list[Shape | None]:
    """Attention, AdditiveAttention: [query, value, key]; scores are the optional second output."""
    query, value = need(inputs[0], 3), need(inputs[1] if len(inputs) > 1 else None, 3)
    return [(*query[:-1], value[-1]), (query[0], query[1], value[1])]


def multi_head_attention(config: Config, inputs: list[Shape | None]) -> list[Shape | None]:
    query = need(inputs[0], at_least=3)
    raw = config.get("output_shape")
    if raw is None:
        out = query
    elif isinstance(raw, int) and not isinstance(raw, bool):
        out = (*query[:-1], raw)
    elif isinstance(raw, (list, tuple)):
        out = (*query[:-1], *(integer(d) for d in raw))
    else:
        raise NoShape(f"output_shape {raw!r}")
    outputs: list[Shape | None] = [out]
    value = inputs[1] if len(inputs) > 1 else None
    if config.get("attention_axes") is None and len(query) == 3 and value is not None and len(value) == 3:
        outputs.append((query[0], integer(config.get("num_heads")), query[1], value[1]))
    return outputs


def inner_layer(config: Config, key: str = "layer") -> tuple[str, Config]:
    layer = config.get(key)
    if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str) or not isinstance(layer.get("config"), dict):
        raise NoShape(f"no wrapped {key}")
    module = layer.get("module")
    if not is_keras_module(module if isinstance(module, str) else None):
        raise NoShape("wrapped layer is not a Keras class")
    return layer["class_name"], layer["config"]


def bidirectional(config: Config, inputs: list[Shape | None], depth: int) -> list[Shape | None]:
    forward = layer_outputs(*inner_layer(config), inputs[:1], depth + 1)
    backward = layer_outputs(*inner_layer(config, "backward_layer"), inputs[:1], depth + 1) if config.get("backward_layer") else forward
    if not forward or not backward or forward[0] is None or backward[0] is None:
        raise NoShape("wrapped layer's shape unknown")
    mode = config.get("merge_mode", "concat")
    if mode == "concat":
        last = [known(forward[0][-1]), known(backward[0][-1])]
        merged: list[Shape | None] = [(*forward[0][:-1], None if None in last else sum(d for d in last if d is not None))]
    elif mode in ("sum", "ave", "mul"):
        merged = [forward[0]]
    elif mode is None:
        merged = [forward[0], backward[0]]
    else:
        raise NoShape(f"merge_mode {mode!r}")
    return [*merged, *forward[1:], *backward[1:]]


def time_distributed(config: Config, inputs: list[Shape | None], depth: int) -> list[Shape | None]:
    shape = need(inputs[0], at_least=3)
    inner = layer_outputs(*inner_layer(config), [(shape[0], *shape[2:])], depth + 1)
    if not inner or inner[0] is None:
        raise NoShape("wrapped layer's shape unknown")
    return [(shape[0], shape[1], *inner[0][1:])]


PRESERVING = (
    "Activation ReLU LeakyReLU PReLU ELU Softmax ThresholdedReLU "
    "BatchNormalization LayerNormalization GroupNormalization UnitNormalization Normalization "
    "Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D GaussianNoise GaussianDropout AlphaDropout "
    "ActivityRegularization Masking Rescaling Identity "
    "RandomFlip RandomRotation RandomZoom RandomTranslation RandomContrast RandomBrightness"
).split()

RULES: dict[str, Rule] = {
    **{name: single(preserve) for name in PRESERVING},
    "Conv1D": conv(1),
    "Conv2D": conv(2),
    "Conv3D": conv(3),
    "SeparableConv1D": conv(1),
    "SeparableConv2D": conv(2),
    "DepthwiseConv1D": conv(1, "depthwise"),
    "DepthwiseConv2D": conv(2, "depthwise"),
    "Conv1DTranspose": conv(1, "transpose"),
    "Conv2DTranspose": conv(2, "transpose"),
    "Conv3DTranspose": conv(3, "transpose"),
    "Dense": single(dense),
    **{f"{kind}Pooling{n}D": pool(n) for kind in ("Max", "Average") for n in (1, 2, 3)},
    **{f"Global{kind}Pooling{n}D": global_pool(n) for kind in ("Max", "Average") for n in (1, 2, 3)},
    "Flatten": single(flatten),
    "Reshape": single(reshape),
    "Permute": single(permute),
    "RepeatVector": single(repeat_vector),
    **{f"ZeroPadding{n}D": resize_spatial(n, "padding", 1) for n in (1, 2, 3)},
    **{f"Cropping{n}D": resize_spatial(n, "cropping", -1) for n in (1, 2, 3)},
    **{f"UpSampling{n}D": upsampling(n) for n in (1, 2, 3)},
    "Resizing": single(image_size),
    "CenterCrop": single(image_size),
    "RandomCrop": single(image_size),
    **{name: single(merge) for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")},
    "Concatenate": single(concatenate),
    "Dot": single(dot),
    "Embedding": single(embedding),
    **{name: rnn_layer(states) for name, states in RNN_STATES.items()},
    "RNN": rnn_with_cell,
    "ConvLSTM1D": conv_lstm(1),
    "ConvLSTM2D": conv_lstm(2),
    "ConvLSTM3D": conv_lstm(3),
    "Attention": attention,
    "AdditiveAttention": attention,
    "MultiHeadAttention": multi_head_attention,
}

MAX_WRAPPING = 8  # TimeDistributed(Bidirectional(...)) nests; a hostile file could nest without end


def layer_outputs(class_name: str, config: Config, inputs: list[Shape | None], depth: int = 0) -> list[Shape | None]:
    """The output shapes of one call of a Keras layer class; raises NoShape where they are not known."""
    if depth > MAX_WRAPPING:
        raise NoShape("wrappers nest too deeply")
    if class_name == "Bidirectional":
        return bidirectional(config, inputs, depth)
    if class_name == "TimeDistributed":
        return time_distributed(config, inputs, depth)
    rule = RULES.get(class_name)
    if rule is None:
        raise NoShape(f"no shape rule for {class_name}")
    return rule(config, inputs)


# -- dtypes ----------------------------------------------------------------------------------
def compute_dtype(config: Config) -> str | None:
    """The dtype a layer computes in, from its ``dtype`` (a name or a Keras 3 DTypePolicy)."""
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if not isinstance(dtype, str):
        return None
    dtype = dtype.rsplit("_from_", 1)[-1]  # quantized policies: "int8_from_mixed_bfloat16"
    dtype = dtype.removeprefix("mixed_")
    return dtype if lookup_dtype(dtype) is not None else None


def output_dtype(config: Config, inputs: list[Value]) -> str | None:
    """The layer's compute dtype where its config states one, else its first input's."""
    return compute_dtype(config) or (inputs[0].type.dtype if inputs else None)


# -- the graph ---------------------------------------------------------------------------------
class LayerCall:
    """One call of a layer node: the values it took and gave."""

    __slots__ = ("class_name", "config", "inputs", "outputs")

    def __init__(self, class_name: str, config: Config, inputs: list[Value], outputs: list[Value]) -> None:
        self.class_name = class_name
        self.config = config
        self.inputs = inputs
        self.outputs = outputs


def layer_calls(node: Node, class_name: str, config: Config) -> list[LayerCall]:
    """A node's calls: input port ``inputs``/``callK`` with output port ``output``/``output@K``."""
    ports_in = {p.name: p for p in node.inputs}
    calls = []
    for k, port in enumerate(p for p in node.outputs if p.name == "output" or p.name.startswith("output@")):
        taken: Port | None = ports_in.get("inputs" if k == 0 else f"call{k}")
        calls.append(LayerCall(class_name, config, list(taken.values) if taken else [], list(port.values)))
    return calls


def infer_shapes(graph: Graph, layers: dict[Node, tuple[str, Config]]) -> None:
    """Fill the type of every layer output the file leaves unknown, calls in dependency order.

    ``layers`` gives the class name and saved config of the nodes that are Keras classes.
    A shape the file states (Keras 3 records the tensors a call consumed) is kept.
    """
    calls = [call for node, (name, config) in layers.items() for call in layer_calls(node, name, config)]
    producer: dict[int, int] = {id(v): i for i, call in enumerate(calls) for v in call.outputs}
    waiting = [0] * len(calls)
    consumers: dict[int, list[int]] = {}
    for i, call in enumerate(calls):
        for source in {producer[id(v)] for v in call.inputs if id(v) in producer}:
            waiting[i] += 1
            consumers.setdefault(source, []).append(i)
    ready = deque(i for i, n in enumerate(waiting) if n == 0)
    while ready:  # calls in a cycle (not possible in a saved model) stay unknown
        i = ready.popleft()
        apply(calls[i])
        for j in consumers.get(i, ()):
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)


def apply(call: LayerCall) -> None:
    if all(v.type.shape is not None for v in call.outputs):
        return
    try:
        shapes = layer_outputs(call.class_name, call.config, [v.type.shape for v in call.inputs])
    except (NoShape, ArithmeticError, TypeError, ValueError, IndexError, KeyError, AttributeError):
        return
    dtype = output_dtype(call.config, call.inputs)
    for value, shape in zip(call.outputs, shapes, strict=False):
        if value.type.shape is None and shape is not None:
            value.type = TensorType(value.type.dtype or dtype, tuple(shape), value.type.denotation, INFERRED)
