"""Paddle's serialized tensors (.pdiparams, __params__, per-variable files), read header by header.

Each tensor is written by ``SerializeToStream``: ``uint32`` version (0), ``uint64`` LoD level
count, per level a ``uint64`` byte size and that many bytes of offsets, ``uint32`` tensor
version (0), ``int32`` size of a TensorDesc protobuf, the TensorDesc (data type and dims),
then the raw little-endian data. A combined file concatenates them in the sorted order of
the program's persistable variables and carries no names. Only headers are read here: each
tensor's data becomes a memory-mapped slice read on request.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from google.protobuf.message import DecodeError

import netray
from netray import Tensor
from netray.dtypes import byte_size, numpy_dtype
from netray_paddle.dtypes import VAR_DTYPES
from netray_paddle.proto import TensorDesc

MAX_LOD_LEVELS = 64
MAX_DESC = 1 << 20  # a TensorDesc is a type and a few dims


@dataclass(frozen=True)
class StoredTensor:
    """Where one serialized tensor's data lies and what its header says."""

    dtype: str
    shape: tuple[int, ...]
    offset: int
    length: int
    lod_levels: int
    header_offset: int


def _read(f: BinaryIO, size: int, count: int, what: str, path: Path, fmt: str) -> bytes:
    at = f.tell()
    if count > size - at:
        raise netray.FormatError(path, fmt, f"{what} at byte {at} runs past the end of the file ({size} bytes)")
    return f.read(count)


def read_one(f: BinaryIO, size: int, path: Path, fmt: str) -> StoredTensor:
    """The header at the file's current position; leaves the position after the tensor's data."""
    start = f.tell()
    (version,) = struct.unpack("<I", _read(f, size, 4, "tensor version", path, fmt))
    if version != 0:
        raise netray.FormatError(path, fmt, f"tensor at byte {start}: version {version}, Paddle writes 0")
    (levels,) = struct.unpack("<Q", _read(f, size, 8, "LoD level count", path, fmt))
    if levels > MAX_LOD_LEVELS:
        raise netray.FormatError(path, fmt, f"tensor at byte {start}: {levels} LoD levels")
    for _ in range(levels):
        (nbytes,) = struct.unpack("<Q", _read(f, size, 8, "LoD level size", path, fmt))
        if nbytes > size - f.tell():
            raise netray.FormatError(
                path, fmt, f"tensor at byte {start}: LoD level of {nbytes} bytes runs past the end of the file"
            )
        f.seek(nbytes, 1)
    (tensor_version,) = struct.unpack("<I", _read(f, size, 4, "tensor version", path, fmt))
    if tensor_version != 0:
        raise netray.FormatError(path, fmt, f"tensor at byte {start}: tensor version {tensor_version}, Paddle writes 0")
    (desc_size,) = struct.unpack("<i", _read(f, size, 4, "TensorDesc size", path, fmt))
    if not 0 < desc_size <= MAX_DESC:
        raise netray.FormatError(path, fmt, f"tensor at byte {start}: TensorDesc of {desc_size} bytes")
    try:
        desc = TensorDesc.FromString(_read(f, size, desc_size, "TensorDesc", path, fmt))
    except DecodeError as exc:
        raise netray.FormatError(path, fmt, f"tensor at byte {start}: bad TensorDesc ({exc})") from None
    dtype = VAR_DTYPES.get(desc.data_type)
    if dtype is None:
        raise netray.FormatError(
            path, fmt, f"tensor at byte {start}: data type {desc.data_type} is not a tensor element type"
        )
    shape = tuple(int(d) for d in desc.dims)
    if any(d < 0 for d in shape):
        raise netray.FormatError(path, fmt, f"tensor at byte {start}: negative dimension in {shape}")
    count = 1
    for d in shape:
        count *= d
    length = byte_size(dtype, count)
    offset = f.tell()
    if length is None or length > size - offset:
        raise netray.FormatError(
            path, fmt, f"tensor at byte {start} of shape {list(shape)} {dtype} runs past the end of the file"
        )
    f.seek(length, 1)
    return StoredTensor(dtype, shape, offset, length, int(levels), start)


def scan(path: Path, fmt: str) -> list[StoredTensor]:
    """Every tensor header of a combined file, in file order."""
    out = []
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            if size == 0:
                raise netray.FormatError(path, fmt, "the file is empty")
            while f.tell() < size:
                out.append(read_one(f, size, path, fmt))
    except OSError as exc:
        raise netray.FormatError(path, fmt, f"cannot read the file: {exc.strerror or exc}") from None
    return out


def scan_single(path: Path, fmt: str) -> StoredTensor:
    """The one tensor of a per-variable file."""
    found = scan(path, fmt)
    if len(found) != 1:
        raise netray.FormatError(path, fmt, f"{len(found)} tensors in a per-variable file")
    return found[0]


def tensor(name: str, stored: StoredTensor, path: Path, fmt: str) -> Tensor:
    """A lazy netray Tensor over a stored tensor's data."""
    dtype = numpy_dtype(stored.dtype)
    loader = (
        None
        if dtype is None
        else netray.file_slice_loader(path, stored.offset, stored.length, dtype, stored.shape, fmt)
    )
    t = Tensor(
        name,
        stored.dtype,
        stored.shape,
        loader,
        stored.length,
        location=f"{path.name} @ {stored.offset}, {stored.length:,} bytes",
    )
    if stored.lod_levels:
        t.metadata["lod_levels"] = stored.lod_levels
    if dtype is None:
        t.metadata["note"] = f"reading {stored.dtype} needs ml_dtypes"
    return t
