"""Reader of MXNet's NDArray list files (``*.params``): headers only, data left in place.

Layout (mxnet/src/ndarray/ndarray.cc, ``NDArray::Save`` / ``MXNDArraySave``)::

    uint64 magic 0x112, uint64 reserved
    uint64 count, then per array:
        uint32 magic  V1 0xF993FAC8 | V2 0xF993FAC9 | V3 0xF993FACA | else legacy (the value is ndim)
        [V2/V3] int32 storage type; sparse: storage shape
        shape: legacy uint32 ndim + uint32 dims; V1+ int32 ndim + int64 dims
        (ndim 0, or -1 in V3: an empty array, nothing follows)
        int32 device type, int32 device id, int32 dtype flag
        sparse: per aux array int32 dtype flag + shape
        data (then sparse aux data)
    uint64 count, then per name: uint64 length + bytes  ("arg:fc1_weight", "aux:bn_moving_mean")

Every count and length is checked against the bytes left in the file before it is used.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netray import FormatError, Tensor, file_slice_loader

FORMAT = "MXNet"
LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA
MAX_NDIM = 32

# mshadow type flags -> numpy dtype names.
DTYPES: dict[int, str] = {
    0: "float32",
    1: "float64",
    2: "float16",
    3: "uint8",
    4: "int32",
    5: "int8",
    6: "int64",
    7: "bool",
    8: "int16",
    9: "uint16",
    10: "uint32",
    11: "uint64",
    12: "bfloat16",
}
# Storage types: 0 dense, 1 row_sparse (1 aux array), 2 csr (2 aux arrays).
SPARSE_AUX = {1: 1, 2: 2}
STORAGE_NAMES = {0: "dense", 1: "row_sparse", 2: "csr"}


def itemsize(dtype: str) -> int:
    return 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize


@dataclass
class ArrayEntry:
    """Where one array's data lies in the file."""

    dtype: str
    shape: tuple[int, ...]
    offset: int
    length: int
    storage: str = "dense"


