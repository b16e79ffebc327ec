"""Keeping NeuralNetwork weights out of memory: strip their bytes before protobuf parses the file.

A ``.mlmodel`` holds its NeuralNetwork weights inside the protobuf (``WeightParams``'
``floatValue``, ``float16Value``, ``rawValue``, ``int8RawValue``), and protobuf parses a message
whole: a 1.5 GB model would be read, parsed and copied (several GB, seconds). Instead the file is
memory-mapped and walked by its wire format, descending only into message types that can hold a
``WeightParams`` (the schema says which); each weight's bytes are left out of the copy handed to
protobuf, replaced by a small unknown field (``MARKER_BASE + field number``) whose value indexes
the recorded (offset, length) of the bytes in the file. The reader then gives those weights
loaders that read the file slice when asked.

Everything else is copied as it is, so what protobuf parses is the same model minus the weight
bytes. Anything unexpected (a weight field written unpacked, nesting past protobuf's limit) is
left in place, and parsing goes on as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netray.protowire import LENGTH, WireError, encode_varint, fields, read_varint

WEIGHTS = "CoreML.Specification.WeightParams"
DATA_FIELDS = {1: "floatValue", 2: "float16Value", 30: "rawValue", 31: "int8RawValue"}
MARKER_BASE = 536_870_000  # unknown field numbers near protobuf's maximum (2**29 - 1)
MAX_DEPTH = 100  # protobuf's own nesting limit
MAX_WALK = 500_000  # fields visited; a 25,000-layer network needs a tenth of it


@dataclass(frozen=True)
class Slice:
    """Where one weight field's bytes lie in the file."""

    field: str
    offset: int
    length: int


def _holders(root: Any) -> frozenset[str]:
    """Full names of the message types from which a WeightParams can be reached."""
    edges: dict[str, set[str]] = {}
    stack, seen = [root], {root.full_name}
    while stack:
        message = stack.pop()
        targets = edges.setdefault(message.full_name, set())
        for field in message.fields:
            if field.message_type is not None:
                targets.add(field.message_type.full_name)
                if field.message_type.full_name not in seen:
                    seen.add(field.message_type.full_name)
                    stack.append(field.message_type)
    holders = {WEIGHTS}
    changed = True
    while changed:
        changed = False
        for name, targets in edges.items():
            if name not in holders and targets & holders:
                holders.add(name)
                changed = True
    return frozenset(holders)


class Stripper:
    """Copies a serialized message, leaving out weight bytes; ``slices`` records where they were."""

    def __init__(self, data: Any, root: Any) -> None:
        self.data = data
        self.root = root
        self.holders = _holders(root)
        self.slices: list[Slice] = []
        self.walked = 0

    def strip(self) -> bytes:
        return bytes(self._message(self.root, 0, len(self.data), 0))

    def _message(self, descriptor: Any, start: int, end: int, depth: int) -> bytearray:
        data = self.data
        out = bytearray()
        is_weights = descriptor.full_name == WEIGHTS
        for f in fields(data, start, end, format_name="Core ML"):
            self.walked += 1
            if self.walked > MAX_WALK:  # no real network has this many: let protobuf's C parser have it
                raise WireError(f"more than {MAX_WALK:,} fields to walk")
            if f.wire_type == LENGTH:
                if is_weights and f.number in DATA_FIELDS:
                    self.slices.append(Slice(DATA_FIELDS[f.number], f.start, f.value))
                    out += encode_varint((MARKER_BASE + f.number) << 3) + encode_varint(len(self.slices) - 1)
                    continue
                field = descriptor.fields_by_number.get(f.number)
                inner = field.message_type if field is not None else None
                if inner is not None and inner.full_name in self.holders and depth < MAX_DEPTH:
                    body = self._message(inner, f.start, f.end, depth + 1)
                    tag_end = read_varint(data, f.tag_start, f.end)[1]
                    out += data[f.tag_start : tag_end] + encode_varint(len(body)) + body
                    continue
            out += data[f.tag_start : f.end]
        return out


class FileBytes:
    """A file read by position like a bytes object: ``data[i]`` and ``data[a:b]``, through a few cached blocks.

    The walk reads only field headers between the weights; a memory map would map (and count in
    the process's resident memory) whole page-cache folios around each of them.
    """

    BLOCK = 4096
    KEEP = 64

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self.blocks: dict[int, bytes] = {}

    def __len__(self) -> int:
        return self.size

    def _block(self, index: int) -> bytes:
        block = self.blocks.get(index)
        if block is None:
            if len(self.blocks) >= self.KEEP:
                self.blocks.pop(next(iter(self.blocks)))
            block = os.pread(self.fd, self.BLOCK, index * self.BLOCK)
            self.blocks[index] = block
        return block

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start, stop, _ = key.indices(self.size)
            if stop <= start:
                return b""
            return os.pread(self.fd, stop - start, start)
        if not 0 <= key < self.size:
            raise IndexError(key)
        return self._block(key // self.BLOCK)[key % self.BLOCK]


def read_stripped(path: Path, root: Any) -> tuple[bytes, list[Slice]]:
    """The file's bytes without NeuralNetwork weight bytes, and where those are; WireError if unwalkable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        stripper = Stripper(FileBytes(fd, size), root)
        return stripper.strip(), stripper.slices
    finally:
        os.close(fd)


def markers(message: Any) -> dict[str, int]:
    """The weight fields a stripped WeightParams stands for: field name -> slice index."""
    from google.protobuf.unknown_fields import UnknownFieldSet

    found: dict[str, int] = {}
    for item in UnknownFieldSet(message):
        number = item.field_number - MARKER_BASE
        if number in DATA_FIELDS and item.wire_type == 0:
            found[DATA_FIELDS[number]] = int(item.data)
    return found
