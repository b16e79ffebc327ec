"""Reads an XnnpackBackend delegate's processed data: the XNNPACK subgraph the delegate runs.

The blob (backends/xnnpack/serialization in pytorch/executorch) starts with an
"XH00" header: 4 bytes, the magic at 4..8, its length (uint16), the flatbuffer's offset
and size (uint32 each), the constant data's offset (uint32) and size (uint64). The
flatbuffer (identifier "XN01", older "XN00") is an ``XNNGraph``: values (tensors with
dims, datatype, quantization, an index into ``constant_data``) and nodes (a union of
operator tables whose ``*_id`` fields name values). Constant data lies in the blob after
the flatbuffer, or, since 2025, in the program's named data (``ConstantDataOffset.named_key``).
Older blobs are the flatbuffer alone. External values are the delegate call's arguments:
``external_id`` is the argument's position, the flags say input (1) or output (2).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from netray import Attribute, Graph, MetaValue, Node, Port, Quantization, Tensor, TensorType, Value, file_slice_loader
from netray.flatwire import Buffer, FlatError, Table
from netray_executorch.formats import FORMAT
from netray_executorch.operators import category

INVALID_ID = 0xFFFFFFFF
NO_OFFSET = 0xFFFFFFFFFFFFFFFF
EXTERNAL_INPUT = 1
EXTERNAL_OUTPUT = 2

# XNNDatatype: (netray dtype, XNNPACK's name).
DATATYPES = {
    1: ("float32", "fp32"),
    2: ("float16", "fp16"),
    3: ("int8", "qint8"),
    4: ("uint8", "quint8"),
    5: ("int32", "qint32"),
    6: ("int8", "qcint8"),
    7: ("int32", "qcint32"),
    8: ("int4", "qcint4"),
    9: ("int8", "qdint8"),
    10: ("int4", "qbint4"),
    11: ("int8", "qpint8"),
    12: ("int32", "int32"),
    13: ("float32", "pfp32"),
    14: ("bfloat16", "bf16"),
}

# The fields of each node table, in schema order: "name" (uint), "name:float", "name:[uint]".
_2X1 = ("input1_id", "input2_id", "output_id", "flags")
_1X1 = ("input_id", "output_id", "flags")
_CONV = (
    "padding_top padding_right padding_bottom padding_left kernel_height kernel_width subsampling_height "
    "subsampling_width dilation_height dilation_width group_input_channels group_output_channels groups "
    "adjustment_height adjustment_width input1_id filter_id bias_id output_id flags"
).split()
_POOL = (
    "padding_top padding_right padding_bottom padding_left pooling_height pooling_width stride_height stride_width "
    "dilation_height dilation_width input_id output_id flags"
).split()
_CAT = ("axis", "input1_id", "input2_id", "input3_id", "input4_id", "output_id", "flags", "input5_id")
_FC = ("input1_id", "filter_id", "bias_id", "output_id", "flags")

# XNodeUnion members in schema order (type 1 first).
NODE_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("XNNAdd", _2X1),
    ("XNNFullyConnected", _FC),
    ("XNNSoftmax", _1X1),
    ("XNNSigmoid", _1X1),
    ("XNNStaticTranspose", ("num_dims", "perm:[uint]", "input_id", "output_id", "flags")),
    ("XNNClamp", _1X1),
    ("XNNConv2d", tuple(_CONV)),
    ("XNNDiv", _2X1),
    ("XNNStaticResizeBilinear2D", ("new_height", "new_width", "input_id", "output_id", "flags")),
    ("XNNStaticConstantPad", ("pre_paddings:[uint]", "post_paddings:[uint]", "padding_value:float", "input_id", "output_id", "flags")),
    ("XNNAvgPooling2d", tuple(_POOL)),
    ("XNNMinimum", _2X1),
    ("XNNDepthwiseConv2d", tuple(_CONV)),
    ("XNNMaxPooling2d", tuple(_POOL)),
    ("XNNMultiply", _2X1),
    ("XNNSubtract", _2X1),
    ("XNNFloor", _1X1),
    ("XNNConvert", _1X1),
    ("XNNGlobalAvgPooling2d", _1X1),
    ("XNNStaticReshape", ("num_dims", "new_shape:[uint]", "input_id", "output_id", "flags")),
    (
        "XNNArgMaxPooling2d",
        tuple(
            "padding_top padding_right padding_bottom padding_left pooling_height pooling_width input_id "
            "output_value_id output_index_id flags".split()
        ),
    ),
    ("XNNSquareRoot", _1X1),
    ("XNNCeiling", _1X1),
    ("XNNHardswish", _1X1),
    ("XNNLeakyReLU", ("negative_slope:float", "input_id", "output_id", "flags")),
    ("XNNMaximum", _2X1),
    ("XNNNegate", _1X1),
    ("XNNSquare", _1X1),
    ("XNNELU", ("alpha:float", "input_id", "output_id", "flags")),
    ("XNNAbs", _1X1),
    ("XNNPReLU", _2X1),
    ("XNNConcatenate2", _CAT),
    ("XNNConcatenate3", _CAT),
    ("XNNConcatenate4", _CAT),
    ("XNNStaticSlice", ("num_dims", "offsets:[uint]", "sizes:[uint]", "input_id", "output_id", "flags")),
    ("XNNScaledDotProductAttention", ("query_id", "key_id", "value_id", "scale_id", "mask_id", "output_id", "flags")),
    ("XNNBatchMatrixMultiply", _2X1),
    ("XNNConcatenate5", _CAT),
    ("XNNConvTranspose2d", tuple(_CONV)),
    ("XNNReciprocalSquareRoot", _1X1),
    ("XNNLog", _1X1),
    ("XNNGelu", _1X1),
    ("XNNTanh", _1X1),
    ("XNNExp", _1X1),
    ("XNNSin", _1X1),
    ("XNNCopy", _1X1),
    ("XNNCos", _1X1),
)
_OUTPUT_FIELDS = ("output_id", "output_value_id", "output_index_id")


class BadBlob(Exception):
    """The delegate's data is not a readable XNNPACK subgraph; the message is one sentence."""


