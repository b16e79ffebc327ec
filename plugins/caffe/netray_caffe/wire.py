"""A bounds-checked walk over protobuf's wire format, for reading a .caffemodel lazily.

Decoding a whole NetParameter turns every weight into a Python float; this walks the
fields instead and reports where each length-delimited field's bytes lie, so blobs can
be memory-mapped later. Every length is checked against the end of its enclosing message.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5


Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message (the reader turns this into a FormatError)."""


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


def read_varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it; at most 10 bytes, never past ``end``."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise WireError(f"varint runs past the end of its message at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError(f"varint longer than 10 bytes at byte {pos}")


def fields(buf: Buffer, start: int, end: int) -> Iterator[Field]:
    """Every field of the message in ``buf[start:end]``, in file order."""
    pos = start
    while pos < end:
        tag_start = pos
        tag, pos = read_varint(buf, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {tag_start}")
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos, end)
            yield Field(number, wire_type, tag_start, pos, pos, value)
        elif wire_type == LENGTH:
            length, pos = read_varint(buf, pos, end)
            if length > end - pos:
                raise WireError(f"field {number} at byte {tag_start} claims {length} bytes, {end - pos} remain")
            yield Field(number, wire_type, tag_start, pos, pos + length, length)
            pos += length
        elif wire_type in (FIXED32, FIXED64):
            size = 4 if wire_type == FIXED32 else 8
            if size > end - pos:
                raise WireError(f"field {number} at byte {tag_start} runs past the end of its message")
            value = int.from_bytes(bytes(buf[pos : pos + size]), "little")
            yield Field(number, wire_type, tag_start, pos, pos + size, value)
            pos += size
        else:  # groups are not used by caffe.proto or framework.proto
            raise WireError(f"unsupported wire type {wire_type} (field {number}) at byte {tag_start}")


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