class _Cursor:
    """Reads little-endian integers from a buffer, failing cleanly at its end."""

    def __init__(self, data: bytes | mmap.mmap, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str) -> int:
        if n < 0 or n > self.left:
            raise FormatError(
                self.path,
                FORMAT,
                f"truncated params file: {what} needs {n} bytes at offset {self.pos}, {self.left} left",
            )
        start = self.pos
        self.pos += n
        return start

    def unpack(self, fmt: str, what: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        start = self.take(size, what)
        return struct.unpack_from(fmt, self.data, start)

    def u32(self, what: str) -> int:
        return self.unpack("<I", what)[0]

    def i32(self, what: str) -> int:
        return self.unpack("<i", what)[0]

    def u64(self, what: str) -> int:
        return self.unpack("<Q", what)[0]

    def shape(self, legacy_ndim: int | None, what: str) -> tuple[int, ...] | None:
        """A shape; None for MXNet's "unknown" (ndim -1)."""
        if legacy_ndim is not None:
            ndim = legacy_ndim
            dims = self.unpack(f"<{ndim}I", what) if 0 <= ndim <= MAX_NDIM else None
        else:
            ndim = self.i32(what)
            if ndim == -1:
                return None
            dims = self.unpack(f"<{ndim}q", what) if 0 <= ndim <= MAX_NDIM else None
        if dims is None:
            raise FormatError(self.path, FORMAT, f"{what} has {ndim} dimensions (at most {MAX_NDIM} expected)")
        if any(d < 0 for d in dims):
            raise FormatError(self.path, FORMAT, f"{what} has a negative dimension {tuple(dims)}")
        return tuple(int(d) for d in dims)


def _nbytes(shape: tuple[int, ...], dtype: str, cursor: _Cursor, what: str) -> int:
    """Byte size of an array, refused when it exceeds what is left of the file."""
    n = 1
    for d in shape:
        n *= d
        if n * itemsize(dtype) > cursor.left:  # checked per step so absurd shapes stop early
            raise FormatError(
                cursor.path,
                FORMAT,
                f"{what} of shape {shape} ({dtype}) is larger than the rest of the file ({cursor.left} bytes)",
            )
    return n * itemsize(dtype)


def _dtype(flag: int, cursor: _Cursor, what: str) -> str:
    dtype = DTYPES.get(flag)
    if dtype is None:
        raise FormatError(cursor.path, FORMAT, f"{what} has unknown dtype flag {flag}")
    return dtype


def _read_array(cursor: _Cursor, index: int) -> ArrayEntry | None:
    """One NDArray's header; the cursor ends after its data. None for an empty array."""
    what = f"array {index}"
    magic = cursor.u32(what)
    legacy_ndim: int | None = None
    storage = 0
    storage_shape: tuple[int, ...] | None = None
    if magic in (V2_MAGIC, V3_MAGIC):
        storage = cursor.i32(what)
        if storage not in STORAGE_NAMES:
            raise FormatError(cursor.path, FORMAT, f"{what} has unknown storage type {storage}")
        if storage in SPARSE_AUX:
            storage_shape = cursor.shape(None, f"{what} storage shape")
    elif magic != V1_MAGIC:
        legacy_ndim = magic  # files older than the magic numbers start with the shape's ndim
    shape = cursor.shape(legacy_ndim, f"{what} shape")
    if shape is None or (magic != V3_MAGIC and len(shape) == 0):
        return None
    cursor.unpack("<ii", f"{what} context")
    dtype = _dtype(cursor.i32(f"{what} dtype"), cursor, what)
    aux: list[tuple[str, tuple[int, ...]]] = []
    for k in range(SPARSE_AUX.get(storage, 0)):
        aux_dtype = _dtype(cursor.i32(f"{what} aux {k} dtype"), cursor, what)
        aux_shape = cursor.shape(None, f"{what} aux {k} shape")
        aux.append((aux_dtype, aux_shape or ()))
    data_shape = storage_shape if storage_shape is not None else shape
    length = _nbytes(data_shape, dtype, cursor, what)
    offset = cursor.take(length, f"{what} data")
    for aux_dtype, aux_shape in aux:
        cursor.take(_nbytes(aux_shape, aux_dtype, cursor, f"{what} aux data"), f"{what} aux data")
    return ArrayEntry(dtype, shape, offset, length, STORAGE_NAMES[storage])


def read_params(path: Path) -> dict[str, ArrayEntry]:
    """Names (without ``arg:``/``aux:``) -> where each array lies. Reads headers only."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < 24:
                raise FormatError(path, FORMAT, f"file of {size} bytes is too short for an NDArray list")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return _parse(mm, path)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read params file: {exc.strerror or exc}") from exc


def _parse(data: mmap.mmap, path: Path) -> dict[str, ArrayEntry]:
    cursor = _Cursor(data, path)
    magic, _reserved = cursor.unpack("<QQ", "header")
    if magic != LIST_MAGIC:
        raise FormatError(path, FORMAT, f"not an NDArray list (magic {magic:#x}, expected {LIST_MAGIC:#x})")
    count = cursor.u64("array count")
    if count > cursor.left // 4:  # every array takes at least 4 bytes
        raise FormatError(path, FORMAT, f"array count {count} is impossible in a file of {len(data)} bytes")
    arrays = [_read_array(cursor, i) for i in range(count)]
    name_count = cursor.u64("name count")
    if name_count not in (0, count):
        raise FormatError(path, FORMAT, f"{name_count} names for {count} arrays")
    names: list[str] = []
    for i in range(name_count):
        length = cursor.u64(f"name {i} length")
        start = cursor.take(length, f"name {i}")
        names.append(bytes(data[start : start + length]).decode("utf-8", "replace"))
    if not names:
        names = [str(i) for i in range(count)]
    entries: dict[str, ArrayEntry] = {}
    for name, entry in zip(names, arrays, strict=True):
        if entry is not None:
            entries[name.split(":", 1)[1] if name[:4] in ("arg:", "aux:") else name] = entry
    return entries


def entry_tensor(path: Path, name: str, entry: ArrayEntry) -> Tensor:
    """A lazy Tensor over one array's bytes (dense arrays only carry a loader)."""
    loader = None
    if entry.storage == "dense" and entry.dtype != "bfloat16":
        loader = file_slice_loader(path, entry.offset, entry.length, entry.dtype, entry.shape)
    return Tensor(
        name,
        entry.dtype,
        entry.shape,
        loader=loader,
        byte_size=entry.length,
        location=f"{path.name} @ {entry.offset}",
        kind=entry.storage,
    )
