"""The ``.bin`` beside the XML: finding it safely, and lazy tensors over its bytes.

A Const layer (or an IR v7 blob) names a slice of the weights file by ``offset`` and ``size``.
Nothing is read at load time: each tensor gets a loader that checks the slice against the file's
size when it is called. Packed types are unpacked with numpy (no per-element Python loop):

* ``u1``: eight per byte, the first element in the most significant bit;
* ``u2``, ``u4``, ``i4``, ``nf4``, ``f4e2m1``: the first element in the low bits;
* ``u3``: eight per three bytes (two bytes of 2-bit lows, then one byte of high bits, first in the high bit);
* ``u6``: four per three bytes (two bytes of 4-bit lows, first in the high nibble, then one byte of 2-bit highs);
* ``string``: an int32 count, count+1 int32 offsets into the characters that follow them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import netray
from netray import FormatError, Tensor, dtypes
from netray_openvino import elements
from netray_openvino.formats import FORMAT


def allowed_roots(folder: Path) -> list[Path]:
    """Folders the weights' real file may lie in: the model's folder, and in the Hugging Face hub
    cache (``<repo>/snapshots/<revision>/``) that repository's ``blobs/`` folder."""
    roots = [folder.resolve()]
    if folder.parent.name == "snapshots":
        roots.append((folder.parent.parent / "blobs").resolve())
    return roots


@dataclass
class WeightsFile:
    """The ``.bin`` of an IR: where it is, its size, or why it cannot be read."""

    xml: Path
    path: Path  # where it is expected: <stem>.bin beside the XML
    size: int | None  # None when absent

    @classmethod
    def beside(cls, xml: Path) -> WeightsFile:
        path = xml.with_suffix(".bin")
        if not path.is_file():
            return cls(xml, path, None)
        real = path.resolve()
        if not any(real.is_relative_to(root) for root in allowed_roots(xml.parent)):
            raise FormatError(
                xml, FORMAT, f"{path.name} is a link to a file outside the model's folder; it is not read"
            )
        try:
            size = path.stat().st_size
        except OSError:
            return cls(xml, path, None)
        return cls(xml, path, size)

    @property
    def present(self) -> bool:
        return self.size is not None

    def tensor(
        self, name: str, dtype: str | None, shape: tuple[int, ...], offset: int, size: int, where: str
    ) -> Tensor:
        """A lazy tensor over ``size`` bytes at ``offset``; the XML's size must fit the shape and type."""
        count = math.prod(shape)
        expected = elements.storage_bytes(dtype, count) if dtype else None
        if expected is not None and expected != size:
            raise FormatError(
                self.xml,
                FORMAT,
                f"{where}: {count:,} elements of {dtype} take {expected:,} bytes, the layer says size={size:,}",
            )
        location = f"{self.path.name} @ {offset:,}, {size:,} bytes"
        loader = None
        if self.present and dtype is not None:
            loader = make_loader(self.path, offset, size, dtype, shape)
        if not self.present:
            location = f"{self.path.name} (absent: not stored)"
        return Tensor(name, dtype, shape, loader, byte_size=size, location=location)

    def fits(self, offset: int, size: int) -> bool:
        return self.size is not None and offset + size <= self.size


