"""ONNX Runtime's ORT format (``.ort``): a flatbuffer InferenceSession -> the ONNX IR.

The layout is ``onnxruntime/core/flatbuffers/schema/ort.fbs`` (file identifier ``ORTM``):
an InferenceSession holds the ORT format version, a Model (the fields of an ONNX
ModelProto) whose Graph lists initializers, node args (value types), nodes, node edges,
inputs, outputs, sparse initializers and runtime optimization records, and a kernel
type-string resolver. Field slots below follow the schema's declaration order.

The flatbuffer is turned into the ONNX plugin's own ModelProto (``proto.py``), structure
only: each initializer's ``raw_data`` stays in the file and is marked with its offset and
length (as ``wire.py`` marks ONNX's), so ``reader.ModelReader`` builds the same IR as for
an ``.onnx`` file (operator categories, schema port names, subgraphs, quantization) with
memory-mapped tensors. Nodes are put in topological order (ORT saves them by node index,
and fused nodes get the highest indices). What only ORT states (execution providers,
runtime optimizations, the kernel type-string resolver) becomes node metadata and model
properties.
"""

from __future__ import annotations

import heapq
import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from netray import FormatError, MetaValue, Model
from netray_onnx import proto as onnx_proto
from netray_onnx.flatbuf import FlatError, Reader, Table
from netray_onnx.loader import read_proto
from netray_onnx.proto import AttributeType as _AT
from netray_onnx.wire import RAW_MARKER

if TYPE_CHECKING:
    import onnx  # annotations only: proto.py's messages have onnx's fields

ORT_FORMAT: Final = "ONNX Runtime"
IDENTIFIER: Final = b"ORTM"
MAX_GRAPH_DEPTH: Final = 32  # subgraphs inside subgraphs (If in Loop in ...)
MAX_TYPE_DEPTH: Final = 32  # sequence(map(..., sequence(...)))
INLINE_RAW_BYTES: Final = 256  # smaller raw_data is copied into the structure; larger is memory-mapped
MAX_LISTED: Final = 200
EXTERNAL_KEY: Final = "external_data_offset"
_STRING: Final = 8
_FUSED: Final = 1
_NO_VERSION: Final = (1 << 63) - 1  # ORT's model_version when the ONNX model stated none
# Attribute types ORT stores (its AttributeType numbers are ONNX's).
_ATTRIBUTE_TYPES: Final = frozenset(range(13))
NodeArguments = tuple[list[str], list[str], list[str]]  # a node's inputs, outputs and implicit inputs
_ERRORS = (FlatError, struct.error, ValueError, TypeError, OverflowError, IndexError, KeyError, UnicodeDecodeError)


@dataclass
class OrtFacts:
    """What the InferenceSession states beyond the ONNX model: shown as properties and node metadata."""

    ort_version: str = ""
    resolver_ops: list[str] = field(default_factory=list)
    optimizations: dict[str, int] = field(default_factory=dict)  # "optimizer: action -> produced" -> records
    node_edges: int = 0
    fused_nodes: int = 0
    providers: set[str] = field(default_factory=set)
    deprecated_session_state: bool = False