@dataclass
class Decoded:
    """An XNNPACK subgraph and how it meets the delegate call."""

    graph: Graph
    version: str
    inputs: list[int]  # argument positions (external ids) read by the subgraph
    outputs: list[int]  # argument positions written by it
    named_keys: set[str] = field(default_factory=set)  # named data the subgraph's weights come from


@dataclass
class Blob:
    """Where a delegate's data lies in the .pte file and what it can reach."""

    path: Path
    buf: Buffer
    file_size: int
    start: int
    length: int
    named: dict[str, tuple[int, int]]  # named data key -> (file position, size)


def decode(blob: Blob, graph_name: str, arg_names: Callable[[int], str | None]) -> Decoded:
    """The XNNPACK subgraph in ``blob``; ``arg_names(k)`` names the delegate call's k-th argument."""
    try:
        return _decode(blob, graph_name, arg_names)
    except FlatError as exc:
        raise BadBlob(f"its XNNGraph flatbuffer is corrupt: {exc}") from None
    except (struct.error, ValueError, IndexError) as exc:
        raise BadBlob(f"its XNNGraph flatbuffer is corrupt: {exc}") from None


def _decode(blob: Blob, graph_name: str, arg_names: Callable[[int], str | None]) -> Decoded:
    buf, start, end = blob.buf, blob.start, blob.start + blob.length
    if blob.length < 8:
        raise BadBlob(f"it has {blob.length} bytes, too few for an XNNPACK header")
    constant_base = None
    if bytes(buf[start + 4 : start + 8]) == b"XH00":
        if blob.length < 30:
            raise BadBlob("its XNNPACK header is cut short")
        fb_offset, fb_size, const_offset = struct.unpack_from("<III", buf, start + 10)
        const_size = struct.unpack_from("<Q", buf, start + 22)[0]
        if fb_offset + fb_size > blob.length or const_offset + const_size > blob.length:
            raise BadBlob("its XNNPACK header points past the end of the delegate data")
        fb_start, fb_end = start + fb_offset, start + fb_offset + fb_size
        constant_base = start + const_offset
    else:
        fb_start, fb_end = start, end
    identifier = bytes(buf[fb_start + 4 : fb_start + 8])
    if identifier not in (b"XN00", b"XN01"):
        raise BadBlob(f"its flatbuffer identifier is {identifier!r}, not XNNPACK's XN01")
    root = Table.root(buf, fb_end, "the XNNGraph", start=fb_start)
    version = root.string(0, "XNNGraph.version")
    constant_data = [(t.scalar(0, "ulong"), t.scalar(1, "ulong"), t.string(2, f"{t.what}.named_key")) for t in root.tables(8, "XNNGraph.constant_data")]
    legacy = [t.vector_span(0, 1, f"{t.what}.storage") for t in root.tables(6, "XNNGraph.constant_buffer")]

    graph = Graph(graph_name, "delegate")
    values: dict[int, Value] = {}
    inputs: list[tuple[int, Value]] = []
    outputs: list[tuple[int, Value]] = []
    used_keys: set[str] = set()
    for k, item in enumerate(root.tables(2, "XNNGraph.xvalues")):
        kind, body = item.union(0, f"xvalues[{k}]")
        if body is None or kind not in (1, 2):
            continue
        tensor, quant = (body, None) if kind == 1 else (body.table(0, f"xvalues[{k}].tensor_value"), body)
        if tensor is None:
            continue
        datatype = tensor.scalar(0, "short")
        dims = tensor.scalars(2, "uint", f"xvalues[{k}].dims")
        constant_idx = tensor.scalar(3, "uint")
        external_id = tensor.scalar(4, "uint")
        flags = tensor.scalar(5, "uint")
        value_id = tensor.scalar(6, "uint")
        dtype, xnn_name = DATATYPES.get(datatype, (f"xnn_datatype_{datatype}", f"datatype {datatype}"))
        outer = arg_names(external_id) if flags & (EXTERNAL_INPUT | EXTERNAL_OUTPUT) else None
        name = outer or f"xnn{value_id}"
        value = graph.value(name, TensorType(dtype, tuple(dims)))
        value.metadata["xnn_datatype"] = xnn_name
        if quant is not None:
            value.quantization = _quantization(quant, k)
            scales = _stored_scales(blob, quant, constant_data, legacy, constant_base, k)
            if scales is not None and value.quantization is not None:
                value.quantization.scale, key = scales
                if key:
                    used_keys.add(key)
        if constant_idx:
            where = _constant_location(blob, constant_idx, constant_data, legacy, constant_base, k)
            if where[2]:
                used_keys.add(where[2])
            value.initializer = _weight(blob, name, dtype, tuple(dims), where, value.quantization)
        values[value_id] = value
        if flags & EXTERNAL_INPUT:
            inputs.append((external_id, value))
        if flags & EXTERNAL_OUTPUT:
            outputs.append((external_id, value))

    for k, item in enumerate(root.tables(1, "XNNGraph.xnodes")):
        graph.add_node(_node(item, k, values))
    inputs.sort(key=lambda pair: pair[0])
    outputs.sort(key=lambda pair: pair[0])
    graph.inputs = [v for _, v in inputs]
    graph.outputs = [v for _, v in outputs]
    graph.link()
    return Decoded(graph, version, [i for i, _ in inputs], [i for i, _ in outputs], used_keys)


