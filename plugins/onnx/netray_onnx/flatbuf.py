"""A flatbuffer reader that checks every offset and length against the buffer.

The ``flatbuffers`` package's Python runtime trusts its input: a vtable offset is
followed wherever it points (``struct.unpack_from`` even counts a negative position
from the end), and a vector's length is believed. For files users open, every
position here is checked to lie inside the buffer, every vector's items to fit in
what remains, and each failure is a :class:`FlatError` (a ``ValueError``) whose
message says what was wrong. Tables are read by field slot, as the schema numbers
them (slot *n* is the vtable entry at byte ``4 + 2n``).
"""

from __future__ import annotations

import mmap
import struct
from typing import Final, TypeAlias

Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap

_U8: Final = struct.Struct("<B")
_I8: Final = struct.Struct("<b")
_U16: Final = struct.Struct("<H")
_I32: Final = struct.Struct("<i")
_U32: Final = struct.Struct("<I")
_I64: Final = struct.Struct("<q")
_F32: Final = struct.Struct("<f")
_SCALARS: Final = {"u8": _U8, "i8": _I8, "i32": _I32, "u32": _U32, "i64": _I64, "f32": _F32}
_VECTOR_CODES: Final = {"i32": "i", "u32": "I", "i64": "q", "f32": "f", "u64": "Q"}


class FlatError(ValueError):
    """The bytes are not a well-formed flatbuffer (truncated, corrupt or hostile)."""


class Reader:
    """Bounds-checked little-endian reads from one buffer; vtables parsed once each."""

    __slots__ = ("data", "size", "_vtables")

    def __init__(self, data: Buffer) -> None:
        self.data = data
        self.size = len(data)
        self._vtables: dict[int, tuple[int, ...]] = {}  # flatbuffers share one vtable between tables of one shape

    def need(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise FlatError(f"{what} at byte {pos} runs past the end of the file ({self.size:,} bytes)")

    def scalar(self, fmt: struct.Struct, pos: int, what: str) -> int:
        if pos < 0:
            raise FlatError(f"{what} at byte {pos} lies before the start of the file")
        try:
            value: int = fmt.unpack_from(self.data, pos)[0]
        except struct.error:
            raise FlatError(f"{what} at byte {pos} runs past the end of the file ({self.size:,} bytes)") from None
        return value

    def vtable(self, pos: int) -> tuple[int, ...]:
        """The field offsets of the vtable at ``pos`` (0 for a field the table does not hold)."""
        fields = self._vtables.get(pos)
        if fields is None:
            size = self.scalar(_U16, pos, "a table's vtable")
            if size < 4 or size % 2:
                raise FlatError(f"the vtable at byte {pos} has an impossible size {size}")
            self.need(pos, size, "a table's vtable")
            count = (size - 4) // 2
            fields = struct.unpack_from(f"<{count}H", self.data, pos + 4) if count else ()
            self._vtables[pos] = fields
        return fields

    def root(self, identifier: bytes) -> Table:
        """The root table, after checking the file identifier at bytes 4..8."""
        if self.size < 8:
            raise FlatError(f"the file has {self.size} bytes, too few for a flatbuffer")
        if bytes(self.data[4:8]) != identifier:
            raise FlatError(f"no {identifier.decode()} identifier at bytes 4..8")
        return Table(self, self.scalar(_U32, 0, "the root offset"))


class Table:
    """One table: its fields read by slot, absent fields giving the schema's default."""

    __slots__ = ("_reader", "pos", "_fields")

    def __init__(self, reader: Reader, pos: int) -> None:
        self._reader = reader
        self.pos = pos
        self._fields = reader.vtable(pos - reader.scalar(_I32, pos, "a table"))

    def _field(self, slot: int) -> int:
        """The field's position in the file, or 0 when the table does not hold it."""
        fields = self._fields
        if slot >= len(fields):
            return 0
        offset = fields[slot]
        return self.pos + offset if offset else 0

    def _target(self, slot: int) -> int:
        """Where the offset stored in the field points, or 0 when the field is absent."""
        at = self._field(slot)
        if not at:
            return 0
        return at + self._reader.scalar(_U32, at, "an offset")

    def number(self, slot: int, kind: str, default: int | float = 0) -> int | float:
        """A scalar field (``kind`` one of u8, i8, i32, u32, i64, f32)."""
        at = self._field(slot)
        return self._reader.scalar(_SCALARS[kind], at, "a field") if at else default

    def integer(self, slot: int, kind: str, default: int = 0) -> int:
        return int(self.number(slot, kind, default))

    def table(self, slot: int) -> Table | None:
        target = self._target(slot)
        return Table(self._reader, target) if target else None

    def raw_string(self, slot: int) -> bytes:
        target = self._target(slot)
        return self._string_at(target) if target else b""

    def text(self, slot: int) -> str:
        return self.raw_string(slot).decode("utf-8", errors="replace")

    def _string_at(self, pos: int) -> bytes:
        length = self._reader.scalar(_U32, pos, "a string")
        self._reader.need(pos + 4, length, "a string's bytes")
        return bytes(self._reader.data[pos + 4 : pos + 4 + length])

    def vector(self, slot: int, item_size: int) -> tuple[int, int]:
        """(position of the first item, number of items) of a vector field; (0, 0) when absent."""
        target = self._target(slot)
        if not target:
            return 0, 0
        count = self._reader.scalar(_U32, target, "a vector")
        start = target + 4
        if count * item_size > self._reader.size - start:
            raise FlatError(f"a vector at byte {target} claims {count:,} items of {item_size} bytes, more than the file holds")
        return start, count

    def tables(self, slot: int) -> list[Table]:
        start, count = self.vector(slot, 4)
        reader = self._reader
        return [Table(reader, at + reader.scalar(_U32, at, "an offset")) for at in range(start, start + 4 * count, 4)]

    def raw_strings(self, slot: int) -> list[bytes]:
        start, count = self.vector(slot, 4)
        reader = self._reader
        return [self._string_at(at + reader.scalar(_U32, at, "an offset")) for at in range(start, start + 4 * count, 4)]

    def texts(self, slot: int) -> list[str]:
        return [s.decode("utf-8", errors="replace") for s in self.raw_strings(slot)]

    def numbers(self, slot: int, kind: str) -> tuple[int | float, ...]:
        """A vector of scalars (``kind`` one of i32, u32, i64, u64, f32)."""
        code = _VECTOR_CODES[kind]
        start, count = self.vector(slot, struct.calcsize(code))
        if not count:
            return ()
        values: tuple[int | float, ...] = struct.unpack_from(f"<{count}{code}", self._reader.data, start)
        return values

    def bytes_span(self, slot: int) -> tuple[int, int] | None:
        """(offset, length) of a ``[ubyte]`` field in the file, or None when absent."""
        if not self._field(slot):
            return None
        return self.vector(slot, 1)
