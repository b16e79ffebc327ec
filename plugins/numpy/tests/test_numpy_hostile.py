"""Truncated, corrupt and hostile .npy/.npz files: one FormatError line naming the file, no hang,
nothing unpickled, nothing decompressed beyond what the header's shape allows."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

import netray
from netray import FormatError
from netray.plugins import PluginManager

netray_numpy = pytest.importorskip("netray_numpy")
from netray_numpy import plugin  # noqa: E402


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "numpy")
    return pm


def one_line_error(path: Path, match: str = "") -> str:
    with pytest.raises(FormatError) as caught:
        manager().load(path)
    text = str(caught.value)
    assert "\n" not in text and str(path) in text, text
    assert match in text, text
    return text


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_with_header(header: str | bytes, data: bytes = b"", version: tuple[int, int] = (1, 0), length: int | None = None) -> bytes:
    text = header.encode("latin1") if isinstance(header, str) else header
    size = len(text) if length is None else length
    fmt = "<H" if version == (1, 0) else "<I"
    return b"\x93NUMPY" + bytes(version) + struct.pack(fmt, size) + text + data


GOOD = npy_bytes(np.arange(64, dtype=np.float32).reshape(8, 8))
HEADER_END = 128  # np.save pads the header to 64-byte multiples


@pytest.mark.parametrize("cut", [1, 5, 7, 9, 40, HEADER_END - 1, HEADER_END, HEADER_END + 1, len(GOOD) - 1])
def test_truncated_npy(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "cut.npy"
    path.write_bytes(GOOD[:cut])
    one_line_error(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", b"", length=60000), "runs past the end"),
        (npy_with_header(b"", version=(2, 0), length=0xFFFFFFFF), "above the"),
        (npy_with_header("{}", version=(9, 9)), "unsupported .npy version 9.9"),
        (npy_with_header("__import__('os').system('false')"), "not a Python literal"),
        (npy_with_header("[1, 2]"), "not a dict"),
        (npy_with_header("{'descr': '<f4', 'shape': (1,)}"), "keys are wrong"),
        (npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}"), "keys are wrong"),
        (npy_with_header("{'descr': 'not-a-dtype', 'fortran_order': False, 'shape': (1,)}"), "is not a dtype"),
        (npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), "not a tuple of sizes"),
        (npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}"), "not a tuple of sizes"),
        (npy_with_header("{'descr': '<f4', 'fortran_order': 'yes', 'shape': (1,)}"), "fortran_order"),
        (npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000000000000000, 1000000000000000000000000000000)}"), "needs"),
        (npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", b"\x00" * 15), "15 follow the header"),
        (npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 5000 + ")" * 5000 + "}"), "Python literal"),
        (npy_with_header("{'descr': [('a', '<f4', (1000000000000, 1000000000000))], 'fortran_order': False, 'shape': (1,)}"), "not a dtype"),
        (npy_with_header("{'descr': ('<f4', (3,)), 'fortran_order': False, 'shape': (1,)}"), "sub-array"),
        (npy_with_header(b"\xff\xfe{", version=(3, 0)), "not utf8 text"),
        (b"\x93NUMPX\x01\x00" + GOOD[8:], "no .npy magic"),
    ],
)
def test_hostile_npy_headers(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.npy"
    path.write_bytes(content)
    one_line_error(path, reason)


def stored_npz(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_npz_member_whose_shape_needs_more_than_the_member_holds(tmp_path: Path) -> None:
    short = npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000,)}", b"\x00" * 80)
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        path = stored_npz(tmp_path / f"short{method}.npz", {"ok.npy": GOOD, "short.npy": short}, method)
        one_line_error(path, "member 'short.npy': shape (1000,) × 8-byte items needs 8,000 bytes of data; 80 follow")


def patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def local_header_offsets(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: info.header_offset for info in zf.infolist()}


def test_zip_member_whose_local_header_lies(tmp_path: Path) -> None:
    path = stored_npz(tmp_path / "good.npz", {"a.npy": GOOD, "b.npy": GOOD})
    data = path.read_bytes()
    where = local_header_offsets(path)["b.npy"]
    cases = {
        "name": (patch(data, where + 30, b"c"), "its local header names 'c.npy'"),
        "method": (patch(data, where + 8, struct.pack("<H", 8)), "the local header says compression 8"),
        "size": (patch(data, where + 22, struct.pack("<L", 5)), "the local header gives size 5"),
        "signature": (patch(data, where, b"PK\x01\x02"), "no local header"),
        "extra length": (patch(data, where + 28, struct.pack("<H", 0xFFFF)), "run past the end of the file"),
    }
    for label, (content, reason) in cases.items():
        bad = tmp_path / f"lie_{label.replace(' ', '_')}.npz"
        bad.write_bytes(content)
        one_line_error(bad, reason)


def test_central_directory_pointing_past_the_end(tmp_path: Path) -> None:
    path = stored_npz(tmp_path / "good.npz", {"a.npy": GOOD})
    data = path.read_bytes()
    central = data.rindex(b"PK\x01\x02")
    bad = tmp_path / "far.npz"
    bad.write_bytes(patch(data, central + 42, struct.pack("<L", 10**9)))
    one_line_error(bad, "past the end of the file")


def test_zip_bomb_with_an_honest_directory_is_refused_unread(tmp_path: Path) -> None:
    """64 MB of zeros behind a header of 2 floats: the member's size betrays it before any decompression."""
    header = npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}")
    path = stored_npz(tmp_path / "bomb.npz", {"bomb.npy": header + bytes(64 << 20)}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    one_line_error(path, "bytes follow the data its header's shape needs")


def test_zip_bomb_whose_directory_lies_decompresses_no_further_than_the_shape(tmp_path: Path) -> None:
    """Sizes rewritten to what the header's shape needs: reading stops there and the CRC gives the lie away."""
    header = npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}")
    path = stored_npz(tmp_path / "bomb.npz", {"bomb.npy": header + bytes(64 << 20)}, zipfile.ZIP_DEFLATED)
    data = path.read_bytes()
    honest = len(header) + 16
    local = local_header_offsets(path)["bomb.npy"]
    central = data.rindex(b"PK\x01\x02")
    data = patch(data, local + 22, struct.pack("<L", honest))
    data = patch(data, central + 24, struct.pack("<L", honest))
    path.write_bytes(data)
    with pytest.raises(FormatError, match=r"Bad CRC-32 for file 'bomb\.npy'"):
        manager().load(path).tensors["bomb"].numpy()  # the header's read already reaches the member's end


