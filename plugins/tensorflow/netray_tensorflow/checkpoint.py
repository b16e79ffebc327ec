"""TensorFlow checkpoints (TensorBundle: ``variables.index`` + ``variables.data-*``), headers only.

The index is a LevelDB-style table (blocks of prefix-compressed key/value entries,
optionally Snappy-compressed, a footer with the index block's handle). Each key is a
checkpoint key; each value a BundleEntryProto (dtype 1, shape 2, shard_id 3,
offset 4, size 5). The key ``""`` holds the BundleHeaderProto (num_shards 1).
Tensor bytes stay in the data shards and are memory-mapped on request.
Every offset and length is checked against the file it points into.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from netray import FormatError, Tensor, file_slice_loader
from netray_tensorflow.sniff import fields, varint
from netray_tensorflow.tensors import STORAGE, dtype_name, shape_of

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER = 5  # compression type byte + crc32
MAX_BLOCK = 64 * 1024 * 1024


@dataclass
class BundleEntry:
    key: str
    dtype: str
    shape: tuple[int, ...] | None
    shard: int
    offset: int
    size: int


def _varint(buf: bytes, pos: int, path: Path) -> tuple[int, int]:
    found = varint(buf, pos)
    if found is None:
        # varint gives up after ten bytes that all continue, or at the end of the buffer.
        what = "truncated" if len(buf) - pos < 10 else "overlong"
        raise FormatError(path, "TensorFlow checkpoint", f"{what} varint in the index")
    return found


def snappy_decompress(data: bytes, path: Path) -> bytes:
    """Snappy's raw format: a length, then literals and back-references, bounds-checked."""
    fail = "TensorFlow checkpoint"
    length, pos = _varint(data, 0, path)
    if length > MAX_BLOCK:
        raise FormatError(path, fail, f"a Snappy block claims {length} bytes")
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            n += 1
            if pos + n > len(data):
                raise FormatError(path, fail, "a Snappy literal runs past its block")
            out += data[pos : pos + n]
            pos += n
            continue
        if kind == 1:
            n = 4 + ((tag >> 2) & 7)
            offset = ((tag >> 5) << 8) | data[pos] if pos < len(data) else 0
            pos += 1
        else:
            width = 2 if kind == 2 else 4
            n = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + width], "little")
            pos += width
        if offset == 0 or offset > len(out) or len(out) + n > length:
            raise FormatError(path, fail, "a Snappy copy points outside its block")
        for _ in range(n):  # byte by byte: a copy may overlap what it writes
            out.append(out[-offset])
    if len(out) != length:
        raise FormatError(path, fail, f"a Snappy block decodes to {len(out)} bytes, not {length}")
    return bytes(out)


def _block(data: bytes, offset: int, size: int, path: Path) -> bytes:
    if offset < 0 or size < 0 or offset + size + BLOCK_TRAILER > len(data):
        raise FormatError(path, "TensorFlow checkpoint", f"a block at {offset}+{size} lies past the end of the index")
    raw = data[offset : offset + size]
    compression = data[offset + size]
    if compression == 1:
        return snappy_decompress(raw, path)
    if compression != 0:
        raise FormatError(path, "TensorFlow checkpoint", f"unknown block compression {compression}")
    return raw