def _quantization(table: Table, k: int) -> Quantization | None:
    kind, params = table.union(1, f"xvalues[{k}].quant_params")
    if params is None:
        return None
    if kind == 1:  # PerChannelQuant
        return Quantization(scale=params.scalars(0, "float", "scale"), axis=params.scalar(1, "int"))
    if kind == 2:  # PerTensorQuant
        return Quantization(scale=[params.scalar(0, "float", 0.0)], zero_point=[params.scalar(1, "int")])
    if kind == 3:  # PerTokenDynamicQuant
        return Quantization(details={"dynamic": "per token", "num_nonbatch_dims": params.scalar(0, "int")})
    if kind == 4:  # PerChannelGroupQuant
        scales = params.scalars(0, "float", "scale")
        details: dict[str, MetaValue] = {}
        if not scales and params.scalar(4, "uint"):
            details["scales"] = f"bf16 in constant data {params.scalar(4, 'uint')}"
        return Quantization(
            scale=scales, axis=params.scalar(1, "int"), scheme="block", block_size=params.scalar(2, "int") or None, details=details
        )
    return None


MAX_SCALE_BYTES = 1 << 22


def _stored_scales(
    blob: Blob,
    table: Table,
    constant_data: list[tuple[int, int, str]],
    legacy: list[tuple[int, int] | None],
    constant_base: int | None,
    k: int,
) -> tuple[list[float], str] | None:
    """Per-channel scales kept as constant data (``scale_buffer_idx``): read now, they are a value's parameters."""
    kind, params = table.union(1, f"xvalues[{k}].quant_params")
    if params is None or kind not in (1, 4):
        return None
    slot = 2 if kind == 1 else 4
    index, count = params.scalar(slot, "uint"), params.scalar(slot + 1, "uint")
    if not index or params.scalars(0, "float", "scale"):
        return None
    position, size, key = _constant_location(blob, index, constant_data, legacy, constant_base, k)
    if size > MAX_SCALE_BYTES or (size != count * 4 and size != count * 2):
        return None
    raw = bytes(blob.buf[position : position + size])
    if size == count * 4:
        return np.frombuffer(raw, "<f4").astype(float).tolist(), key
    bf16 = np.frombuffer(raw, "<u2").astype(np.uint32) << 16  # bfloat16 is float32's upper half
    return bf16.view(np.float32).astype(float).tolist(), key


