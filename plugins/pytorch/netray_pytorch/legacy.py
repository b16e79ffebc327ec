"""The legacy (pre-1.6, ``_use_new_zipfile_serialization=False``) torch.save format.

Layout: five pickles in a row (magic number, protocol version, system info, the
object, the list of storage keys) followed, for each key, by an 8-byte element
count and the storage's raw bytes. Storage offsets are found by walking those
records, every length checked against the file size.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from netray import FormatError, Model, file_slice_loader
from netray.ir import TensorLoader
from netray_pytorch.dtypes import finish, itemsize, numpy_dtype
from netray_pytorch.sniff import MAGIC_NUMBER
from netray_pytorch.state_dict import STATE_DICT, build_model
from netray_pytorch.unpickler import PickledTensor, StorageRef, restricted_load
from netray_pytorch.zipstore import is_contiguous, strided_view


class _SafePickleReader(pickle.Unpickler):
    """For the header pickles (ints, dicts of ints, lists of strings): no globals at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} not allowed in a header")


def _next_pickle(stream: BinaryIO, path: Path) -> Any:
    try:
        return _SafePickleReader(stream).load()
    except Exception as exc:
        raise FormatError(path, STATE_DICT, f"cannot read the legacy header: {exc}") from exc


def _pickle_span(stream: BinaryIO) -> bytes:
    """The bytes of the next pickle, found by walking its opcodes (nothing is built)."""
    import pickletools

    start = stream.tell()
    for opcode, _, _ in pickletools.genops(stream):
        if opcode.name == "STOP":
            break
    end = stream.tell()
    stream.seek(start)
    return stream.read(end - start)


def read_legacy(path: Path) -> Model:
    file_size = path.stat().st_size
    with open(path, "rb") as stream:
        if _next_pickle(stream, path) != MAGIC_NUMBER:
            raise FormatError(path, STATE_DICT, "not a legacy torch.save file (wrong magic number)")
        protocol = _next_pickle(stream, path)
        sys_info = _next_pickle(stream, path)
        try:
            main = _pickle_span(stream)
        except Exception as exc:
            raise FormatError(path, STATE_DICT, f"cannot read the pickle: {exc}") from exc
        obj, storages = restricted_load(main, path, STATE_DICT)
        keys = _next_pickle(stream, path)
        if not isinstance(keys, list):
            raise FormatError(path, STATE_DICT, "the storage key list is missing")
        offsets = _storage_offsets(stream, path, keys, storages, file_size)

    def make_loader(pt: PickledTensor) -> TensorLoader | None:
        start = offsets.get(pt.storage.key)
        np_dtype = numpy_dtype(pt.storage.dtype)
        if start is None or np_dtype is None:
            return None
        convert = finish(pt.storage.dtype)
        numel = int(np.prod(pt.shape, dtype=np.int64)) if pt.shape else 1
        start += pt.storage.element_offset * np_dtype.itemsize
        if is_contiguous(pt.shape, pt.stride) and pt.storage_offset + numel <= pt.storage.numel:
            raw_loader = file_slice_loader(path, start + pt.storage_offset * np_dtype.itemsize,
                                           numel * np_dtype.itemsize, np_dtype, pt.shape)
            return lambda: convert(raw_loader())
        whole = file_slice_loader(path, start, pt.storage.numel * np_dtype.itemsize, np_dtype, (pt.storage.numel,))
        return lambda: convert(strided_view(whole(), pt.storage_offset, pt.shape, pt.stride))

    def location(pt: PickledTensor) -> str:
        return f"{path.name} @ {offsets.get(pt.storage.key, '?')}"

    model = build_model(obj, make_loader, location)
    model.format_version = f"legacy (protocol {protocol})"
    model.properties["container"] = "legacy torch.save (pre-1.6)"
    if isinstance(sys_info, dict):
        model.properties["byte order"] = "little" if sys_info.get("little_endian", True) else "big"
    return model


def _storage_offsets(
    stream: BinaryIO, path: Path, keys: list[Any], storages: dict[str, StorageRef], file_size: int
) -> dict[str, int]:
    """Where each storage's bytes start: each record is an int64 count then the bytes."""
    offsets: dict[str, int] = {}
    position = stream.tell()
    for key in keys:
        ref = storages.get(str(key))
        header = stream.read(8)
        if len(header) != 8:
            raise FormatError(path, STATE_DICT, f"the file ends before storage {key!r}")
        (numel,) = struct.unpack("<q", header)
        size = itemsize(ref.dtype) if ref else None
        if numel < 0 or size is None:
            raise FormatError(path, STATE_DICT, f"storage {key!r} has an unreadable record")
        position += 8
        end = position + numel * size
        if end > file_size:
            raise FormatError(path, STATE_DICT, f"storage {key!r} ({numel} elements) lies past the end of the file")
        offsets[str(key)] = position
        position = end
        stream.seek(position)
    return offsets
