"""netray.flatwire: the bounds-checked flatbuffer reader, on buffers the ``flatbuffers`` package's Builder writes.

Well-formed buffers read back what was written (every scalar kind, defaults, nested tables,
strings, bytes, vectors, unions, a file identifier, a flatbuffer inside a larger buffer);
hostile ones (offsets past the end, vtables before the start or of impossible sizes, huge
counts, strings without room) give a FlatError naming what was read, and no other exception.
"""

from __future__ import annotations

import struct
from typing import Any

import flatbuffers
import pytest

from netray.flatwire import FlatError, Reader, Table, scalar_size

IDENTIFIER = b"TEST"
# slot -> (Builder method, value) of the scalars written into the root table.
SCALARS: dict[int, tuple[str, str, Any]] = {
    0: ("bool", "PrependBoolSlot", True),
    1: ("byte", "PrependInt8Slot", -5),
    2: ("ubyte", "PrependUint8Slot", 250),
    3: ("short", "PrependInt16Slot", -30000),
    4: ("ushort", "PrependUint16Slot", 60000),
    5: ("int", "PrependInt32Slot", -2_000_000_000),
    6: ("uint", "PrependUint32Slot", 4_000_000_000),
    7: ("long", "PrependInt64Slot", -(1 << 62)),
    8: ("ulong", "PrependUint64Slot", (1 << 64) - 1),
    9: ("float", "PrependFloat32Slot", 1.5),
    10: ("double", "PrependFloat64Slot", -2.25),
}
NAME, BLOB, INTS, ITEMS, TAGS, CHILD, UNION_TYPE, UNION_VALUE, DOUBLES, BOOLS, BAD_UTF8, ABSENT = range(11, 23)
SLOTS = ABSENT  # the root table's slot count; ABSENT lies past its vtable


def _vector(b: flatbuffers.Builder, prepend: str, width: int, values: list[Any]) -> int:
    b.StartVector(width, len(values), width)
    for value in reversed(values):
        getattr(b, prepend)(value)
    return b.EndVector()


def _item(b: flatbuffers.Builder, label: str, value: int) -> int:
    """An Item table: slot 0 a string, slot 1 an int (every Item shares one vtable)."""
    text = b.CreateString(label)
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(0, text, 0)
    b.PrependInt32Slot(1, value, 0)
    return b.EndObject()


def build(identifier: bytes | None = IDENTIFIER, items: int = 3) -> bytes:
    """A root table holding one field of every kind the reader reads."""
    b = flatbuffers.Builder(256)
    name = b.CreateString("conv1")
    blob = b.CreateByteVector(bytes(range(7)))
    ints = _vector(b, "PrependInt32", 4, [3, -1, 7])
    item_offsets = [_item(b, f"item{k}", 10 * k + 1) for k in range(items)]  # never 0, which the Builder omits
    items_vector = _vector(b, "PrependUOffsetTRelative", 4, item_offsets)
    tag_offsets = [b.CreateString(tag) for tag in ("a", "bé", "")]
    tags = _vector(b, "PrependUOffsetTRelative", 4, tag_offsets)
    child = _item(b, "child", 42)
    member = _item(b, "member", 7)
    doubles = _vector(b, "PrependFloat64", 8, [0.5, -1.0])
    bools = _vector(b, "PrependBool", 1, [True, False, True])
    bad_utf8 = b.CreateString(b"ok\xff")
    b.StartObject(SLOTS)
    for slot, (_, method, value) in SCALARS.items():
        getattr(b, method)(slot, value, 0)
    for slot, offset in (
        (NAME, name),
        (BLOB, blob),
        (INTS, ints),
        (ITEMS, items_vector),
        (TAGS, tags),
        (CHILD, child),
        (UNION_VALUE, member),
        (DOUBLES, doubles),
        (BOOLS, bools),
        (BAD_UTF8, bad_utf8),
    ):
        b.PrependUOffsetTRelativeSlot(slot, offset, 0)
    b.PrependUint8Slot(UNION_TYPE, 2, 0)
    b.Finish(b.EndObject(), file_identifier=identifier)
    return bytes(b.Output())


