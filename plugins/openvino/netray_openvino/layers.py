"""One ``<layers>``/``<edges>`` block (the net, or a Loop/TensorIterator/If body) read into plain records.

Every IR version writes a layer as ``<layer id name type [version] [precision]>`` holding
``<data .../>`` attributes (IR v2-v4 call it ``<convolution_data>`` and alike), ``<input>`` and
``<output>`` ports with ``<dim>`` children, and optionally ``<rt_info>``, ``<blobs>`` (IR v2-v7
weights: ``<weights offset size/>``, ``<biases>``, ``<custom>``; IR v2 puts them directly in the
layer) and bodies of control-flow operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netray import FormatError
from netray.ir import Metadata, Shape
from netray_openvino import elements
from netray_openvino.formats import FORMAT

# Children of <layer> that are not attribute holders.
STRUCTURAL = frozenset(
    {
        "input",
        "output",
        "blobs",
        "rt_info",
        "body",
        "then_body",
        "else_body",
        "port_map",
        "then_port_map",
        "else_port_map",
        "back_edges",
    }
)
BLOB_TAGS = ("weights", "biases", "custom")
MAX_PORTS = 100_000  # a layer with more ports than this is a corrupt file, not a model


@dataclass(slots=True)
class PortSpec:
    """An ``<input>`` or ``<output>`` port."""

    id: str
    precision: str
    shape: Shape | None
    names: list[str]
    rt_info: Metadata


@dataclass(slots=True)
class BlobSpec:
    """An IR v2-v7 weights blob: ``<weights offset="0" size="6912" [precision="FP16"]/>``."""

    tag: str
    offset: int
    size: int
    precision: str


@dataclass(slots=True)
class LayerSpec:
    """One ``<layer>``: what it is, its attributes and ports, in the order the XML gives them."""

    id: str
    name: str
    type: str
    version: str
    order: int
    data: dict[str, str]
    extra: dict[str, str]  # the layer element's own attributes besides id/name/type/version
    inputs: list[PortSpec]
    outputs: list[PortSpec]
    rt_info: Metadata
    blobs: list[BlobSpec]
    element: Any  # the XML element, for bodies and port maps

    def label(self) -> str:
        return f"layer {self.id} {self.name!r} ({self.type})"

    def output(self, port_id: str) -> PortSpec | None:
        return next((p for p in self.outputs if p.id == port_id), None)

    def input_port(self, port_id: str) -> PortSpec | None:
        return next((p for p in self.inputs if p.id == port_id), None)


@dataclass(slots=True)
class Edge:
    from_layer: str
    from_port: str
    to_layer: str
    to_port: str


@dataclass(slots=True)
class NetSpec:
    """The layers (XML order) and edges of one graph."""

    layers: dict[str, LayerSpec] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)


def rt_info(element: Any) -> Metadata:
    """A ``<rt_info>`` of a layer or port: ``<attribute name="fused_names" version="0" value="a,b"/>`` -> {name: value}.

    Attributes other than ``value`` are kept under ``name.attr`` (``layout="[N,C,H,W]"`` -> ``layout``
    when it is the only one); an attribute with no value is a flag (``decompression`` -> True).
    """
    out: Metadata = {}
    if element is None:
        return out
    for child in element:
        if not isinstance(child.tag, str):
            continue
        key = child.get("name") or child.tag
        attrs = {k: v for k, v in child.attrib.items() if k not in ("name", "version")}
        if "value" in attrs:
            out[key] = elements.meta_value(attrs["value"])
        elif len(attrs) == 1:
            out[key] = elements.meta_value(next(iter(attrs.values())))
        elif attrs:
            for k, v in attrs.items():
                out[f"{key}.{k}"] = elements.meta_value(v)
        elif len(child):
            nested = rt_info(child)
            out.update({f"{key}/{k}": v for k, v in nested.items()})
        else:
            out[key] = True
    return out


def _port(path: Path, layer: str, element: Any) -> PortSpec:
    port_id = (element.get("id") or "").strip()
    if not port_id:
        raise FormatError(path, FORMAT, f"{layer}: a port has no id")
    dims = [child for child in element if child.tag == "dim"]
    return PortSpec(
        id=port_id,
        precision=element.get("precision", ""),
        shape=tuple(elements.dim(d.text) for d in dims),
        names=elements.tensor_names(element.get("names")),
        rt_info=rt_info(element.find("rt_info")),
    )


def _ports(path: Path, layer: str, element: Any) -> list[PortSpec]:
    if element is None:
        return []
    ports = [_port(path, layer, p) for p in element if p.tag == "port"]
    if len(ports) > MAX_PORTS:
        raise FormatError(path, FORMAT, f"{layer} has {len(ports):,} ports")
    ids = [p.id for p in ports]
    if len(set(ids)) != len(ids):
        raise FormatError(path, FORMAT, f"{layer} has two ports with the same id")
    return ports


def non_negative(path: Path, where: str, name: str, text: str | None) -> int:
    """An offset or size attribute: a non-negative integer, else a FormatError naming it."""
    s = (text or "").strip()
    if not s.isdigit():
        raise FormatError(path, FORMAT, f"{where}: {name}={text!r} is not a non-negative integer")
    return int(s)


def _blobs(path: Path, label: str, element: Any, layer_precision: str) -> list[BlobSpec]:
    holders = [element, *element.findall("blobs")]
    blobs = []
    for holder in holders:
        for child in holder:
            if child.tag in BLOB_TAGS and "offset" in child.attrib:
                where = f"{label} <{child.tag}>"
                blobs.append(
                    BlobSpec(
                        child.tag,
                        non_negative(path, where, "offset", child.get("offset")),
                        non_negative(path, where, "size", child.get("size")),
                        child.get("precision") or layer_precision,
                    )
                )
    return blobs


def read_layer(path: Path, element: Any, order: int) -> LayerSpec:
    layer_id = (element.get("id") or "").strip()
    if not layer_id:
        raise FormatError(path, FORMAT, f"layer {order} (in XML order) has no id")
    name = element.get("name") or element.get("Name") or f"layer{layer_id}"
    op = element.get("type")
    if not op:
        raise FormatError(path, FORMAT, f"layer {layer_id} {name!r} has no type")
    label = f"layer {layer_id} {name!r} ({op})"
    data: dict[str, str] = {}
    for child in element:
        if isinstance(child.tag, str) and child.tag not in STRUCTURAL and child.tag not in BLOB_TAGS and not len(child):
            data.update(child.attrib)  # <data>, and IR v2's <convolution_data> and alike
    extra = {k: v for k, v in element.attrib.items() if k not in ("id", "name", "Name", "type", "version")}
    return LayerSpec(
        id=layer_id,
        name=name,
        type=op,
        version=element.get("version", ""),
        order=order,
        data=data,
        extra=extra,
        inputs=_ports(path, label, element.find("input")),
        outputs=_ports(path, label, element.find("output")),
        rt_info=rt_info(element.find("rt_info")),
        blobs=_blobs(path, label, element, element.get("precision", "")),
        element=element,
    )


def read_net(path: Path, element: Any, where: str) -> NetSpec:
    """The ``<layers>`` and ``<edges>`` under ``element`` (the ``<net>`` or a body), checked for dangling edges."""
    net = NetSpec()
    layers_el = element.find("layers")
    if layers_el is None:
        raise FormatError(path, FORMAT, f"{where} has no <layers>")
    for order, layer_el in enumerate(layers_el.findall("layer")):
        layer = read_layer(path, layer_el, order)
        if layer.id in net.layers:
            raise FormatError(path, FORMAT, f"{where}: two layers have the id {layer.id}")
        net.layers[layer.id] = layer
    edges_el = element.find("edges")
    seen_inputs: set[tuple[str, str]] = set()
    for edge_el in edges_el.findall("edge") if edges_el is not None else []:
        edge = Edge(*(edge_el.get(k, "").strip() for k in ("from-layer", "from-port", "to-layer", "to-port")))
        text = f"{where}: edge {edge.from_layer}:{edge.from_port} -> {edge.to_layer}:{edge.to_port}"
        source = net.layers.get(edge.from_layer)
        target = net.layers.get(edge.to_layer)
        if source is None or target is None:
            missing = edge.from_layer if source is None else edge.to_layer
            raise FormatError(path, FORMAT, f"{text} names layer {missing!r}, which does not exist")
        if source.output(edge.from_port) is None:
            raise FormatError(path, FORMAT, f"{text}: {source.label()} has no output port {edge.from_port!r}")
        if target.input_port(edge.to_port) is None:
            raise FormatError(path, FORMAT, f"{text}: {target.label()} has no input port {edge.to_port!r}")
        if (edge.to_layer, edge.to_port) in seen_inputs:
            raise FormatError(path, FORMAT, f"{text}: input port {edge.to_port} of {target.label()} is fed twice")
        seen_inputs.add((edge.to_layer, edge.to_port))
        net.edges.append(edge)
    return net


def topological_order(path: Path, net: NetSpec, where: str) -> list[LayerSpec]:
    """The layers so that every edge runs forward, XML order among equals; a cycle is a FormatError."""
    import heapq

    indegree = dict.fromkeys(net.layers, 0)
    successors: dict[str, list[str]] = {k: [] for k in net.layers}
    for edge in net.edges:
        indegree[edge.to_layer] += 1
        successors[edge.from_layer].append(edge.to_layer)
    ready = [(layer.order, layer.id) for layer in net.layers.values() if indegree[layer.id] == 0]
    heapq.heapify(ready)
    ordered: list[LayerSpec] = []
    while ready:
        _, layer_id = heapq.heappop(ready)
        ordered.append(net.layers[layer_id])
        for nxt in successors[layer_id]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, (net.layers[nxt].order, nxt))
    if len(ordered) < len(net.layers):
        stuck = [net.layers[k] for k, n in indegree.items() if n > 0]
        names = ", ".join(repr(layer.name) for layer in stuck[:4])
        more = f" and {len(stuck) - 4} more" if len(stuck) > 4 else ""
        raise FormatError(path, FORMAT, f"{where}: the edges form a cycle through layers {names}{more}")
    return ordered
