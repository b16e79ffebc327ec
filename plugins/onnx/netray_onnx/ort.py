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
from netray.flatwire import Buffer, FlatError, Table
from netray_onnx import proto as onnx_proto
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
_EDGE_END_BYTES: Final = 12  # the EdgeEnd struct: node index, source and target argument indices
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

    def __init__(self, data: Buffer) -> None:
        self.data = data
        self.facts = OrtFacts()
        # Every table converted costs one; a real file holds at most one table per 4 bytes, so a file whose
        # tables are shared to blow up the work (a graph attribute pointing at one subgraph a million times) stops.
        self._budget = len(data) // 4 + 1024

    def _spend(self, count: int = 1) -> None:
        self._budget -= count
        if self._budget < 0:
            raise FlatError("the file's tables are referenced far more often than its size allows (a hostile file)")

    # -- session and model ---------------------------------------------------------------
    def session(self) -> onnx.ModelProto:
        session = Table.root(self.data, what="the InferenceSession", identifier=IDENTIFIER)
        self.facts.ort_version = session.string(0, "InferenceSession.ort_version")
        model_table = session.table(1, "InferenceSession.model")
        if model_table is None:
            raise FlatError("the InferenceSession holds no model")
        self.facts.deprecated_session_state = session.table(2, "InferenceSession.session_state") is not None
        resolver = session.table(3, "InferenceSession.kernel_type_str_resolver")
        if resolver is not None:
            entries = resolver.tables(0, "KernelTypeStrResolver.op_kernel_type_str_args")
            self.facts.resolver_ops = [entry.string(0, "OpIdKernelTypeStrArgsEntry.op_id") for entry in entries]
        model: onnx.ModelProto = onnx_proto.ModelProto()
        self._model(model_table, model)
        return model

    def _model(self, table: Table, model: onnx.ModelProto) -> None:
        model.ir_version = table.scalar(0, "long")
        for opset_table in table.tables(1, "Model.opset_import"):
            opset = model.opset_import.add()
            opset.domain = opset_table.string(0, "OperatorSetId.domain")
            opset.version = opset_table.scalar(1, "long")
        model.producer_name = table.string(2, "Model.producer_name")
        model.producer_version = table.string(3, "Model.producer_version")
        model.domain = table.string(4, "Model.domain")
        version = table.scalar(5, "long")
        if version != _NO_VERSION:
            model.model_version = version
        model.doc_string = table.string(6, "Model.doc_string")
        graph_table = table.table(7, "Model.graph")
        if graph_table is None:
            raise FlatError("the model holds no graph")
        self._graph(graph_table, model.graph, 0)
        model.graph.doc_string = table.string(8, "Model.graph_doc_string")
        for entry in table.tables(9, "Model.metadata_props"):
            prop = model.metadata_props.add()
            prop.key = entry.string(0, "StringStringEntry.key")
            prop.value = entry.string(1, "StringStringEntry.value")

    # -- graphs --------------------------------------------------------------------------
    def _graph(self, table: Table, graph: onnx.GraphProto, depth: int) -> None:
        if depth > MAX_GRAPH_DEPTH:
            raise FlatError(f"subgraphs nest more than {MAX_GRAPH_DEPTH} deep")
        self._spend()
        initializers = table.tables(0, "Graph.initializers")
        self._spend(len(initializers))
        names: set[str] = set()
        for tensor_table in initializers:
            tensor = graph.initializer.add()
            self._tensor(tensor_table, tensor)
            names.add(tensor.name)
        for sparse_table in table.tables(7, "Graph.sparse_initializers"):
            self._spend()
            self._sparse(sparse_table, graph.sparse_initializer.add())
        value_types: dict[str, Table] = {}
        for info in table.tables(1, "Graph.node_args"):
            value_types[info.string(0, "ValueInfo.name")] = info
        self._spend(len(value_types))
        inputs, outputs = table.strings(5, "Graph.inputs"), table.strings(6, "Graph.outputs")
        for name in inputs:
            self._value_info(name, value_types.get(name), graph.input.add())
        for name in outputs:
            self._value_info(name, value_types.get(name), graph.output.add())
        listed = names.union(inputs, outputs)
        for name, info in value_types.items():
            if name not in listed:
                self._value_info(name, info, graph.value_info.add())
        node_tables = table.tables(2, "Graph.nodes")
        self._spend(len(node_tables))
        optimized = self._runtime_optimizations(table.table(8, "Graph.runtime_optimizations"))
        arguments = [
            (node.strings(8, "Node.inputs"), node.strings(9, "Node.outputs"), node.strings(12, "Node.implicit_inputs"))
            for node in node_tables
        ]
        for position in _topological(arguments):
            self._node(node_tables[position], arguments[position], graph.node.add(), depth, optimized)
        for edge in table.tables(4, "Graph.node_edges"):
            self.facts.node_edges += _vector_length(edge, 2, _EDGE_END_BYTES, "NodeEdge.output_edges")

    def _value_info(self, name: str, info: Table | None, proto: onnx.ValueInfoProto) -> None:
        proto.name = name
        if info is None:
            return
        proto.doc_string = info.string(1, "ValueInfo.doc_string")
        type_table = info.table(2, "ValueInfo.type")
        if type_table is not None:
            self._type(type_table, proto.type, 0)

    def _type(self, table: Table, tp: onnx.TypeProto, depth: int) -> None:
        if depth > MAX_TYPE_DEPTH:
            raise FlatError(f"value types nest more than {MAX_TYPE_DEPTH} deep")
        denotation = table.string(0, "TypeInfo.denotation")
        if denotation:
            tp.denotation = denotation
        kind, value = table.union(1, "TypeInfo.value")
        if value is None:
            return
        if kind == 1:  # TensorTypeAndShape
            tp.tensor_type.elem_type = value.scalar(0, "int")
            shape = value.table(1, "TensorTypeAndShape.shape")
            if shape is not None:
                self._shape(shape, tp.tensor_type.shape)
        elif kind == 2:  # SequenceType
            element = value.table(0, "SequenceType.elem_type")
            tp.sequence_type.SetInParent()
            if element is not None:
                self._type(element, tp.sequence_type.elem_type, depth + 1)
        elif kind == 3:  # MapType
            tp.map_type.key_type = value.scalar(0, "int")
            element = value.table(1, "MapType.value_type")
            if element is not None:
                self._type(element, tp.map_type.value_type, depth + 1)

    def _shape(self, table: Table, shape: onnx.TensorShapeProto) -> None:
        shape.SetInParent()
        for dim_table in table.tables(0, "Shape.dim"):
            dim = shape.dim.add()
            value = dim_table.table(0, "Dimension.value")
            if value is not None:
                kind = value.scalar(0, "byte")
                if kind == 1:
                    dim.dim_value = value.scalar(1, "long")
                elif kind == 2:
                    dim.dim_param = value.string(2, "DimensionValue.dim_param")
            denotation = dim_table.string(1, "Dimension.denotation")
            if denotation:
                dim.denotation = denotation

    # -- nodes and attributes ------------------------------------------------------------
    def _node(self, table: Table, arguments: NodeArguments, node: onnx.NodeProto, depth: int, optimized: dict[int, str]) -> None:
        node.name = table.string(0, "Node.name")
        doc = table.string(1, "Node.doc_string")
        if doc:
            node.doc_string = doc
        node.domain = table.string(2, "Node.domain")
        node.op_type = table.string(5, "Node.op_type")
        node.input.extend(arguments[0])
        node.output.extend(arguments[1])
        attributes = table.tables(10, "Node.attributes")
        self._spend(len(attributes))
        for attribute_table in attributes:
            self._attribute(attribute_table, node.attribute.add(), depth)
        provider = table.string(7, "Node.execution_provider_type")
        if provider:
            self.facts.providers.add(provider)
            _meta(node, "execution provider", provider)
        if table.scalar(6, "int") == _FUSED:
            self.facts.fused_nodes += 1
            _meta(node, "node type", "fused")
        action = optimized.get(table.scalar(4, "uint"))
        if action is not None:
            _meta(node, "runtime optimization", action)

    def _attribute(self, table: Table, attribute: onnx.AttributeProto, depth: int) -> None:
        attribute.name = table.string(0, "Attribute.name")
        doc = table.string(1, "Attribute.doc_string")
        if doc:
            attribute.doc_string = doc
        kind = table.scalar(2, "int")
        if kind not in _ATTRIBUTE_TYPES:
            raise FlatError(f"attribute {attribute.name!r} has unknown type {kind}")
        attribute.type = kind  # type: ignore[assignment]  # an AttributeType number, checked above
        if kind == _AT.FLOAT:
            attribute.f = table.scalar(3, "float")
        elif kind == _AT.INT:
            attribute.i = table.scalar(4, "long")
        elif kind == _AT.STRING:
            attribute.s = table.raw_string(5, "Attribute.s") or b""
        elif kind == _AT.TENSOR:
            tensor = table.table(6, "Attribute.t")
            if tensor is not None:
                self._tensor(tensor, attribute.t)
        elif kind == _AT.GRAPH:
            graph = table.table(7, "Attribute.g")
            if graph is not None:
                self._graph(graph, attribute.g, depth + 1)
        elif kind == _AT.FLOATS:
            attribute.floats.extend(table.scalars(8, "float", "Attribute.floats"))
        elif kind == _AT.INTS:
            attribute.ints.extend(table.scalars(9, "long", "Attribute.ints"))
        elif kind == _AT.STRINGS:
            attribute.strings.extend(table.raw_strings(10, "Attribute.strings"))
        elif kind == _AT.TENSORS:
            tensors = table.tables(11, "Attribute.tensors")
            self._spend(len(tensors))
            for tensor in tensors:
                self._tensor(tensor, attribute.tensors.add())
        elif kind == _AT.GRAPHS:
            for graph in table.tables(12, "Attribute.graphs"):
                self._graph(graph, attribute.graphs.add(), depth + 1)

    # -- tensors -------------------------------------------------------------------------
    def _tensor(self, table: Table, tensor: onnx.TensorProto) -> None:
        tensor.name = table.string(0, "Tensor.name")
        doc = table.string(1, "Tensor.doc_string")
        if doc:
            tensor.doc_string = doc
        dims = table.scalars(2, "long", "Tensor.dims")
        if any(d < 0 for d in dims):
            raise FlatError(f"tensor {tensor.name!r} has a negative dimension {tuple(dims)}")
        tensor.dims.extend(dims)
        tensor.data_type = table.scalar(3, "int")
        external = table.scalar(6, "long", -1)
        if external >= 0:
            _tensor_meta(tensor, EXTERNAL_KEY, str(external))
            return
        if tensor.data_type == _STRING:
            tensor.string_data.extend(table.raw_strings(5, "Tensor.string_data"))
            return
        span = table.vector_span(4, 1, "Tensor.raw_data")
        if span is None:
            return
        offset, length = span
        if length <= INLINE_RAW_BYTES:
            tensor.raw_data = bytes(self.data[offset : offset + length])
        else:
            _tensor_meta(tensor, RAW_MARKER, f"{offset},{length}")

    def _sparse(self, table: Table, sparse: onnx.SparseTensorProto) -> None:
        values, indices = table.table(0, "SparseTensor.values"), table.table(1, "SparseTensor.indices")
        if values is None or indices is None:
            raise FlatError("a sparse initializer lacks its values or indices")
        self._tensor(values, sparse.values)
        self._tensor(indices, sparse.indices)
        dims = table.scalars(2, "long", "SparseTensor.dims")
        if any(d < 0 for d in dims):
            raise FlatError(f"sparse tensor {sparse.values.name!r} has a negative dimension {tuple(dims)}")
        sparse.dims.extend(dims)

    # -- runtime optimizations -----------------------------------------------------------
    def _runtime_optimizations(self, table: Table | None) -> dict[int, str]:
        """ORT node index -> the saved optimization that would replace it; counts each kind in the facts."""
        by_node: dict[int, str] = {}
        if table is None:
            return by_node
        for entry in table.tables(0, "RuntimeOptimizations.records"):
            optimizer = entry.string(0, "RuntimeOptimizationRecordContainerEntry.optimizer_name")
            records = entry.tables(1, "RuntimeOptimizationRecordContainerEntry.runtime_optimization_records")
            self._spend(len(records))
            for record in records:
                produced = ", ".join(record.strings(3, "RuntimeOptimizationRecord.produced_op_ids"))
                action = f"{optimizer}: {record.string(0, 'RuntimeOptimizationRecord.action_id')}"
                action += f" -> {produced}" if produced else ""
                self.facts.optimizations[action] = self.facts.optimizations.get(action, 0) + 1
                indices = record.table(1, "RuntimeOptimizationRecord.nodes_to_optimize_indices")
                if indices is not None:
                    for index in indices.scalars(0, "uint", "NodesToOptimizeIndices.node_indices"):
                        by_node.setdefault(index, action)
        return by_node


def _vector_length(table: Table, slot: int, item_size: int, what: str) -> int:
    span = table.vector_span(slot, item_size, what)
    return 0 if span is None else span[1]


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
        converter = OrtConverter(mm)
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

