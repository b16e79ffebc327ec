"""Flatbuffers read with bounds checks: for plugins whose formats are flatbuffers (ORT, ExecuTorch).

The ``flatbuffers`` package's Python runtime trusts its input: it follows a vtable offset
wherever it points (``struct.unpack_from`` even counts a negative position from the end)
and believes a vector's length, so a hostile file reads past the end or loops over two
billion entries. Here every table, vtable, field, string and vector is checked against
the data's bounds before it is read, and a vector's count must fit in the bytes that
remain, so the work of a reader is bounded by the file's size. Every failure is a
:class:`FlatError` (a ``ValueError``) whose message names what was read (the ``what`` a
caller gives, e.g. ``"Node.name"`` or ``"Program.execution_plan[0]"``); the plugin turns
it into a ``FormatError`` naming the file. Pure Python (``struct`` only): netray-core does
not depend on ``flatbuffers``.

Tables are read by field slot, as ``flatc`` numbers them: slot *n* is the schema's *n*-th
field (a union takes two slots, its type byte then its value), stored in the vtable entry
at byte ``4 + 2n``. Scalars are named by their flatc kind (``"int"``, ``"ulong"``,
``"float"``...). Flatbuffers share one vtable between the tables of one shape, so each
vtable is parsed once and cached on the :class:`Reader` that all tables of a buffer share.
"""

from __future__ import annotations

import mmap
import struct
from typing import Any, Final, Literal, TypeAlias, overload

Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap
IntKind: TypeAlias = Literal["byte", "ubyte", "short", "ushort", "int", "uint", "long", "ulong"]
FloatKind: TypeAlias = Literal["float", "double"]

# flatc's scalar kinds: (little-endian struct, the value of an absent field with no default given).
_KINDS: Final[dict[str, tuple[struct.Struct, Any]]] = {
    "bool": (struct.Struct("<?"), False),
    "byte": (struct.Struct("<b"), 0),
    "ubyte": (struct.Struct("<B"), 0),
    "short": (struct.Struct("<h"), 0),
    "ushort": (struct.Struct("<H"), 0),
    "int": (struct.Struct("<i"), 0),
    "uint": (struct.Struct("<I"), 0),
    "long": (struct.Struct("<q"), 0),
    "ulong": (struct.Struct("<Q"), 0),
    "float": (struct.Struct("<f"), 0.0),
    "double": (struct.Struct("<d"), 0.0),
}
_UOFFSET: Final = struct.Struct("<I")  # forward offsets, vector and string lengths
_SOFFSET: Final = struct.Struct("<i")  # a table's signed offset back to its vtable
_VOFFSET: Final = struct.Struct("<H")  # vtable entries
_ABSENT: Final = object()


class FlatError(ValueError):
    """The bytes are not a well-formed flatbuffer (truncated, corrupt or hostile); the message is one sentence."""


def scalar_size(kind: str) -> int:
    """The width in bytes of a flatc scalar kind."""
    return _KINDS[kind][0].size


class Reader:
    """One flatbuffer's bytes, ``data[start:size]``, and the vtables parsed so far (shared by all its tables)."""

    __slots__ = ("data", "size", "start", "_vtables")

    def __init__(self, data: Buffer, size: int | None = None, start: int = 0) -> None:
        self.data = data
        self.size = len(data) if size is None else max(0, min(size, len(data)))
        self.start = start
        self._vtables: dict[int, tuple[int, ...]] = {}

    def past_end(self, what: str, pos: int) -> FlatError:
        return FlatError(f"{what} at byte {pos:,} runs past the end of the data (byte {self.size:,})")

    def vtable(self, pos: int, what: str) -> tuple[int, ...]:
        """The field offsets of the vtable at ``pos`` (0 for a field the table does not hold), checked and cached."""
        fields = self._vtables.get(pos)
        if fields is not None:
            return fields
        if pos < self.start:
            where = f" (byte {self.start:,})" if self.start else ""
            raise FlatError(f"the vtable of {what} at byte {pos:,} lies before the start of the data{where}")
        if pos + 4 > self.size:
            raise self.past_end(f"the vtable of {what}", pos)
        length = _VOFFSET.unpack_from(self.data, pos)[0]
        if length < 4 or length % 2:
            raise FlatError(f"the vtable of {what} at byte {pos:,} has an impossible size of {length} bytes")
        if pos + length > self.size:
            raise self.past_end(f"the vtable of {what} ({length} bytes)", pos)
        count = (length - 4) // 2  # after the vtable's own size and the table's size
        fields = struct.unpack_from(f"<{count}H", self.data, pos + 4) if count else ()
        self._vtables[pos] = fields
        return fields


