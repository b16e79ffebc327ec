"""The GGUF header: typed key/values and tensor infos, read with every length checked.

Layout (llama.cpp ``docs/gguf.md``): ``GGUF`` magic, uint32 version, uint64 tensor count,
uint64 key/value count, the key/values (string key, uint32 value type, value), the tensor
infos (string name, uint32 n_dims, uint64 ne[n_dims], uint32 ggml type, uint64 offset),
padding to ``general.alignment`` (32 by default), then the tensor data.

Why not ``gguf.GGUFReader``: it builds a numpy view per array *element* (3 s for
Falcon's 65k-token vocab here), and an array of scalars whose count runs past the end
of the file makes it loop on empty views for ever. This reader checks every count
and length against the file's size before it reads, decodes arrays of numbers in one
``numpy.frombuffer``, and turns any fault into one ``FormatError`` line.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netray import FormatError, MetaValue
from netray_gguf.formats import FORMAT, SUPPORTED_VERSIONS
from netray_gguf.sniff import head_version

DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS: llama.cpp refuses tensors of more dimensions
MAX_NESTING = 6  # arrays of arrays: none of llama.cpp's keys nest; deeper is hostile
# Array items over all key/values: a 262k-token vocab with scores and types is under a
# million; beyond this a header is hostile, and reading it would take minutes.
MAX_ITEMS = 1 << 24
INT64_MAX = (1 << 63) - 1

STRING, ARRAY = 8, 9
# GGUF value types with fixed sizes: struct code and numpy type code.
SCALARS: dict[int, tuple[str, str]] = {
    0: ("B", "u1"),
    1: ("b", "i1"),
    2: ("H", "u2"),
    3: ("h", "i2"),
    4: ("I", "u4"),
    5: ("i", "i4"),
    6: ("f", "f4"),
    7: ("B", "u1"),
    10: ("Q", "u8"),
    11: ("q", "i8"),
    12: ("d", "f8"),
}
BOOL = 7
# The smallest encoding of one array item of each kind, to refuse a count that cannot fit.
MIN_STRING = 8
MIN_ARRAY = 12


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in the header: ``ne`` in ggml's order (fastest-varying first)."""

    name: str
    ne: tuple[int, ...]
    ggml_type: int
    offset: int  # relative to the start of the data section


@dataclass
class Header:
    version: int
    big_endian: bool
    fields: dict[str, MetaValue]
    tensors: list[TensorInfo]
    alignment: int
    data_offset: int  # absolute: where the tensor data section starts
    file_size: int


class _Reader:
    """A cursor over the mapped file; every read checks that its bytes exist."""

    def __init__(self, path: Path, buf: mmap.mmap | bytes, size: int, endian: str) -> None:
        self.path = path
        self.buf = buf
        self.size = size
        self.endian = endian
        self.pos = 0
        self.items = 0
        self._u32 = struct.Struct(endian + "I")
        self._u64 = struct.Struct(endian + "Q")

    def fail(self, reason: str) -> FormatError:
        return FormatError(self.path, FORMAT, reason)

    def need(self, n: int, what: str) -> None:
        if n > self.size - self.pos:
            raise self.fail(
                f"{what} at byte {self.pos} needs {n:,} bytes, but the file ends at {self.size:,}: "
                "the file is truncated or corrupt"
            )

    def u32(self, what: str) -> int:
        self.need(4, what)
        (value,) = self._u32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def u64(self, what: str) -> int:
        self.need(8, what)
        (value,) = self._u64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(value)

    def string(self, what: str) -> str:
        n = self.u64(f"the length of {what}")
        self.need(n, f"{what} ({n:,} bytes)")
        text = bytes(self.buf[self.pos : self.pos + n]).decode("utf-8", "replace")
        self.pos += n
        return text

    def count_items(self, n: int, what: str) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise self.fail(
                f"{what}: the key/value arrays hold more than {MAX_ITEMS:,} items, more than any model's; "
                "the header is corrupt"
            )

    def value(self, vtype: int, what: str, depth: int = 0) -> MetaValue:
        scalar = SCALARS.get(vtype)
        if scalar is not None:
            code, _ = scalar
            size = struct.calcsize(code)
            self.need(size, what)
            (value,) = struct.unpack_from(self.endian + code, self.buf, self.pos)
            self.pos += size
            return bool(value) if vtype == BOOL else value  # type: ignore[no-any-return]
        if vtype == STRING:
            return self.string(what)
        if vtype == ARRAY:
            return self.array(what, depth)
        raise self.fail(f"{what} has value type {vtype}, which GGUF does not define (0-12)")

    def array(self, what: str, depth: int) -> list[MetaValue]:
        if depth >= MAX_NESTING:
            raise self.fail(f"{what}: arrays nested more than {MAX_NESTING} deep")
        itype = self.u32(f"the item type of {what}")
        count = self.u64(f"the length of {what}")
        scalar = SCALARS.get(itype)
        if scalar is None and itype not in (STRING, ARRAY):
            raise self.fail(f"{what} is an array of value type {itype}, which GGUF does not define (0-12)")
        least = np.dtype(scalar[1]).itemsize if scalar else MIN_STRING if itype == STRING else MIN_ARRAY
        self.need(count * least, f"{what} ({count:,} items)")
        self.count_items(count, what)
        if scalar is not None:
            _, np_code = scalar
            itemsize = np.dtype(np_code).itemsize
            items = np.frombuffer(self.buf, dtype=self.endian + np_code, count=count, offset=self.pos)
            self.pos += count * itemsize
            values: list[MetaValue] = (items != 0).tolist() if itype == BOOL else items.tolist()
            del items  # release the view of the map before it is closed
            return values
        if itype == STRING:
            return self._strings(count, what)
        return [self.array(f"{what}[{k}]", depth + 1) for k in range(count)]

    def _strings(self, count: int, what: str) -> list[MetaValue]:
        # The hot loop of a header (vocabularies, merges): locals, no per-item message.
        buf, size, unpack = self.buf, self.size, self._u64.unpack_from
        pos = self.pos
        out: list[MetaValue] = []
        append = out.append
        for k in range(count):
            if pos + 8 > size:
                self.pos = pos
                self.need(8, f"the length of string {k:,} of {what}")
            (n,) = unpack(buf, pos)
            pos += 8
            if n > size - pos:
                self.pos = pos
                self.need(n, f"string {k:,} of {what} ({n:,} bytes)")
            append(bytes(buf[pos : pos + n]).decode("utf-8", "replace"))
            pos += n
        self.pos = pos
        return out


