"""Tensor values as stored ``.npy`` members of the zip, aligned so that reading memory-maps them."""

from __future__ import annotations

import json
import math
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from netray.dtypes import numpy_dtype
from netray.errors import FormatError
from netray.ir import file_slice_loader
from netray.netrayfile.fields import Bad

FORMAT = "netray"
VIEWS_MEMBER = "dtypes.json"  # {tensor member: dtype name} for arrays stored as raw unsigned integers
MAX_JSON_BYTES = 1 << 30  # netray.json of a model with a million nodes stays well under this
MAX_NPY_HEADER = 1 << 16
ALIGNMENT = 64  # tensor data starts on this boundary, so memory maps are aligned
ALIGN_EXTRA_ID = 0xD935  # the "zipalign" extra field id used by Android's tool
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # as zipfile.structFileHeader


def storable(array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The array in a form ``np.save`` writes without pickle, in C order, and the
    name of the dtype to view it as again when numpy alone cannot name it.

    Types from ml_dtypes (bfloat16, float8, int4) are stored as unsigned integers
    of the same width and viewed back on reading.
    """
    view = None
    if array.dtype.hasobject:
        items = array.ravel().tolist()
        kind = bytes if items and all(isinstance(x, bytes) for x in items) else str
        array = np.array([x if isinstance(x, kind) else str(x) for x in items], dtype=kind).reshape(array.shape)
    elif array.dtype.kind == "V" and array.dtype.names is None and array.dtype.itemsize in (1, 2, 4, 8):
        view = array.dtype.name
        raw = array if array.flags.c_contiguous else array.copy(order="C")
        array = raw.view(f"<u{array.dtype.itemsize}")
    if array.dtype.kind == "V":
        raise ValueError(f"dtype {array.dtype} cannot be stored in a .npy member")
    return (array if array.flags.c_contiguous else array.copy(order="C")), view


def write_aligned_member(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    """Write ``array`` as a stored ``.npy`` member whose data begins on an ALIGNMENT boundary."""
    big = array.nbytes > (1 << 30)  # zipfile then writes a 20-byte zip64 extra field too
    start = zf.fp.tell() if zf.fp is not None else 0
    fixed = LOCAL_HEADER.size + len(name.encode()) + 4 + (20 if big else 0)
    pad = (-(start + fixed)) % ALIGNMENT  # the .npy header is itself padded to 64 bytes
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.extra = struct.pack("<HH", ALIGN_EXTRA_ID, pad) + bytes(pad)
    with zf.open(info, "w", force_zip64=big) as fh:
        np.lib.format.write_array(fh, array, allow_pickle=False)


def npy_loader(path: Path, f: Any, zf: zipfile.ZipFile, member: str, file_size: int) -> Callable[[], np.ndarray]:
    """A memory-mapping loader for a stored ``.npy`` member, after checking its header."""
    try:
        info = zf.getinfo(member)
    except KeyError as exc:
        raise Bad(f"tensor member {member!r} is missing from the archive") from exc
    if info.compress_type != zipfile.ZIP_STORED:
        raise Bad(f"tensor member {member!r} is compressed; tensors must be stored")
    if info.header_offset + LOCAL_HEADER.size > file_size:
        raise Bad(f"tensor member {member!r} lies past the end of the file")
    f.seek(info.header_offset)
    fields = LOCAL_HEADER.unpack(f.read(LOCAL_HEADER.size))
    if fields[0] != b"PK\x03\x04":
        raise Bad(f"tensor member {member!r} has a bad local header")
    start = info.header_offset + LOCAL_HEADER.size + fields[10] + fields[11]
    if start + info.file_size > file_size:
        raise Bad(f"tensor member {member!r} lies past the end of the file")
    f.seek(start)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_NPY_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_NPY_HEADER)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise Bad(f"tensor member {member!r}: {exc}") from exc
    if dtype.hasobject or fortran:
        raise Bad(f"tensor member {member!r}: object or Fortran-ordered arrays are not allowed")
    data_start = f.tell()
    length = start + info.file_size - data_start
    expected = math.prod(shape) * dtype.itemsize  # Python integers: a hostile shape cannot overflow
    if length != expected:
        raise Bad(f"tensor member {member!r} holds {length} bytes, its header says {expected}")
    return file_slice_loader(path, data_start, length, dtype, shape, FORMAT)


def read_views(zf: zipfile.ZipFile) -> dict[str, str]:
    """The dtype names of tensors stored as raw unsigned integers (an absent member: none)."""
    try:
        info = zf.getinfo(VIEWS_MEMBER)
    except KeyError:
        return {}
    if info.file_size > MAX_JSON_BYTES:
        raise Bad(f"{VIEWS_MEMBER} is too large")
    views = json.loads(zf.read(info).decode("utf-8"))
    if not isinstance(views, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in views.items()):
        raise Bad(f"{VIEWS_MEMBER} must map tensor members to dtype names")
    return views


def _named_dtype(name: str) -> np.dtype[Any] | None:
    """numpy's dtype called ``name`` (numpy's own name, or one of netray.dtypes); None if unknown."""
    try:
        return np.dtype(name)
    except TypeError:
        return numpy_dtype(name)


def viewing_loader(path: Path, load_raw: Callable[[], np.ndarray], name: str) -> Callable[[], np.ndarray]:
    """A loader giving the raw unsigned array viewed as dtype ``name``; without ml_dtypes, the raw array."""

    def load() -> np.ndarray:
        raw = load_raw()
        dtype = _named_dtype(name)
        if dtype is None:
            return raw
        if dtype.itemsize != raw.dtype.itemsize:
            raise FormatError(path, FORMAT, f"dtype {name} does not match its stored {raw.dtype} values")
        return raw.view(dtype)

    return load