class Table:
    """One table of a flatbuffer: its fields read by slot, absent fields giving the schema's default.

    ``what`` names the table in error messages; tables of a vector are named ``what[k]``.
    """

    __slots__ = ("reader", "buf", "size", "pos", "_fields", "_what", "_index")

    def __init__(self, reader: Reader, pos: int, what: str, index: int = -1) -> None:
        self.reader = reader
        self.buf = buf = reader.data
        self.size = reader.size
        self.pos = pos
        self._what = what
        self._index = index  # the position in a vector, formatted into ``what`` only when asked
        if pos + 4 > self.size:
            raise reader.past_end(self.what, pos)
        vtable = pos - _SOFFSET.unpack_from(buf, pos)[0]
        fields = reader._vtables.get(vtable)
        self._fields = fields if fields is not None else reader.vtable(vtable, self.what)

    @staticmethod
    def root(
        data: Buffer,
        size: int | None = None,
        what: str = "the root table",
        *,
        identifier: bytes | None = None,
        start: int = 0,
    ) -> Table:
        """The root table of the flatbuffer at ``data[start:size]`` (``size`` defaults to the whole buffer).

        With ``identifier``, the 4-byte file identifier at bytes 4..8 of the flatbuffer must be it.
        Positions stay ``data``'s own; no read leaves ``data[start:size]``."""
        if start < 0:
            raise FlatError(f"{what}: a flatbuffer cannot start at byte {start}")
        reader = Reader(data, size, start)
        available = reader.size - start
        if available < 8:
            at = f" from byte {start:,}" if start else ""
            raise FlatError(f"{what}: {max(available, 0):,} bytes{at} are too few for a flatbuffer")
        if identifier is not None:
            found = bytes(data[start + 4 : start + 8])
            if found != identifier:
                raise FlatError(
                    f"{what}: no {identifier.decode('ascii', 'replace')} file identifier at bytes 4..8 (found {found!r})"
                )
        return Table(reader, start + _UOFFSET.unpack_from(data, start)[0], what)

    @property
    def what(self) -> str:
        return self._what if self._index < 0 else f"{self._what}[{self._index}]"

    def has(self, slot: int) -> bool:
        """Whether the table holds field ``slot`` (flatbuffers omit fields equal to their default)."""
        fields = self._fields
        if slot >= len(fields) or not fields[slot]:
            return False
        at = self.pos + fields[slot]
        if at >= self.size:
            raise self.reader.past_end(f"field {slot} of {self.what}", at)
        return True

    # -- scalars ---------------------------------------------------------------------------
    @overload
    def scalar(self, slot: int, kind: Literal["bool"], default: bool = ...) -> bool: ...
    @overload
    def scalar(self, slot: int, kind: IntKind, default: int = ...) -> int: ...
    @overload
    def scalar(self, slot: int, kind: FloatKind, default: float = ...) -> float: ...
    @overload
    def scalar(self, slot: int, kind: str, default: Any = ...) -> Any: ...

    def scalar(self, slot: int, kind: str, default: Any = _ABSENT) -> Any:
        """Scalar field ``slot`` of flatc kind ``kind``; ``default`` (else False, 0 or 0.0) when absent."""
        fields = self._fields
        if slot < len(fields):
            offset = fields[slot]
            if offset:
                fmt = _KINDS[kind][0]
                at = self.pos + offset
                if at + fmt.size > self.size:
                    raise self.reader.past_end(f"field {slot} of {self.what}", at)
                return fmt.unpack_from(self.buf, at)[0]
        return _KINDS[kind][1] if default is _ABSENT else default

    # -- offsets to tables, strings and vectors ----------------------------------------------
    def _target(self, slot: int, what: str) -> int:
        """Where the offset stored in field ``slot`` points (4 bytes there checked), or 0 when the field is absent."""
        fields = self._fields
        if slot >= len(fields):
            return 0
        offset = fields[slot]
        if not offset:
            return 0
        at = self.pos + offset
        size = self.size
        if at + 4 > size:
            raise self.reader.past_end(f"the offset to {what}", at)
        target = at + _UOFFSET.unpack_from(self.buf, at)[0]
        if target + 4 > size:  # a table's vtable offset or a vector's or string's length
            raise self.reader.past_end(what, target)
        return target

    def table(self, slot: int, what: str) -> Table | None:
        """The table in field ``slot``, or None when absent."""
        target = self._target(slot, what)
        return Table(self.reader, target, what) if target else None

    def union(self, slot: int, what: str) -> tuple[int, Table | None]:
        """A union field: (type number, table), the type byte in ``slot`` and the value in ``slot + 1``."""
        kind: int = self.scalar(slot, "ubyte")
        return kind, (self.table(slot + 1, what) if kind else None)

    def vector_span(self, slot: int, width: int, what: str) -> tuple[int, int] | None:
        """(position of the first item, item count) of a vector of ``width``-byte items, checked; None when absent."""
        target = self._target(slot, what)
        if not target:
            return None
        count = _UOFFSET.unpack_from(self.buf, target)[0]
        if count * width > self.size - target - 4:
            raise FlatError(
                f"{what} at byte {target:,} claims {count:,} entries of {width} bytes, more than the data holds"
            )
        return target + 4, count

    def _string_at(self, pos: int, what: str, index: int = -1) -> bytes:
        """The bytes of the string whose length lies at ``pos`` (in bounds), with room for its terminator."""
        length = _UOFFSET.unpack_from(self.buf, pos)[0]
        start = pos + 4
        if start + length >= self.size:  # flatbuffers' verifier also asks for the terminating zero
            name = what if index < 0 else f"{what}[{index}]"
            raise FlatError(
                f"{name} at byte {pos:,} claims {length:,} bytes and a terminating zero; the data ends at byte {self.size:,}"
            )
        return bytes(self.buf[start : start + length])

    def string(self, slot: int, what: str, default: str = "") -> str:
        """A string field as text (UTF-8, undecodable bytes replaced); ``default`` when absent."""
        target = self._target(slot, what)
        return self._string_at(target, what).decode("utf-8", "replace") if target else default

    def raw_string(self, slot: int, what: str) -> bytes | None:
        """A string field's bytes, undecoded (a string may hold any bytes); None when absent."""
        target = self._target(slot, what)
        return self._string_at(target, what) if target else None

    def bytes_(self, slot: int, what: str) -> bytes | None:
        """A ``[ubyte]`` (or string) field's bytes, copied; None when absent."""
        span = self.vector_span(slot, 1, what)
        if span is None:
            return None
        start, count = span
        return bytes(self.buf[start : start + count])

    # -- vectors -----------------------------------------------------------------------------
    @overload
    def scalars(self, slot: int, kind: Literal["bool"], what: str) -> list[bool]: ...
    @overload
    def scalars(self, slot: int, kind: IntKind, what: str) -> list[int]: ...
    @overload
    def scalars(self, slot: int, kind: FloatKind, what: str) -> list[float]: ...
    @overload
    def scalars(self, slot: int, kind: str, what: str) -> list[Any]: ...

    def scalars(self, slot: int, kind: str, what: str) -> list[Any]:
        """A vector of scalars of flatc kind ``kind`` (empty when absent)."""
        fmt = _KINDS[kind][0]
        span = self.vector_span(slot, fmt.size, what)
        if span is None or not span[1]:
            return []
        start, count = span
        return list(struct.unpack_from(f"<{count}{fmt.format[-1]}", self.buf, start))

    def _offsets(self, slot: int, what: str) -> tuple[int, tuple[int, ...]]:
        """(position of the first item, the stored offsets) of a vector of offsets; (0, ()) when absent."""
        span = self.vector_span(slot, 4, what)
        if span is None or not span[1]:
            return 0, ()
        start, count = span
        return start, struct.unpack_from(f"<{count}I", self.buf, start)

    def tables(self, slot: int, what: str) -> list[Table]:
        """A vector of tables (empty when absent); the k-th is named ``what[k]`` in errors."""
        start, offsets = self._offsets(slot, what)
        reader = self.reader
        return [Table(reader, start + 4 * k + offset, what, k) for k, offset in enumerate(offsets)]

    def raw_strings(self, slot: int, what: str) -> list[bytes]:
        """A vector of strings, undecoded (empty when absent)."""
        start, offsets = self._offsets(slot, what)
        size = self.size
        out = []
        for k, offset in enumerate(offsets):
            target = start + 4 * k + offset
            if target + 4 > size:
                raise self.reader.past_end(f"{what}[{k}]", target)
            out.append(self._string_at(target, what, k))
        return out

    def strings(self, slot: int, what: str) -> list[str]:
        """A vector of strings as text (UTF-8, undecodable bytes replaced; empty when absent)."""
        return [s.decode("utf-8", "replace") for s in self.raw_strings(slot, what)]
