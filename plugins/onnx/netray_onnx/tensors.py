"""ONNX TensorProtos -> lazy netray Tensors.

Three places a tensor's bytes can be:
- removed from the structure by the wire pass (a ``netray.raw_data`` marker gives
  offset and length in the model file): memory-mapped on request;
- external data (``data_location = EXTERNAL``): a file in the model's folder,
  checked to stay inside that folder before it is ever opened;
- inline in the parsed proto (small raw_data, typed fields like float_data): decoded on request.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from netray import FormatError, Tensor, file_slice_loader
from netray.ir import TensorLoader
from netray_onnx.dtypes import DTYPES, byte_size, dtype_name, element_dtype, unpack_bits
from netray_onnx.proto import TENSOR_EXTERNAL as EXTERNAL
from netray_onnx.wire import RAW_MARKER

if TYPE_CHECKING:
    import onnx  # annotations only: netray_onnx.proto's messages have onnx's fields (see reader.py)

FORMAT = "ONNX"
_STRING = 8
# Typed fields other than int32_data: element type -> (field, its numpy type).
_TYPED_FIELDS = {
    1: ("float_data", "<f4"),
    2: ("int32_data", "<i4"),
    3: ("int32_data", "<i4"),
    6: ("int32_data", "<i4"),
    7: ("int64_data", "<i8"),
    11: ("double_data", "<f8"),
    12: ("uint64_data", "<u8"),
    13: ("uint64_data", "<u8"),
    14: ("float_data", "<f4"),  # complex64: real and imaginary parts in turn
    15: ("double_data", "<f8"),  # complex128
}
# Element types kept as their bit pattern in the low bits of int32_data: 16-bit, 8-bit
# (bool, float8) one element per entry; 4- and 2-bit types one packed byte per entry.
_BITS_IN_INT32 = frozenset({4, 5, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26})


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def raw_location(proto: onnx.TensorProto) -> tuple[int, int] | None:
    """(offset, length) of raw_data the wire pass removed, from its marker; None if not removed."""
    for entry in proto.metadata_props:
        if entry.key == RAW_MARKER:
            offset, _, length = entry.value.partition(",")
            return int(offset), int(length)
    return None


def _raw_file_loader(path: Path, offset: int, length: int, data_type: int, shape: tuple[int, ...]) -> TensorLoader:
    """Memory-map ``length`` bytes at ``offset`` of ``path`` as this element type."""
    _, bits, code = DTYPES.get(data_type, ("", 0, None))
    if bits == 0:
        raise ValueError(f"element type {dtype_name(data_type)} cannot be stored as raw bytes")
    if bits >= 8 and code is not None:
        return file_slice_loader(path, offset, length, code, shape)
    if bits >= 8:  # an ml_dtypes type: resolved (and ml_dtypes imported) when the values are read

        def load_ml() -> np.ndarray:
            np_dtype = element_dtype(data_type)
            if np_dtype is None:
                raise FormatError(path, FORMAT, f"reading {dtype_name(data_type)} values needs ml_dtypes: pip install ml_dtypes")
            return file_slice_loader(path, offset, length, np_dtype, shape, FORMAT)()

        return load_ml
    packed = file_slice_loader(path, offset, length, np.dtype(np.uint8), (length,))

    def load() -> np.ndarray:
        expected = byte_size(data_type, _count(shape))
        if expected != length:
            raise FormatError(path, FORMAT, f"tensor of shape {shape} needs {expected} bytes, the file gives {length}")
        return unpack_bits(packed(), data_type, shape)

    return load


def inline_array(proto: onnx.TensorProto) -> np.ndarray:
    """The values a tensor holds in the proto itself (raw_data or a typed field).

    The same array as ``onnx.numpy_helper.to_array`` gives, without importing onnx.
    """
    if proto.HasField("segment"):
        raise ValueError("tensors stored in segments are not supported")
    data_type = proto.data_type
    shape = tuple(proto.dims)
    if data_type == _STRING:
        return np.array([s.decode("utf-8") for s in proto.string_data], dtype=object).reshape(shape)
    bits = DTYPES.get(data_type, ("", 0, None))[1]
    np_dtype = element_dtype(data_type)
    if np_dtype is None:
        raise TypeError(f"element type {dtype_name(data_type) or 'UNDEFINED'} has no numpy type")
    if proto.HasField("raw_data"):
        if bits < 8:
            return unpack_bits(np.frombuffer(proto.raw_data, np.uint8), data_type, shape)
        return np.frombuffer(proto.raw_data, np_dtype).reshape(shape)
    if data_type in _BITS_IN_INT32:
        low = np.array(proto.int32_data, np.int32).view(np.uint32).astype(np.uint16 if bits == 16 else np.uint8)
        return unpack_bits(low, data_type, shape) if bits < 8 else low.view(np_dtype).reshape(shape)
    field, stored = _TYPED_FIELDS[data_type]
    values = np.array(getattr(proto, field), stored)
    return (values.view(np_dtype) if data_type in (14, 15) else values.astype(np_dtype)).reshape(shape)


def _failing_loader(path: str | Path, reason: str) -> TensorLoader:
    def load() -> np.ndarray:
        raise FormatError(path, FORMAT, reason)

    return load


def external_path(base_dir: Path, location: str) -> Path:
    """The file ``location`` names inside ``base_dir``; ValueError if it would leave the folder.

    Resolves symlinks without opening anything, so a hostile path is refused before any open.
    """
    if not location:
        raise ValueError("external data without a location")
    if os.path.isabs(location) or location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        raise ValueError(f"external data location {location!r} is absolute; only files in the model's folder are read")
    parts = location.replace("\\", "/").split("/")
    if ".." in parts:
        raise ValueError(f"external data location {location!r} leaves the model's folder")
    root = os.path.realpath(base_dir)
    target = os.path.realpath(os.path.join(root, location))
    if os.path.commonpath([root, target]) != root:
        raise ValueError(f"external data location {location!r} resolves outside the model's folder")
    return Path(target)


def _external_loader(
    proto: onnx.TensorProto, base_dir: Path | None, shape: tuple[int, ...]
) -> tuple[TensorLoader, int | None, str]:
    info = {entry.key: entry.value for entry in proto.external_data}
    location = info.get("location", "")
    if base_dir is None:
        return _failing_loader(location or proto.name, "external data, but the model has no folder to find it in"), None, location
    try:
        target = external_path(base_dir, location)
        offset = int(info.get("offset", "0") or 0)
        length_text = info.get("length", "")
        length = int(length_text) if length_text else byte_size(proto.data_type, _count(shape))
        if offset < 0 or length is None or length < 0:
            raise ValueError(f"external data of {proto.name!r} has a bad offset or length")
        inner = _raw_file_loader(target, offset, length, proto.data_type, shape)
    except ValueError as exc:
        return _failing_loader(base_dir / (location or proto.name), str(exc)), None, location

    def load() -> np.ndarray:
        # Check again at read time: the folder may have changed since the model was opened.
        external_path(base_dir, location)
        if not target.is_file():
            raise FormatError(target, FORMAT, f"external data file {location!r} of tensor {proto.name!r} not found")
        return inner()

    return load, length, f"{location} @ {offset}, {length} bytes"


def make_tensor(proto: onnx.TensorProto, path: Path | None, base_dir: Path | None, name: str = "") -> Tensor:
    """A lazy Tensor for ``proto``; reads nothing now."""
    shape = tuple(proto.dims)
    data_type = proto.data_type
    name = name or proto.name
    size = byte_size(data_type, math.prod(shape))
    location = ""
    loader: TensorLoader
    has_metadata = len(proto.metadata_props) > 0
    raw = raw_location(proto) if has_metadata else None
    if raw is not None and path is not None:
        offset, length = raw
        try:
            loader = _raw_file_loader(path, offset, length, data_type, shape)
        except ValueError as exc:
            loader = _failing_loader(path, str(exc))
        size = length
        location = f"{path.name} @ {offset}, {length} bytes"
    elif proto.data_location == EXTERNAL:
        loader, ext_size, location = _external_loader(proto, base_dir, shape)
        size = ext_size if ext_size is not None else size
    else:
        loader = functools.partial(inline_array, proto)
    metadata = {e.key: e.value for e in proto.metadata_props if e.key != RAW_MARKER} if has_metadata else None
    doc = proto.doc_string
    if doc:
        metadata = {**(metadata or {}), "doc": doc}
    return Tensor(name, dtype_name(data_type), shape, loader, byte_size=size, location=location, metadata=metadata)


def make_sparse_tensor(proto: onnx.SparseTensorProto, path: Path | None, base_dir: Path | None) -> Tensor:
    """A lazy Tensor for a sparse tensor: dense values materialised on request."""
    values = make_tensor(proto.values, path, base_dir)
    indices = make_tensor(proto.indices, path, base_dir)
    shape = tuple(int(d) for d in proto.dims)

    def load() -> np.ndarray:
        vals = values.numpy().reshape(-1)
        idx = indices.numpy().astype(np.int64)
        dense = np.zeros(_count(shape), dtype=vals.dtype)
        if idx.ndim == 2:  # [NNZ, rank] coordinates
            idx = np.ravel_multi_index(tuple(idx.T), shape)
        dense[idx.reshape(-1)] = vals
        return dense.reshape(shape)

    return Tensor(
        proto.values.name, values.dtype, shape, load, byte_size=values.byte_size, location=values.location, kind="sparse"
    )
