"""Darknet's ``.weights``: a small header, then every layer's float32 arrays back to back.

The header is ``major, minor, revision`` (int32) and ``seen`` (images trained on):
a uint64 when ``major*10 + minor >= 2``, else a uint32 (pjreddie's fork also wants
``major`` and ``minor`` below 1000 for the uint64). Then each layer's arrays follow in
layer order, exactly as :mod:`netray_darknet.network` lists them; nothing in the file
says where one ends, so every offset is computed from the cfg alone. Connected
layers' matrices are stored transposed when ``major`` or ``minor`` exceeds 1000.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from netray import FormatError, Tensor, file_slice_loader
from netray_darknet.formats import FORMAT
from netray_darknet.network import ALEXEYAB, Layer, WeightSpec

FLOAT = 4


@dataclass
class Header:
    major: int
    minor: int
    revision: int
    seen: int
    size: int  # header bytes

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}.{self.revision}"

    @property
    def transposed(self) -> bool:
        return self.major > 1000 or self.minor > 1000


@dataclass
class Placement:
    """Where each layer's arrays lie in the file, and what the cfg implies of its size."""

    tensors: dict[tuple[int, str], Tensor]
    expected: int | None  # bytes the cfg implies, None when a size is unknown
    note: str


def read_header(path: Path, dialect: str) -> tuple[Header, int]:
    """The header and the file's size; FormatError when the file is shorter than a header."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            head = f.read(20)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read weights: {exc.strerror or exc}") from exc
    if len(head) < 16:
        raise FormatError(path, FORMAT, f"{size} bytes is shorter than a Darknet weights header (16 or 20 bytes)")
    major, minor, revision = struct.unpack_from("<3i", head)
    wide = major * 10 + minor >= 2
    if dialect != ALEXEYAB:
        wide = wide and major < 1000 and minor < 1000
    if wide:
        if len(head) < 20:
            raise FormatError(
                path, FORMAT, f"{size} bytes is shorter than the 20-byte header of weights version {major}.{minor}"
            )
        seen = struct.unpack_from("<Q", head, 12)[0]
    else:
        seen = struct.unpack_from("<I", head, 12)[0]
    return Header(major, minor, revision, seen, 20 if wide else 16), size


def layer_specs(layers: list[Layer]) -> list[tuple[Layer, WeightSpec]]:
    return [(layer, spec) for layer in layers for spec in layer.weights]


def implied_size(layers: list[Layer], header_size: int) -> int | None:
    total = header_size
    for _, spec in layer_specs(layers):
        if spec.count is None:
            return None
        total += spec.count * FLOAT
    return total


def place(path: Path, layers: list[Layer], header: Header, file_size: int) -> Placement:
    """A lazy tensor for each array: a slice of the file where it lies within it, no data where it does not."""
    tensors: dict[tuple[int, str], Tensor] = {}
    offset: int | None = header.size
    first_missing: int | None = None
    unknown_from: int | None = None
    for layer, spec in layer_specs(layers):
        name = f"layer{layer.index}.{spec.name}"
        shape = spec.shape
        if header.transposed and len(shape or ()) == 2 and layer.kind in ("connected", "rnn", "gru", "lstm"):
            assert shape is not None
            shape = (shape[1], shape[0])  # stored inputs-major; Darknet transposes it on reading
        if offset is None or spec.count is None:
            if unknown_from is None:
                unknown_from = layer.index
            offset = None
            tensors[(layer.index, spec.name)] = Tensor(
                name, "float32", shape, location=f"{path.name}: offset unknown (a size before it is unknown)"
            )
            continue
        length = spec.count * FLOAT
        location = f"{path.name} @ {offset:,}"
        if offset + length <= file_size:
            loader = file_slice_loader(path, offset, length, "<f4", shape or (spec.count,), FORMAT)
            tensors[(layer.index, spec.name)] = Tensor(
                name, "float32", shape or (spec.count,), loader, length, location
            )
        else:
            if first_missing is None:
                first_missing = layer.index
            tensors[(layer.index, spec.name)] = Tensor(
                name,
                "float32",
                shape,
                byte_size=length,
                location=f"{location}: past the end of the file ({file_size:,} bytes); not stored",
            )
        offset += length
    if unknown_from is not None:
        note = f"layer {unknown_from} has an unknown size: its weights and all after it cannot be placed in {path.name}"
        return Placement(tensors, None, note)
    assert offset is not None
    if offset == file_size:
        note = f"matches the cfg exactly ({file_size:,} bytes)"
    elif offset > file_size:
        note = (
            f"{path.name} is {file_size:,} bytes but the cfg implies {offset:,}: short by {offset - file_size:,} bytes; "
            f"weights from layer {first_missing} on are not stored (a truncated file, or a cfg it was not trained with)"
        )
    else:
        note = (
            f"{path.name} is {file_size:,} bytes but the cfg implies {offset:,}: {file_size - offset:,} bytes after the last "
            "array are not read (weights of a larger network, or a cfg it was not trained with)"
        )
    return Placement(tensors, offset, note)
