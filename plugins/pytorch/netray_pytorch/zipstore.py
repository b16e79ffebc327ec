"""Reading members of a PyTorch zip archive: where their bytes start, lazy tensor loaders.

torch writes members uncompressed and 64-byte aligned, so a tensor is a plain
slice of the file that can be memory-mapped; compressed members (a re-zipped
archive) are read on demand instead.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from netray import FormatError, file_slice_loader
from netray.ir import TensorLoader
from netray_pytorch.dtypes import finish, numpy_dtype

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


def zip_is_whole(path: Path) -> bool:
    """True when the file ends with its zip end record.

    A cut archive can still "open": zipfile finds the end record of a zip stored
    inside it (a .pt2 holds torch.save archives) and reads that one instead.
    """
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - 22 - 65535))
            tail = f.read()
    except OSError:
        return False
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return False
    comment_length = int.from_bytes(tail[at + 20 : at + 22], "little")
    return at + 22 + comment_length == len(tail)


def open_zip(path: Path, format: str) -> zipfile.ZipFile:
    """The archive, or a FormatError saying why it is not one."""
    if not zip_is_whole(path):
        raise FormatError(path, format, "the zip archive is truncated or damaged (its end record is missing)")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise FormatError(path, format, f"not a readable zip archive ({exc})") from exc


def member_data_offset(path: Path, info: zipfile.ZipInfo, file_size: int, handle: BinaryIO | None = None) -> int:
    """Absolute offset of ``info``'s bytes in the file, checked against the file's size.

    ``handle``: the file already open (reading many members), else it is opened here."""
    if handle is None:
        with open(path, "rb") as f:
            return member_data_offset(path, info, file_size, f)
    handle.seek(info.header_offset)
    header = handle.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise FormatError(path, "", f"zip member {info.filename!r} has no local header at {info.header_offset}")
    name_len, extra_len = _LOCAL_HEADER.unpack(header)[9:11]
    offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    if offset + info.compress_size > file_size:
        raise FormatError(path, "", f"zip member {info.filename!r} lies past the end of the file")
    return offset


def strided_view(flat: np.ndarray, offset: int, shape: Sequence[int], stride: Sequence[int]) -> np.ndarray:
    """Elements of ``flat`` seen with PyTorch's storage offset and strides, bounds checked."""
    if not shape:
        return flat[offset : offset + 1].reshape(())
    last = offset + sum((d - 1) * s for d, s in zip(shape, stride, strict=True) if d > 0)
    if offset < 0 or any(s < 0 for s in stride) or (min(shape) > 0 and last >= flat.size):
        raise ValueError(f"view of shape {tuple(shape)} at {offset} does not fit a storage of {flat.size} elements")
    base = flat[offset:]
    strides = tuple(s * flat.itemsize for s in stride)
    return np.lib.stride_tricks.as_strided(base, shape=tuple(shape), strides=strides, writeable=False).copy()


def is_contiguous(shape: Sequence[int], stride: Sequence[int]) -> bool:
    expected = 1
    for d, s in zip(reversed(shape), reversed(stride), strict=True):
        if d != 1 and s != expected:
            return False
        expected *= d
    return True


def zip_tensor_loader(
    path: Path,
    archive: zipfile.ZipFile,
    member: str,
    dtype: str,
    shape: Sequence[int],
    stride: Sequence[int],
    storage_offset: int,
    file_size: int,
    handle: BinaryIO | None = None,
    base: int = 0,
    outer_size: int | None = None,
) -> TensorLoader | None:
    """A loader for a tensor stored in zip ``member``; None when its bytes cannot be read.

    ``base``: where the archive starts in ``path`` (an archive stored inside another);
    ``file_size`` is then the inner archive's size and ``outer_size`` the file's."""
    np_dtype = numpy_dtype(dtype)
    if np_dtype is None:
        return None
    try:
        info = archive.getinfo(member)
    except KeyError:
        return None
    convert = finish(dtype)
    numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if info.compress_type == zipfile.ZIP_STORED and is_contiguous(shape, stride):
        start = base + member_data_offset(path, info, file_size, handle) + storage_offset * np_dtype.itemsize
        nbytes = numel * np_dtype.itemsize
        if storage_offset * np_dtype.itemsize + nbytes > info.file_size:
            return None
        raw_loader = file_slice_loader(path, start, nbytes, np_dtype, tuple(shape))
        return lambda: convert(raw_loader())
    if base or outer_size is not None:
        return None  # compressed or strided inside a nested archive: not read

    def load() -> np.ndarray:
        with zipfile.ZipFile(path) as z:
            data = z.read(member)
        flat = np.frombuffer(data, dtype=np_dtype, count=len(data) // np_dtype.itemsize)
        return convert(strided_view(flat, storage_offset, shape, stride))

    return load
