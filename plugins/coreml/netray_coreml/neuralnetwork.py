"""NeuralNetwork, NeuralNetworkClassifier and NeuralNetworkRegressor models as netray graphs.

Each layer is a node whose op is the name of the layer's oneof member (``convolution``,
``innerProduct``, ``activation`` ...). Layers read and write named blobs; the model's input and
output features are blobs of the same names. A layer's parameters become attributes by their
schema names, its ``WeightParams`` lazy tensors on ports named after their fields (``weights``,
``bias``, ``gamma`` ...) with the shapes the layer's parameters imply. Image preprocessing
(``scaler``, ``meanImage``) becomes a node in front of the layers that read the image; a
classifier gets a ``classifier`` node that turns the probabilities into the predicted label.
Control-flow layers (``loop``, ``branch``) hold their bodies as subgraphs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from netray import Attribute, AttrKind, Graph, Node, Port, Tensor, TensorType
from netray_coreml import messages
from netray_coreml.implicit import capture
from netray_coreml.operators import NN_DOMAIN, category
from netray_coreml.weights import WeightSource, weight_tensor

NETWORK = "CoreML.Specification.NeuralNetwork"
WEIGHTS = "CoreML.Specification.WeightParams"
LSTM_WEIGHTS = "CoreML.Specification.LSTMWeightParams"
MAX_NESTING = 16  # loops inside loops: deeper is hostile

Shapes = list[list[int]]


def _conv(p: Any, field: str) -> Shapes:
    out, kc, groups = int(p.outputChannels), int(p.kernelChannels), max(int(p.nGroups), 1)
    kernel = [int(k) for k in p.kernelSize] or [3, 3]
    if field == "bias":
        return [[out]]
    return [[kc, out // groups, *kernel]] if p.isDeconvolution else [[out, kc, *kernel]]


def _conv3d(p: Any, field: str) -> Shapes:
    out, kc, groups = int(p.outputChannels), int(p.inputChannels), max(int(p.nGroups), 1)
    kernel = [int(p.kernelDepth), int(p.kernelHeight), int(p.kernelWidth)]
    if field == "bias":
        return [[out]]
    return [[out // groups, kc, *kernel]] if p.isDeconvolution else [[out, kc // groups, *kernel]]


def _matrix(rows: str, cols: str) -> Callable[[Any, str], Shapes]:
    def shapes(p: Any, field: str) -> Shapes:
        if field.endswith("bias") or field.endswith("Vector"):
            return [[int(getattr(p, rows))]]
        return [[int(getattr(p, rows)), int(getattr(p, cols))]]

    return shapes


def _recurrent(p: Any, field: str) -> Shapes:
    out, inp = int(p.outputVectorSize), int(p.inputVectorSize)
    if field.endswith("Vector"):
        return [[out]]
    if "Recursion" in field:
        return [[out, out]]
    return [[out, inp]]


def _batched_matmul(p: Any, field: str) -> Shapes:
    first, second = int(p.weightMatrixFirstDimension), int(p.weightMatrixSecondDimension)
    # Stored column-major as [X1, X2]: in row-major order that is [X2, X1].
    return [[second]] if field == "bias" else [[second, first]]


def _by_field(*names: str) -> Callable[[Any, str], Shapes]:
    """Each weight's shape is a repeated field of the parameters (``shapeScale`` for ``scale``)."""

    def shapes(p: Any, field: str) -> Shapes:
        for name in names:
            if name.startswith(field + ":"):
                return [[int(d) for d in getattr(p, name.split(":", 1)[1])]]
        return []

    return shapes


_SHAPES: dict[str, Callable[[Any, str], Shapes]] = {
    "convolution": _conv,
    "convolution3d": _conv3d,
    "innerProduct": _matrix("outputChannels", "inputChannels"),
    "embedding": _matrix("outputChannels", "inputDim"),
    "embeddingND": _matrix("embeddingSize", "vocabSize"),
    "batchnorm": lambda p, field: [[int(p.channels)]],
    "layerNormalization": lambda p, field: [[int(d) for d in p.normalizedShape]],
    "scale": _by_field("scale:shapeScale", "bias:shapeBias"),
    "bias": _by_field("bias:shape"),
    "loadConstant": _by_field("data:shape"),
    "loadConstantND": _by_field("data:shape"),
    "simpleRecurrent": _recurrent,
    "gru": _recurrent,
    "uniDirectionalLSTM": _recurrent,
    "biDirectionalLSTM": _recurrent,
    "batchedMatmul": _batched_matmul,
}


