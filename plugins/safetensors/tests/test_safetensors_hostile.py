"""Truncated, corrupt and hostile .safetensors files: each is one FormatError line naming the file.

Headers are written by hand here (``raw_file``) because the safetensors library refuses
to write any of them.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from netray import FormatError
from netray.plugins import PluginManager

netray_safetensors = pytest.importorskip("netray_safetensors")
from netray_safetensors import plugin  # noqa: E402

st_numpy = pytest.importorskip("safetensors.numpy")


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "safetensors")
    return pm


def raw_file(path: Path, header: Any, data: bytes = b"", length: int | None = None) -> Path:
    """A file of the format's layout with any header: a dict (as JSON), or bytes as they are."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def one_line_error(path: Path) -> str:
    with pytest.raises(FormatError) as caught:
        manager().load(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "safetensors" in message and "\n" not in message, message
    return message


def f32(shape: list[int], begin: int, end: int, dtype: str = "F32") -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.safetensors"
    st_numpy.save_file(
        {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.arange(5, dtype=np.int64)}, str(path), metadata={"k": "v"}
    )
    return path


def test_truncated_files_are_format_errors(good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    for cut in (1, 7, 8, 9, 8 + length // 2, 8 + length - 1, 8 + length, 8 + length + 10, len(data) - 1):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        message = one_line_error(path)
        assert any(word in message for word in ("fewer than the 8", "runs past the end", "run past the data region")), message


def test_data_cut_after_opening_is_an_error_when_read(good: Path) -> None:
    model = manager().load(good)
    last = max(model.tensors.values(), key=lambda t: int(t.location.split(" @ ")[1]))
    good.write_bytes(good.read_bytes()[:-8])
    with pytest.raises(FormatError, match="past the end of the file"):
        last.numpy()


def test_a_header_over_the_format_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge_header.safetensors"
    with open(path, "wb") as f:  # sparse: 200 MB on paper, a few bytes on disk
        f.write(struct.pack("<Q", 150_000_000) + b'{"')
        f.truncate(200_000_000)
    assert "exceeds the format's limit of 100,000,000" in one_line_error(path)


@pytest.mark.parametrize(
    ("header", "data", "length", "reason"),
    [
        ({"a": f32([2], 0, 8)}, b"\0" * 8, 10**9, "runs past the end of the file"),
        ({"a": f32([2], 0, 8)}, b"\0" * 8, 2**63 + 5, "runs past the end of the file"),
        ({"a": f32([2], 0, 8)}, b"\0" * 8, 0, "too short for a JSON object"),
        (b"not json at all", b"", None, "not valid JSON"),
        (b"\xff\xfe{}", b"", None, "not UTF-8"),
        (b"[" * 50_000 + b"]" * 50_000, b"", None, "nests JSON too deeply"),
        (b'{"a": 1, "a": 2}', b"", None, "appears twice"),
        (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, ' + b"9" * 5000 + b"]}}", b"", None, "not valid JSON"),
        ([1, 2, 3], b"", None, "not an object of tensors"),
        ({"__metadata__": ["x"]}, b"", None, "not an object of strings"),
        ({"a": "F32"}, b"", None, "not an object with dtype"),
        ({"a": {"shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, None, "no dtype string"),
        ({"a": f32([2], -4, 4)}, b"\0" * 8, None, "not [begin, end]"),
        ({"a": f32([2], 0, -8)}, b"\0" * 8, None, "not [begin, end]"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, b"\0" * 8, None, "not [begin, end]"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}}, b"\0" * 8, None, "not [begin, end]"),
        ({"a": f32([2], 8, 0)}, b"\0" * 8, None, "end 0 is before begin 8"),
        ({"a": f32([2], 0, 8)}, b"\0" * 4, None, "run past the data region"),
        ({"a": f32([2], 2**62, 2**62 + 8)}, b"\0" * 8, None, "run past the data region"),
        ({"a": f32([3], 0, 8)}, b"\0" * 8, None, "takes 12 bytes, data_offsets give 8"),
        ({"a": f32([-2], 0, 8)}, b"\0" * 8, None, "not a list of non-negative integers"),
        ({"a": f32([True, 2], 0, 8)}, b"\0" * 8, None, "not a list of non-negative integers"),
        ({"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, b"\0" * 8, None, "not a list of non-negative"),
        ({"a": f32([2**40] * 40, 0, 8)}, b"\0" * 8, None, "more elements than the file has bits"),
        ({"a": f32([3], 0, 1, "F4")}, b"\0" * 8, None, "do not fill whole bytes"),
    ],
)
def test_hostile_headers_are_one_line_errors(tmp_path: Path, header: Any, data: bytes, length: int | None, reason: str) -> None:
    path = raw_file(tmp_path / "bad.safetensors", header, data, length)
    assert reason in one_line_error(path)


def test_random_bytes_under_the_name_are_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    one_line_error(path)


def test_corrupted_bytes_never_escape_as_other_errors(good: Path, tmp_path: Path) -> None:
    """Flip bytes all over a good file: the result opens and reads, or fails as FormatError."""
    data = good.read_bytes()
    rng = np.random.default_rng(7)
    for k in range(200):
        damaged = bytearray(data)
        for position in rng.integers(0, len(data), 3):
            damaged[position] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged{k}.safetensors"
        path.write_bytes(bytes(damaged))
        try:
            model = manager().load(path)
            for tensor in model.tensors.values():
                tensor.numpy()
        except FormatError as exc:
            assert "\n" not in str(exc)


def test_an_unknown_dtype_is_shown_and_refuses_to_be_read(tmp_path: Path) -> None:
    header = {"odd": {"dtype": "F12_E7M4", "shape": [2, 3], "data_offsets": [0, 9]}, "lower": f32([1], 9, 13, "float32")}
    path = raw_file(tmp_path / "odd.safetensors", header, b"\1" * 13)
    model = manager().load(path)
    odd = model.tensors["odd"]
    assert (odd.dtype, odd.shape, odd.byte_size) == ("F12_E7M4", (2, 3), 9)
    assert model.tensors["lower"].dtype == "safetensors:float32"  # not mistaken for netray's float32
    assert model.properties["unknown dtypes"] == ["F12_E7M4", "float32"]
    with pytest.raises(FormatError, match="'F12_E7M4', which safetensors does not define"):
        odd.numpy()


def test_six_bit_floats_are_shown_but_not_guessed(tmp_path: Path) -> None:
    path = raw_file(tmp_path / "f6.safetensors", {"w": f32([4], 0, 3, "F6_E2M3")}, b"\0" * 3)
    tensor = manager().load(path).tensors["w"]
    assert (tensor.dtype, tensor.byte_size) == ("float6_e2m3fn", 3)
    with pytest.raises(FormatError, match="does not document how 6-bit values are packed"):
        tensor.numpy()


def test_gaps_overlaps_and_trailing_bytes_open_with_notes(tmp_path: Path) -> None:
    values = np.arange(4, dtype="<f4").tobytes()
    header = {"__metadata__": {"n": 3, "s": "x"}, "a": f32([4], 0, 16), "alias": f32([2], 8, 16), "b": f32([4], 20, 36)}
    path = raw_file(tmp_path / "loose.safetensors", header, values + b"\0" * 4 + values + b"\0" * 6)
    model = manager().load(path)
    assert model.tensors["alias"].numpy().tolist() == [2.0, 3.0]
    assert model.tensors["b"].numpy().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert model.properties["unused data bytes"] == 10 and model.properties["tensors sharing bytes"] == 1
    assert model.metadata == {"n": "3", "s": "x"}  # a non-string value kept as its JSON text
    assert model.properties["metadata not strings"] == ["n"]


def test_an_empty_file_of_the_format_opens(tmp_path: Path) -> None:
    path = raw_file(tmp_path / "empty.safetensors", b"{}      ")
    model = manager().load(path)
    assert model.tensors == {} and model.properties["tensors"] == 0


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (struct.pack("<Q", 30) + b'{"a":{"dtype":"F32","shape":[]', 1.0),
        (struct.pack("<Q", 8) + b"{}      ", 1.0),
        (struct.pack("<Q", 10**6) + b'{"a":', 0.6),  # the length does not fit this small file
        (b"\x01\x02\x03\x04\x00\x00\x00\x01{", None),
    ],
)
def test_sniffing(tmp_path: Path, head: bytes, expected: float | None) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(head + b"\0" * 40)
    claim = plugin.netray_sniff(path=path, head=path.read_bytes())
    assert (claim.confidence if claim else None) == expected
