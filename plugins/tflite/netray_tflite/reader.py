"""Read a TFLite flatbuffer file into a netray Model.

The file is memory-mapped and walked with the ``tflite`` package's generated
accessors; only the pages holding the structure are touched. Weight buffers
become lazy tensors pointing at their byte range in the file (inside the
flatbuffer, or after it for files with buffers stored by offset/size).

The flatbuffers runtime trusts its input, so every vector length is checked
against the file size before iterating, and any low-level failure (a struct
error from an offset past the end, say) becomes one ``FormatError``.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tflite
from tflite.utils import BUILTIN_OPCODE2NAME

from netray import (
    Attribute,
    AttrKind,
    Category,
    FormatError,
    Graph,
    Metadata,
    Model,
    Node,
    Port,
    Quantization,
    Tensor,
    TensorType,
    Value,
    file_slice_loader,
)
from netray_tflite import model_info
from netray_tflite.model_info import Span
from netray_tflite.operators import FORMAT, input_port_name, spec_for
from netray_tflite.options import decode_flexbuffer, enum_names, flexbuffer_attribute, options_class, read_options
from netray_tflite.strings import string_loader

MIN_SIZE = 8  # root offset + file identifier

# TFLite TensorType name -> (netray dtype name, numpy dtype or None when numpy has none).
DTYPES: dict[str, tuple[str, str | None]] = {
    "FLOAT32": ("float32", "<f4"),
    "FLOAT16": ("float16", "<f2"),
    "FLOAT64": ("float64", "<f8"),
    "BFLOAT16": ("bfloat16", None),
    "INT4": ("int4", None),
    "INT8": ("int8", "i1"),
    "INT16": ("int16", "<i2"),
    "INT32": ("int32", "<i4"),
    "INT64": ("int64", "<i8"),
    "UINT8": ("uint8", "u1"),
    "UINT16": ("uint16", "<u2"),
    "UINT32": ("uint32", "<u4"),
    "UINT64": ("uint64", "<u8"),
    "BOOL": ("bool", "?"),
    "COMPLEX64": ("complex64", "<c8"),
    "COMPLEX128": ("complex128", "<c16"),
    "STRING": ("string", None),
    "RESOURCE": ("resource", None),
    "VARIANT": ("variant", None),
}

# Errors the flatbuffers runtime raises on malformed input.
_LOW_LEVEL_ERRORS = (struct.error, IndexError, ValueError, TypeError, OverflowError, AttributeError, UnicodeDecodeError, BufferError)


def read_tflite(path: str | Path) -> Model:
    """Read the structure of a .tflite file; weights stay on disk until asked for."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < MIN_SIZE:
                raise FormatError(path, FORMAT, f"the file is too short ({size} bytes) to be a TFLite flatbuffer")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        return _Reader(path, mm, size).read()
    except FormatError:
        raise
    except RecursionError as exc:
        raise FormatError(path, FORMAT, "the flatbuffer nests too deeply (corrupt file)") from exc
    except _LOW_LEVEL_ERRORS as exc:
        raise FormatError(path, FORMAT, f"corrupt or truncated flatbuffer ({type(exc).__name__}: {exc})") from exc
    finally:
        try:
            mm.close()
        except BufferError:  # a numpy view is still alive; the map closes when it is collected
            pass