def _constant_location(
    blob: Blob,
    index: int,
    constant_data: list[tuple[int, int, str]],
    legacy: list[tuple[int, int] | None],
    constant_base: int | None,
    k: int,
) -> tuple[int, int, str]:
    """(file position, size, named key) of constant ``index``, checked to lie in the file."""
    if constant_data:
        if index >= len(constant_data):
            raise BadBlob(f"value {k} refers to constant {index}; the subgraph has {len(constant_data)}")
        offset, size, key = constant_data[index]
        if key:
            if key not in blob.named:
                raise BadBlob(f"value {k} refers to named data {key!r}, which the program does not hold")
            position, available = blob.named[key]
            if size > available:
                raise BadBlob(f"value {k} needs {size:,} bytes of named data {key!r}, which holds {available:,}")
            return position, size, key
        if constant_base is None or offset == NO_OFFSET:
            raise BadBlob(f"constant {index} has neither a named key nor an offset")
        position = constant_base + offset
        if offset + size > blob.start + blob.length - constant_base:
            raise BadBlob(f"constant {index} at {offset:,}+{size:,} lies past the end of the delegate data")
        return position, size, ""
    if index < len(legacy) and legacy[index] is not None:
        position, size = legacy[index]  # type: ignore[misc]
        return position, size, ""
    raise BadBlob(f"value {k} refers to constant {index}, which the subgraph does not hold")


def _weight(blob: Blob, name: str, dtype: str, shape: tuple[int, ...], where: tuple[int, int, str], q: Quantization | None) -> Tensor:
    position, size, key = where
    location = f"named data {key!r}" if key else f"{blob.path.name} @ {position:,}"
    location += f", {size:,} bytes"
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    itemsize = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "uint8": 1, "int32": 4}.get(dtype)
    if itemsize is not None and count * itemsize == size:
        if dtype == "bfloat16":
            from netray.dtypes import numpy_dtype

            np_dtype = numpy_dtype("bfloat16")
            if np_dtype is None:
                return Tensor(name, dtype, shape, None, size, location=location + " (ml_dtypes is needed to read bfloat16)", quantization=q)
            return Tensor(name, dtype, shape, file_slice_loader(blob.path, position, size, np_dtype, shape, FORMAT), size, location, quantization=q)
        loader = file_slice_loader(blob.path, position, size, "<" + np.dtype(dtype).str[1:], shape, FORMAT)
        return Tensor(name, dtype, shape, loader, size, location=location, quantization=q)
    # Packed 4-bit weights, or sizes that do not match the dims: the stored bytes as they are.
    raw = Tensor(name, "uint8", (size,), file_slice_loader(blob.path, position, size, "uint8", (size,), FORMAT), size, location, quantization=q)
    raw.metadata["stored"] = f"{dtype}[{'x'.join(str(d) for d in shape)}] packed by XNNPACK"
    return raw


def _node(table: Table, k: int, values: dict[int, Value]) -> Node:
    kind, body = table.union(0, f"xnodes[{k}]")
    if not 1 <= kind <= len(NODE_TYPES) or body is None:
        return Node(f"XNNNode{kind}", f"xnode {k}", domain="xnnpack")
    op, fields = NODE_TYPES[kind - 1]
    node = Node(op, f"xnode {k}", domain="xnnpack", category=category(op, "xnnpack"))
    concat_inputs = int(op[-1]) if op.startswith("XNNConcatenate") else None
    for slot, spec in enumerate(fields):
        name, _, kind_text = spec.partition(":")
        if name.endswith("_id"):
            value_id = body.scalar(slot, "uint")  # absent means 0 (flatbuffers omits defaults); none is INVALID_ID
            port = name[: -len("_id")]
            if concat_inputs is not None and port.startswith("input") and int(port[5:]) > concat_inputs:
                continue
            value = values.get(value_id)
            if value_id == INVALID_ID or value is None:
                continue
            (node.outputs if name in _OUTPUT_FIELDS else node.inputs).append(Port(port, [value]))
        elif kind_text == "[uint]":
            attr = Attribute.of(name, body.scalars(slot, "uint", f"xnodes[{k}].{name}"))
        elif kind_text == "float":
            attr = Attribute.of(name, body.scalar(slot, "float", 0.0))
        else:
            number = body.scalar(slot, "uint")
            if name == "flags" and not number:
                continue
            attr = Attribute.of(name, number)
        if not name.endswith("_id") and attr is not None:
            node.attributes.append(attr)
    debug_handle = table.scalar(2, "uint")
    if debug_handle:
        node.attributes.append(Attribute.of("debug_handle", debug_handle))  # type: ignore[arg-type]
    bounds = table.table(3, f"xnodes[{k}].output_min_max")
    if bounds is not None:
        node.attributes.append(Attribute.of("output_min", bounds.scalar(0, "float", 0.0)))  # type: ignore[arg-type]
        node.attributes.append(Attribute.of("output_max", bounds.scalar(1, "float", 0.0)))  # type: ignore[arg-type]
    return node
