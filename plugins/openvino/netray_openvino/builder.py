"""One IR graph (the net, or a control-flow body) -> a netray Graph.

Layers are visited in topological order. ``Parameter`` (IR v7 ``Input``) layers become graph
inputs and ``Result`` layers graph outputs (IR v7 has none: its outputs are the values nobody
reads). ``Const`` layers and the decompression chains over them become weights of their consumers
(see :mod:`netray_openvino.folding`); IR v7 blobs become weight inputs named ``weights``,
``biases``, ``custom``. Every other layer is a node whose box title is its type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netray import Attribute, AttrKind, FormatError, Graph, Node, Port, Tensor, TensorType, Value
from netray.ir import Shape, shape_text
from netray_openvino import elements, folding, operators, scopes
from netray_openvino.folding import Folded
from netray_openvino.formats import FORMAT
from netray_openvino.layers import BlobSpec, LayerSpec, NetSpec, PortSpec, non_negative, read_net, topological_order
from netray_openvino.scopes import ScopeCache
from netray_openvino.weights import WeightsFile

MAX_BODY_DEPTH = 16
CONSTANTS = frozenset({"Const", "Constant"})
INPUTS = frozenset({"Parameter", "Input"})
BODIES = {"body": "body", "then_body": "then", "else_body": "else"}
PORT_MAPS = ("port_map", "then_port_map", "else_port_map")
NOT_BOXES = CONSTANTS | INPUTS | {"Result", "Convert"}


@dataclass
class Context:
    """What the whole file's graphs share: the file, its weights, and what was found along the way."""

    path: Path
    weights: WeightsFile
    scopes: ScopeCache = field(default_factory=ScopeCache)
    layers: int = 0
    constants: int = 0
    folded: dict[str, int] = field(default_factory=dict)  # op type -> layers shown as part of a weight
    compressed: dict[str, int] = field(default_factory=dict)  # storage type -> weights decoded by a chain
    outside_bin: list[str] = field(default_factory=list)  # constants whose bytes lie past the .bin's end
    opsets: set[str] = field(default_factory=set)
    unused: dict[str, Tensor] = field(default_factory=dict)  # constants no layer reads
    inferred_shapes: int = 0  # IR v7 blobs whose shape came from their layer's attributes

    def fail(self, reason: str) -> FormatError:
        return FormatError(self.path, FORMAT, reason)


