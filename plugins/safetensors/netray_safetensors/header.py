"""Reading and checking one .safetensors file's header: every fact is checked against the file's size.

Layout: an 8-byte little-endian length N, N bytes of UTF-8 JSON, then the data region. The
JSON maps each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets
relative to the data region) and may hold ``"__metadata__"``, an object of strings.

The reference reader also demands that the tensors tile the data region exactly; netray
is a viewer, so it accepts gaps, overlaps and trailing bytes and reports them as notes,
but refuses anything that would read outside the file or disagree with dtype x shape.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netray import FormatError, MetaValue
from netray_safetensors.dtype_table import BY_CODE, netray_name
from netray_safetensors.formats import FORMAT

LENGTH_BYTES = 8
MAX_HEADER = 100_000_000  # the reference implementation's limit (MAX_HEADER_SIZE)
METADATA_KEY = "__metadata__"


@dataclass(slots=True)
class Entry:
    """One tensor of the header; ``begin``/``end`` are absolute offsets in the file."""

    name: str
    code: str  # the dtype as the header writes it ("BF16")
    dtype: str  # netray's name ("bfloat16"), or an opaque name for an unknown code
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.begin

    @property
    def count(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class Header:
    """What one file's header says, checked."""

    path: Path
    file_size: int
    header_length: int
    entries: list[Entry]
    metadata: dict[str, MetaValue]
    notes: dict[str, MetaValue] = field(default_factory=dict)  # odd but readable facts, for properties

    @property
    def data_start(self) -> int:
        return LENGTH_BYTES + self.header_length


def quoted(name: str, limit: int = 80) -> str:
    """A tensor name fit for a one-line message: repr escapes newlines, long names are cut."""
    return repr(name if len(name) <= limit else name[: limit - 1] + "…")


def _fail(path: Path, reason: str) -> FormatError:
    return FormatError(path, FORMAT, reason)


