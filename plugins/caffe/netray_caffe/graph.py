"""Build the netray graph of a Caffe net from its layers.

Caffe names blobs, and a layer may write a blob it reads (``ReLU`` in place after a
convolution) or one another layer already wrote. Each write makes a new version of the
blob (``conv1``, then ``conv1#1``), so edges follow the data and in-place layers make no
cycles. Layers limited to a phase (``include { phase: TRAIN }``) are all shown, like
Netron shows them, marked with a ``phase`` attribute; versions are tracked per phase, so a
TEST-only data layer and a TRAIN-only one that write the same ``data`` blob both feed the
layers that read it, and a TEST-only layer never reads what a TRAIN-only one wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netray import Attribute, AttrKind, Graph, Node, Port, Tensor, TensorType, Value
from netray_caffe.attributes import layer_attributes
from netray_caffe.layers import PHASES, Blob, Layer, texts
from netray_caffe.operators import category
from netray_caffe.shapes import MaybeShape, infer, param_shapes

ALL_PHASES = frozenset(PHASES)
BLOB_DTYPE = "float32"  # Caffe's blobs are float in every released build; the files state no type

# Names of a layer type's learned blobs, in the order Caffe stores them.
BLOB_NAMES: dict[str, tuple[str, ...]] = {
    "Convolution": ("weight", "bias"),
    "Deconvolution": ("weight", "bias"),
    "InnerProduct": ("weight", "bias"),
    "Embed": ("weight", "bias"),
    "BatchNorm": ("mean", "variance", "scale_factor"),
    "Scale": ("scale", "bias"),
    "Bias": ("bias",),
    "PReLU": ("slope",),
    "Normalize": ("scale",),
    "LSTM": ("W_xc", "b_c", "W_hc"),
    "RNN": ("W_xh", "b_h", "W_hh", "W_ho", "b_o"),
}


@dataclass
class NetInput:
    """A blob the net states as an input (``input``/``input_shape``/``input_dim`` or an Input layer)."""

    name: str
    shape: MaybeShape
    layer: str = ""


@dataclass
class Weights:
    """Learned blobs to attach, by layer name, and whether a weights file was read at all."""

    by_layer: dict[str, list[Blob]] = field(default_factory=dict)
    available: bool = False  # False: the learned blobs are shown as not stored
    source: str = ""


class _Blobs:
    """The current versions of every blob, each with the phases in which it is current."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.versions: dict[str, list[tuple[Value, frozenset[str]]]] = {}
        self.writes: dict[str, int] = {}

    def write(self, blob: str, phases: frozenset[str], shape: MaybeShape, writer: str) -> Value:
        count = self.writes.get(blob, 0)
        name = blob if count == 0 else f"{blob}#{count}"
        while name in self.graph.values:
            count += 1
            name = f"{blob}#{count}"
        self.writes[blob] = count + 1
        value = self.graph.value(name, TensorType(BLOB_DTYPE, shape))
        if name != blob:
            value.description = f"blob {blob!r} as written by {writer!r}"
            value.metadata["blob"] = blob
        kept = [(v, p - phases) for v, p in self.versions.get(blob, []) if p - phases]
        self.versions[blob] = [*kept, (value, phases)]
        return value

    def read(self, blob: str, phases: frozenset[str]) -> list[Value]:
        return [v for v, p in self.versions.get(blob, []) if p & phases]


def _unique(graph: Graph, name: str) -> str:
    if name not in graph.values:
        return name
    k = 1
    while f"{name}#{k}" in graph.values:
        k += 1
    return f"{name}#{k}"


def _weight_values(graph: Graph, layer: Layer, inputs: list[MaybeShape], weights: Weights) -> list[Port]:
    """Ports holding the layer's learned blobs: read from the weights file, or shown as not stored."""
    names = BLOB_NAMES.get(layer.type, ())
    blobs = layer.blobs or weights.by_layer.get(layer.name, [])
    ports = []
    if blobs:
        for k, blob in enumerate(blobs):
            port = names[k] if k < len(names) else f"blob{k}"
            name = _unique(graph, f"{layer.name}.{port}")
            tensor = Tensor(name, blob.dtype, blob.shape, blob.loader, blob.byte_size, location=blob.location)
            if blob.note:
                tensor.metadata["note"] = blob.note
            graph.values[name] = Value(name, TensorType(blob.dtype, blob.shape), initializer=tensor)
            ports.append(Port(port, [graph.values[name]]))
        return ports
    for port, shape in param_shapes(layer, inputs):
        name = _unique(graph, f"{layer.name}.{port}")
        where = "the weights file has no blobs for this layer" if weights.available else "no .caffemodel was read"
        tensor = Tensor(name, BLOB_DTYPE, shape, None, location=where)
        graph.values[name] = Value(name, TensorType(BLOB_DTYPE, shape), initializer=tensor)
        ports.append(Port(port, [graph.values[name]]))
    return ports