def read_slice(path: Path, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset``, checked against the file's size first."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if offset < 0 or length < 0 or offset + length > size:
                raise FormatError(
                    path, FORMAT, f"tensor data at {offset:,}+{length:,} lies past the end of the file ({size:,} bytes)"
                )
            f.seek(offset)
            return f.read(length)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read the weights: {exc.strerror or exc}") from exc


def make_loader(path: Path, offset: int, size: int, dtype: str, shape: tuple[int, ...]) -> Callable[[], np.ndarray]:
    """The loader for one tensor: a memory-mapped slice for byte-aligned types, unpacking for packed ones."""
    if dtype == "string":
        return lambda: read_strings(path, offset, size, shape)
    if dtype in elements.BITS:
        return lambda: unpack(dtype, read_slice(path, offset, size), shape, path)
    np_dtype = dtypes.numpy_dtype(dtype)
    if np_dtype is None:
        return _unreadable(path, dtype)
    return netray.file_slice_loader(path, offset, size, np_dtype, shape, FORMAT)


def _unreadable(path: Path, dtype: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        raise FormatError(path, FORMAT, f"values of type {dtype} cannot be read here (ml_dtypes is not installed)")

    return load


def _nibbles(raw: np.ndarray) -> np.ndarray:
    """Two 4-bit codes a byte, the low one first."""
    return np.stack([raw & 0x0F, raw >> 4], axis=-1).reshape(-1)


def unpack(dtype: str, data: bytes, shape: tuple[int, ...], path: Path | str = "") -> np.ndarray:
    """Packed codes -> one array item per element, in the type :mod:`netray.dtypes` says ``dtype`` returns."""
    raw = np.frombuffer(data, dtype=np.uint8)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if dtype == "uint1":
        codes = np.unpackbits(raw)
    elif dtype == "uint2":
        codes = np.stack([(raw >> s) & 0x03 for s in (0, 2, 4, 6)], axis=-1).reshape(-1)
    elif dtype == "uint3":
        groups = np.pad(raw, (0, -len(raw) % 3)).reshape(-1, 3)
        lows = np.stack([(groups[:, :2] >> s) & 0x03 for s in (6, 4, 2, 0)], axis=-1).reshape(-1, 8)
        highs = np.unpackbits(groups[:, 2:3], axis=1)
        codes = (lows | (highs << 2)).reshape(-1)
    elif dtype == "uint6":
        groups = np.pad(raw, (0, -len(raw) % 3)).reshape(-1, 3)
        lows = np.stack([groups[:, :2] >> 4, groups[:, :2] & 0x0F], axis=-1).reshape(-1, 4)
        highs = np.stack([(groups[:, 2] >> s) & 0x03 for s in (6, 4, 2, 0)], axis=-1)
        codes = (lows | (highs << 4)).reshape(-1)
    else:  # int4, uint4, nf4, float4_e2m1fn
        codes = _nibbles(raw)
    codes = codes[:count]
    if len(codes) < count:
        raise FormatError(
            path, FORMAT, f"{len(data):,} bytes hold fewer than the {count:,} {dtype} elements of the shape"
        )
    codes = codes.reshape(shape)
    if dtype == "nf4":
        return np.asarray(elements.NF4_LEVELS, dtype=np.float32)[codes]
    if dtype == "int4":
        signed = ((codes.astype(np.int8) ^ 8) - 8).astype(np.int8)
        target = dtypes.numpy_dtype("int4")
        return signed.astype(target) if target is not None else signed
    if dtype == "float4_e2m1fn":
        target = dtypes.numpy_dtype(dtype)
        if target is None:
            raise FormatError(path, FORMAT, "f4e2m1 values cannot be read here (ml_dtypes is not installed)")
        return codes.astype(np.uint8).view(target)
    target = dtypes.numpy_dtype(dtype)  # uint1 -> uint8; uint2/uint4 -> ml_dtypes; uint3/uint6 are unknown: uint8
    codes = codes.astype(np.uint8)
    return codes.astype(target) if target is not None else codes


def read_strings(path: Path, offset: int, size: int, shape: tuple[int, ...]) -> np.ndarray:
    """A string tensor: int32 count, count+1 int32 offsets, then the UTF-8 characters."""
    data = read_slice(path, offset, size)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1

    def bad(reason: str) -> FormatError:
        return FormatError(path, FORMAT, f"string tensor at {offset:,}: {reason}")

    if len(data) < 4:
        raise bad("shorter than its element count")
    stored = int(np.frombuffer(data, dtype="<i4", count=1)[0])
    if stored != count:
        raise bad(f"holds {stored:,} strings, the shape {shape} needs {count:,}")
    header = 4 + 4 * (count + 1)
    if len(data) < header:
        raise bad("its offsets run past its size")
    bounds = np.frombuffer(data, dtype="<i4", count=count + 1, offset=4).astype(np.int64)
    chars = data[header:]
    if bounds[0] < 0 or np.any(np.diff(bounds) < 0) or bounds[-1] > len(chars):
        raise bad("its offsets are out of order or past its end")
    out = np.empty(count, dtype=object)
    for k in range(count):  # one Python string per element is what an object array of str is
        out[k] = chars[bounds[k] : bounds[k + 1]].decode("utf-8", errors="replace")
    return out.reshape(shape)
