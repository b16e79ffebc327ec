"""MIL blob storage files (``weights/weight.bin``): where ML Program constants keep their bytes.

Layout (coremltools ``mlmodel/src/MILBlob/Blob/StorageFormat.hpp``), little-endian, 64-byte
aligned:

* ``storage_header`` (64 bytes): ``uint32 count``, ``uint32 version`` (2), reserved;
* per blob, at the offset a const names (``BlobFileValue.offset``), ``blob_metadata`` (64
  bytes): ``uint32 sentinel`` (0xDEADBEEF), ``uint32 mil_dtype`` (BlobDataType), ``uint64
  sizeInBytes``, ``uint64 offset`` (of the data, from the file's start), ``uint64
  padding_size_in_bits`` (unused bits at the end of sub-byte data), reserved;
* the data.

Reading a model checks each referenced metadata block (sentinel, type, data range within the
file); the values themselves are read only when asked, through a memory map, bounds-checked
again at read time.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netray import FormatError, file_slice_loader
from netray.ir import TensorLoader
from netray_coreml.bits import as_dtype, define_dtypes, unpack

define_dtypes()

HEADER = struct.Struct("<II")
METADATA = struct.Struct("<IIQQQ")
BLOCK = 64
SENTINEL = 0xDEADBEEF

# BlobDataType -> (netray dtype, bits per element, numpy storage dtype for whole-byte types).
BLOB_TYPES: dict[int, tuple[str, int]] = {
    1: ("float16", 16),
    2: ("float32", 32),
    3: ("uint8", 8),
    4: ("int8", 8),
    5: ("bfloat16", 16),
    6: ("int16", 16),
    7: ("uint16", 16),
    8: ("int4", 4),
    9: ("uint1", 1),
    10: ("uint2", 2),
    11: ("uint4", 4),
    12: ("uint3", 3),
    13: ("uint6", 6),
    14: ("int32", 32),
    15: ("uint32", 32),
    16: ("float8_e4m3fn", 8),
    17: ("float8_e5m2", 8),
}
_NUMPY_STORAGE = {
    "float16": "<f2",
    "float32": "<f4",
    "uint8": "u1",
    "int8": "i1",
    "int16": "<i2",
    "uint16": "<u2",
    "int32": "<i4",
    "uint32": "<u4",
}


@dataclass(frozen=True)
class Blob:
    """One blob's metadata, checked against the file."""

    dtype: str
    bits: int
    data_offset: int
    size: int
    padding_bits: int

    @property
    def count(self) -> int:
        return (self.size * 8 - self.padding_bits) // self.bits


class BlobFile:
    """A blob storage file opened for checking metadata; ``close`` when the model is read."""

    def __init__(self, path: Path, format: str) -> None:
        self.path = path
        self.format = format
        try:
            self._file = open(path, "rb")
        except OSError as exc:
            raise FormatError(path, format, f"cannot open the weights file: {exc.strerror or exc}") from None
        self.size = self._file.seek(0, 2)
        if self.size < BLOCK:
            self.close()
            raise FormatError(path, format, f"the weights file has {self.size} bytes, less than its 64-byte header")
        self._file.seek(0)
        self.count, self.version = HEADER.unpack(self._file.read(HEADER.size))
        if self.version != 2:
            self.close()
            raise FormatError(
                path, format, f"blob storage version {self.version}; Core ML's weight files are version 2"
            )

    def close(self) -> None:
        self._file.close()

    def blob(self, offset: int, what: str) -> Blob:
        """The metadata at ``offset`` (a const's ``BlobFileValue.offset``), checked; FormatError names ``what``."""
        if offset < BLOCK or offset + BLOCK > self.size:
            raise self._error(f"{what}: metadata offset {offset} lies outside the file ({self.size:,} bytes)")
        self._file.seek(offset)
        sentinel, code, size, data_offset, padding = METADATA.unpack(self._file.read(METADATA.size))
        if sentinel != SENTINEL:
            raise self._error(f"{what}: no blob at offset {offset} (sentinel 0x{sentinel:08x}, expected 0xdeadbeef)")
        known = BLOB_TYPES.get(code)
        if known is None:
            raise self._error(f"{what}: blob at offset {offset} has unknown data type {code}")
        dtype, bits = known
        if data_offset < BLOCK or data_offset > self.size or size > self.size - data_offset:
            raise self._error(f"{what}: blob data at {data_offset}+{size} lies outside the file ({self.size:,} bytes)")
        if bits < 8 and (padding >= 8 or (size * 8 - padding) % bits):
            raise self._error(f"{what}: {padding} padding bits do not fit {size} bytes of {bits}-bit values")
        return Blob(dtype, bits, data_offset, size, padding if bits < 8 else 0)

    def _error(self, message: str) -> FormatError:
        return FormatError(self.path, self.format, message)

    def loader(self, blob: Blob, shape: tuple[int, ...]) -> TensorLoader:
        """Reads the blob's values as ``shape`` when called (memory-mapped, bounds-checked then)."""
        storage = _NUMPY_STORAGE.get(blob.dtype)
        if storage is not None:
            slice_loader = file_slice_loader(self.path, blob.data_offset, blob.size, storage, shape, self.format)
            return lambda: slice_loader().astype(blob.dtype, copy=False)
        return _packed_loader(self.path, self.format, blob, shape)


def _packed_loader(path: Path, format: str, blob: Blob, shape: tuple[int, ...]) -> TensorLoader:
    """bfloat16, float8 and sub-byte blobs: raw bytes reinterpreted or unpacked (LSB first)."""
    count = int(np.prod(shape, dtype=np.int64))

    def load() -> np.ndarray:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if blob.data_offset + blob.size > size:
                raise FormatError(
                    path, format, f"blob data at {blob.data_offset}+{blob.size} lies past the end ({size:,} bytes)"
                )
            if blob.size == 0:
                return as_dtype(np.zeros(shape, np.uint8), blob.dtype)
            start = blob.data_offset - blob.data_offset % mmap.ALLOCATIONGRANULARITY
            with mmap.mmap(
                f.fileno(), blob.data_offset + blob.size - start, access=mmap.ACCESS_READ, offset=start
            ) as mm:
                raw = np.frombuffer(mm, np.uint8, blob.size, blob.data_offset - start).copy()
        if blob.bits == 8 or blob.bits == 16:  # bfloat16 / float8: same bytes, ml_dtypes' type
            return as_dtype(raw, "uint8").view(_ml_dtype(blob.dtype)).reshape(shape)
        signed = 4 if blob.dtype == "int4" else 0
        return as_dtype(unpack(raw, blob.bits, count, lsb_first=True), blob.dtype, signed).reshape(shape)

    return load


def _ml_dtype(name: str) -> np.dtype:
    from netray import dtypes

    found = dtypes.numpy_dtype(name)
    if found is None:
        raise FormatError("", "", f"reading {name} values needs ml_dtypes")
    return np.dtype(found)