def _port_names(prefix: str, count: int) -> list[str]:
    return [prefix] if count == 1 else [f"{prefix}{i}" for i in range(count)]


def _phase_attributes(layer: Layer) -> list[Attribute]:
    out = []
    if layer.phases != ALL_PHASES:
        out.append(
            Attribute("phase", AttrKind.STRING, "/".join(sorted(layer.phases)) or "never (excluded from both phases)")
        )
    if any(
        not rule.endswith(PHASES) for rule in layer.rules
    ):  # stage or level rules; phase ones say no more than phase
        out.append(Attribute("rules", AttrKind.STRINGS, list(layer.rules)))
    return out


def build_graph(name: str, inputs: list[NetInput], layers: list[Layer], weights: Weights, path: Path) -> Graph:
    """The main graph: net inputs, one node per layer (Input layers become inputs), outputs."""
    graph = Graph(name, "main")
    blobs = _Blobs(graph)
    for net_input in inputs:
        value = blobs.write(net_input.name, ALL_PHASES, net_input.shape, net_input.layer or "the net")
        if net_input.layer:
            value.metadata["layer"] = net_input.layer
        graph.inputs.append(value)
    for layer in layers:
        if layer.type == "Input" and not layer.bottoms:
            for top, shape in zip(layer.tops, infer(layer, []), strict=True):
                value = blobs.write(top, layer.phases, shape, layer.name)
                value.metadata["layer"] = layer.name
                graph.inputs.append(value)
            continue
        in_ports = []
        in_shapes: list[MaybeShape] = []
        for port_name, bottom in zip(_port_names("bottom", len(layer.bottoms)), layer.bottoms, strict=True):
            values = blobs.read(bottom, layer.phases)
            if not values:  # read before any layer wrote it: an input the net does not declare
                value = blobs.write(bottom, ALL_PHASES, None, "the net")
                graph.inputs.append(value)
                values = [value]
            in_ports.append(Port(port_name, values))
            in_shapes.append(next((_int_shape(v.type.shape) for v in values if v.type.shape is not None), None))
        in_ports += _weight_values(graph, layer, in_shapes, weights)
        out_ports = []
        for port_name, top, shape in zip(
            _port_names("top", len(layer.tops)), layer.tops, infer(layer, in_shapes), strict=True
        ):
            out_ports.append(Port(port_name, [blobs.write(top, layer.phases, shape, layer.name)]))
        node = Node(
            layer.type or "(no type)",
            layer.name,
            inputs=in_ports,
            outputs=out_ports,
            attributes=[*_phase_attributes(layer), *layer_attributes(layer.message)],
            category=category(layer.type),
            scope=tuple(part for part in layer.name.split("/")[:-1] if part),
        )
        if layer.phases != ALL_PHASES:
            node.metadata["phase"] = "/".join(sorted(layer.phases))
        if layer.syntax != 2:
            node.metadata["syntax"] = "V1 layers" if layer.syntax == 1 else "V0"
        graph.add_node(node)
    graph.link()
    for node in graph.nodes:  # outputs: the final versions nothing reads
        for value in node.output_values():
            if not value.consumers and value not in graph.outputs:
                graph.outputs.append(value)
    return graph


def net_inputs(net: Any) -> list[NetInput]:
    """The net-level inputs: ``input`` names with ``input_shape`` (one each, or one for all) or ``input_dim`` (4 each)."""
    out = []
    shapes = list(net.input_shape)
    dims = list(net.input_dim)
    for i, name in enumerate(texts(net.input)):
        shape: MaybeShape = None
        if shapes:
            chosen = shapes[i] if i < len(shapes) else None
            shape = tuple(int(d) for d in chosen.dim) if chosen is not None else None
        elif len(dims) >= 4 * (i + 1):
            shape = tuple(int(d) for d in dims[4 * i : 4 * i + 4])
        if shape is not None and any(d is None or d < 0 for d in shape):
            shape = None
        out.append(NetInput(name, shape))
    return out


def _int_shape(shape: tuple[int | str | None, ...] | None) -> MaybeShape:
    """A blob's shape for Caffe's shape rules: named dimensions (none in Caffe files) are unknown."""
    if shape is None:
        return None
    return tuple(d if isinstance(d, int) else None for d in shape)
