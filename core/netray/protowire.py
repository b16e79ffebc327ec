"""The protobuf wire format, read with bounds checks: for plugins that walk a file's fields themselves.

Protobuf-based formats (ONNX, Caffe, Core ML, TensorFlow, Paddle) keep their weights in
large length-delimited fields. Parsing a whole message with the protobuf library copies
every weight into memory; a pass over the wire format instead records where each field
lies, so weights are read lazily, memory-mapped, and sniffing can look at the first bytes
without the library at all. Every read is bounded by the ``end`` it is given, and every
failure is a :class:`WireError` (a ``ValueError``) that the plugin turns into a
``FormatError`` naming the file. Pure Python: no protobuf import.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5

Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message (truncated or corrupt)."""


def read_varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """The base-128 varint at ``pos`` and the position after it; at most 10 bytes, never past ``end``."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise WireError(f"a number at byte {pos} runs past the end of its message (file truncated?)")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError(f"a number ending at byte {pos} is longer than 10 bytes")


def encode_varint(value: int) -> bytes:
    """``value`` (not negative) as a base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def skip_field(buf: Buffer, wire_type: int, pos: int, end: int) -> int:
    """The position after the value of a field of ``wire_type`` whose value starts at ``pos``."""
    if wire_type == VARINT:
        return read_varint(buf, pos, end)[1]
    if wire_type == FIXED64:
        pos += 8
    elif wire_type == FIXED32:
        pos += 4
    elif wire_type == LENGTH:
        length, pos = read_varint(buf, pos, end)
        pos += length
    else:
        raise WireError(f"unsupported protobuf wire type {wire_type}")
    if pos > end:
        raise WireError("a field runs past the end of its message (file truncated or corrupt)")
    return pos


@dataclass(frozen=True, slots=True)
class Field:
    """One field as stored: its number, wire type, where its tag starts, and its payload.

    ``value`` is the integer of a varint or fixed field; for a length-delimited field
    ``start``/``end`` bound the payload bytes (``value`` is then the length)."""

    number: int
    wire_type: int
    tag_start: int
    start: int
    end: int
    value: int


def fields(buf: Buffer, start: int, end: int, *, base: int = 0, format_name: str = "this format") -> Iterator[Field]:
    """Every field of the message in ``buf[start:end]``, in file order (groups are refused).

    Positions in the fields are ``buf``'s; messages add ``base`` (where ``buf`` starts in
    the file) and name ``format_name`` for a wire type it never writes.
    """
    pos = start
    while pos < end:
        tag_start = pos
        where = f"at byte {base + tag_start}"
        tag, pos = read_varint(buf, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise WireError(f"field number 0 {where}")
        if wire_type == VARINT:
            value, after = read_varint(buf, pos, end)
            yield Field(number, wire_type, tag_start, pos, after, value)
            pos = after
        elif wire_type == LENGTH:
            length, pos = read_varint(buf, pos, end)
            if length > end - pos:
                raise WireError(f"field {number} {where} claims {length:,} bytes; only {end - pos:,} remain (truncated?)")
            yield Field(number, wire_type, tag_start, pos, pos + length, length)
            pos += length
        elif wire_type in (FIXED32, FIXED64):
            size = 4 if wire_type == FIXED32 else 8
            if size > end - pos:
                raise WireError(f"field {number} {where} runs past the end of its message (truncated?)")
            value = int.from_bytes(bytes(buf[pos : pos + size]), "little")
            yield Field(number, wire_type, tag_start, pos, pos + size, value)
            pos += size
        else:
            raise WireError(f"field {number} {where} has wire type {wire_type}, which {format_name} never writes")