class GraphBuilder:
    """Builds one Graph from one NetSpec; bodies get builders of their own."""

    def __init__(self, ctx: Context, net: NetSpec, graph: Graph, where: str, depth: int = 0) -> None:
        self.ctx = ctx
        self.net = net
        self.graph = graph
        self.where = where
        self.depth = depth
        self.values: dict[tuple[str, str], Value | Folded] = {}
        self.sources = {(e.to_layer, e.to_port): (e.from_layer, e.from_port) for e in net.edges}
        self.read = {(e.from_layer, e.from_port) for e in net.edges}
        self.names: set[str] = set()
        # Names continued by other operations' names ("conv1" beside "conv1/relu"); constants and
        # the converts over them become weights, so their names make no groups.
        boxes = [layer.name for layer in net.layers.values() if layer.type not in NOT_BOXES]
        self.prefixes = scopes.prefixes(boxes)
        self.unread: list[Value] = []  # node outputs no edge reads: IR v7's graph outputs

    # --- the walk -------------------------------------------------------------------------
    def build(self) -> Graph:
        order = topological_order(self.ctx.path, self.net, self.where)
        self.ctx.layers += len(order)
        results = [layer for layer in order if layer.type == "Result"]
        for layer in order:
            if layer.version:
                self.ctx.opsets.add(layer.version)
            if layer.type in CONSTANTS:
                self.constant(layer)
            elif layer.type in INPUTS:
                self.parameter(layer)
            elif layer.type == "Result":
                self.result(layer)
            elif not self.try_fold(layer):
                self.graph.add_node(self.node(layer))
        if not results:  # IR v7 has no Result layers: what nobody reads is an output
            self.graph.outputs.extend(v for v in self.unread if v not in self.graph.outputs)
        for (layer_id, port_id), source in self.values.items():
            if (
                isinstance(source, Folded)
                and source.value is None
                and (layer_id, port_id) not in self.read
                and not source.layers
            ):
                self.ctx.unused[source.tensor.name] = source.tensor
        return self.graph.link()

    def source(self, layer: LayerSpec, port: PortSpec) -> Value | Folded | None:
        found = self.sources.get((layer.id, port.id))
        return self.values.get(found) if found is not None else None

    # --- names and types ------------------------------------------------------------------
    def unique(self, name: str) -> str:
        candidate, k = name, 1
        while candidate in self.names or candidate in self.graph.values:
            k += 1
            candidate = f"{name}#{k}"
        self.names.add(candidate)
        return candidate

    def value_name(self, layer: LayerSpec, port: PortSpec) -> str:
        """The port's first tensor name, else the layer's name (with the port id when it has several outputs)."""
        layer_name = layer.name if len(layer.outputs) == 1 else f"{layer.name}:{port.id}"
        for candidate in (*port.names[:1], layer_name):
            if candidate not in self.names and candidate not in self.graph.values:
                return self.unique(candidate)
        return self.unique(layer_name)

    @staticmethod
    def port_type(layer: LayerSpec, port: PortSpec) -> TensorType:
        dtype = elements.dtype_of(port.precision) or elements.dtype_of(layer.extra.get("precision"))
        return TensorType(dtype, port.shape)

    def new_value(self, layer: LayerSpec, port: PortSpec, type: TensorType | None = None) -> Value:
        value = self.graph.value(self.value_name(layer, port), type or self.port_type(layer, port))
        if len(port.names) > 1:
            value.metadata["names"] = list(port.names)
        value.metadata.update(port.rt_info)
        self.values[(layer.id, port.id)] = value
        return value

    # --- inputs, outputs, constants -------------------------------------------------------
    def parameter(self, layer: LayerSpec) -> None:
        if len(layer.outputs) != 1:
            raise self.ctx.fail(f"{self.where}: {layer.label()} has {len(layer.outputs)} outputs, not one")
        port = layer.outputs[0]
        dtype = elements.dtype_of(layer.data.get("element_type")) or self.port_type(layer, port).dtype
        shape = elements.shape_text_dims(layer.data["shape"]) if "shape" in layer.data else port.shape
        value = self.new_value(layer, port, TensorType(dtype, shape))
        if value.name != layer.name:
            value.metadata["layer"] = layer.name
        value.metadata.update(layer.rt_info)
        self.graph.inputs.append(value)

    def result(self, layer: LayerSpec) -> None:
        if len(layer.inputs) != 1:
            raise self.ctx.fail(f"{self.where}: {layer.label()} has {len(layer.inputs)} inputs, not one")
        source = self.source(layer, layer.inputs[0])
        if source is None:
            raise self.ctx.fail(f"{self.where}: {layer.label()} has no edge into it")
        value = self.weight_value(source) if isinstance(source, Folded) else source
        if value.name != layer.name and value not in self.graph.outputs:
            value.metadata["result"] = layer.name
        value.metadata.update(layer.rt_info)
        if value not in self.graph.outputs:
            self.graph.outputs.append(value)

    def constant(self, layer: LayerSpec) -> None:
        """A Const layer (IR v10+: ``<data element_type shape offset size>``; IR v7: a ``custom`` blob)."""
        if len(layer.outputs) != 1:
            raise self.ctx.fail(f"{self.where}: {layer.label()} has {len(layer.outputs)} outputs, not one")
        port = layer.outputs[0]
        self.ctx.constants += 1
        where = f"{self.where}: {layer.label()}"
        if "offset" in layer.data or "size" in layer.data:
            offset = non_negative(self.ctx.path, where, "offset", layer.data.get("offset"))
            size = non_negative(self.ctx.path, where, "size", layer.data.get("size"))
            type_text = layer.data.get("element_type") or port.precision
        elif layer.blobs:
            blob = layer.blobs[0]
            offset, size = blob.offset, blob.size
            type_text = blob.precision or port.precision or layer.extra.get("precision", "")
        else:
            raise self.ctx.fail(f"{where} says neither where its values are (offset and size) nor has a blob")
        dtype = elements.dtype_of(type_text) or elements.dtype_of(port.precision)
        shape = self.const_shape(layer, port, where)
        tensor = self.ctx.weights.tensor(layer.name, dtype, shape, offset, size, where)
        tensor.metadata.update(layer.rt_info)
        if self.ctx.weights.present and not self.ctx.weights.fits(offset, size):
            self.ctx.outside_bin.append(layer.name)
        out_type = TensorType(dtype or self.port_type(layer, port).dtype, shape)
        self.values[(layer.id, port.id)] = Folded(tensor, folding.value_name(layer.name), out_type)

    def const_shape(self, layer: LayerSpec, port: PortSpec, where: str) -> tuple[int, ...]:
        text = layer.data.get("shape")
        shape: Shape | None = elements.shape_text_dims(text) if text is not None else port.shape
        if shape is None or not all(isinstance(d, int) for d in shape):
            raise self.ctx.fail(f"{where}: a constant's shape must be static, not {shape_text(shape)}")
        return tuple(int(d) for d in shape)  # type: ignore[arg-type]

    def weight_value(self, folded: Folded) -> Value:
        """The Value a consumer reads for a constant (created once, with the decoding chain described)."""
        if folded.value is None:
            value = self.graph.value(self.unique(folded.name), folded.type)
            value.initializer = folded.tensor
            if folded.layers:
                value.metadata["folded layers"] = list(folded.layers)
                value.metadata["decoded by"] = " → ".join(folded.steps)
            folded.value = value
            for _, extra in folded.extras:
                self.weight_value(extra)
            quantization = folding.quantization(folded)
            if quantization is not None:
                folded.tensor.quantization = quantization
                dtype = folded.tensor.dtype or "?"
                self.ctx.compressed[dtype] = self.ctx.compressed.get(dtype, 0) + 1
        return folded.value

    def try_fold(self, layer: LayerSpec) -> bool:
        if (
            layer.type not in folding.CONVERTS
            and layer.type not in folding.DEQUANTIZE
            and layer.type not in folding.RESHAPES
        ):
            return False
        if len(layer.outputs) != 1 or layer.blobs:
            return False
        inputs: list[object] = [self.source(layer, port) for port in layer.inputs]
        folded = folding.fold(layer.type, layer.name, layer.data, inputs, self.port_type(layer, layer.outputs[0]))
        if folded is None:
            return False
        self.values[(layer.id, layer.outputs[0].id)] = folded
        self.ctx.folded[layer.type] = self.ctx.folded.get(layer.type, 0) + 1
        return True

    # --- operations -----------------------------------------------------------------------
    def node(self, layer: LayerSpec) -> Node:
        spec = operators.spec_for(layer.type)
        node = Node(
            layer.type,
            name=layer.name,
            domain=layer.version,
            category=operators.category_of(layer.type, layer.version),
            scope=self.ctx.scopes.of(layer.name, layer.name in self.prefixes),
            attributes=attributes(layer.data),
        )
        sources = [self.source(layer, port) for port in layer.inputs]
        # A decoded weight's scale and zero point are ports "scale", "zero_point" (or "B.scale" ... when
        # two inputs are decoded): short enough to read in the box.
        decoded = sum(1 for s in sources if isinstance(s, Folded) and s.extras)
        for k, source in enumerate(sources):
            name = operators.input_name(spec, k, len(layer.inputs))
            if source is None:
                node.inputs.append(Port(name))
            elif isinstance(source, Folded):
                node.inputs.append(Port(name, [self.weight_value(source)]))
                for role, extra in source.extras:
                    node.inputs.append(Port(f"{name}.{role}" if decoded > 1 else role, [self.weight_value(extra)]))
            else:
                node.inputs.append(Port(name, [source]))
        for blob in layer.blobs:
            node.inputs.append(Port(blob.tag, [self.blob_value(layer, blob)]))
        for k, port in enumerate(layer.outputs):
            value = self.new_value(layer, port)
            node.outputs.append(Port(operators.output_name(spec, k, len(layer.outputs)), [value]))
            if (layer.id, port.id) not in self.read:
                self.unread.append(value)
        node.metadata["layer id"] = int(layer.id) if layer.id.isdigit() else layer.id
        node.metadata.update({k: elements.meta_value(v) for k, v in layer.extra.items()})
        node.metadata.update(layer.rt_info)
        self.bodies(layer, node)
        return node

    def blob_value(self, layer: LayerSpec, blob: BlobSpec) -> Value:
        """An IR v2-v7 blob (weights, biases) as a weight; its shape inferred from the layer where the file has none."""
        where = f"{self.where}: {layer.label()} <{blob.tag}>"
        dtype = elements.dtype_of(blob.precision) or "float32"
        bits = elements.BITS.get(dtype) or (elements.storage_bytes(dtype, 1) or 1) * 8
        if (blob.size * 8) % bits:
            raise self.ctx.fail(f"{where}: size={blob.size} is not a whole number of {dtype} elements")
        count = blob.size * 8 // bits
        shape = blob_shape(layer, blob.tag, count)
        if len(shape) > 1:
            self.ctx.inferred_shapes += 1
        tensor = self.ctx.weights.tensor(f"{layer.name}/{blob.tag}", dtype, shape, blob.offset, blob.size, where)
        if self.ctx.weights.present and not self.ctx.weights.fits(blob.offset, blob.size):
            self.ctx.outside_bin.append(tensor.name)
        value = self.graph.value(self.unique(tensor.name), TensorType(dtype, shape))
        value.initializer = tensor
        return value

    def bodies(self, layer: LayerSpec, node: Node) -> None:
        """Loop/TensorIterator ``<body>``, If ``<then_body>``/``<else_body>``, and their port maps."""
        built: dict[str, GraphBuilder] = {}
        for tag, short in BODIES.items():
            element = layer.element.find(tag)
            if element is None:
                continue
            if self.depth >= MAX_BODY_DEPTH:
                raise self.ctx.fail(f"{self.where}: bodies nest deeper than {MAX_BODY_DEPTH} levels")
            where = f"{self.where} > {layer.name!r} {short}"
            net = read_net(self.ctx.path, element, where)
            builder = GraphBuilder(self.ctx, net, Graph(f"{layer.name}/{short}", "subgraph"), where, self.depth + 1)
            node.subgraphs.append(builder.build())
            built[short] = builder
        for tag in PORT_MAPS:
            element = layer.element.find(tag)
            if element is None:
                continue
            body = built.get("then" if tag.startswith("then") else "else" if tag.startswith("else") else "body")
            node.metadata[tag] = [port_rule(entry, body) for entry in element if entry.tag in ("input", "output")]
        back = layer.element.find("back_edges")
        if back is not None:
            body = built.get("body")
            edges = [e for e in back if e.tag == "edge"]
            node.metadata["back_edges"] = [
                f"{layer_label(body, e.get('from-layer'))} → {layer_label(body, e.get('to-layer'))}" for e in edges
            ]


