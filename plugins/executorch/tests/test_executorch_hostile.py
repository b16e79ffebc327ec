"""Truncated, corrupted and hostile .pte files give one FormatError line naming the file; none hangs."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import executorch_exports as exports
import pytest

import netray
from netray_executorch import plugin


def _load(path: Path) -> netray.Model | None:
    """Load with the plugin, then read every tensor: any failure must be a one-line FormatError."""
    try:
        model = plugin.netray_load(path, "ExecuTorch")
        assert model is not None
        for _, tensor in model.all_tensors():
            if tensor.loader is not None:
                tensor.numpy()
        return model
    except netray.FormatError as exc:
        text = str(exc)
        assert "\n" not in text and path.name in text, text
        return None


def _bytes(build: object) -> bytes:
    return build().path.read_bytes()  # type: ignore[operator]


@pytest.mark.parametrize("build", [exports.convnet, exports.convnet_xnnpack, exports.inline_constants], ids=lambda b: b.__name__)
def test_truncated_files(build: object, tmp_path: Path) -> None:
    data = _bytes(build)
    header_size = struct.unpack_from("<Q", data, 16)[0] if data[8:12] == b"eh00" else len(data)
    cuts = sorted({0, 3, 7, 8, 12, 30, 64, 200, len(data) // 3, header_size - 1, header_size + 5, len(data) - 1})
    for cut in (c for c in cuts if 0 <= c < len(data)):
        path = tmp_path / f"cut{cut}.pte"
        path.write_bytes(data[:cut])
        with pytest.raises(netray.FormatError) as info:
            plugin.netray_load(path, "ExecuTorch")
        assert "\n" not in str(info.value) and path.name in str(info.value)


def test_identifiers(tmp_path: Path) -> None:
    data = bytearray(_bytes(exports.convnet))
    data[4:8] = b"ET13"
    newer = tmp_path / "newer.pte"
    newer.write_bytes(bytes(data))
    with pytest.raises(netray.FormatError, match="ET13, a Program schema this plugin does not know"):
        plugin.netray_load(newer, "ExecuTorch")
    data[4:8] = b"XXXX"
    foreign = tmp_path / "foreign.pte"
    foreign.write_bytes(bytes(data))
    with pytest.raises(netray.FormatError, match="not the ExecuTorch identifier"):
        plugin.netray_load(foreign, "ExecuTorch")


def test_extended_header_pointing_past_the_end(tmp_path: Path) -> None:
    data = bytearray(_bytes(exports.convnet_xnnpack))
    for offset, value, message in (
        (16, 1 << 40, "the program takes"),  # program size
        (24, 1 << 40, "past the end of the file"),  # segment base offset
        (12, 4, "less than the 24"),  # header length
    ):
        broken = bytearray(data)
        struct.pack_into("<Q" if offset != 12 else "<I", broken, offset, value)
        path = tmp_path / f"header{offset}.pte"
        path.write_bytes(bytes(broken))
        with pytest.raises(netray.FormatError, match=message):
            plugin.netray_load(path, "ExecuTorch")


@pytest.mark.parametrize("build", [exports.convnet, exports.convnet_xnnpack, exports.control_flow], ids=lambda b: b.__name__)
def test_every_word_of_the_flatbuffer_made_hostile(build: object, tmp_path: Path) -> None:
    """Each aligned 32-bit word of the program in turn becomes a huge offset or count, a negative
    number or zero: every load gives a model or one FormatError line, and tensors read or fail so."""
    data = _bytes(build)
    limit = struct.unpack_from("<Q", data, 16)[0] if data[8:12] == b"eh00" else len(data)
    path = tmp_path / "hostile.pte"
    for position in range(0, limit - 4, 4):
        for value in (0x7FFFFFF0, 0xFFFFFFFF, 0):
            broken = bytearray(data)
            struct.pack_into("<I", broken, position, value)
            path.write_bytes(bytes(broken))
            _load(path)


def test_random_corruption(tmp_path: Path) -> None:
    rng = random.Random(1234)
    data = _bytes(exports.mlp_xnnpack_int8)
    path = tmp_path / "random.pte"
    for _ in range(300):
        broken = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            broken[rng.randrange(8, len(broken))] = rng.randrange(256)
        path.write_bytes(bytes(broken))
        _load(path)


def test_constant_offset_outside_its_segment(tmp_path: Path) -> None:
    """A constant segment offset past its segment is refused when the program is read."""
    from netray.flatwire import Table

    data = bytearray(exports.convnet().path.read_bytes())
    segment = Table.root(data, len(data), "Program").table(5, "constant_segment")
    assert segment is not None
    span = segment.vector_span(1, 8, "offsets")  # where ExecuTorch wrote the offsets: [0, 0, 432, ...]
    assert span is not None and span[1] > 2
    struct.pack_into("<Q", data, span[0] + 8 * 2, 1 << 30)
    path = tmp_path / "offset.pte"
    path.write_bytes(bytes(data))
    with pytest.raises(netray.FormatError, match="lies past its segment"):
        plugin.netray_load(path, "ExecuTorch")
