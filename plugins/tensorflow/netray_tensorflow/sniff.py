"""Recognising TensorFlow files from their first bytes, without parsing the whole file.

Binary files are probed by walking the protobuf wire format of the head only:

* GraphDef: field 1 (``node``, tag 0x0a) holding a NodeDef whose field 1 is a
  name and field 2 an op name (``Placeholder``, ``Const`` ...).
* MetaGraphDef: field 1 (``meta_info_def``) whose field 2 is an OpList message,
  or field 2 (``graph_def``) holding a GraphDef.
* SavedModel: field 1 a small varint (schema version), field 2 a MetaGraphDef
  (its first field any of MetaGraphDef's message fields 1-7).
* SavedModel fingerprint (``fingerprint.pb``): nothing but FingerprintDef's fields,
  varint hashes 1-5, a VersionDef 6 and a uuid string 7, filling the small file exactly.
* Checkpoint index (``*.index``): a LevelDB-style table whose last 8 bytes are the
  table magic; its data shards (``*.data-00000-of-00001``) are claimed by name.

An ONNX ModelProto also starts with a varint field 1 (``ir_version``, tag 0x08)
but its field 2 is a producer-name string, so it never matches the SavedModel probe.
"""

from __future__ import annotations

import re
from pathlib import Path

from netray.protowire import WireError, read_varint

# The format names this plugin reports (and claims).
from netray_tensorflow.formats import CHECKPOINT, FINGERPRINT, GRAPHDEF, METAGRAPH, SAVEDMODEL

__all__ = ["CHECKPOINT", "FINGERPRINT", "GRAPHDEF", "METAGRAPH", "SAVEDMODEL"]

TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")  # LevelDB's table footer, as TensorBundle writes it
FOOTER_SIZE = 48
DATA_SHARD = re.compile(r"^(?P<prefix>.+)\.data-(?P<shard>\d{5})-of-(?P<count>\d{5})$")
FINGERPRINT_FILE = "fingerprint.pb"
MAX_FINGERPRINT = 1024  # seven short fields: a larger file is something else

OP_NAME = re.compile(rb"^[A-Za-z0-9._][A-Za-z0-9_.\-/>]*$")
TEXT_FIELD = re.compile(r"^\s*(?:#[^\n]*\n\s*)*([A-Za-z_][A-Za-z0-9_]*)\s*[:{<]")
TEXT_KINDS = {
    "node": "GraphDef",
    "library": "GraphDef",
    "versions": "GraphDef",
    "meta_info_def": "MetaGraph",
    "graph_def": "MetaGraph",
    "saver_def": "MetaGraph",
    "collection_def": "MetaGraph",
    "signature_def": "MetaGraph",
    "saved_model_schema_version": "SavedModel",
    "meta_graphs": "SavedModel",
}

Field = tuple[int, int, "bytes | int"]


def varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    """A protobuf varint at ``pos``: (value, next position), or None if truncated or over ten bytes."""
    try:
        return read_varint(buf, pos, len(buf))
    except WireError:
        return None


def fields(buf: bytes, limit: int = 6) -> list[Field]:
    """Up to ``limit`` leading fields; a length-delimited payload is cut at the end of ``buf``."""
    out: list[Field] = []
    pos = 0
    while pos < len(buf) and len(out) < limit:
        tag = varint(buf, pos)
        if tag is None or tag[0] >> 3 == 0:
            break
        number, wire = tag[0] >> 3, tag[0] & 7
        pos = tag[1]
        if wire == 0:
            v = varint(buf, pos)
            if v is None:
                break
            out.append((number, wire, v[0]))
            pos = v[1]
        elif wire == 2:
            n = varint(buf, pos)
            if n is None:
                break
            out.append((number, wire, buf[n[1] : n[1] + n[0]]))
            pos = n[1] + n[0]
        elif wire in (1, 5):
            out.append((number, wire, 0))
            pos += 8 if wire == 1 else 4
        else:
            break
    return out


def _is_node_def(payload: bytes | int) -> bool:
    if not isinstance(payload, bytes):
        return False
    inner = fields(payload, 2)
    if len(inner) < 2 or inner[0][:2] != (1, 2) or inner[1][:2] != (2, 2):
        return False
    op = inner[1][2]
    return isinstance(op, bytes) and 0 < len(op) < 256 and bool(OP_NAME.match(op))


