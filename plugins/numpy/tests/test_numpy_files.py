"""Arrays numpy itself writes (np.save, np.savez, np.savez_compressed) open as weights-only models
whose tensors give back exactly what np.load gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
from netray import FormatError

netray_numpy = pytest.importorskip("netray_numpy")
from netray_numpy import plugin  # noqa: E402


def every_dtype() -> dict[str, np.ndarray]:
    """One array of every kind of dtype np.save writes without pickle."""
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {"bool": rng.integers(0, 2, (3, 4)).astype(bool)}
    for kind in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        arrays[kind] = rng.integers(0, 100, (2, 5)).astype(kind)
    for kind in ("float16", "float32", "float64", "longdouble", "complex64", "complex128", "clongdouble"):
        arrays[kind] = (rng.standard_normal((4, 3)) * 3).astype(kind)
    arrays["complex64"] += 1j
    arrays["unicode"] = np.array([["netray", "ü✓"], ["", "模型"]])
    arrays["bytes"] = np.array([b"ab", b"\x00\xff", b"xyz"])
    arrays["void"] = np.frombuffer(bytes(range(24)), dtype="V8")
    arrays["datetime"] = np.array(["2024-01-01T12:00", "1970-01-01", "NaT"], dtype="datetime64[m]")
    arrays["timedelta"] = np.array([1, -5, 7], dtype="timedelta64[ms]")
    arrays["scalar"] = np.array(3.5, dtype=np.float32)
    arrays["empty"] = np.zeros((0, 7), dtype=np.int32)
    arrays["fortran"] = np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4))
    arrays["big_endian"] = np.arange(10, dtype=">i4").reshape(2, 5)
    arrays["big_endian_fortran"] = np.asfortranarray(np.arange(6, dtype=">f8").reshape(2, 3))
    record = np.dtype([("id", "<i4"), ("pos", ">f8", (3,)), ("name", "S4"), ("inner", [("a", "u1"), ("b", "<f2")])])
    records = np.zeros(4, dtype=record)
    records["id"] = [1, 2, 3, 4]
    records["pos"] = rng.standard_normal((4, 3))
    records["name"] = [b"a", b"bb", b"ccc", b"dddd"]
    arrays["records"] = records
    return arrays


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    """The values np.load gives, in native byte order, strings as objects."""
    assert got.shape == want.shape
    if want.dtype.kind in "US":
        assert got.dtype == object
        assert got.tolist() == want.tolist()
        return
    if want.dtype.names is None:
        assert got.dtype == want.dtype.newbyteorder("=")
    np.testing.assert_array_equal(got, want)
    assert got.flags.f_contiguous == want.flags.f_contiguous or want.ndim <= 1


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    return every_dtype()


@pytest.fixture()
def files(tmp_path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
        out[name] = tmp_path / f"{name}.npy"
    np.savez(tmp_path / "plain.npz", **arrays)
    np.savez_compressed(tmp_path / "compressed.npz", **arrays)
    out["plain.npz"] = tmp_path / "plain.npz"
    out["compressed.npz"] = tmp_path / "compressed.npz"
    return out


def test_contract_on_every_dtype_and_layout(files: dict[str, Path], tmp_path: Path) -> None:
    netray.testing.check_plugin(plugin, list(files.values()), tmp_path / "check")


def test_npy_files_give_what_np_load_gives(files: dict[str, Path], arrays: dict[str, np.ndarray]) -> None:
    for name, array in arrays.items():
        model = netray.load_model(files[name])
        assert model.format == "NumPy array"
        assert model.graphs == [] and list(model.tensors) == [name]
        tensor = model.tensors[name]
        assert tensor.shape == array.shape
        assert_same(tensor.numpy(), np.load(files[name]))
        assert_same(tensor.numpy(), array)


@pytest.mark.parametrize("archive", ["plain.npz", "compressed.npz"])
def test_npz_members_become_named_tensors(files: dict[str, Path], arrays: dict[str, np.ndarray], archive: str) -> None:
    model = netray.load_model(files[archive])
    assert model.format == "NumPy archive"
    assert model.graphs == []
    assert list(model.tensors) == list(arrays)
    with np.load(files[archive]) as npz:
        for name, tensor in model.tensors.items():
            assert_same(tensor.numpy(), npz[name])
    assert model.properties["compressed"] is (archive == "compressed.npz")
    assert model.properties["tensors"] == len(arrays)


def test_dtype_names_and_metadata(files: dict[str, Path]) -> None:
    tensors = netray.load_model(files["plain.npz"]).tensors
    expected = {
        "bool": "bool",
        "int8": "int8",
        "uint64": "uint64",
        "float16": "float16",
        "complex128": "complex128",
        "unicode": "string",
        "bytes": "string",
        "void": "void64",
        "datetime": "datetime64[m]",
        "timedelta": "timedelta64[ms]",
        "big_endian": "int32",
        "records": "struct",
    }
    for name, dtype in expected.items():
        assert tensors[name].dtype == dtype, name
    assert tensors["big_endian"].metadata["byte order"] == "big-endian"
    assert tensors["big_endian"].metadata["descr"] == ">i4"
    assert tensors["fortran"].metadata["fortran_order"] is True
    assert tensors["records"].metadata["fields"] == ["id: <i4 @ 0", "pos: >f8[3] @ 4", "name: |S4 @ 28", "inner: [('a', '|u1'), ('b', '<f2')] @ 32"]
    assert tensors["records"].metadata["byte order"] == "mixed"
    assert tensors["scalar"].shape == () and tensors["empty"].shape == (0, 7)
    assert tensors["float32"].byte_size == 4 * 3 * 4


def test_stored_members_are_memory_mapped_where_they_lie(files: dict[str, Path], arrays: dict[str, np.ndarray]) -> None:
    """A stored member's location is its data's offset in the zip: the bytes there are the array's."""
    tensor = netray.load_model(files["plain.npz"]).tensors["float32"]
    offset = int(tensor.location.rsplit("@", 1)[1])
    raw = files["plain.npz"].read_bytes()[offset : offset + tensor.byte_size]  # type: ignore[operator]
    np.testing.assert_array_equal(np.frombuffer(raw, "<f4").reshape(4, 3), arrays["float32"])
    assert isinstance(tensor.numpy().base, memoryview) or tensor.numpy().base is not None


