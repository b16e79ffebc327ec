"""TensorFlow checkpoints (TensorBundle: ``prefix.index`` + ``prefix.data-NNNNN-of-NNNNN``).

The index is a LevelDB-style table (blocks of prefix-compressed key/value entries,
optionally Snappy-compressed, a footer with the index block's handle). Each key is a
checkpoint key; each value a BundleEntryProto (dtype 1, shape 2, shard_id 3,
offset 4, size 5, crc32c 6, slices 7). The key ``""`` holds the BundleHeaderProto
(num_shards 1, endianness 2, version 3). Tensor bytes stay in the data shards and are
memory-mapped on request; every offset and length is checked against the file it
points into, when the index is read (the index's own blocks) or when a tensor is read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from netray import FormatError, Tensor, dtypes, file_slice_loader
from netray_tensorflow.formats import CHECKPOINT
from netray_tensorflow.sniff import FOOTER_SIZE, TABLE_MAGIC, fields, varint
from netray_tensorflow.tensors import STORAGE, dtype_name, shape_of

BLOCK_TRAILER = 5  # compression type byte + crc32
MAX_BLOCK = 64 * 1024 * 1024
MAX_STRINGS = 1 << 24  # elements of a string tensor netray decodes (each is a Python object)
ENDIANNESS = {0: "little", 1: "big"}


@dataclass
class BundleEntry:
    key: str
    dtype: str
    shape: tuple[int, ...] | None
    shard: int
    offset: int
    size: int
    slices: int = 0  # > 0: a partitioned tensor whose slices are entries of their own


@dataclass
class BundleHeader:
    num_shards: int = 1
    endianness: int = 0
    producer: int | None = None
    min_consumer: int | None = None
    bad_consumers: list[int] = field(default_factory=list)

    def version_text(self) -> str:
        if self.producer is None:
            return ""
        text = f"producer {self.producer}, min consumer {self.min_consumer or 0}"
        return text + (f", bad consumers {self.bad_consumers}" if self.bad_consumers else "")


@dataclass
class Bundle:
    """A checkpoint's index, read: its header, its entries and where the data shards are."""

    index_path: Path
    header: BundleHeader
    entries: list[BundleEntry]
    slice_keys: int = 0  # entries holding one slice of a partitioned tensor (binary keys), not listed

    @property
    def prefix(self) -> str:
        return self.index_path.name.removesuffix(".index")

    def data_path(self, shard: int) -> Path:
        """The data shard ``shard`` (always beside the index: the name comes from ints, not the file)."""
        return self.index_path.with_name(f"{self.prefix}.data-{shard:05d}-of-{self.header.num_shards:05d}")

    def shard_ids(self) -> list[int]:
        return sorted({e.shard for e in self.entries if e.slices == 0})

    def tensor(self, entry: BundleEntry) -> Tensor:
        """A lazy Tensor over ``entry``'s bytes in its data shard; no loader where none can exist."""
        data_path = self.data_path(entry.shard)
        loader, note = _loader(self, entry, data_path)
        tensor = Tensor(
            entry.key,
            entry.dtype,
            entry.shape,
            loader=loader,
            byte_size=entry.size if entry.slices == 0 else None,
            location=f"{data_path.name} @ {entry.offset}",
        )
        if note:
            tensor.metadata["note"] = note
        return tensor


def _fail(path: Path, reason: str) -> FormatError:
    return FormatError(path, CHECKPOINT, reason)


def _varint(buf: bytes, pos: int, path: Path) -> tuple[int, int]:
    found = varint(buf, pos)
    if found is None:
        # varint gives up after ten bytes that all continue, or at the end of the buffer.
        what = "truncated" if len(buf) - pos < 10 else "overlong"
        raise _fail(path, f"{what} varint in the index")
    return found


