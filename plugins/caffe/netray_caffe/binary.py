"""Reading a .caffemodel (binary NetParameter) without decoding its weights.

One wire-format pass finds each layer and, inside it, each blob's fields: the packed
``data``/``double_data`` payloads are recorded as (offset, length) and memory-mapped
only when a tensor is read. The rest of each layer (a few hundred bytes: name, type,
bottoms, tops, parameters) is decoded with the generated LayerParameter class.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

import netray
from netray import protowire as wire
from netray_caffe import proto
from netray_caffe.formats import FORMAT
from netray_caffe.layers import Blob, Layer, from_v1, from_v2

HEADER_LIMIT = 64 << 20  # net-level fields (name, inputs, state) larger than this are not a Caffe net


@dataclass
class BinaryNet:
    """What a .caffemodel holds: its net-level fields (a NetParameter without layers) and its layers."""

    header: Any
    layers: list[Layer] = field(default_factory=list)
    layer_field: str = ""  # "layer" or "layers"


def read_caffemodel(path: Path) -> BinaryNet:
    """The net of ``path``; raises FormatError naming the fault for malformed bytes."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size == 0:
                raise netray.FormatError(path, FORMAT, "the file is empty")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _read(path, buf, size)
    except (wire.WireError, DecodeError) as exc:
        raise netray.FormatError(path, FORMAT, f"not a valid binary NetParameter: {exc}") from None
    except OSError as exc:
        raise netray.FormatError(path, FORMAT, f"cannot read the file: {exc.strerror or exc}") from None


def _read(path: Path, buf: mmap.mmap, size: int) -> BinaryNet:
    header = bytearray()
    net = BinaryNet(None)
    for f in wire.fields(buf, 0, size):
        if f.number in (proto.NET_LAYER, proto.NET_LAYERS) and f.wire_type == wire.LENGTH:
            v2 = f.number == proto.NET_LAYER
            net.layers.append(_layer(path, buf, f.start, f.end, v2, len(net.layers)))
            net.layer_field = "layer" if v2 else "layers"
        else:
            if f.number not in proto.NET_FIELDS:
                raise wire.WireError(f"field {f.number} at byte {f.tag_start} is not a NetParameter field")
            if len(header) + f.end - f.tag_start > HEADER_LIMIT:
                raise wire.WireError(f"net-level fields exceed {HEADER_LIMIT >> 20} MiB")
            header += buf[f.tag_start : f.end]
    net.header = proto.NetParameter.FromString(bytes(header))
    return net


def _without(buf: mmap.mmap, start: int, end: int, skip: int) -> tuple[bytearray, list[wire.Field]]:
    """The message's bytes minus every field numbered ``skip``, and those fields."""
    kept = bytearray()
    skipped = []
    for f in wire.fields(buf, start, end):
        if f.number == skip and f.wire_type == wire.LENGTH:
            skipped.append(f)
        else:
            kept += buf[f.tag_start : f.end]
    return kept, skipped


def _layer(path: Path, buf: mmap.mmap, start: int, end: int, v2: bool, index: int) -> Layer:
    if v2:
        kept, blobs = _without(buf, start, end, proto.LAYER_BLOBS)
        layer = from_v2(proto.LayerParameter.FromString(bytes(kept)))
    else:
        kept = bytearray()
        blobs = []
        for f in wire.fields(buf, start, end):
            if f.number == proto.V1_BLOBS and f.wire_type == wire.LENGTH:
                blobs.append(f)
            elif f.number == proto.V1_V0_LAYER and f.wire_type == wire.LENGTH:  # a V0 layer keeps its blobs inside
                inner, v0_blobs = _without(buf, f.start, f.end, proto.V0_BLOBS)
                blobs += v0_blobs
                kept += wire.encode_varint(f.number << 3 | wire.LENGTH) + wire.encode_varint(len(inner)) + inner
            else:
                kept += buf[f.tag_start : f.end]
        layer = from_v1(proto.V1LayerParameter.FromString(bytes(kept)))
    name = layer.name or f"layer {index}"
    layer.blobs = [_blob(path, buf, b.start, b.end, f"{path.name}: {name} blob {k}") for k, b in enumerate(blobs)]
    return layer


def _blob(path: Path, buf: mmap.mmap, start: int, end: int, where: str) -> Blob:
    """A BlobProto's shape and where its values lie; the values themselves are not read."""
    legacy: dict[int, int] = {}
    shape: tuple[int, ...] | None = None
    packed: dict[str, list[tuple[int, int]]] = {"data": [], "double_data": []}
    loose = 0  # values stored unpacked (one tag per value), which no Caffe writes but protobuf allows
    numbers = proto.BLOB_FIELDS
    for f in wire.fields(buf, start, end):
        if (
            f.number in (numbers["num"], numbers["channels"], numbers["height"], numbers["width"])
            and f.wire_type == wire.VARINT
        ):
            legacy[f.number] = f.value
        elif f.number == numbers["shape"] and f.wire_type == wire.LENGTH:
            shape = tuple(int(d) for d in proto.BlobShape.FromString(buf[f.start : f.end]).dim)
        elif f.number in (numbers["data"], numbers["double_data"]):
            key = "data" if f.number == numbers["data"] else "double_data"
            if f.wire_type == wire.LENGTH:
                packed[key].append((f.start, f.end - f.start))
            else:
                loose += 1
    if shape is None:
        shape = tuple(legacy.get(numbers[k], 0) for k in ("num", "channels", "height", "width")) if legacy else ()
    if any(d < 0 for d in shape):
        raise wire.WireError(f"{where}: negative dimension in shape {shape}")
    key = "double_data" if packed["double_data"] else "data"
    dtype = "float64" if key == "double_data" else "float32"
    itemsize = 8 if key == "double_data" else 4
    chunks = packed[key]
    length = sum(n for _, n in chunks)
    if length % itemsize:
        raise wire.WireError(f"{where}: packed {key} of {length} bytes is not a whole number of {dtype} values")
    count = length // itemsize
    if not shape and count:
        shape = (count,)
    expected = int(np.prod(shape, dtype=np.int64)) if shape else 0
    note = ""
    if count != expected and (chunks or loose):
        note = f"{count} values stored for shape {shape}"
    if not chunks and not loose:
        return Blob(shape, dtype, None, None, where, "no values stored")
    if len(chunks) == 1 and not loose:
        offset, size = chunks[0]
        loader = netray.file_slice_loader(path, offset, size, f"<{'f8' if itemsize == 8 else 'f4'}", shape, FORMAT)
        location = f"{path.name} @ {offset}, {size:,} bytes"
        return Blob(shape, dtype, loader, size if not note else None, location, note)
    return Blob(
        shape, dtype, _parsed_loader(path, start, end, shape, key), expected * itemsize, f"{path.name} @ {start}", note
    )


def _parsed_loader(path: Path, start: int, end: int, shape: tuple[int, ...], key: str) -> Any:
    """For values stored in pieces or unpacked: decode the one blob with protobuf when it is read."""

    def load() -> np.ndarray:
        with open(path, "rb") as f:
            if end > f.seek(0, 2):
                raise netray.FormatError(path, FORMAT, f"blob at {start}..{end} lies past the end of the file")
            f.seek(start)
            blob = proto.BlobProto.FromString(f.read(end - start))
        values = np.asarray(getattr(blob, key), dtype="float64" if key == "double_data" else "float32")
        if values.size != int(np.prod(shape, dtype=np.int64)):
            raise netray.FormatError(path, FORMAT, f"blob has {values.size} values for shape {shape}")
        return values.reshape(shape)

    return load