def _weight_fields(message: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str, Any]]:
    """(port name, field name, WeightParams) for every weight in a layer's parameters."""
    if depth > 4:
        return
    for field, value in message.ListFields():
        kind = field.message_type.full_name if field.message_type is not None else ""
        repeated = messages._is_repeated(field)
        if kind == WEIGHTS:
            items = list(enumerate(value)) if repeated else [(None, value)]
            for index, item in items:
                yield prefix + field.name + ("" if index is None else f"[{index}]"), field.name, item
        elif kind == LSTM_WEIGHTS or (kind and kind != NETWORK and not field.message_type.GetOptions().map_entry):
            items = list(enumerate(value)) if repeated else [(None, value)]
            for index, item in items:
                inner = prefix + field.name + ("" if index is None else f"[{index}]") + "."
                # Singular nesting keeps the short name (an activation's PReLU.alpha is "alpha").
                yield from _weight_fields(item, inner if repeated else prefix, depth + 1)


def _networks(message: Any) -> Iterator[tuple[str, Any]]:
    """Nested networks of control-flow layers (loop bodies, branches)."""
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.full_name == NETWORK:
            yield field.name, value


def _tensor_type(tensor: Any) -> TensorType | None:
    """A layer's ``inputTensor``/``outputTensor`` entry (rank and dims; 0 means unknown)."""
    dims = [int(d) for d in tensor.dimValue]
    if dims:
        return TensorType(None, tuple(d if d > 0 else None for d in dims))
    if tensor.rank:
        return TensorType(None, (None,) * int(tensor.rank))
    return None


class NetworkBuilder:
    """Fills a graph from a network's layers; one builder per model (nested networks share it)."""

    def __init__(self, location: str, source: WeightSource | None = None) -> None:
        self.location = location
        self.source = source
        self.layers = 0

    def build(self, graph: Graph, network: Any, rename: dict[str, str] | None = None, depth: int = 0) -> None:
        rename = rename or {}
        for layer in network.layers:
            self.layers += 1
            graph.add_node(self._layer(graph, layer, rename, depth))

    def _layer(self, graph: Graph, layer: Any, rename: dict[str, str], depth: int) -> Node:
        op = layer.WhichOneof("layer") or "unknown"
        params = getattr(layer, op) if op != "unknown" else None
        names = list(layer.input)
        inputs = [Port(_port("input", k, len(names)), [graph.value(rename.get(n, n))]) for k, n in enumerate(names)]
        outputs = [Port(_port("output", k, len(layer.output)), [graph.value(n)]) for k, n in enumerate(layer.output)]
        for port, tensor in zip(inputs, layer.inputTensor, strict=False):
            _set_type(port.values[0], _tensor_type(tensor))
        for port, tensor in zip(outputs, layer.outputTensor, strict=False):
            _set_type(port.values[0], _tensor_type(tensor))
        attributes: list[Attribute] = []
        subgraphs: list[Graph] = []
        if params is not None:
            attributes = _lead(op, messages.attributes(params, skip=frozenset({NETWORK})))
            inputs += self._weights(graph, layer, op, params)
            if depth < MAX_NESTING:
                for field, network in _networks(params):
                    sub = Graph(f"{layer.name}/{field}", "subgraph")
                    self.build(sub, network, rename, depth + 1)
                    sub.link()
                    subgraphs.append(sub)
                captured = capture(graph, subgraphs)
                if captured is not None:
                    inputs.append(captured)
        if layer.isUpdatable:
            attributes.append(Attribute("isUpdatable", AttrKind.BOOL, True))
        return Node(op, layer.name, NN_DOMAIN, inputs, outputs, attributes, subgraphs, category=category(NN_DOMAIN, op))

    def _weights(self, graph: Graph, layer: Any, op: str, params: Any) -> list[Port]:
        shapes_of = _SHAPES.get(op)
        ports: list[Port] = []
        for port_name, field, weights in _weight_fields(params):
            try:
                shapes = shapes_of(params, field) if shapes_of else []
            except (ValueError, ZeroDivisionError, OverflowError):
                shapes = []
            name = f"{layer.name}/{port_name}"
            tensor = weight_tensor(name, weights, shapes, self.location, self.source)
            if tensor is None:
                continue
            value = graph.value(name, TensorType(tensor.dtype, tensor.shape))
            value.initializer = tensor
            ports.append(Port(port_name, [value]))
        return ports


