"""A protobuf wire-format pass that takes the weights out of an ONNX file.

``onnx.load`` copies every tensor's ``raw_data`` into memory, so a 10 GB model
would need 10 GB to open. Instead we walk the memory-mapped bytes along the
ONNX schema (model -> graph -> initializer/node -> attribute -> tensor ...),
leave each large ``raw_data`` field (TensorProto field 9) out, and assemble a
structure-only copy of the file with the enclosing length prefixes re-encoded.

Where a ``raw_data`` field was removed, the tensor gets one extra
``metadata_props`` entry (field 16) whose key is :data:`RAW_MARKER` and whose
value is ``"offset,length"`` in the original file, so each parsed TensorProto
knows where its bytes are without relying on traversal order.

Every length is checked against the bytes that remain; anything inconsistent
raises :class:`WireError`. The varint and field primitives are the core's
(:mod:`netray.protowire`), shared with the other protobuf-based plugins.
"""

from __future__ import annotations

import mmap
from typing import Final

from netray.protowire import WireError, encode_varint, read_varint, skip_field

__all__ = ["RAW_MARKER", "WireError", "encode_varint", "raw_marker", "read_varint", "structure_bytes"]

BytesLike = bytes | bytearray | memoryview | mmap.mmap

RAW_MARKER: Final = "netray.raw_data"
"""Key of the metadata entry that records where a removed raw_data lies."""

# Messages smaller than this are copied as they are, without looking inside:
# the raw_data they may hold is small, and skipping them keeps the pass fast.
DESCEND_MIN_BYTES: Final = 1024
MAX_DEPTH: Final = 64

# Message kinds, and for each the length-delimited fields that hold messages we descend into.
MODEL, GRAPH, NODE, ATTRIBUTE, TENSOR, SPARSE, FUNCTION, TRAINING = range(8)
CHILDREN: Final[dict[int, dict[int, int]]] = {
    MODEL: {7: GRAPH, 20: TRAINING, 25: FUNCTION},
    GRAPH: {1: NODE, 5: TENSOR, 15: SPARSE},
    NODE: {5: ATTRIBUTE},
    ATTRIBUTE: {5: TENSOR, 6: GRAPH, 10: TENSOR, 11: GRAPH, 22: SPARSE, 23: SPARSE},
    SPARSE: {1: TENSOR, 2: TENSOR},
    FUNCTION: {7: NODE, 11: ATTRIBUTE},
    TRAINING: {1: GRAPH, 2: GRAPH},
    TENSOR: {},
}
RAW_DATA_FIELD: Final = 9
TENSOR_METADATA_FIELD: Final = 16


def _field_bytes(field: int, payload: bytes) -> bytes:
    return encode_varint(field << 3 | 2) + encode_varint(len(payload)) + payload


def raw_marker(offset: int, length: int) -> bytes:
    """The metadata_props entry recording a removed raw_data's place in the file."""
    entry = _field_bytes(1, RAW_MARKER.encode()) + _field_bytes(2, f"{offset},{length}".encode())
    return _field_bytes(TENSOR_METADATA_FIELD, entry)


def strip_message(data: memoryview, start: int, end: int, kind: int, depth: int = 0) -> list[bytes | memoryview] | None:
    """Walk one message; return its new content as chunks, or None when nothing changed."""
    if depth > MAX_DEPTH:
        raise WireError(f"messages nested more than {MAX_DEPTH} deep")
    children = CHILDREN[kind]
    chunks: list[bytes | memoryview] = []
    copied = start  # bytes [copied, pos) are still to be copied unchanged
    changed = False
    raw: tuple[int, int] | None = None
    pos = start
    while pos < end:
        field_start = pos
        key, pos = read_varint(data, pos, end)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0 is not valid")
        if wire_type != 2:
            pos = skip_field(data, wire_type, pos, end)
            continue
        length, value_start = read_varint(data, pos, end)
        pos = value_start + length
        if pos > end:
            raise WireError(f"a field of {length} bytes runs past the end of its message (file truncated or corrupt)")
        if kind == TENSOR and field == RAW_DATA_FIELD:
            if length < DESCEND_MIN_BYTES // 4:
                continue  # tiny: leave it inline
            chunks.append(data[copied:field_start])
            copied = pos
            raw = (value_start, length)
            changed = True
            continue
        child = children.get(field)
        if child is None or length < DESCEND_MIN_BYTES:
            continue
        inner = strip_message(data, value_start, pos, child, depth + 1)
        if inner is None:
            continue
        chunks.append(data[copied:field_start])
        size = sum(len(c) for c in inner)
        chunks.append(encode_varint(field << 3 | 2) + encode_varint(size))
        chunks.extend(inner)
        copied = pos
        changed = True
    if pos != end:
        raise WireError("a field runs past the end of its message (file truncated or corrupt)")
    if not changed:
        return None
    chunks.append(data[copied:end])
    if raw is not None:
        chunks.append(raw_marker(*raw))
    return chunks


def structure_bytes(buf: BytesLike) -> bytes:
    """The ModelProto bytes of ``buf`` without its large raw_data fields."""
    data = memoryview(buf)
    chunks = strip_message(data, 0, len(data), MODEL)
    return bytes(data) if chunks is None else b"".join(chunks)