def snappy_decompress(data: bytes, path: Path) -> bytes:
    """Snappy's raw format: a length, then literals and back-references, bounds-checked."""
    length, pos = _varint(data, 0, path)
    if length > MAX_BLOCK:
        raise _fail(path, f"a Snappy block claims {length} bytes")
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
            if pos + n > len(data) or len(out) + n > length:
                raise _fail(path, "a Snappy literal runs past its block")
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
        if offset == 0 or offset > len(out) or len(out) + n > length or pos > len(data):
            raise _fail(path, "a Snappy copy points outside its block")
        start = len(out) - offset
        if offset >= n:
            out += out[start : start + n]
        else:  # the copy overlaps what it writes: the last `offset` bytes repeat
            pattern = bytes(out[start:])
            out += (pattern * (n // offset + 1))[:n]
    if len(out) != length:
        raise _fail(path, f"a Snappy block decodes to {len(out)} bytes, not {length}")
    return bytes(out)


def _block(data: bytes, offset: int, size: int, path: Path) -> bytes:
    if offset < 0 or size < 0 or offset + size + BLOCK_TRAILER > len(data):
        raise _fail(path, f"a block at {offset}+{size} lies past the end of the index")
    raw = data[offset : offset + size]
    compression = data[offset + size]
    if compression == 1:
        return snappy_decompress(raw, path)
    if compression != 0:
        raise _fail(path, f"unknown block compression {compression}")
    return raw


def _entries(block: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one block (keys share prefixes with their predecessor)."""
    if len(block) < 4:
        raise _fail(path, "an index block is too short")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise _fail(path, "an index block has an impossible restart count")
    result = []
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos, path)
        unshared, pos = _varint(block, pos, path)
        value_len, pos = _varint(block, pos, path)
        if shared > len(key) or pos + unshared + value_len > end:
            raise _fail(path, "an index entry runs past its block")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        result.append((key, block[pos : pos + value_len]))
        pos += value_len
    return result


def _shape(payload: bytes, key: str, path: Path) -> tuple[int, ...] | None:
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import tensor_shape_pb2

    proto = tensor_shape_pb2.TensorShapeProto()
    try:
        proto.ParseFromString(payload)
    except (DecodeError, RecursionError) as exc:
        raise _fail(path, f"the shape of {key!r} is not a valid TensorShapeProto") from exc
    s = shape_of(proto)
    if s is None or any(not isinstance(d, int) for d in s):
        return None
    return tuple(int(d) for d in s if isinstance(d, int))


def _signed(value: int) -> int:
    """A varint read as a two's-complement int64 (negative int32s and int64s take ten bytes)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _entry(key: str, value: bytes, path: Path) -> BundleEntry:
    dtype, shape, shard, offset, size, slices = "unknown", None, 0, 0, 0, 0
    for number, _, payload in fields(value, 1 << 20):
        if number == 1 and isinstance(payload, int):
            dtype = dtype_name(payload)
        elif number == 2 and isinstance(payload, bytes):
            shape = _shape(payload, key, path)
        elif number == 3 and isinstance(payload, int):
            shard = _signed(payload)
        elif number == 4 and isinstance(payload, int):
            offset = _signed(payload)
        elif number == 5 and isinstance(payload, int):
            size = _signed(payload)
        elif number == 7:
            slices += 1
    return BundleEntry(key, dtype, shape, shard, offset, size, slices)


def _header(value: bytes, path: Path) -> BundleHeader:
    header = BundleHeader()
    for number, _, payload in fields(value, 16):
        if number == 1 and isinstance(payload, int):
            header.num_shards = _signed(payload)
        elif number == 2 and isinstance(payload, int):
            header.endianness = _signed(payload)
        elif number == 3 and isinstance(payload, bytes):
            header.producer, header.min_consumer = 0, 0
            for n, _, v in fields(payload, 1 << 16):
                if n == 1 and isinstance(v, int):
                    header.producer = v
                elif n == 2 and isinstance(v, int):
                    header.min_consumer = v
                elif n == 3 and isinstance(v, int):
                    header.bad_consumers.append(v)
    if not 1 <= header.num_shards < 100000:  # the shard names hold five digits
        raise _fail(path, f"the header claims {header.num_shards} data shards")
    if header.endianness not in ENDIANNESS:
        raise _fail(path, f"the header names an unknown byte order {header.endianness}")
    return header


def read_bundle(index_path: Path) -> Bundle:
    """Read a checkpoint's ``.index`` file: header and entries, every block bounds-checked."""
    try:
        data = index_path.read_bytes()
    except OSError as exc:
        raise _fail(index_path, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) < FOOTER_SIZE or data[-8:] != TABLE_MAGIC:
        raise _fail(index_path, "not a TensorBundle index (no table footer)")
    footer = data[-FOOTER_SIZE:]
    _, pos = _varint(footer, 0, index_path)  # metaindex offset
    _, pos = _varint(footer, pos, index_path)  # metaindex size
    index_offset, pos = _varint(footer, pos, index_path)
    index_size, _ = _varint(footer, pos, index_path)
    header: BundleHeader | None = None
    entries: list[BundleEntry] = []
    slice_keys = 0
    seen_blocks: set[int] = set()
    for _, handle in _entries(_block(data, index_offset, index_size, index_path), index_path):
        block_offset, p = _varint(handle, 0, index_path)
        block_size, _ = _varint(handle, p, index_path)
        if block_offset in seen_blocks:  # blocks never repeat: a loop would decode one block forever
            raise _fail(index_path, f"two index entries name the block at {block_offset}")
        seen_blocks.add(block_offset)
        for key, value in _entries(_block(data, block_offset, block_size, index_path), index_path):
            if key == b"":
                header = _header(value, index_path)
            elif key[:1] == b"\x00":
                slice_keys += 1  # a slice of a partitioned tensor, keyed by an encoded (name, slice)
            else:
                entries.append(_entry(key.decode("utf-8", "replace"), value, index_path))
    if header is None:
        raise _fail(index_path, "the index has no bundle header (a LevelDB table, but not a TensorFlow checkpoint)")
    return Bundle(index_path, header, entries, slice_keys)


def read_index(index_path: Path) -> tuple[int, list[BundleEntry]]:
    """(number of data shards, entries) of a checkpoint's ``.index`` file."""
    bundle = read_bundle(index_path)
    return bundle.header.num_shards, bundle.entries


def _numpy_dtype(name: str, big_endian: bool) -> np.dtype | None:
    """The dtype of ``name``'s bytes in the shard: numpy's, ml_dtypes' (bfloat16, float8), TF's quantized ints."""
    storage = STORAGE.get(name)
    found = dtypes.numpy_dtype(name) if name in ("bfloat16", "float8_e5m2", "float8_e4m3fn") else None
    if found is None and storage is not None and name != "bfloat16":
        found = np.dtype(storage[0])
    if found is None:
        return None
    return found.newbyteorder(">") if big_endian and found.itemsize > 1 else found


def _loader(bundle: Bundle, entry: BundleEntry, data_path: Path) -> tuple[Callable[[], np.ndarray] | None, str]:
    """(loader, note): a note says why there is no loader, or what is wrong with the entry."""
    if entry.slices:
        return None, f"partitioned into {entry.slices} slices, stored as entries of their own"
    if not 0 <= entry.shard < bundle.header.num_shards:
        return _raiser(data_path, f"{entry.key} names data shard {entry.shard} of {bundle.header.num_shards}"), ""
    if entry.shape is None:
        return None, "its shape is not fully known"
    if entry.dtype == "string":
        return _string_loader(data_path, entry), ""
    np_dtype = _numpy_dtype(entry.dtype, bundle.header.endianness == 1)
    if np_dtype is None:
        return None, f"netray cannot decode {entry.dtype} values"
    count = 1
    for d in entry.shape:
        count *= d  # Python ints: a hostile shape cannot overflow into a plausible size
    if count * np_dtype.itemsize != entry.size:
        what = f"shape {entry.shape} of {entry.dtype} needs {count * np_dtype.itemsize} bytes, the index gives {entry.size}"
        return _raiser(data_path, f"{entry.key}: {what}"), ""
    load = file_slice_loader(data_path, entry.offset, entry.size, np_dtype, entry.shape, CHECKPOINT)
    if np_dtype.byteorder == ">":
        return (lambda: load().astype(np_dtype.newbyteorder("="))), ""
    return load, ""


def _raiser(path: Path, reason: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        raise _fail(path, reason)

    return load


def _read_slice(data_path: Path, entry: BundleEntry) -> bytes:
    try:
        with open(data_path, "rb") as f:
            size = f.seek(0, 2)
            if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > size:
                raise _fail(data_path, f"{entry.key} at {entry.offset}+{entry.size} lies past the end ({size} bytes)")
            f.seek(entry.offset)
            return f.read(entry.size)
    except OSError as exc:
        raise _fail(data_path, f"cannot read {entry.key}: {exc.strerror or exc}") from exc


def _string_loader(data_path: Path, entry: BundleEntry) -> Callable[[], np.ndarray]:
    """String tensors: every element's varint length, a 4-byte checksum of the lengths, then the bytes."""
    shape = entry.shape or ()

    def load() -> np.ndarray:
        count = int(np.prod(shape, dtype=object)) if shape else 1
        if count > MAX_STRINGS or count > entry.size:
            raise _fail(data_path, f"{entry.key} claims {count} strings in {entry.size} bytes")
        raw = _read_slice(data_path, entry)
        lengths, pos = [], 0
        for _ in range(count):
            n, pos = _varint(raw, pos, data_path)
            lengths.append(n)
        pos += 4  # masked crc32c of the lengths
        if pos + sum(lengths) > len(raw):
            raise _fail(data_path, f"{entry.key}'s strings run past its {entry.size} bytes")
        out = np.empty(count, dtype=object)
        for i, n in enumerate(lengths):
            out[i] = raw[pos : pos + n]
            pos += n
        return out.reshape(shape)

    return load


def read_string_scalar(data_path: Path, entry: BundleEntry) -> bytes:
    """A scalar string tensor's bytes (the checkpoint's object graph)."""
    value = _string_loader(data_path, BundleEntry(entry.key, "string", (), entry.shard, entry.offset, entry.size))()
    return bytes(value.item())


OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def object_graph(bundle: Bundle) -> object | None:
    """The checkpoint's TrackableObjectGraph (TF2), or None when it has none."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import trackable_object_graph_pb2

    entry = next((e for e in bundle.entries if e.key == OBJECT_GRAPH_KEY), None)
    if entry is None:
        return None
    data_path = bundle.data_path(entry.shard)
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    try:
        graph.ParseFromString(read_string_scalar(data_path, entry))
    except (DecodeError, RecursionError) as exc:
        raise _fail(data_path, "the object graph is not a valid TrackableObjectGraph") from exc
    return graph


def variable_tensors(index_path: Path, saved_variable_names: dict[int, str]) -> dict[str, Tensor]:
    """Checkpoint tensors by the variable name a graph's variable node carries.

    TF1 checkpoints key tensors by variable name. TF2 keys them by object path
    (``a/.ATTRIBUTES/VARIABLE_VALUE``); the checkpoint's object graph gives each key's
    object index and ``saved_variable_names`` (from the SavedModel's object graph) that
    object's variable name. Keys that map nowhere keep their path without the suffix.
    """
    bundle = read_bundle(index_path)
    names: dict[str, str] = {}
    graph = object_graph(bundle) if saved_variable_names else None
    if graph is not None:
        for i, node in enumerate(graph.nodes):  # type: ignore[attr-defined]
            for attribute in node.attributes:
                if i in saved_variable_names and attribute.name == "VARIABLE_VALUE":
                    names[attribute.checkpoint_key] = saved_variable_names[i]
    tensors = {}
    for entry in bundle.entries:
        if entry.key == OBJECT_GRAPH_KEY:
            continue
        name = names.get(entry.key, entry.key.removesuffix(VALUE_SUFFIX))
        tensors[name] = bundle.tensor(entry)
    return tensors