def read_header(path: Path) -> Header:
    """The checked header of the .safetensors file at ``path``; FormatError for any fault."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            prefix = f.read(LENGTH_BYTES)
            if len(prefix) < LENGTH_BYTES:
                raise _fail(path, f"the file has {size} bytes, fewer than the 8 that give the header's length")
            (length,) = struct.unpack("<Q", prefix)
            if length > size - LENGTH_BYTES:
                raise _fail(path, f"the header's length, {length:,} bytes, runs past the end of the file ({size:,} bytes)")
            if length > MAX_HEADER:
                raise _fail(path, f"the header's length, {length:,} bytes, exceeds the format's limit of {MAX_HEADER:,}")
            if length < 2:
                raise _fail(path, f"the header's length is {length} bytes, too short for a JSON object")
            raw = f.read(length)
    except OSError as exc:
        raise _fail(path, f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) != length:
        raise _fail(path, "the file changed while it was read")
    return parse_header(path, raw, size)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a name given twice is ambiguous (which offsets hold the tensor?)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {quoted(key)} appears twice in one object")
            seen.add(key)
    return found


def parse_json(path: Path, raw: bytes, what: str, format: str = FORMAT) -> Any:
    """JSON text as Python values, every fault one FormatError line (bad UTF-8, syntax, depth, duplicates)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(path, format, f"the {what} is not UTF-8 text (bad byte at {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise FormatError(path, format, f"the {what} nests JSON too deeply") from None
    except ValueError as exc:  # JSONDecodeError, duplicate keys, integers of too many digits
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(path, format, f"the {what} is not valid JSON: {reason}") from None


def _are_counts(values: list[Any]) -> bool:
    """Every item a non-negative int (``type(...) is int`` leaves out bools, which JSON keeps apart)."""
    return all(type(v) is int and v >= 0 for v in values)


def _metadata(path: Path, value: Any, notes: dict[str, MetaValue]) -> dict[str, MetaValue]:
    """``__metadata__``: strings kept as strings (JSON text inside one stays text); other values,
    which the format does not allow, kept as their JSON text and named in the notes."""
    if not isinstance(value, dict):
        raise _fail(path, f"{METADATA_KEY} is a JSON {_json_kind(value)}, not an object of strings")
    out: dict[str, MetaValue] = {}
    odd: list[str] = []
    for key, item in value.items():
        if isinstance(item, str):
            out[key] = item
        else:
            out[key] = json.dumps(item)
            odd.append(key)
    if odd:
        notes["metadata not strings"] = odd
    return out


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _entry(path: Path, name: str, info: Any, data_start: int, data_size: int) -> Entry:
    where = f"tensor {quoted(name)}"
    if not isinstance(info, dict):
        raise _fail(path, f"{where} is a JSON {_json_kind(info)}, not an object with dtype, shape and data_offsets")
    code = info.get("dtype")
    shape = info.get("shape")
    offsets = info.get("data_offsets")
    if not isinstance(code, str):
        raise _fail(path, f"{where} has no dtype string (found {_json_kind(code)})")
    if not isinstance(shape, list) or not _are_counts(shape):
        raise _fail(path, f"{where}: shape {_short(shape)} is not a list of non-negative integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not _are_counts(offsets):
        raise _fail(path, f"{where}: data_offsets {_short(offsets)} is not [begin, end] of two non-negative integers")
    begin, end = offsets
    if end < begin:
        raise _fail(path, f"{where}: data_offsets end {end:,} is before begin {begin:,}")
    if end > data_size:
        raise _fail(path, f"{where}: data_offsets [{begin:,}, {end:,}] run past the data region ({data_size:,} bytes after the header)")
    count = _element_count(shape, 8 * data_size + 8)
    if count is None:  # checked before any product grows: a hostile shape of huge dims stays cheap
        raise _fail(path, f"{where}: shape {_short(shape)} has more elements than the file has bits")
    entry = Entry(name, code, netray_name(code), tuple(shape), data_start + begin, data_start + end)
    known = BY_CODE.get(code)
    if known is not None:
        bits = count * known.bits
        if bits % 8:
            raise _fail(path, f"{where}: {count:,} elements of {code} do not fill whole bytes")
        if bits // 8 != entry.length:
            raise _fail(path, f"{where}: shape {list(shape)} of {code} takes {bits // 8:,} bytes, data_offsets give {entry.length:,}")
    return entry


def _element_count(shape: list[int], cap: int) -> int | None:
    """The product of ``shape``, or None once it passes ``cap`` (no zero dimension following)."""
    if 0 in shape:
        return 0
    count = 1
    for d in shape:
        count *= d
        if count > cap:
            return None
    return count


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_header(path: Path, raw: bytes, file_size: int) -> Header:
    """Check the header bytes ``raw`` of a file of ``file_size`` bytes and list its tensors."""
    doc = parse_json(path, raw, "header")
    if not isinstance(doc, dict):
        raise _fail(path, f"the header is a JSON {_json_kind(doc)}, not an object of tensors")
    data_start = LENGTH_BYTES + len(raw)
    data_size = file_size - data_start
    notes: dict[str, MetaValue] = {}
    metadata: dict[str, MetaValue] = {}
    entries: list[Entry] = []
    for name, info in doc.items():
        if name == METADATA_KEY:
            metadata = _metadata(path, info, notes)
        else:
            entries.append(_entry(path, name, info, data_start, data_size))
    header = Header(path, file_size, len(raw), entries, metadata, notes)
    _layout_notes(header)
    return header


def _layout_notes(header: Header) -> None:
    """Where the tensors do not tile the data region as the reference writer lays them out."""
    unknown = sorted({e.code for e in header.entries if e.code not in BY_CODE})
    if unknown:
        header.notes["unknown dtypes"] = unknown
    spans = sorted((e.begin, e.end) for e in header.entries if e.end > e.begin)
    covered = 0
    reach = header.data_start
    overlaps = 0
    for begin, end in spans:
        if begin < reach:
            overlaps += 1
        covered += max(0, end - max(begin, reach))
        reach = max(reach, end)
    unused = header.file_size - header.data_start - covered
    if unused:
        header.notes["unused data bytes"] = unused
    if overlaps:
        header.notes["tensors sharing bytes"] = overlaps
