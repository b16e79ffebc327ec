"""Loaders of ``.npy`` data: memory-mapped where the bytes lie as they are, decompressed on request otherwise.

Each returns the array ``np.load`` would give (Fortran order kept, numbers in native byte order,
strings as objects: see ``dtypes.finish``). Object arrays are a pickle: their loader only refuses.
"""

from __future__ import annotations

import lzma
import zipfile
import zlib
from pathlib import Path

import numpy as np

from netray import FormatError, file_slice_loader
from netray.ir import TensorLoader
from netray_numpy.dtypes import finish
from netray_numpy.header import NpyHeader

_READ_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, NotImplementedError)


def storage_shape(header: NpyHeader) -> tuple[int, ...]:
    """The shape the bytes are laid out in: Fortran-ordered data is the transpose of a C-ordered array."""
    return header.shape[::-1] if header.fortran_order else header.shape


def _arrange(stored: np.ndarray, header: NpyHeader) -> np.ndarray:
    array = stored.T if header.fortran_order else stored
    return finish(array)


def refusing_loader(path: Path, fmt: str, name: str) -> TensorLoader:
    """The loader of an object array: a pickle, which is never loaded."""

    def load() -> np.ndarray:
        raise FormatError(path, fmt, f"array {name!r} holds Python objects (a pickle); netray never unpickles")

    return load


def mapped_loader(path: Path, fmt: str, data_start: int, header: NpyHeader) -> TensorLoader:
    """Memory-map the data at ``data_start`` of ``path`` (a .npy file, or a stored .npz member)."""
    length = header.data_bytes or 0
    raw = file_slice_loader(path, data_start, length, header.dtype, storage_shape(header), fmt)

    def load() -> np.ndarray:
        return _arrange(raw(), header)

    return load


def compressed_loader(path: Path, fmt: str, info: zipfile.ZipInfo, header: NpyHeader) -> TensorLoader:
    """Decompress a member when asked, reading no more than its header's shape × itemsize allows."""
    expected = header.data_bytes or 0
    where = f"member {info.filename!r}"

    def load() -> np.ndarray:
        try:
            with zipfile.ZipFile(path) as zf, zf.open(info) as member:
                skipped = member.read(header.data_offset)
                data = member.read(expected + 1)  # one byte more than allowed tells of a lie
                extra = member.read(1) if len(data) == expected else b""
        except _READ_ERRORS as exc:
            raise FormatError(path, fmt, f"{where} does not decompress: {exc}") from None
        if len(skipped) < header.data_offset or len(data) < expected:
            raise FormatError(path, fmt, f"{where} decompresses to fewer bytes than its header's shape needs ({expected:,})")
        if len(data) > expected or extra:
            raise FormatError(path, fmt, f"{where} decompresses to more than the {expected:,} bytes its header's shape needs")
        stored = np.frombuffer(data, header.dtype, count=header.count).reshape(storage_shape(header))
        return _arrange(stored, header)

    return load
