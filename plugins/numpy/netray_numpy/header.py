"""The ``.npy`` header: magic, version, a bounded Python-literal dict of dtype, order and shape.

Parsed here rather than by ``np.load`` so that every fault is a sentence and no pickle is
ever touched: the header is a literal (``ast.literal_eval``, no code runs), its length is
checked against the bytes available before it is read, and its dtype is built by numpy's
``descr_to_dtype`` from that literal. Versions 1.0 (2-byte length, latin-1), 2.0 (4-byte
length, latin-1) and 3.0 (4-byte length, UTF-8) are read, as numpy writes them.
"""

from __future__ import annotations

import ast
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

MAGIC: Final = b"\x93NUMPY"
MAX_HEADER_BYTES: Final = 1 << 18  # numpy's own default limit is 10,000; structured dtypes can take more
MAX_RANK: Final = 64  # numpy's NPY_MAXDIMS
_KEYS: Final = frozenset({"descr", "fortran_order", "shape"})
_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)
_DTYPE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, MemoryError, RecursionError)


class HeaderError(ValueError):
    """The bytes are not a well-formed .npy header; the message says what is wrong."""


@dataclass(frozen=True)
class NpyHeader:
    """What a .npy header states, and where its data begins (bytes from the start of the .npy)."""

    version: tuple[int, int]
    descr: str  # the dtype as the header writes it, for the user
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    fortran_order: bool
    data_offset: int

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def data_bytes(self) -> int | None:
        """Bytes of data the header implies; None for object arrays (a pickle of any length)."""
        if self.dtype.hasobject:
            return None
        return self.count * self.dtype.itemsize  # Python integers: a hostile shape cannot overflow


def read_header(read: Callable[[int], bytes], available: int) -> NpyHeader:
    """The header of a .npy whose bytes ``read(n)`` gives in order; ``available`` bytes exist in all."""
    prefix = read(10)
    if len(prefix) < 8 or not prefix.startswith(MAGIC):
        if MAGIC.startswith(prefix[:6]) and len(prefix) < 8:
            raise HeaderError(f"the file ends inside the magic ({len(prefix)} bytes)")
        raise HeaderError("no .npy magic (\\x93NUMPY) at the start")
    version = (prefix[6], prefix[7])
    if version == (1, 0):
        length_bytes, fmt, encoding = 2, "<H", "latin1"
    elif version in ((2, 0), (3, 0)):
        length_bytes, fmt, encoding = 4, "<I", "latin1" if version == (2, 0) else "utf8"
    else:
        raise HeaderError(f"unsupported .npy version {version[0]}.{version[1]} (1.0, 2.0 and 3.0 are known)")
    field = prefix[8:]
    if length_bytes == 4:
        field += read(2)
    if len(field) < length_bytes:
        raise HeaderError("the file ends inside the header length")
    (length,) = struct.unpack(fmt, field[:length_bytes])
    start = 8 + length_bytes
    if length > MAX_HEADER_BYTES:
        raise HeaderError(f"header length {length:,} is above the {MAX_HEADER_BYTES:,} bytes netray reads")
    if start + length > available:
        raise HeaderError(f"header length {length:,} runs past the end ({available - start:,} bytes follow the length)")
    raw = read(length)
    if len(raw) < length:
        raise HeaderError(f"the header is cut after {len(raw):,} of its {length:,} bytes")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise HeaderError(f"the header is not {encoding} text: {exc}") from None
    fields = _literal(text)
    descr = fields["descr"]
    dtype = _dtype(descr)
    shape = fields["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise HeaderError(f"shape {_short(shape)} is not a tuple of sizes")
    if len(shape) > MAX_RANK:
        raise HeaderError(f"shape has {len(shape)} dimensions; numpy allows {MAX_RANK}")
    order = fields["fortran_order"]
    if not isinstance(order, bool):
        raise HeaderError(f"fortran_order {_short(order)} is not True or False")
    return NpyHeader(version, _short(descr, 200), dtype, shape, order, start + length)


def _literal(text: str) -> dict[str, Any]:
    try:
        value = ast.literal_eval(text)
    except _LITERAL_ERRORS as exc:
        raise HeaderError(f"the header is not a Python literal ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise HeaderError(f"the header is a {type(value).__name__}, not a dict")
    keys = set(value)
    if keys != _KEYS:
        missing = sorted(_KEYS - keys)
        extra = sorted(map(str, keys - _KEYS))
        raise HeaderError(f"the header's keys are wrong (missing {missing}, unexpected {extra})")
    return value


def _dtype(descr: Any) -> np.dtype[Any]:
    try:
        dtype: np.dtype[Any] = np.lib.format.descr_to_dtype(descr)
    except _DTYPE_ERRORS as exc:
        raise HeaderError(f"descr {_short(descr)} is not a dtype ({type(exc).__name__}: {_short(str(exc))})") from None
    if dtype.subdtype is not None:
        raise HeaderError(f"descr {_short(descr)} is a sub-array dtype, which np.save never writes at the top level")
    if dtype.itemsize == 0 and dtype.kind not in "USV":
        raise HeaderError(f"descr {_short(descr)} has no size")
    return dtype


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"
