"""Recognising TensorFlow files from their first bytes, without parsing the whole file.

Binary files are probed by walking the protobuf wire format of the head only:

* GraphDef: field 1 (``node``, tag 0x0a) holding a NodeDef whose field 1 is a
  name and field 2 an op name (``Placeholder``, ``Const`` ...).
* MetaGraphDef: field 1 (``meta_info_def``) whose field 2 is an OpList message,
  or field 2 (``graph_def``) holding a GraphDef.
* SavedModel: field 1 a small varint (schema version), field 2 a MetaGraphDef
  (its first field any of MetaGraphDef's message fields 1-7).

An ONNX ModelProto also starts with a varint field 1 (``ir_version``, tag 0x08)
but its field 2 is a producer-name string, so it never matches the SavedModel probe.
"""

from __future__ import annotations

import re

# The format names this plugin reports (and claims).
GRAPHDEF = "TensorFlow GraphDef"
METAGRAPH = "TensorFlow MetaGraph"
SAVEDMODEL = "TensorFlow SavedModel"

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
    value = shift = 0
    while pos < len(buf) and shift < 64:
        b = buf[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if not b & 0x80:
            return value, pos
        shift += 7
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
