"""GGUF tensors as netray Tensors whose values are read (and dequantized) only on request.

A loader maps just the tensor's bytes, checks them against the file's size at read time
(a truncated download opens, and says so when a missing tensor is read), and returns:
plain types as their numpy / ml_dtypes arrays, block types dequantized to float32 by
``gguf.quants.dequantize``, always in the logical shape (numpy order: ggml's ``ne``
reversed).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from netray import FormatError, Tensor, dtypes
from netray_gguf.formats import FORMAT
from netray_gguf.ggml_types import GgmlType, ggml_type
from netray_gguf.header import Header, TensorInfo


def logical_shape(ne: tuple[int, ...]) -> tuple[int, ...]:
    """ggml's ``ne`` (fastest-varying first) in numpy's row-major order."""
    return tuple(reversed(ne))


def build_tensors(path: Path, header: Header) -> dict[str, Tensor]:
    """Every tensor of the header under its GGUF name, in file order."""
    out: dict[str, Tensor] = {}
    for info in header.tensors:
        out[info.name] = _tensor(path, header, info)
    return out


def _tensor(path: Path, header: Header, info: TensorInfo) -> Tensor:
    gtype = ggml_type(info.ggml_type)
    shape = logical_shape(info.ne)
    elements = 1
    for d in info.ne:
        elements *= d
    offset = header.data_offset + info.offset
    metadata: dict[str, Any] = {"ggml_type": gtype.name, "ne": list(info.ne), "offset": offset}
    if not gtype.known:
        reason = f"tensor {info.name!r} has ggml type {info.ggml_type}, which the installed gguf package does not know"
        return Tensor(
            info.name, gtype.dtype, shape, _refuse(path, reason), None, f"{path.name} @ {offset}", metadata=metadata
        )
    row = info.ne[0] if info.ne else 1
    if row % gtype.block_size:
        raise FormatError(
            path,
            FORMAT,
            f"tensor {info.name!r}: rows of {row} elements are not a whole number of "
            f"{gtype.name} blocks ({gtype.block_size})",
        )
    nbytes = gtype.byte_size(elements)
    location = f"{path.name} @ {offset:,}, {nbytes:,} bytes"
    loader = _loader(path, info.name, offset, nbytes, gtype, shape, header.big_endian)
    return Tensor(
        info.name, gtype.dtype, shape, loader, nbytes, location, metadata=metadata, quantization=gtype.quantization()
    )


def _refuse(path: Path, reason: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        raise FormatError(path, FORMAT, reason)

    return load


def _loader(
    path: Path, name: str, offset: int, nbytes: int, gtype: GgmlType, shape: tuple[int, ...], big_endian: bool
) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        raw = _map(path, name, offset, nbytes)
        if gtype.plain:
            return _plain(raw, gtype, shape, big_endian)
        if big_endian:
            raise FormatError(
                path,
                FORMAT,
                f"tensor {name!r}: {gtype.name} blocks of a big-endian file cannot be dequantized "
                "(gguf reads little-endian blocks)",
            )
        return _dequantize(path, name, raw, gtype, shape)

    return load


def _map(path: Path, name: str, offset: int, nbytes: int) -> np.ndarray:
    """The tensor's bytes as a read-only uint8 array over a map of just that range."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if offset + nbytes > size:
            raise FormatError(
                path,
                FORMAT,
                f"tensor {name!r}: its data at {offset:,}+{nbytes:,} lies past the end of the file "
                f"({size:,} bytes): the file is truncated",
            )
        if nbytes == 0:
            return np.zeros(0, np.uint8)
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        mm = mmap.mmap(f.fileno(), nbytes + offset - start, access=mmap.ACCESS_READ, offset=start)
    return np.frombuffer(mm, np.uint8, count=nbytes, offset=offset - start)


def _plain(raw: np.ndarray, gtype: GgmlType, shape: tuple[int, ...], big_endian: bool) -> np.ndarray:
    if gtype.dtype == "bfloat16":
        bits = raw.view(">u2" if big_endian else "<u2").astype(np.uint16)
        bf16 = dtypes.numpy_dtype("bfloat16")
        if bf16 is None:  # no ml_dtypes: widen to float32 (bf16 is float32's upper half)
            return (bits.astype(np.uint32) << 16).view(np.float32).reshape(shape)
        return bits.view(bf16).reshape(shape)
    native = np.dtype(gtype.dtype)
    array = raw.view(native.newbyteorder(">" if big_endian else "<")).reshape(shape)
    return array.astype(native) if big_endian else array


def _dequantize(path: Path, name: str, raw: np.ndarray, gtype: GgmlType, shape: tuple[int, ...]) -> np.ndarray:
    from gguf.quants import dequantize

    if raw.size == 0:
        return np.zeros(shape, np.float32)
    rows = shape[:-1] if shape else ()
    row = shape[-1] if shape else 1
    blocks = raw.reshape(*rows, row // gtype.block_size * gtype.type_size)
    try:
        with np.errstate(all="ignore"):  # NaN or inf scales are the file's values, not our fault
            values = dequantize(blocks, gtype.quant)
    except NotImplementedError as exc:
        raise FormatError(
            path, FORMAT, f"tensor {name!r}: the installed gguf package cannot dequantize {gtype.name} ({exc})"
        ) from exc
    return np.asarray(values, dtype=np.float32).reshape(shape)