def read_everything(root: Table, base: int = 0) -> list[Any]:
    """Every field of the root table and of the tables it reaches, read with each method (positions less ``base``)."""
    out: list[Any] = [root.scalar(slot, kind) for slot, (kind, _, _) in SCALARS.items()]
    out += [root.string(NAME, "Root.name"), root.raw_string(NAME, "Root.name"), root.bytes_(BLOB, "Root.blob")]
    span = root.vector_span(BLOB, 1, "Root.blob")
    out += [span and (span[0] - base, span[1]), root.scalars(INTS, "int", "Root.ints")]
    out += [(item.string(0, "Item.label"), item.scalar(1, "int")) for item in root.tables(ITEMS, "Root.items")]
    out += [root.strings(TAGS, "Root.tags"), root.raw_strings(TAGS, "Root.tags")]
    child = root.table(CHILD, "Root.child")
    out.append(None if child is None else (child.string(0, "Item.label"), child.scalar(1, "int")))
    kind, member = root.union(UNION_TYPE, "Root.member")
    out.append((kind, None if member is None else member.string(0, "Item.label")))
    out += [root.scalars(DOUBLES, "double", "Root.doubles"), root.scalars(BOOLS, "bool", "Root.bools")]
    out += [root.string(BAD_UTF8, "Root.bad"), root.has(NAME), root.has(ABSENT)]
    return out


# -- well-formed buffers ---------------------------------------------------------------------
def test_every_scalar_kind_reads_back() -> None:
    root = Table.root(build(), what="Root", identifier=IDENTIFIER)
    for slot, (kind, _, value) in SCALARS.items():
        assert root.scalar(slot, kind) == value, kind
    assert [scalar_size(kind) for kind, _, _ in SCALARS.values()] == [1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8]


def test_absent_fields_give_the_default_or_the_kinds_zero() -> None:
    root = Table.root(build(), what="Root")
    assert root.scalar(ABSENT, "int", -1) == -1
    assert root.scalar(ABSENT, "bool") is False
    zero = root.scalar(ABSENT, "float")
    assert zero == 0.0 and isinstance(zero, float)
    assert root.scalar(ABSENT, "ulong") == 0 and not root.has(ABSENT)
    assert root.table(ABSENT, "x") is None and root.vector_span(ABSENT, 4, "x") is None
    assert root.string(ABSENT, "x") == "" and root.string(ABSENT, "x", "none") == "none"
    assert root.raw_string(ABSENT, "x") is None and root.bytes_(ABSENT, "x") is None
    assert root.scalars(ABSENT, "int", "x") == [] and root.tables(ABSENT, "x") == []
    assert root.strings(ABSENT, "x") == [] and root.raw_strings(ABSENT, "x") == []
    assert root.union(ABSENT, "x") == (0, None)


def test_tables_strings_vectors_and_unions() -> None:
    data = build()
    root = Table.root(data, what="Root")
    assert root.string(NAME, "Root.name") == "conv1" and root.raw_string(NAME, "Root.name") == b"conv1"
    assert root.bytes_(BLOB, "Root.blob") == bytes(range(7))
    position, count = root.vector_span(BLOB, 1, "Root.blob") or (0, 0)
    assert count == 7 and data[position : position + 7] == bytes(range(7))
    assert root.scalars(INTS, "int", "Root.ints") == [3, -1, 7]
    assert root.scalars(DOUBLES, "double", "Root.doubles") == [0.5, -1.0]
    assert root.scalars(BOOLS, "bool", "Root.bools") == [True, False, True]
    items = root.tables(ITEMS, "Root.items")
    assert [(t.string(0, "label"), t.scalar(1, "int")) for t in items] == [("item0", 1), ("item1", 11), ("item2", 21)]
    assert [t.what for t in items] == ["Root.items[0]", "Root.items[1]", "Root.items[2]"]
    assert root.strings(TAGS, "Root.tags") == ["a", "bé", ""]
    assert root.raw_strings(TAGS, "Root.tags") == [b"a", "bé".encode(), b""]
    child = root.table(CHILD, "Root.child")
    assert child is not None and child.what == "Root.child" and child.string(0, "label") == "child"
    kind, member = root.union(UNION_TYPE, "Root.member")
    assert kind == 2 and member is not None and member.scalar(1, "int") == 7
    assert root.string(BAD_UTF8, "Root.bad") == "ok\ufffd"  # undecodable bytes replaced
    assert root.raw_string(BAD_UTF8, "Root.bad") == b"ok\xff"


def test_tables_of_one_shape_share_one_parsed_vtable() -> None:
    data = build(items=50)
    root = Table.root(data, what="Root")
    items = root.tables(ITEMS, "Root.items")
    vtables = {t.pos - struct.unpack_from("<i", data, t.pos)[0] for t in items}
    assert len(vtables) == 1  # the Builder wrote one vtable for all fifty
    reader = root.reader
    assert all(t.reader is reader for t in items)
    (vtable,) = vtables
    assert reader.vtable(vtable, "Item") is reader.vtable(vtable, "Item") == (8, 4)  # parsed once, kept


