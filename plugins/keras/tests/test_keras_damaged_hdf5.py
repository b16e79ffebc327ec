"""Damaged HDF5 files: h5py runs in a child process with a time budget, so a loop or a crash
of the HDF5 library becomes one line, and the sniffer never touches h5py.

Regressions of the mutation fuzz (tests/test_fuzz_shared_models.py): a Keras 2 file whose
global heap collection (where ``model_config`` lives) was partly zeroed made h5py spin for
ever; flipped bytes in the root's object header crashed it (SIGSEGV) or made the sniffer
raise h5py's errors as multi-line warnings.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netray import FormatError
from netray.plugins import PluginManager
from netray_keras import h5probe
from netray_keras import plugin as keras_plugin
from netray_keras.reader import read_keras


@pytest.fixture()
def manager() -> PluginManager:
    manager = PluginManager(load_entry_points=False)
    manager.register(keras_plugin, "keras")
    return manager


def mnist_bytes(shared_models: Path) -> bytes:
    return (shared_models / "keras" / "r4ghu_mnist" / "mnistCNN.h5").read_bytes()


def zeroed_global_heap(data: bytes) -> bytes:
    """The file with every object of its first global heap collection after the first one zeroed.

    HDF5 then reads an object of index 0 and size 0 and steps over it by 0 bytes, for ever.
    """
    start = data.index(b"GCOL")
    (size,) = struct.unpack_from("<Q", data, start + 8)
    first_object = start + 16
    (first_size,) = struct.unpack_from("<Q", data, first_object + 8)
    second_object = first_object + 16 + (first_size + 7) // 8 * 8
    damaged = bytearray(data)
    damaged[second_object : start + size] = bytes(start + size - second_object)
    return bytes(damaged)


def test_a_global_heap_loop_is_bounded_and_one_line(shared_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h5probe, "TIME_BUDGET_S", 3.0)
    path = tmp_path / "zeroed_heap.h5"
    path.write_bytes(zeroed_global_heap(mnist_bytes(shared_models)))
    started = time.monotonic()
    with pytest.raises(FormatError) as info:
        read_keras(path)
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: Keras: ")
    # h5py either loops (stopped by the budget) or, in another HDF5 version, refuses the heap.
    assert "did not finish reading" in message or "cannot read the HDF5 file" in message


def test_a_child_that_hangs_is_killed_after_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    monkeypatch.setattr(h5probe, "TIME_BUDGET_S", 1.0)
    monkeypatch.setattr(h5probe, "BOOTSTRAP", "while True: pass")
    with pytest.raises(FormatError, match=r"did not finish reading the HDF5 file's structure in 1 s: the HDF5 file is damaged"):
        read_keras(path)


def test_a_child_that_crashes_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    crash = "import os, signal, sys; sys.stderr.write('HDF5-DIAG: Error detected\\n  #000: line two\\n'); os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(h5probe, "BOOTSTRAP", crash)
    with pytest.raises(FormatError) as info:
        read_keras(path)
    assert str(info.value) == f"{path}: Keras: the HDF5 library crashed (SIGSEGV) reading the HDF5 file's structure: the file is damaged"


def test_the_childs_diagnostics_never_reach_the_user(shared_models: Path, tmp_path: Path) -> None:
    """`netray info` on files that made h5py loop, crash or print: exit 2 and one line."""
    data = mnist_bytes(shared_models)
    flipped = bytearray(data)
    flipped[857] ^= 0xFF  # crashed HDF5 2.0 (SIGSEGV) in the root's object header
    attribute_damage = bytearray(data)
    attribute_damage[832] ^= 0xFF  # the sniffer's h5py raised "bad version number for attribute message"
    cases = {"flipped.h5": bytes(flipped), "attribute.h5": bytes(attribute_damage), "heap.h5": zeroed_global_heap(data)}
    for name, blob in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        done = subprocess.run(
            [sys.executable, "-m", "netray.cli", "info", str(path)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"netray: error: {path}: Keras: "), (name, done.stderr)


def test_sniffing_reads_bytes_not_h5py(shared_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manager: PluginManager) -> None:
    """Keras 2 files are claimed from their attribute names' bytes; a damaged header never raises."""
    monkeypatch.setitem(sys.modules, "h5py", None)  # importing h5py here now fails
    for path in sorted((shared_models / "keras").rglob("*.h*5")):
        claim = keras_plugin.netray_sniff(path, path.read_bytes()[:4096])
        assert claim is not None and claim.confidence == 1.0, path
    damaged = tmp_path / "damaged.h5"
    data = bytearray(mnist_bytes(shared_models))
    data[832:900] = bytes(68)
    damaged.write_bytes(bytes(data))
    assert keras_plugin.netray_sniff(damaged, bytes(data[:4096])) is not None
    assert manager.warnings == []


def test_weights_beyond_a_truncated_archive_are_refused(shared_models: Path, tmp_path: Path) -> None:
    data = (shared_models / "keras" / "keras3" / "fashion_mnist_cnn.keras").read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) - 1])
    with pytest.raises(FormatError) as info:
        read_keras(path)
    assert "\n" not in str(info.value)