def is_graph_def(head: bytes) -> bool:
    top = fields(head, 1)
    return bool(top) and top[0][:2] == (1, 2) and _is_node_def(top[0][2])


def is_meta_graph(head: bytes) -> bool:
    top = fields(head, 1)
    if not top or top[0][1] != 2:
        return False
    number, _, payload = top[0]
    if number == 2:  # no meta_info_def: the graph_def comes first
        return isinstance(payload, bytes) and is_graph_def(payload)
    if number != 1 or not isinstance(payload, bytes):
        return False
    info = fields(payload, 4)
    if not info or any(n > 8 for n, _, _ in info):
        return False
    numbers = {n for n, _, _ in info}
    if 2 in numbers:
        # MetaInfoDef.stripped_op_list holds OpDefs (tag 0x0a); a NodeDef's field 2 is an op name.
        op_list = next(p for n, _, p in info if n == 2)
        return isinstance(op_list, bytes) and op_list[:1] == b"\x0a"
    return bool(numbers & {4, 5})  # tags or tensorflow_version


def is_saved_model(head: bytes) -> bool:
    top = fields(head, 2)
    if len(top) < 2 or top[0][:2] != (1, 0) or top[1][:2] != (2, 2):
        return False
    version, payload = top[0][2], top[1][2]
    if not (isinstance(version, int) and version < 16 and isinstance(payload, bytes)):
        return False
    # TensorFlow 2 writes MetaGraphDef fields out of order (object_graph_def, field 7, first).
    inner = fields(payload, 1)
    if not inner or inner[0][1] != 2 or not 1 <= inner[0][0] <= 7:
        return False
    return is_meta_graph(payload) if inner[0][0] in (1, 2) else True


def is_text(head: bytes) -> bool:
    """Protobuf text format: UTF-8 without NULs whose first token is ``name:`` or ``name {``."""
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # only a character cut at the end of the head is forgiven
            return False
        text = head[: exc.start].decode("utf-8")
    return TEXT_FIELD.match(text) is not None


def text_kind(head: bytes) -> str | None:
    """ "GraphDef", "MetaGraph" or "SavedModel" for a text-format file, by its first field."""
    if not is_text(head):
        return None
    m = TEXT_FIELD.match(head.decode("utf-8", "ignore"))
    return TEXT_KINDS.get(m.group(1)) if m else None


def is_fingerprint(head: bytes) -> bool:
    """A whole FingerprintDef: varint hashes (fields 1-5), a VersionDef (6), a uuid (7), nothing else."""
    if not 2 <= len(head) <= MAX_FINGERPRINT:
        return False
    found = fields(head, 16)
    consumed = sum(_field_size(f) for f in found)
    if not found or consumed != len(head):
        return False
    for number, wire, payload in found:
        if 1 <= number <= 5 and wire == 0:
            continue
        if number == 6 and wire == 2 and isinstance(payload, bytes) and all(n <= 3 for n, _, _ in fields(payload, 8)):
            continue
        if number == 7 and wire == 2:
            continue
        return False
    return any(1 <= n <= 5 for n, _, _ in found)


def _field_size(field: Field) -> int:
    """Bytes one field took in the wire format (tag, length prefix and payload)."""
    number, wire, payload = field
    tag = _varint_size(number << 3 | wire)
    if wire == 0 and isinstance(payload, int):
        return tag + _varint_size(payload)
    if wire == 2 and isinstance(payload, bytes):
        return tag + _varint_size(len(payload)) + len(payload)
    return tag + (8 if wire == 1 else 4)


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def has_table_footer(path: Path) -> bool:
    """The file ends with a LevelDB table footer (TensorBundle's index); reads its last 8 bytes only."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < FOOTER_SIZE:
                return False
            f.seek(size - 8)
            return f.read(8) == TABLE_MAGIC
    except OSError:
        return False


def data_shard_index(path: Path) -> Path | None:
    """For ``x.data-00000-of-00002``, the index ``x.index`` beside it (which may be absent); else None."""
    m = DATA_SHARD.match(path.name)
    if m is None or int(m.group("shard")) >= int(m.group("count")):
        return None
    return path.with_name(m.group("prefix") + ".index")