def test_identifier_checked_when_asked() -> None:
    data = build()
    assert Table.root(data, what="Root", identifier=IDENTIFIER).scalar(5, "int") == -2_000_000_000
    assert Table.root(build(identifier=None)).scalar(5, "int") == -2_000_000_000  # no identifier asked, none written
    with pytest.raises(FlatError, match=r"Root: no ABCD file identifier at bytes 4\.\.8 \(found b'TEST'\)"):
        Table.root(data, what="Root", identifier=b"ABCD")


def test_a_flatbuffer_inside_a_larger_buffer() -> None:
    """``start`` and ``size`` bound the flatbuffer; positions stay the outer buffer's."""
    inner = build()
    data = b"P" * 100 + inner + b"S" * 50
    root = Table.root(data, 100 + len(inner), "Root", identifier=IDENTIFIER, start=100)
    assert read_everything(root, base=100) == read_everything(Table.root(inner, what="Root"))
    position, _ = root.vector_span(BLOB, 1, "Root.blob") or (0, 0)
    assert data[position : position + 7] == bytes(range(7))
    with pytest.raises(FlatError, match="no TEST file identifier"):
        Table.root(data, what="Root", identifier=IDENTIFIER)  # at start 0 lies the prefix


def test_memoryview_bytearray_and_mmap_buffers(tmp_path: Any) -> None:
    import mmap

    data = build()
    expected = read_everything(Table.root(data, what="Root"))
    path = tmp_path / "buffer.bin"
    path.write_bytes(data)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert read_everything(Table.root(mm, what="Root")) == expected
    assert read_everything(Table.root(bytearray(data), what="Root")) == expected
    assert read_everything(Table.root(memoryview(data), what="Root")) == expected


# -- hostile buffers ------------------------------------------------------------------------
def _root_and_vtable(data: bytes) -> tuple[int, int]:
    root = struct.unpack_from("<I", data, 0)[0]
    return root, root - struct.unpack_from("<i", data, root)[0]


