"""A bounds-checked flatbuffer table reader over a buffer (bytes or a memory map).

The ``flatbuffers`` package's generated readers trust every offset they follow; a
hostile file makes them read past the end or loop over a vector of two billion
entries. Here every table, vtable, field, string and vector is checked against the
buffer's size before it is read, and a vector's element count must fit in the bytes
that remain, so a reader's work is bounded by the file's size. A fault raises
:class:`BadFlatbuffer` with a sentence the plugin turns into one ``FormatError`` line.

Tables are read by vtable slot (field number in the schema, unions taking two slots:
the type byte, then the value), as ``flatc`` lays them out. The structs come from the
``flatbuffers`` package's packers, so the byte order and widths are flatc's own.
"""

from __future__ import annotations

import struct
from typing import Any

from flatbuffers import packer

Buffer = Any  # bytes, bytearray, memoryview or mmap.mmap: anything struct.unpack_from reads

_SCALARS: dict[str, struct.Struct] = {
    "bool": packer.boolean,
    "byte": packer.int8,
    "ubyte": packer.uint8,
    "short": packer.int16,
    "ushort": packer.uint16,
    "int": packer.int32,
    "uint": packer.uint32,
    "long": packer.int64,
    "ulong": packer.uint64,
    "float": packer.float32,
    "double": packer.float64,
}


class BadFlatbuffer(Exception):
    """The buffer does not hold what the schema says: an offset past the end, a misaligned table..."""


def scalar_size(kind: str) -> int:
    return _SCALARS[kind].size


class Table:
    """One flatbuffer table at ``pos`` in ``buf`` (``size`` bytes are valid); ``what`` names it in errors."""

    __slots__ = ("buf", "size", "pos", "what", "_vtable", "_vtable_size")

    def __init__(self, buf: Buffer, size: int, pos: int, what: str) -> None:
        self.buf = buf
        self.size = size
        self.pos = pos
        self.what = what
        _check(size, pos, 4, what)
        vtable = pos - packer.soffset.unpack_from(buf, pos)[0]
        _check(size, vtable, 4, f"the vtable of {what}")
        vtable_size = packer.voffset.unpack_from(buf, vtable)[0]
        if vtable_size < 4 or vtable_size % 2:
            raise BadFlatbuffer(f"the vtable of {what} has a size of {vtable_size} bytes")
        _check(size, vtable, vtable_size, f"the vtable of {what}")
        self._vtable = vtable
        self._vtable_size = vtable_size

    @staticmethod
    def root(buf: Buffer, size: int, what: str, start: int = 0) -> Table:
        """The root table of a flatbuffer that begins at ``start``."""
        _check(size, start, 8, what)
        return Table(buf, size, start + packer.uoffset.unpack_from(buf, start)[0], what)

    def _field(self, slot: int, width: int) -> int:
        """The absolute position of field ``slot`` (0 when absent), checked to lie inside the buffer.

        Not checked against the table's own size: flatbuffers' verifier does not, and some
        writers (ExecuTorch 1.x's Python packer) state object sizes too small for 8-byte fields."""
        entry = 4 + 2 * slot
        if entry + 2 > self._vtable_size:
            return 0
        offset = packer.voffset.unpack_from(self.buf, self._vtable + entry)[0]
        if offset == 0:
            return 0
        _check(self.size, self.pos + offset, width, f"field {slot} of {self.what}")
        return self.pos + offset

    def has(self, slot: int) -> bool:
        return self._field(slot, 1) != 0

    def scalar(self, slot: int, kind: str, default: Any = 0) -> Any:
        s = _SCALARS[kind]
        at = self._field(slot, s.size)
        return s.unpack_from(self.buf, at)[0] if at else default

    def _indirect(self, slot: int, what: str) -> int:
        """Follow the uoffset stored in field ``slot``; 0 when the field is absent."""
        at = self._field(slot, 4)
        if not at:
            return 0
        target = at + packer.uoffset.unpack_from(self.buf, at)[0]
        _check(self.size, target, 4, what)
        return target

    def table(self, slot: int, what: str) -> Table | None:
        target = self._indirect(slot, what)
        return Table(self.buf, self.size, target, what) if target else None

    def string(self, slot: int, what: str, default: str = "") -> str:
        span = self.vector_span(slot, 1, what)
        if span is None:
            return default
        start, count = span
        _check(self.size, start, count + 1, f"{what} (with its terminating zero)")  # as flatbuffers' verifier asks
        return bytes(self.buf[start : start + count]).decode("utf-8", errors="replace")

    def bytes_(self, slot: int, what: str) -> bytes | None:
        """A string or [ubyte] field as bytes (copied), or None when absent."""
        span = self.vector_span(slot, 1, what)
        if span is None:
            return None
        start, count = span
        return bytes(self.buf[start : start + count])

    def vector_span(self, slot: int, width: int, what: str) -> tuple[int, int] | None:
        """(position of the first element, element count) of a vector field, checked; None when absent."""
        target = self._indirect(slot, what)
        if not target:
            return None
        count = packer.uoffset.unpack_from(self.buf, target)[0]
        if count * width > self.size - target - 4:
            raise BadFlatbuffer(f"{what} claims {count:,} entries, more than the file holds")
        return target + 4, count

    def scalars(self, slot: int, kind: str, what: str) -> list[Any]:
        """A vector of scalars as a list (empty when absent)."""
        s = _SCALARS[kind]
        span = self.vector_span(slot, s.size, what)
        if span is None:
            return []
        start, count = span
        return list(struct.unpack_from(f"<{count}{s.format[-1]}", self.buf, start))

    def tables(self, slot: int, what: str) -> list[Table]:
        """A vector of tables (empty when absent)."""
        span = self.vector_span(slot, 4, what)
        if span is None:
            return []
        start, count = span
        out = []
        for k in range(count):
            at = start + 4 * k
            out.append(Table(self.buf, self.size, at + packer.uoffset.unpack_from(self.buf, at)[0], f"{what}[{k}]"))
        return out

    def union(self, slot: int, what: str) -> tuple[int, Table | None]:
        """A union field: (type number, table), the type byte in ``slot`` and the value in ``slot + 1``."""
        kind = self.scalar(slot, "ubyte")
        return kind, (self.table(slot + 1, what) if kind else None)


def _check(size: int, pos: int, length: int, what: str) -> None:
    if pos < 0 or length < 0 or pos + length > size:
        raise BadFlatbuffer(f"{what} at byte {pos:,} lies past the end of the data ({size:,} bytes)")
