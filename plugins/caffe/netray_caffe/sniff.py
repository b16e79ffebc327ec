"""Is a file a Caffe net? Decided from its first bytes, cheaply, without protobuf.

Text: a ``layer {`` / ``layers {`` block with a ``type:`` (solver files, which name a
``net:`` and a ``base_lr``, are not nets). Binary: the head walks as NetParameter fields
(name, inputs, layers) and holds a layer whose first field is its name.
"""

from __future__ import annotations

import re
from pathlib import Path

LAYER_BLOCK = re.compile(rb"(?m)^\s*layers?\s*\{")
TYPE_FIELD = re.compile(rb"(?m)^\s*type\s*:")
INPUT_FIELD = re.compile(rb"(?m)^\s*(input\s*:|input_shape\s*\{|input_dim\s*:)")
SOLVER_FIELD = re.compile(rb"(?m)^\s*(base_lr|lr_policy|solver_mode|max_iter|train_net|test_iter)\s*:")
COMMENT = re.compile(rb"(?m)#[^\n]*$")

# NetParameter field number -> allowed wire types (caffe.proto).
NET_WIRE = {1: (2,), 2: (2,), 3: (2,), 4: (0, 2), 5: (0,), 6: (2,), 7: (0,), 8: (2,), 100: (2,)}


def _varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    value = shift = 0
    while pos < len(buf) and shift < 70:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return None


def binary_net(head: bytes) -> float:
    """How sure the head is a binary NetParameter: 1.0 with a V2 layer, 0.5 with a legacy one, 0.2 for
    net-level fields alone (a net cut short, or one without layers), 0 where a field does not fit."""
    pos = 0
    layer_kind = 0.2
    odd_text = False  # a name or input that is not UTF-8: possible (proto2 does not check), but less likely
    while pos < len(head):
        tag = _varint(head, pos)
        if tag is None:
            break
        value, pos = tag
        number, wire_type = value >> 3, value & 7
        if wire_type not in NET_WIRE.get(number, ()):
            return 0.0
        got = _varint(head, pos)
        if got is None:
            break
        length, pos = got
        if wire_type == 0:
            continue
        if number in (100, 2) and layer_kind < 0.5:
            inner = head[pos : pos + min(length, 64)]
            if not inner:  # the head ends where the layer starts
                return (1.0 if number == 100 else 0.5) / (2 if odd_text else 1)
            # V2 layers start with their name (field 1, string); V1 ones with bottom (2), top (3) or name (4).
            starts = (0x0A,) if number == 100 else (0x0A, 0x12, 0x1A, 0x22)
            if not inner or inner[0] not in starts:
                return 0.0
            layer_kind = 1.0 if number == 100 else 0.5
        elif number in (1, 3) and pos + length <= len(head):
            try:
                head[pos : pos + length].decode("utf-8")
            except UnicodeDecodeError:
                odd_text = True
        pos += length
    return layer_kind / 2 if odd_text else layer_kind


def text_net(head: bytes) -> float:
    """How sure the head is a text NetParameter."""
    text = COMMENT.sub(b"", head)
    if SOLVER_FIELD.search(text):
        return 0.0
    if LAYER_BLOCK.search(text) and TYPE_FIELD.search(text):
        return 0.9
    if INPUT_FIELD.search(text) and (LAYER_BLOCK.search(text) or b"name" in text):
        return 0.6
    return 0.0


def sniff(path: Path, head: bytes) -> float:
    try:
        if not head:
            return 0.0
        name = path.name.lower()
        binary = binary_net(head)
        if name.endswith(".caffemodel"):
            return binary
        if binary:
            return 0.6 if binary == 1.0 else 0.0  # a binary NetParameter under another name
        confidence = text_net(head)
        if confidence and name.endswith(".prototxt"):
            confidence = min(1.0, confidence + 0.1)
        return confidence
    except Exception:  # sniffing never raises
        return 0.0