# Attributes a box shows first (it has room for a few lines): what tells the layers apart.
_LEAD: dict[str, tuple[str, ...]] = {
    "convolution": ("kernelSize", "stride", "ConvolutionPaddingType", "outputChannels"),
    "pooling": ("type", "kernelSize", "stride", "PoolingPaddingType"),
    "innerProduct": ("outputChannels", "inputChannels"),
}


def _lead(op: str, attributes: list[Attribute]) -> list[Attribute]:
    first = _LEAD.get(op)
    if not first:
        return attributes
    rank = {name: k for k, name in enumerate(first)}
    return sorted(attributes, key=lambda a: rank.get(a.name, len(rank)))


def _port(base: str, index: int, count: int) -> str:
    return base if count == 1 else f"{base}{index}"


def _set_type(value: Any, tensor_type: TensorType | None) -> None:
    if tensor_type is not None and value.type.shape is None:
        value.type = TensorType(value.type.dtype, tensor_type.shape, value.type.denotation)


def preprocessing(graph: Graph, network: Any, image_inputs: Sequence[str], location: str) -> dict[str, str]:
    """Nodes for image preprocessing; returns feature name -> the preprocessed blob's name."""
    rename: dict[str, str] = {}
    for step in network.preprocessing:
        kind = step.WhichOneof("preprocessor")
        feature = step.featureName or (image_inputs[0] if len(image_inputs) == 1 else "")
        if not kind or not feature:
            continue
        source = graph.value(feature)
        target = graph.value(f"{feature}:{kind}", TensorType(source.type.dtype and "float32", source.type.shape))
        params = getattr(step, kind)
        inputs = [Port("input", [source])]
        attributes = messages.attributes(params)
        if kind == "meanImage" and len(params.meanImage):
            values = params.meanImage
            shape = (
                source.type.shape if source.type.shape and _known(source.type.shape, len(values)) else (len(values),)
            )
            tensor = Tensor(f"{feature}/meanImage", "float32", shape, _float_loader(list(values), shape), 4 * len(values), location)
            weight = graph.value(tensor.name, TensorType("float32", shape))
            weight.initializer = tensor
            inputs.append(Port("meanImage", [weight]))
            attributes = [a for a in attributes if a.name != "meanImage"]
        graph.add_node(
            Node(
                kind,
                f"{feature} {kind}",
                NN_DOMAIN,
                inputs,
                [Port("output", [target])],
                attributes,
                category=category(NN_DOMAIN, kind),
            )
        )
        rename[feature] = target.name
    return rename


def _known(shape: tuple[Any, ...], count: int) -> bool:
    if not all(isinstance(d, int) for d in shape):
        return False
    return int(np.prod(shape)) == count


def classifier(graph: Graph, network: Any, description: Any) -> None:
    """The classifier head: reads the probabilities, writes the predicted label (and what no layer writes)."""
    labels_kind = network.WhichOneof("ClassLabels")
    labels: list[Any] = list(getattr(network, labels_kind).vector) if labels_kind else []
    produced = {v.name for node in graph.nodes for port in node.outputs for v in port.values}
    source = (
        network.labelProbabilityLayerName
        or next((v.name for port in reversed(graph.nodes[-1].outputs) for v in port.values), "")
        if graph.nodes
        else network.labelProbabilityLayerName
    )
    outputs = [f.name for f in description.output if f.name not in produced]
    if not outputs and not labels:
        return
    attributes = [Attribute("classes", AttrKind.INT, len(labels))]
    listed = Attribute.of("classLabels", labels[: messages.MAX_LIST])
    if listed is not None and labels:
        attributes.append(listed)
    if network.labelProbabilityLayerName:
        attributes.append(Attribute("labelProbabilityLayerName", AttrKind.STRING, network.labelProbabilityLayerName))
    inputs = [Port("probabilities", [graph.value(source)])] if source else []
    graph.add_node(
        Node(
            "classifier",
            "classifier",
            NN_DOMAIN,
            inputs,
            [Port(_port("output", k, len(outputs)), [graph.value(n)]) for k, n in enumerate(outputs)],
            attributes,
            category=category(NN_DOMAIN, "classifier"),
        )
    )


def _float_loader(values: list[float], shape: tuple[Any, ...]) -> Callable[[], np.ndarray]:
    """Values the protobuf holds inline, as float32 in ``shape``."""
    return lambda: np.array(values, dtype=np.float32).reshape(shape)