class Exploit:
    """A pickle that runs a shell command when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickles_are_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = np.array([Exploit(marker), 1], dtype=object)
    np.save(tmp_path / "evil.npy", hostile, allow_pickle=True)
    np.savez(tmp_path / "evil.npz", evil=hostile, fine=np.ones(2))
    np.savez_compressed(tmp_path / "evil_compressed.npz", evil=hostile)
    for path in (tmp_path / "evil.npy", tmp_path / "evil.npz", tmp_path / "evil_compressed.npz"):
        model = netray.load_model(path)
        assert model.tensors["evil"].dtype == "object"
        with pytest.raises(FormatError, match="never unpickles"):
            model.tensors["evil"].numpy()
    assert not marker.exists()
    # The files are really hostile: numpy with allow_pickle runs the command.
    proof = tmp_path / "proof"
    np.save(tmp_path / "proof.npy", np.array([Exploit(proof)], dtype=object), allow_pickle=True)
    np.load(tmp_path / "proof.npy", allow_pickle=True)
    assert proof.exists()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.npz", b"PK\x05\x06" + bytes(18), "holds no .npy arrays"),
        ("junk.npz", b"PK\x03\x04" + bytes(100), "not a readable zip"),
        ("random.npz", os.urandom(500), "not a readable zip"),
    ],
)
def test_archives_that_are_not(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    one_line_error(path, reason)


def test_archive_of_other_files(tmp_path: Path) -> None:
    path = stored_npz(tmp_path / "other.npz", {"readme.txt": b"hello", "config.json": b"{}"})
    one_line_error(path, "only other files (readme.txt, config.json)")


def test_other_members_are_named(tmp_path: Path) -> None:
    path = stored_npz(tmp_path / "mixed.npz", {"w.npy": GOOD, "notes.txt": b"hi"})
    model = manager().load(path)
    assert list(model.tensors) == ["w"]
    assert model.properties["other members"] == ["notes.txt"]


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_truncated_and_corrupted_archives(tmp_path: Path, method: int) -> None:
    """Cut anywhere, or with bytes flipped: a FormatError or a model whose tensors read or raise FormatError."""
    path = stored_npz(tmp_path / "good.npz", {"a.npy": GOOD, "b/c.npy": npy_bytes(np.arange(10))}, method)
    data = path.read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 40)):
        bad = tmp_path / "cut.npz"
        bad.write_bytes(data[:cut])
        one_line_error(bad)
    rng = np.random.default_rng(1)
    for k in range(60):
        position = int(rng.integers(0, len(data)))
        bad = tmp_path / f"flip{k}.npz"
        bad.write_bytes(patch(data, position, bytes([data[position] ^ int(rng.integers(1, 256))])))
        try:
            model = manager().load(bad)
        except FormatError as exc:
            assert "\n" not in str(exc)
            continue
        for tensor in model.tensors.values():
            try:
                tensor.numpy()
            except FormatError:
                pass