def layer_label(body: GraphBuilder | None, layer_id: str | None) -> str:
    layer = body.net.layers.get((layer_id or "").strip()) if body is not None else None
    return repr(layer.name) if layer is not None else f"layer {layer_id}"


def port_rule(entry: Any, body: GraphBuilder | None) -> str:
    """``<input external_port_id="0" internal_layer_id="1" axis="1"/>`` -> ``input 0 → 'x' (axis=1)``."""
    external = entry.get("external_port_id", "?")
    arrow = "←" if entry.tag == "output" else "→"
    text = f"{entry.tag} {external} {arrow} {layer_label(body, entry.get('internal_layer_id'))}"
    options = [f"{k}={v}" for k, v in entry.attrib.items() if k not in ("external_port_id", "internal_layer_id")]
    return f"{text} ({', '.join(options)})" if options else text


def attributes(data: dict[str, str]) -> list[Attribute]:
    """The ``<data>`` attributes, typed where obvious."""
    out = []
    for name, text in data.items():
        attribute = Attribute.of(name, elements.typed(name, text))
        out.append(attribute if attribute is not None else Attribute(name, AttrKind.STRING, text))
    return out


def blob_shape(layer: LayerSpec, tag: str, count: int) -> tuple[int, ...]:
    """IR v7 blobs store no shape: a convolution's is [C_out, C_in/group, k...], a dense layer's
    [out, in]; when the layer's attributes do not account for every element, the blob stays 1-D."""
    data = {k: elements.typed(k, v) for k, v in layer.data.items()}
    if tag != "weights":
        return (count,)
    in_shape = layer.inputs[0].shape if layer.inputs else None
    in_channels = in_shape[1] if in_shape and len(in_shape) > 1 and isinstance(in_shape[1], int) else None
    if layer.type in ("Convolution", "Deconvolution", "BinaryConvolution") and in_channels:
        kernel = data.get("kernel")
        if not isinstance(kernel, list) and "kernel-x" in data:
            kernel = [data.get("kernel-y", data["kernel-x"]), data["kernel-x"]]
        output, group = data.get("output"), data.get("group", 1)
        if isinstance(kernel, list) and isinstance(output, int) and isinstance(group, int) and group > 0:
            dims = [int(k) for k in kernel]
            if layer.type == "Deconvolution":
                shape = (in_channels, output // group, *dims)
            else:
                shape = (output, in_channels // group, *dims)
            if _product(shape) == count:
                return shape
    if layer.type == "FullyConnected" and in_shape and all(isinstance(d, int) for d in in_shape[1:]):
        out_size = data.get("out-size")
        inner = _product(tuple(int(d) for d in in_shape[1:]))  # type: ignore[arg-type]
        if isinstance(out_size, int) and out_size * inner == count:
            return (out_size, inner)
    return (count,)


def _product(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