class _Reader:
    """One pass over a memory-mapped TFLite file."""

    def __init__(self, path: Path, buf: mmap.mmap, size: int) -> None:
        self.path = path
        self.buf = buf
        self.size = size
        self.tensor_types = enum_names("TensorType")

    # -- bounds ---------------------------------------------------------------------
    def count(self, n: int, what: str, item_bytes: int = 4) -> int:
        """A vector length, refused when its items could not fit in the file."""
        if n < 0 or n * item_bytes > self.size:
            raise FormatError(self.path, FORMAT, f"{what} claims {n} entries, more than the {self.size}-byte file can hold")
        return n

    # -- the model ------------------------------------------------------------------
    def read(self) -> Model:
        if bytes(self.buf[4:8]) != b"TFL3":
            # Old converters wrote no identifier; still try, but a garbage root fails below.
            pass
        root = struct.unpack_from("<I", self.buf, 0)[0]
        if root >= self.size:
            raise FormatError(self.path, FORMAT, f"root table offset {root} lies past the end of the file")
        fb = tflite.Model.GetRootAs(self.buf, 0)
        model = Model(FORMAT)
        model.format_version = str(fb.Version())
        description = fb.Description()
        model.producer = description.decode("utf-8", "replace") if description else ""
        self.opcodes = [self.opcode(fb.OperatorCodes(i)) for i in range(self.count(fb.OperatorCodesLength(), "operator_codes"))]
        self.buffers = [self.buffer_span(fb.Buffers(i)) for i in range(self.count(fb.BuffersLength(), "buffers"))]
        n_graphs = self.count(fb.SubgraphsLength(), "subgraphs")
        if n_graphs == 0:
            raise FormatError(self.path, FORMAT, "the model has no subgraph")
        self.graphs = [Graph(kind="main" if i == 0 else "subgraph") for i in range(n_graphs)]
        self.references: dict[int, set[int]] = {i: set() for i in range(n_graphs)}
        for index in range(n_graphs):
            self.fill_graph(fb.Subgraphs(index), index)
        model.graphs = self.graphs
        model_info.add_metadata(model, fb, self.buffers, self.buf, self.count)
        model_info.add_signatures(model, fb, self.graphs, self.count)
        model.imports = {"tflite": f"schema {fb.Version()}"}
        model.source = self.path
        return model

    def opcode(self, code: Any) -> tuple[str, bool, int]:
        """(operator name, is custom, version) of an OperatorCode entry."""
        # Codes above 127 live in builtin_code; older files only set deprecated_builtin_code.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = code.CustomCode()
        if builtin == 32 or custom is not None:  # BuiltinOperator.CUSTOM
            name = custom.decode("utf-8", "replace") if custom else "CUSTOM"
            return name, True, code.Version()
        return BUILTIN_OPCODE2NAME.get(builtin, f"BUILTIN_{builtin}"), False, code.Version()

    def buffer_span(self, buffer: Any) -> Span | None:
        """The byte range of a buffer's data in the file, or None when it holds none."""
        if buffer is None:
            return None
        tab = buffer._tab
        o = tab.Offset(4)
        if o:
            length = tab.VectorLen(o)
            if length:
                return Span(tab.Vector(o), length)
        # Large models (> 2 GB) keep buffers after the flatbuffer; offset 1 marks "none".
        offset, size = buffer.Offset(), buffer.Size()
        if offset > 1 and size > 0:
            return Span(offset, size)
        return None

    # -- one subgraph ---------------------------------------------------------------
    def fill_graph(self, sg: Any, index: int) -> None:
        graph = self.graphs[index]
        name = sg.Name()
        graph.name = name.decode("utf-8", "replace") if name else ("main" if index == 0 else f"subgraph_{index}")
        tensors = [self.value(graph, sg.Tensors(i), i) for i in range(self.count(sg.TensorsLength(), "tensors"))]

        def tensor_at(i: int) -> Value | None:
            if i < 0:  # -1 marks an omitted optional input
                return None
            if i >= len(tensors):
                raise FormatError(self.path, FORMAT, f"subgraph {index} refers to tensor {i} of {len(tensors)}")
            return tensors[i]

        graph.inputs = [v for i in self.int_vector(sg, "Inputs") if (v := tensor_at(i)) is not None]
        graph.outputs = [v for i in self.int_vector(sg, "Outputs") if (v := tensor_at(i)) is not None]
        for i in range(self.count(sg.OperatorsLength(), "operators")):
            graph.add_node(self.node(sg.Operators(i), i, index, tensor_at))
        graph.link()

    def int_vector(self, table: Any, field: str) -> list[int]:
        n = self.count(getattr(table, field + "Length")(), field.lower())
        return [int(x) for x in getattr(table, field + "AsNumpy")()] if n else []

    def value(self, graph: Graph, t: Any, index: int) -> Value:
        raw_name = t.Name()
        name = raw_name.decode("utf-8", "replace") if raw_name else f"tensor_{index}"
        if name in graph.values:  # names should be unique but nothing enforces it
            name = f"{name}#{index}"
        type_name = self.tensor_types.get(t.Type(), f"TYPE_{t.Type()}")
        dtype, np_dtype = DTYPES.get(type_name, (type_name.lower(), None))
        # An empty shape is a scalar; unranked tensors are told apart by shape_signature.
        shape = tuple(self.int_vector(t, "Shape"))
        buffer_index = t.Buffer()
        span = self.buffers[buffer_index] if 0 < buffer_index < len(self.buffers) else None
        display: tuple[int | None, ...] | None = self.display_shape(t, shape)
        if not shape and not t.HasRank() and span is None:
            display = None  # schema: has_rank false with shape [] means the rank is unknown
        value = Value(name, TensorType(dtype, display))
        graph.values[name] = value
        value.metadata["tensor_index"] = str(index)
        if t.IsVariable():
            value.metadata["variable"] = "true"
        value.quantization = self.quantization(t.Quantization())
        sparsity = t.Sparsity()
        if span is not None:
            value.initializer = self.tensor(name, dtype, np_dtype, shape, span, buffer_index, sparsity)
        return value

    def display_shape(self, t: Any, shape: tuple[int, ...]) -> tuple[int | None, ...]:
        """The shape with dynamic dimensions (-1 in shape_signature) shown as unknown."""
        signature = self.int_vector(t, "ShapeSignature")
        if len(signature) != len(shape):
            return shape
        return tuple(None if s < 0 else d for s, d in zip(signature, shape, strict=True))

    def quantization(self, q: Any) -> Quantization | None:
        if q is None:
            return None
        scale = [float(x) for x in q.ScaleAsNumpy()] if self.count(q.ScaleLength(), "scale") else []
        zero_point = [int(x) for x in q.ZeroPointAsNumpy()] if self.count(q.ZeroPointLength(), "zero_point", 8) else []
        lo = [float(x) for x in q.MinAsNumpy()] if self.count(q.MinLength(), "min") else []
        hi = [float(x) for x in q.MaxAsNumpy()] if self.count(q.MaxLength(), "max") else []
        if not (scale or zero_point or lo or hi):
            return None
        axis = q.QuantizedDimension() if len(scale) > 1 else None
        details: Metadata = {}
        if q.DetailsType():
            details["details"] = "custom quantization"
        return Quantization(scale=scale, zero_point=zero_point, axis=axis, min=lo, max=hi, details=details)

    def tensor(
        self, name: str, dtype: str, np_dtype: str | None, shape: tuple[int, ...], span: Span, buffer_index: int, sparsity: Any
    ) -> Tensor:
        location = f"{self.path.name} @ {span.offset}, {span.length} bytes (buffer {buffer_index})"
        metadata: Metadata = {"buffer": str(buffer_index)}
        kind = "dense"
        if sparsity is not None:
            kind = "sparse"
            metadata.update(model_info.sparsity_metadata(sparsity, self.count))
        if dtype == "string" and kind == "dense" and all(d >= 0 for d in shape):
            loader = string_loader(self.path, span.offset, span.length, shape, FORMAT)
        elif np_dtype is None or kind == "sparse" or any(d < 0 for d in shape):
            # Values numpy cannot type, or compressed sparse values: expose the raw bytes.
            loader = self.loader(span, "u1", (span.length,))
            if np_dtype is not None and kind == "sparse" and span.length % np.dtype(np_dtype).itemsize == 0:
                loader = self.loader(span, np_dtype, (span.length // np.dtype(np_dtype).itemsize,))
                metadata["values"] = "the stored non-zero values, in traversal order"
            elif np_dtype is None:
                metadata["values"] = f"raw {dtype} bytes"
        else:
            loader = self.loader(span, np_dtype, shape)
        return Tensor(name, dtype, shape, loader=loader, byte_size=span.length, location=location, kind=kind, metadata=metadata)

    def loader(self, span: Span, np_dtype: str, shape: tuple[int, ...]) -> Callable[[], np.ndarray]:
        """A memory-mapped loader whose errors name this file and format."""
        return file_slice_loader(self.path, span.offset, span.length, np_dtype, shape, FORMAT)

    # -- one operator ---------------------------------------------------------------
    def node(self, op: Any, position: int, graph_index: int, tensor_at: Callable[[int], Value | None]) -> Node:
        opcode_index = op.OpcodeIndex()
        if not 0 <= opcode_index < len(self.opcodes):
            raise FormatError(self.path, FORMAT, f"operator {position} of subgraph {graph_index} uses opcode {opcode_index} of {len(self.opcodes)}")
        op_name, custom, version = self.opcodes[opcode_index]
        spec = spec_for(op_name, custom)
        inputs = [
            Port(input_port_name(spec, i), [v] if (v := tensor_at(t)) is not None else [])
            for i, t in enumerate(self.int_vector(op, "Inputs"))
        ]
        outputs = [
            Port("output" if i == 0 else f"output{i}", [v] if (v := tensor_at(t)) is not None else [])
            for i, t in enumerate(self.int_vector(op, "Outputs"))
        ]
        category = Category(spec.category) if spec else Category.OTHER
        first_output = next((p.values[0].name for p in outputs if p.values), "")
        node = Node(op_name, name=first_output or f"{op_name.lower()}_{position}", domain="custom" if custom else "",
                    inputs=inputs, outputs=outputs, category=category, doc=spec.summary if spec else "")
        node.metadata["opcode_version"] = str(version)
        attributes, references = self.builtin_options(op)
        node.attributes.extend(attributes)
        if custom:
            node.attributes.extend(self.custom_options(op))
        for field, target in references.items():
            self.attach_subgraph(node, field, graph_index, target)
        return node

    def builtin_options(self, op: Any) -> tuple[list[Attribute], dict[str, int]]:
        attributes: list[Attribute] = []
        references: dict[str, int] = {}
        for union, type_getter, table_getter in (
            ("BuiltinOptions", "BuiltinOptionsType", "BuiltinOptions"),
            ("BuiltinOptions2", "BuiltinOptions2Type", "BuiltinOptions2"),
        ):
            cls = options_class(union, getattr(op, type_getter)())
            table = getattr(op, table_getter)() if cls is not None else None
            if cls is None or table is None:
                continue
            found, refs = read_options(table, cls, self.size)
            attributes.extend(found)
            references.update(refs)
        return attributes, references

    def custom_options(self, op: Any) -> list[Attribute]:
        """Custom options as an attribute: the decoded flexbuffer map, or the raw size."""
        data = b""
        if self.count(op.CustomOptionsLength(), "custom_options", 1):
            data = op.CustomOptionsAsNumpy().tobytes()
        elif op.LargeCustomOptionsSize() > 0:
            offset, length = op.LargeCustomOptionsOffset(), op.LargeCustomOptionsSize()
            if offset + length > self.size:
                return [Attribute("custom_options", AttrKind.STRING, f"<{length} bytes at {offset}, past the end of the file>")]
            data = bytes(self.buf[offset : offset + min(length, 1 << 20)])
        if not data:
            return []
        if op.CustomOptionsFormat() == 0 and decode_flexbuffer(data) is not None:  # FLEXBUFFERS
            return [flexbuffer_attribute("custom_options", data)]
        return [Attribute("custom_options", AttrKind.STRING, f"<{len(data)} bytes: {data[:32].hex()}{'…' if len(data) > 32 else ''}>")]

    def attach_subgraph(self, node: Node, field: str, source: int, target: int) -> None:
        """Attach subgraph ``target`` to the node unless the reference is invalid or cyclic."""
        name = field.removesuffix("_index")
        if not 0 <= target < len(self.graphs) or self.reaches(target, source):
            # Out of range or recursive: keep the number, never a cycle the viewer would walk forever.
            node.attributes.append(Attribute(field, AttrKind.INT, target))
            return
        self.references[source].add(target)
        graph = self.graphs[target]
        node.subgraphs.append(graph)
        node.attributes.append(Attribute(name, AttrKind.GRAPH, graph))

    def reaches(self, start: int, goal: int) -> bool:
        """Whether subgraph ``start`` already refers, directly or not, to ``goal`` (or is it)."""
        stack, seen = [start], set()
        while stack:
            g = stack.pop()
            if g == goal:
                return True
            if g not in seen:
                seen.add(g)
                stack.extend(self.references[g])
        return False