class OrtConverter:
    """One pass over an InferenceSession flatbuffer, filling a ModelProto."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.facts = OrtFacts()
        # Every table converted costs one; a real file holds at most one table per 4 bytes, so a file whose
        # tables are shared to blow up the work (a graph attribute pointing at one subgraph a million times) stops.
        self._budget = reader.size // 4 + 1024

    def _spend(self, count: int = 1) -> None:
        self._budget -= count
        if self._budget < 0:
            raise FlatError("the file's tables are referenced far more often than its size allows (a hostile file)")

    # -- session and model ---------------------------------------------------------------
    def session(self) -> onnx.ModelProto:
        session = self.reader.root(IDENTIFIER)
        self.facts.ort_version = session.text(0)
        model_table = session.table(1)
        if model_table is None:
            raise FlatError("the InferenceSession holds no model")
        self.facts.deprecated_session_state = session.table(2) is not None
        resolver = session.table(3)
        if resolver is not None:
            self.facts.resolver_ops = [entry.text(0) for entry in resolver.tables(0)]
        model: onnx.ModelProto = onnx_proto.ModelProto()
        self._model(model_table, model)
        return model

    def _model(self, table: Table, model: onnx.ModelProto) -> None:
        model.ir_version = table.integer(0, "i64")
        for opset_table in table.tables(1):
            opset = model.opset_import.add()
            opset.domain = opset_table.text(0)
            opset.version = opset_table.integer(1, "i64")
        model.producer_name = table.text(2)
        model.producer_version = table.text(3)
        model.domain = table.text(4)
        version = table.integer(5, "i64")
        if version != _NO_VERSION:
            model.model_version = version
        model.doc_string = table.text(6)
        graph_table = table.table(7)
        if graph_table is None:
            raise FlatError("the model holds no graph")
        self._graph(graph_table, model.graph, 0)
        model.graph.doc_string = table.text(8)
        for entry in table.tables(9):
            prop = model.metadata_props.add()
            prop.key = entry.text(0)
            prop.value = entry.text(1)

    # -- graphs --------------------------------------------------------------------------
    def _graph(self, table: Table, graph: onnx.GraphProto, depth: int) -> None:
        if depth > MAX_GRAPH_DEPTH:
            raise FlatError(f"subgraphs nest more than {MAX_GRAPH_DEPTH} deep")
        self._spend()
        initializers = table.tables(0)
        self._spend(len(initializers))
        names: set[str] = set()
        for tensor_table in initializers:
            tensor = graph.initializer.add()
            self._tensor(tensor_table, tensor)
            names.add(tensor.name)
        for sparse_table in table.tables(7):
            self._spend()
            self._sparse(sparse_table, graph.sparse_initializer.add())
        value_types: dict[str, Table] = {}
        for info in table.tables(1):
            value_types[info.text(0)] = info
        self._spend(len(value_types))
        inputs, outputs = table.texts(5), table.texts(6)
        for name in inputs:
            self._value_info(name, value_types.get(name), graph.input.add())
        for name in outputs:
            self._value_info(name, value_types.get(name), graph.output.add())
        listed = names.union(inputs, outputs)
        for name, info in value_types.items():
            if name not in listed:
                self._value_info(name, info, graph.value_info.add())
        node_tables = table.tables(2)
        self._spend(len(node_tables))
        optimized = self._runtime_optimizations(table.table(8))
        arguments = [(node.texts(8), node.texts(9), node.texts(12)) for node in node_tables]
        for position in _topological(arguments):
            self._node(node_tables[position], arguments[position], graph.node.add(), depth, optimized)
        for edge in table.tables(4):
            self.facts.node_edges += table_vector_length(edge, 2, 12)

    def _value_info(self, name: str, info: Table | None, proto: onnx.ValueInfoProto) -> None:
        proto.name = name
        if info is None:
            return
        proto.doc_string = info.text(1)
        type_table = info.table(2)
        if type_table is not None:
            self._type(type_table, proto.type, 0)

    def _type(self, table: Table, tp: onnx.TypeProto, depth: int) -> None:
        if depth > MAX_TYPE_DEPTH:
            raise FlatError(f"value types nest more than {MAX_TYPE_DEPTH} deep")
        denotation = table.text(0)
        if denotation:
            tp.denotation = denotation
        kind = table.integer(1, "u8")
        value = table.table(2)
        if value is None:
            return
        if kind == 1:  # TensorTypeAndShape
            tp.tensor_type.elem_type = value.integer(0, "i32")
            shape = value.table(1)
            if shape is not None:
                self._shape(shape, tp.tensor_type.shape)
        elif kind == 2:  # SequenceType
            element = value.table(0)
            tp.sequence_type.SetInParent()
            if element is not None:
                self._type(element, tp.sequence_type.elem_type, depth + 1)
        elif kind == 3:  # MapType
            tp.map_type.key_type = value.integer(0, "i32")
            element = value.table(1)
            if element is not None:
                self._type(element, tp.map_type.value_type, depth + 1)

    def _shape(self, table: Table, shape: onnx.TensorShapeProto) -> None:
        shape.SetInParent()
        for dim_table in table.tables(0):
            dim = shape.dim.add()
            value = dim_table.table(0)
            if value is not None:
                kind = value.integer(0, "i8")
                if kind == 1:
                    dim.dim_value = value.integer(1, "i64")
                elif kind == 2:
                    dim.dim_param = value.text(2)
            denotation = dim_table.text(1)
            if denotation:
                dim.denotation = denotation

    # -- nodes and attributes ------------------------------------------------------------
    def _node(self, table: Table, arguments: NodeArguments, node: onnx.NodeProto, depth: int, optimized: dict[int, str]) -> None:
        node.name = table.text(0)
        doc = table.text(1)
        if doc:
            node.doc_string = doc
        node.domain = table.text(2)
        node.op_type = table.text(5)
        node.input.extend(arguments[0])
        node.output.extend(arguments[1])
        attributes = table.tables(10)
        self._spend(len(attributes))
        for attribute_table in attributes:
            self._attribute(attribute_table, node.attribute.add(), depth)
        provider = table.text(7)
        if provider:
            self.facts.providers.add(provider)
            _meta(node, "execution provider", provider)
        if table.integer(6, "i32") == _FUSED:
            self.facts.fused_nodes += 1
            _meta(node, "node type", "fused")
        action = optimized.get(table.integer(4, "u32"))
        if action is not None:
            _meta(node, "runtime optimization", action)

    def _attribute(self, table: Table, attribute: onnx.AttributeProto, depth: int) -> None:
        attribute.name = table.text(0)
        doc = table.text(1)
        if doc:
            attribute.doc_string = doc
        kind = table.integer(2, "i32")
        if kind not in _ATTRIBUTE_TYPES:
            raise FlatError(f"attribute {attribute.name!r} has unknown type {kind}")
        attribute.type = kind  # type: ignore[assignment]  # an AttributeType number, checked above
        if kind == _AT.FLOAT:
            attribute.f = table.number(3, "f32")
        elif kind == _AT.INT:
            attribute.i = table.integer(4, "i64")
        elif kind == _AT.STRING:
            attribute.s = table.raw_string(5)
        elif kind == _AT.TENSOR:
            tensor = table.table(6)
            if tensor is not None:
                self._tensor(tensor, attribute.t)
        elif kind == _AT.GRAPH:
            graph = table.table(7)
            if graph is not None:
                self._graph(graph, attribute.g, depth + 1)
        elif kind == _AT.FLOATS:
            attribute.floats.extend(table.numbers(8, "f32"))
        elif kind == _AT.INTS:
            attribute.ints.extend(int(v) for v in table.numbers(9, "i64"))
        elif kind == _AT.STRINGS:
            attribute.strings.extend(table.raw_strings(10))
        elif kind == _AT.TENSORS:
            tensors = table.tables(11)
            self._spend(len(tensors))
            for tensor in tensors:
                self._tensor(tensor, attribute.tensors.add())
        elif kind == _AT.GRAPHS:
            for graph in table.tables(12):
                self._graph(graph, attribute.graphs.add(), depth + 1)

    # -- tensors -------------------------------------------------------------------------
    def _tensor(self, table: Table, tensor: onnx.TensorProto) -> None:
        tensor.name = table.text(0)
        doc = table.text(1)
        if doc:
            tensor.doc_string = doc
        dims = table.numbers(2, "i64")
        if any(d < 0 for d in dims):
            raise FlatError(f"tensor {tensor.name!r} has a negative dimension {dims}")
        tensor.dims.extend(int(d) for d in dims)
        tensor.data_type = table.integer(3, "i32")
        external = table.integer(6, "i64", -1)
        if external >= 0:
            _tensor_meta(tensor, EXTERNAL_KEY, str(external))
            return
        if tensor.data_type == _STRING:
            tensor.string_data.extend(table.raw_strings(5))
            return
        span = table.bytes_span(4)
        if span is None:
            return
        offset, length = span
        if length <= INLINE_RAW_BYTES:
            tensor.raw_data = bytes(self.reader.data[offset : offset + length])
        else:
            _tensor_meta(tensor, RAW_MARKER, f"{offset},{length}")

    def _sparse(self, table: Table, sparse: onnx.SparseTensorProto) -> None:
        values, indices = table.table(0), table.table(1)
        if values is None or indices is None:
            raise FlatError("a sparse initializer lacks its values or indices")
        self._tensor(values, sparse.values)
        self._tensor(indices, sparse.indices)
        dims = table.numbers(2, "i64")
        if any(d < 0 for d in dims):
            raise FlatError(f"sparse tensor {sparse.values.name!r} has a negative dimension {dims}")
        sparse.dims.extend(int(d) for d in dims)

    # -- runtime optimizations -----------------------------------------------------------
    def _runtime_optimizations(self, table: Table | None) -> dict[int, str]:
        """ORT node index -> the saved optimization that would replace it; counts each kind in the facts."""
        by_node: dict[int, str] = {}
        if table is None:
            return by_node
        for entry in table.tables(0):
            optimizer = entry.text(0)
            records = entry.tables(1)
            self._spend(len(records))
            for record in records:
                produced = ", ".join(record.texts(3))
                action = f"{optimizer}: {record.text(0)}" + (f" -> {produced}" if produced else "")
                self.facts.optimizations[action] = self.facts.optimizations.get(action, 0) + 1
                indices = record.table(1)
                if indices is not None:
                    for index in indices.numbers(0, "u32"):
                        by_node.setdefault(int(index), action)
        return by_node


def table_vector_length(table: Table, slot: int, item_size: int) -> int:
    return table.vector(slot, item_size)[1]


def _meta(node: onnx.NodeProto, key: str, value: str) -> None:
    entry = node.metadata_props.add()
    entry.key = key
    entry.value = value


def _tensor_meta(tensor: onnx.TensorProto, key: str, value: str) -> None:
    entry = tensor.metadata_props.add()
    entry.key = key
    entry.value = value


def _topological(arguments: list[NodeArguments]) -> list[int]:
    """Positions of the nodes (their inputs, outputs, implicit inputs) in an order where producers come first.

    A node depends on the producers of its inputs and of its implicit inputs (values its
    subgraphs read from this graph); among nodes ready at once, file order. A cycle, which
    no valid graph has, keeps the file order of the nodes it holds.
    """
    producer: dict[str, int] = {}
    for position, (_, outputs, _) in enumerate(arguments):
        for name in outputs:
            if name:
                producer.setdefault(name, position)
    waiting = [0] * len(arguments)
    users: list[list[int]] = [[] for _ in arguments]
    for position, (inputs, _, implicit) in enumerate(arguments):
        for name in {*inputs, *implicit}:
            source = producer.get(name)
            if source is not None and source != position:
                waiting[position] += 1
                users[source].append(position)
    ready = [p for p, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        position = heapq.heappop(ready)
        order.append(position)
        for user in users[position]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    if len(order) < len(arguments):
        placed = set(order)
        order.extend(p for p in range(len(arguments)) if p not in placed)
    return order


def _properties(model: Model, facts: OrtFacts) -> None:
    derived: dict[str, MetaValue] = {"ORT format version": facts.ort_version}
    derived.update(model.properties)
    if facts.providers:
        derived["execution providers"] = sorted(facts.providers)
    if facts.fused_nodes:
        derived["fused nodes"] = facts.fused_nodes
    derived["node edges"] = facts.node_edges
    if facts.optimizations:
        listed: list[MetaValue] = [f"{n} × {action}" for action, n in list(facts.optimizations.items())[:MAX_LISTED]]
        derived["runtime optimizations"] = listed
    if facts.resolver_ops:
        ops: list[MetaValue] = list(facts.resolver_ops[:MAX_LISTED])
        derived["kernel type-str resolver"] = ops
    if facts.deprecated_session_state:
        derived["session state"] = "deprecated kernel def hashes (ORT format 4 or older; current ONNX Runtime refuses the file)"
    model.properties = derived


def _external_tensors(model: Model) -> None:
    """Tensors whose bytes ORT keeps outside the flatbuffer are listed, marked as not stored here."""
    for graph in model.all_graphs():
        tensors = [v.initializer for v in graph.weights()]
        tensors += [a.value for n in graph.nodes for a in n.attributes if a.kind.value == "tensor" and a.value is not None]
        for tensor in tensors:
            if tensor is not None and EXTERNAL_KEY in tensor.metadata:
                tensor.loader = None
                offset = tensor.metadata[EXTERNAL_KEY]
                tensor.location = f"external data at offset {offset} (outside the .ort file; not read)"


def load_ort(path: Path) -> Model:
    """Read an ``.ort`` file's structure; initializers stay in the file, memory-mapped on request."""
    try:
        with open(path, "rb") as f:
            if f.seek(0, 2) == 0:
                raise FormatError(path, ORT_FORMAT, "the file is empty")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise FormatError(path, ORT_FORMAT, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        converter = OrtConverter(Reader(mm))
        proto = converter.session()
    except RecursionError:
        raise FormatError(path, ORT_FORMAT, "tables nested too deeply (a corrupt file)") from None
    except _ERRORS as exc:
        raise FormatError(path, ORT_FORMAT, f"not a valid ORT flatbuffer: {exc}") from None
    finally:
        try:
            mm.close()
        except BufferError:  # a view is still alive in a traceback; the map closes when it goes
            pass
    try:
        model = read_proto(proto, path, path.parent, path)
    except FormatError as exc:
        raise FormatError(path, ORT_FORMAT, exc.reason) from None
    model.format = ORT_FORMAT
    if not model.main.name:
        model.main.name = path.stem  # ORT keeps no graph names
    model.format_version = f"v{converter.facts.ort_version}" if converter.facts.ort_version else ""
    model.source = path
    _properties(model, converter.facts)
    _external_tensors(model)
    return model