def test_slashed_and_dotted_member_names(tmp_path: Path) -> None:
    weights = {"encoder/layer.0/weight": np.ones((2, 2), np.float32), "encoder.layer.1.bias": np.zeros(2, np.float32)}
    np.savez(tmp_path / "tree.npz", **weights)
    model = netray.load_model(tmp_path / "tree.npz")
    assert sorted(model.tensors) == sorted(weights)
    assert model.parameter_count() == 6


@pytest.mark.filterwarnings("ignore:Stored array in format")
def test_header_versions_2_and_3(tmp_path: Path) -> None:
    """numpy writes 2.0 for headers above 65,535 bytes and 3.0 for field names beyond latin-1."""
    wide = np.zeros(2, dtype=[(f"field_{i:05d}", "<f4") for i in range(4000)])
    unicode_fields = np.zeros(3, dtype=[("größe✓", "<i2"), ("模型", "<f8")])
    for name, array, version in (("v2", wide, (2, 0)), ("v3", unicode_fields, (3, 0))):
        path = tmp_path / f"{name}.npy"
        np.save(path, array)
        with open(path, "rb") as f:
            assert np.lib.format.read_magic(f) == version
        tensor = netray.load_model(path).tensors[name]
        assert tensor.metadata["npy version"] == f"{version[0]}.{version[1]}"
        np.testing.assert_array_equal(tensor.numpy(), np.load(path, max_header_size=1 << 18))
    assert netray.load_model(tmp_path / "v3.npy").tensors["v3"].metadata["fields"] == ["größe✓: <i2 @ 0", "模型: <f8 @ 2"]


def test_object_arrays_are_listed_never_read(tmp_path: Path) -> None:
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, [2, 3]], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "mixed.npz", weights=np.ones(3), objects=np.array([None, "x"], dtype=object))
    for path, name in ((tmp_path / "objects.npy", "objects"), (tmp_path / "mixed.npz", "objects")):
        model = netray.load_model(path)
        tensor = model.tensors[name]
        assert tensor.dtype == "object" and tensor.shape == (2,)
        with pytest.raises(FormatError, match=r"holds Python objects .*never unpickles"):
            tensor.numpy()
        assert model.properties["object arrays (not read)"] == 1
    np.testing.assert_array_equal(netray.load_model(tmp_path / "mixed.npz").tensors["weights"].numpy(), np.ones(3))


def test_cli_info_lists_the_archive(files: dict[str, Path]) -> None:
    """`netray info` on an archive: its format and tensors, in a fresh process as a user runs it."""
    command = [sys.executable, "-c", "from netray.cli import main; main()", "info", str(files["compressed.npz"])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    assert "NumPy archive" in done.stdout and "float32" in done.stdout