def _entries(block: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one block (keys share prefixes with their predecessor)."""
    if len(block) < 4:
        raise FormatError(path, "TensorFlow checkpoint", "an index block is too short")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise FormatError(path, "TensorFlow checkpoint", "an index block has an impossible restart count")
    result = []
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos, path)
        unshared, pos = _varint(block, pos, path)
        value_len, pos = _varint(block, pos, path)
        if shared > len(key) or pos + unshared + value_len > end:
            raise FormatError(path, "TensorFlow checkpoint", "an index entry runs past its block")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        result.append((key, block[pos : pos + value_len]))
        pos += value_len
    return result


def _entry(key: str, value: bytes) -> BundleEntry:
    from tensorboard.compat.proto import tensor_shape_pb2

    dtype, shape, shard, offset, size = "unknown", None, 0, 0, 0
    for number, _, payload in fields(value, 16):
        if number == 1 and isinstance(payload, int):
            dtype = dtype_name(payload)
        elif number == 2 and isinstance(payload, bytes):
            proto = tensor_shape_pb2.TensorShapeProto()
            proto.ParseFromString(payload)
            s = shape_of(proto)
            shape = (
                None
                if s is None or any(not isinstance(d, int) for d in s)
                else tuple(int(d) for d in s if isinstance(d, int))
            )
        elif number == 3 and isinstance(payload, int):
            shard = payload
        elif number == 4 and isinstance(payload, int):
            offset = payload
        elif number == 5 and isinstance(payload, int):
            size = payload
    return BundleEntry(key, dtype, shape, shard, offset, size)


def read_index(index_path: Path) -> tuple[int, list[BundleEntry]]:
    """(number of data shards, entries) of a checkpoint's ``.index`` file."""
    try:
        data = index_path.read_bytes()
    except OSError as exc:
        raise FormatError(index_path, "TensorFlow checkpoint", f"cannot read: {exc.strerror or exc}") from exc
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise FormatError(index_path, "TensorFlow checkpoint", "not a TensorBundle index (no table footer)")
    footer = data[-FOOTER_SIZE:]
    _, pos = _varint(footer, 0, index_path)  # metaindex offset
    _, pos = _varint(footer, pos, index_path)  # metaindex size
    index_offset, pos = _varint(footer, pos, index_path)
    index_size, _ = _varint(footer, pos, index_path)
    shards, entries = 1, []
    for _, handle in _entries(_block(data, index_offset, index_size, index_path), index_path):
        block_offset, p = _varint(handle, 0, index_path)
        block_size, _ = _varint(handle, p, index_path)
        for key, value in _entries(_block(data, block_offset, block_size, index_path), index_path):
            if key == b"":
                header = fields(value, 4)
                shards = next((v for n, _, v in header if n == 1 and isinstance(v, int)), 1)
            else:
                entries.append(_entry(key.decode("utf-8", "replace"), value))
    return max(1, shards), entries


def entry_tensor(folder: Path, prefix: str, shards: int, entry: BundleEntry) -> Tensor:
    """A lazy Tensor over an entry's bytes in its data shard (dtypes numpy can map only)."""
    data_path = folder / f"{prefix}.data-{entry.shard:05d}-of-{shards:05d}"
    storage = STORAGE.get(entry.dtype)
    loader = None
    if storage is not None and entry.shape is not None and entry.dtype != "bfloat16":
        loader = file_slice_loader(data_path, entry.offset, entry.size, storage[0], entry.shape)
    return Tensor(
        entry.key,
        entry.dtype,
        entry.shape,
        loader=loader,
        byte_size=entry.size,
        location=f"{data_path.name} @ {entry.offset}",
    )


OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def read_string_scalar(data_path: Path, entry: BundleEntry) -> bytes:
    """A scalar string tensor: varint length, 4-byte checksum, then the bytes."""
    with open(data_path, "rb") as f:
        size = f.seek(0, 2)
        if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > size:
            raise FormatError(data_path, "TensorFlow checkpoint", f"{entry.key} lies past the end of the data file")
        f.seek(entry.offset)
        raw = f.read(entry.size)
    length, pos = _varint(raw, 0, data_path)
    if pos + 4 + length > len(raw):
        raise FormatError(data_path, "TensorFlow checkpoint", f"{entry.key} is shorter than it claims")
    return raw[pos + 4 : pos + 4 + length]


def variable_tensors(index_path: Path, saved_variable_names: dict[int, str]) -> dict[str, Tensor]:
    """Checkpoint tensors by the variable name a graph's variable node carries.

    TF1 checkpoints key tensors by variable name. TF2 keys them by object path
    (``a/.ATTRIBUTES/VARIABLE_VALUE``); the checkpoint's object graph gives each key's
    object index and ``saved_variable_names`` (from the SavedModel's object graph) that
    object's variable name. Keys that map nowhere keep their path without the suffix.
    """
    from tensorboard.compat.proto import trackable_object_graph_pb2

    folder = index_path.parent
    prefix = index_path.name.removesuffix(".index")
    shards, entries = read_index(index_path)
    names: dict[str, str] = {}
    object_graph = next((e for e in entries if e.key == OBJECT_GRAPH_KEY), None)
    if object_graph is not None and saved_variable_names:
        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        data_path = folder / f"{prefix}.data-{object_graph.shard:05d}-of-{shards:05d}"
        graph.ParseFromString(read_string_scalar(data_path, object_graph))
        for i, node in enumerate(graph.nodes):
            for attribute in node.attributes:
                if i in saved_variable_names and attribute.name == "VARIABLE_VALUE":
                    names[attribute.checkpoint_key] = saved_variable_names[i]
    tensors = {}
    for entry in entries:
        if entry.key == OBJECT_GRAPH_KEY:
            continue
        name = names.get(entry.key, entry.key.removesuffix(VALUE_SUFFIX))
        tensors[name] = entry_tensor(folder, prefix, shards, entry)
    return tensors