def read_header(path: Path) -> Header:
    """Parse the header of the GGUF file at ``path``; any fault is a FormatError."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < 24:
                f.seek(0)
                head = f.read(8)
                if head_version(head) is None and not b"GGUF".startswith(head[:4]):
                    raise FormatError(path, FORMAT, f"not a GGUF file: it starts with {head[:4]!r}, not b'GGUF'")
                raise FormatError(
                    path, FORMAT, f"the file is {size} bytes, shorter than a GGUF header (24): it is truncated"
                )
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, buf, size)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read the file: {exc.strerror or exc}") from exc


def _parse(path: Path, buf: mmap.mmap, size: int) -> Header:
    found = head_version(bytes(buf[:8]))
    if found is None:
        raise FormatError(path, FORMAT, f"not a GGUF file: it starts with {bytes(buf[:4])!r}, not b'GGUF'")
    endian, version = found
    if version not in SUPPORTED_VERSIONS:
        raise FormatError(
            path,
            FORMAT,
            f"GGUF version {version} is not supported "
            f"(this plugin reads versions {', '.join(map(str, SUPPORTED_VERSIONS))})",
        )
    r = _Reader(path, buf, size, endian)
    r.pos = 8
    tensor_count = r.u64("the tensor count")
    kv_count = r.u64("the key/value count")
    # Each key/value takes at least 13 bytes and each tensor info 24: refuse counts that cannot fit.
    if kv_count * 13 > size - r.pos:
        raise r.fail(
            f"the header declares {kv_count:,} key/values, more than a file of {size:,} bytes can hold: "
            "it is corrupt or truncated"
        )
    if tensor_count * 24 > size - r.pos:
        raise r.fail(
            f"the header declares {tensor_count:,} tensors, more than a file of {size:,} bytes can hold: "
            "it is corrupt or truncated"
        )

    fields: dict[str, MetaValue] = {}
    for k in range(kv_count):
        key = r.string(f"the name of key/value {k}")
        vtype = r.u32(f"the value type of key {key!r}")
        if key in fields:
            raise r.fail(f"key {key!r} appears twice")
        fields[key] = r.value(vtype, f"key {key!r}")

    tensors: list[TensorInfo] = []
    names: set[str] = set()
    for k in range(tensor_count):
        name = r.string(f"the name of tensor {k}")
        if name in names:
            raise r.fail(f"tensor {name!r} appears twice")
        names.add(name)
        n_dims = r.u32(f"the dimension count of tensor {name!r}")
        if n_dims > MAX_DIMS:
            raise r.fail(f"tensor {name!r} has {n_dims} dimensions; ggml allows at most {MAX_DIMS}")
        ne = tuple(r.u64(f"dimension {d} of tensor {name!r}") for d in range(n_dims))
        elements = 1
        for d in ne:
            elements *= d
        if any(d > INT64_MAX for d in ne) or elements > INT64_MAX:
            raise r.fail(f"tensor {name!r} has dimensions {list(ne)} whose product overflows 64 bits")
        ggml_type = r.u32(f"the type of tensor {name!r}")
        offset = r.u64(f"the data offset of tensor {name!r}")
        tensors.append(TensorInfo(name, ne, ggml_type, offset))

    alignment = DEFAULT_ALIGNMENT
    stated = fields.get("general.alignment")
    if stated is not None:
        if not isinstance(stated, int) or isinstance(stated, bool) or stated <= 0 or stated & (stated - 1):
            raise r.fail(f"general.alignment is {stated!r}; it must be a power of two")
        alignment = stated
    data_offset = -(-r.pos // alignment) * alignment
    return Header(version, endian == ">", fields, tensors, alignment, data_offset, size)