def _patched(data: bytes, fmt: str, at: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


def _field_position(data: bytes, slot: int) -> int:
    root, vtable = _root_and_vtable(data)
    return root + struct.unpack_from("<H", data, vtable + 4 + 2 * slot)[0]


def test_too_short_and_root_past_the_end() -> None:
    with pytest.raises(FlatError, match="Root: 7 bytes are too few for a flatbuffer"):
        Table.root(b"\x08\x00\x00\x00TES", what="Root")
    data = build()
    with pytest.raises(FlatError, match=f"Root at byte {len(data) + 100:,} runs past the end of the data"):
        Table.root(_patched(data, "<I", 0, len(data) + 100), what="Root")
    with pytest.raises(FlatError, match="Root: a flatbuffer cannot start at byte -4"):
        Table.root(data, what="Root", start=-4)


def test_vtables_before_the_start_past_the_end_or_of_impossible_size() -> None:
    data = build()
    root, vtable = _root_and_vtable(data)
    with pytest.raises(FlatError, match=r"the vtable of Root at byte -[\d,]+ lies before the start of the data"):
        Table.root(_patched(data, "<i", root, root + 1000), what="Root")  # a negative position
    with pytest.raises(FlatError, match=r"the vtable of Root at byte .* runs past the end"):
        Table.root(_patched(data, "<i", root, -(1 << 30)), what="Root")
    for size in (0, 2, 7):
        with pytest.raises(FlatError, match=f"the vtable of Root at byte {vtable:,} has an impossible size of {size} bytes"):
            Table.root(_patched(data, "<H", vtable, size), what="Root")
    with pytest.raises(FlatError, match=r"the vtable of Root \(60000 bytes\) at byte .* runs past the end"):
        Table.root(_patched(data, "<H", vtable, 60000), what="Root")
    # Inside a larger buffer, a vtable before the flatbuffer's start is refused too.
    inner = _patched(data, "<i", root, root + 10)
    with pytest.raises(FlatError, match=r"lies before the start of the data \(byte 64\)"):
        Table.root(b"\0" * 64 + inner, what="Root", start=64)


def test_fields_and_offsets_past_the_end() -> None:
    data = build()
    root, vtable = _root_and_vtable(data)
    far = _patched(data, "<H", vtable + 4 + 2 * 7, len(data) - root - 4)  # the long field's 8 bytes cross the end
    with pytest.raises(FlatError, match=f"field 7 of Root at byte {len(data) - 4:,} runs past the end"):
        Table.root(far, what="Root").scalar(7, "long")
    assert Table.root(far, what="Root").scalar(6, "uint") == 4_000_000_000  # the other fields still read
    at = _field_position(data, NAME)
    pointing_out = _patched(data, "<I", at, len(data))
    with pytest.raises(FlatError, match=r"Root.name at byte .* runs past the end"):
        Table.root(pointing_out, what="Root").string(NAME, "Root.name")
    # The same bytes under a smaller size limit: reads stop at the limit, not at the buffer's end.
    limited = Table.root(data + b"\0" * 64, len(data), "Root")
    assert limited.string(NAME, "Root.name") == "conv1"
    beyond = Table.root(_patched(data + b"\0" * 64, "<I", at, len(data) - at + 8), len(data), "Root")
    with pytest.raises(FlatError, match=r"Root.name .* runs past the end of the data"):
        beyond.string(NAME, "Root.name")


def test_huge_vector_counts_are_refused_before_any_work() -> None:
    data = build()
    for slot, width, read in (
        (INTS, 4, lambda t: t.scalars(INTS, "int", "Root.ints")),
        (ITEMS, 4, lambda t: t.tables(ITEMS, "Root.items")),
        (TAGS, 4, lambda t: t.strings(TAGS, "Root.tags")),
        (BLOB, 1, lambda t: t.bytes_(BLOB, "Root.blob")),
        (DOUBLES, 8, lambda t: t.scalars(DOUBLES, "double", "Root.doubles")),
    ):
        at = _field_position(data, slot)
        vector = at + struct.unpack_from("<I", data, at)[0]
        for count in (0x7FFFFFF0, 0xFFFFFFFF, len(data)):
            hostile = Table.root(_patched(data, "<I", vector, count), what="Root")
            with pytest.raises(FlatError, match=rf"at byte {vector:,} claims {count:,} entries of {width} bytes"):
                read(hostile)


def test_strings_need_room_for_their_bytes_and_terminator() -> None:
    data = build()
    at = _field_position(data, NAME)
    string = at + struct.unpack_from("<I", data, at)[0]
    for length in (len(data), 0xFFFFFFFF, len(data) - string - 4):  # the last leaves no byte for the zero
        hostile = Table.root(_patched(data, "<I", string, length), what="Root")
        with pytest.raises(FlatError, match=f"Root.name at byte {string:,} claims {length:,} bytes and a terminating zero"):
            hostile.string(NAME, "Root.name")
        with pytest.raises(FlatError, match="terminating zero"):
            hostile.raw_string(NAME, "Root.name")
    # A string that ends exactly at the end of the data, its terminator cut off.
    cut = data[: string + 4 + 5]
    with pytest.raises(FlatError, match="terminating zero"):
        Table.root(cut, what="Root").string(NAME, "Root.name")
    tags_at = _field_position(data, TAGS)
    tags = tags_at + struct.unpack_from("<I", data, tags_at)[0]
    second = tags + 8 + struct.unpack_from("<I", data, tags + 8)[0]
    with pytest.raises(FlatError, match=r"Root.tags\[1\] at byte .* claims"):
        Table.root(_patched(data, "<I", second, 1 << 30), what="Root").strings(TAGS, "Root.tags")


def test_a_table_of_a_vector_named_in_its_error() -> None:
    data = build()
    at = _field_position(data, ITEMS)
    vector = at + struct.unpack_from("<I", data, at)[0]
    hostile = _patched(data, "<I", vector + 4 + 4 * 2, 1 << 30)  # items[2] points far past the end
    with pytest.raises(FlatError, match=r"Root.items\[2\] at byte [\d,]+ runs past the end"):
        Table.root(hostile, what="Root").tables(ITEMS, "Root.items")


@pytest.mark.parametrize("value", [0x7FFFFFF0, 0xFFFFFFFF, 0x80000000, 0x00010001, 0])
def test_every_word_made_hostile_gives_a_result_or_a_flat_error(value: int) -> None:
    """Each aligned 32-bit word in turn takes a hostile value: reading everything never raises anything else."""
    data = build()
    for position in range(0, len(data) - 3, 4):
        try:
            read_everything(Table.root(_patched(data, "<I", position, value), what="Root"))
        except FlatError:
            pass


def test_every_16_bit_vtable_entry_made_hostile() -> None:
    data = build()
    _, vtable = _root_and_vtable(data)
    length = struct.unpack_from("<H", data, vtable)[0]
    for position in range(vtable, vtable + length, 2):
        for value in (1, 3, 0xFFFF, 0x8000, len(data)):
            try:
                read_everything(Table.root(_patched(data, "<H", position, value), what="Root"))
            except FlatError:
                pass


def test_every_truncation_gives_a_result_or_a_flat_error() -> None:
    data = build()
    for cut in range(len(data)):
        try:
            read_everything(Table.root(data[:cut], what="Root"))
        except FlatError as exc:
            assert "\n" not in str(exc)


def test_reader_clamps_its_size_to_the_buffer() -> None:
    data = build()
    reader = Reader(data, len(data) + 1000)
    assert reader.size == len(data)
    assert Reader(data).size == len(data) and Reader(data, -5).size == 0
