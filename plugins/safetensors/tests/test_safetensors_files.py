"""The safetensors plugin on the real files and on files the safetensors library writes (numpy and torch).

Values are compared with what was saved, or with what the safetensors library itself
reads back from the same file.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import netray
import netray.testing
from netray.plugins import PluginManager

netray_safetensors = pytest.importorskip("netray_safetensors")
from netray_safetensors import plugin  # noqa: E402

st_numpy = pytest.importorskip("safetensors.numpy")


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "safetensors")
    return pm


def real_files(root: Path) -> list[Path]:
    return sorted((root / "safetensors").rglob("*.safetensors"))


def header_of(path: Path) -> dict:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n])


def test_contract_on_the_real_files(shared_models: Path, tmp_path: Path) -> None:
    files = real_files(shared_models)
    assert len(files) == 5
    models = netray.testing.check_plugin(plugin, files, tmp_path)
    for path, model in zip(files, models, strict=True):
        assert model.format == "safetensors" and model.graphs == [] and model.weights_only
        saved = st_numpy.load_file(str(path))  # the format's own reader
        assert list(model.tensors) == [k for k in header_of(path) if k != "__metadata__"]
        for name, tensor in model.tensors.items():
            assert np.array_equal(tensor.numpy(), saved[name]) and tensor.numpy().dtype == saved[name].dtype


def test_the_hf_samples_show_every_dtype_and_their_metadata(shared_models: Path) -> None:
    model = manager().load(shared_models / "safetensors/hf_safetensors_samples/overall.safetensors")
    dtypes = {name: (t.dtype, t.shape, t.metadata["dtype"]) for name, t in model.tensors.items()}
    assert dtypes == {
        "B": ("uint8", (6,), "U8"),
        "H": ("uint16", (6,), "U16"),
        "I": ("uint32", (6,), "U32"),
        "b": ("int8", (6,), "I8"),
        "d": ("float64", (6,), "F64"),
        "e": ("float16", (6,), "F16"),
        "f": ("float32", (6,), "F32"),
        "h": ("int16", (6,), "I16"),
        "i": ("int32", (6,), "I32"),
    }
    assert model.metadata == {"test": "a"}
    assert model.properties["tensors"] == 9 and model.properties["parameters"] == 54
    assert model.properties["tensor bytes"] == 168 == sum(t.byte_size or 0 for t in model.tensors.values())
    assert "unused data bytes" not in model.properties and "shard" not in model.properties
    # Independently: the f tensor's bytes straight from the file, at the offsets the header gives.
    raw = (shared_models / "safetensors/hf_safetensors_samples/overall.safetensors").read_bytes()
    start = 8 + struct.unpack("<Q", raw[:8])[0]
    assert np.array_equal(model.tensors["f"].numpy(), np.frombuffer(raw[start + 108 : start + 132], "<f4"))
    assert model.tensors["f"].location == f"overall.safetensors @ {start + 108}"


def test_the_tinygrad_mlp(shared_models: Path) -> None:
    path = shared_models / "safetensors/mnist_tinygrad/mnist_tinygrad_model.safetensors"
    model = netray.load_model(path)  # through the installed entry point
    assert {n: (t.dtype, t.shape) for n, t in model.tensors.items()} == {
        "l1.weight": ("float32", (128, 784)),
        "l2.weight": ("float32", (10, 128)),
    }
    assert model.metadata == {}
    assert model.parameter_count() == 128 * 784 + 10 * 128 == model.properties["parameters"]
    assert model.properties["bytes by dtype"] == "float32: 406,528 bytes in 2 tensors"
    weights = model.tensors["l2.weight"].numpy()
    assert not weights.flags.writeable  # a read-only memory map of the file, not a copy
    assert np.array_equal(weights, st_numpy.load_file(str(path))["l2.weight"])


def test_numpy_dtypes_metadata_and_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays = {
        "model.embed_tokens.weight": rng.standard_normal((5, 3)).astype(np.float64),
        "model.layers.0.self_attn.q_proj.weight": rng.standard_normal((3, 3)).astype(np.float32),
        "model.layers.0.self_attn.q_proj.bias": rng.standard_normal(3).astype(np.float16),
        "i64": rng.integers(-(2**62), 2**62, 4, dtype=np.int64),
        "i32": rng.integers(-(2**31), 2**31 - 1, 4, dtype=np.int32),
        "i16": rng.integers(-(2**15), 2**15 - 1, 4, dtype=np.int16),
        "i8": rng.integers(-128, 127, 4, dtype=np.int8),
        "u64": rng.integers(0, 2**63, 4, dtype=np.uint64),
        "u32": rng.integers(0, 2**32 - 1, 4, dtype=np.uint32),
        "u16": rng.integers(0, 2**16 - 1, 4, dtype=np.uint16),
        "u8": rng.integers(0, 255, (2, 2), dtype=np.uint8),
        "mask": np.array([[True, False], [False, True]]),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    metadata = {"format": "np", "config": json.dumps({"hidden": 3, "layers": [1, 2]})}
    path = tmp_path / "all.safetensors"
    st_numpy.save_file(arrays, str(path), metadata=metadata)
    model = netray.testing.check_load(plugin, path, tmp_path / "checked")
    assert list(model.tensors) == [k for k in header_of(path) if k != "__metadata__"]  # file order
    assert set(model.tensors) == set(arrays)
    for name, array in arrays.items():
        got = model.tensors[name].numpy()
        assert got.dtype == array.dtype and got.shape == array.shape and np.array_equal(got, array), name
    assert model.tensors["scalar"].shape == () and model.tensors["empty"].byte_size == 0
    assert model.metadata == metadata  # a value holding JSON text stays that text
    assert model.properties["tensors"] == len(arrays)
    assert model.properties["parameters"] == sum(a.size for a in arrays.values())


def test_torch_bf16_fp8_fp4_and_complex(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    packed_fp4 = torch.tensor([[0x21, 0xF3], [0x00, 0x7A]], dtype=torch.uint8)
    tensors = {
        "bf16": torch.randn(3, 4).to(torch.bfloat16),
        "e4m3": torch.randn(5).to(torch.float8_e4m3fn),
        "e5m2": torch.randn(5).to(torch.float8_e5m2),
        "e8m0": torch.tensor([1.0, 2.0, 0.25, 1024.0]).to(torch.float8_e8m0fnu),
        "e4m3fnuz": torch.randn(4).to(torch.float8_e4m3fnuz),
        "e5m2fnuz": torch.randn(4).to(torch.float8_e5m2fnuz),
        "fp4": packed_fp4.view(torch.float4_e2m1fn_x2),
        "c64": torch.randn(2, dtype=torch.complex64),
    }
    path = tmp_path / "torch.safetensors"
    st_torch.save_file(tensors, str(path), metadata={"format": "pt"})
    model = netray.testing.check_load(plugin, path, tmp_path / "checked")
    expected = {
        "bf16": ("bfloat16", (3, 4), "BF16"),
        "e4m3": ("float8_e4m3fn", (5,), "F8_E4M3"),
        "e5m2": ("float8_e5m2", (5,), "F8_E5M2"),
        "e8m0": ("float8_e8m0fnu", (4,), "F8_E8M0"),
        "e4m3fnuz": ("float8_e4m3fnuz", (4,), "F8_E4M3FNUZ"),
        "e5m2fnuz": ("float8_e5m2fnuz", (4,), "F8_E5M2FNUZ"),
        "fp4": ("float4_e2m1fn", (2, 4), "F4"),  # the header counts elements: two a byte
        "c64": ("complex64", (2,), "C64"),
    }
    assert {n: (t.dtype, t.shape, t.metadata["dtype"]) for n, t in model.tensors.items()} == expected
    assert model.metadata == {"format": "pt"}
    bf16 = model.tensors["bf16"].numpy()
    assert bf16.dtype == ml_dtypes.bfloat16
    assert np.array_equal(bf16.astype(np.float32), tensors["bf16"].float().numpy())
    for name in ("e4m3", "e5m2", "e8m0", "e4m3fnuz", "e5m2fnuz"):
        got = model.tensors[name].numpy()
        assert got.dtype == getattr(ml_dtypes, expected[name][0])
        assert np.array_equal(got.view(np.uint8), tensors[name].view(torch.uint8).numpy()), name  # same bits
        assert np.array_equal(got.astype(np.float32), tensors[name].float().numpy(), equal_nan=True), name
    assert model.tensors["e8m0"].numpy().astype(np.float32).tolist() == [1.0, 2.0, 0.25, 1024.0]
    fp4 = model.tensors["fp4"].numpy()
    assert fp4.dtype == ml_dtypes.float4_e2m1fn and fp4.shape == (2, 4) and model.tensors["fp4"].byte_size == 4
    # Low nibble first: 0x21 holds 0.5 (0x1) then 1.0 (0x2); 0xF3 holds 1.5 then -6; 0x7A holds -1 then 6.
    assert fp4.astype(np.float32).tolist() == [[0.5, 1.0, 1.5, -6.0], [0.0, 0.0, -1.0, 6.0]]
    assert np.array_equal(model.tensors["c64"].numpy(), tensors["c64"].numpy())
    assert model.properties["bytes by dtype"].startswith("bfloat16: 24 bytes in 1 tensor; complex64: 16 bytes in 1 tensor; ")  # largest first


def test_weights_are_read_on_request_not_at_open(tmp_path: Path) -> None:
    path = tmp_path / "lazy.safetensors"
    st_numpy.save_file({"w": np.arange(6, dtype=np.float32)}, str(path))
    model = manager().load(path)
    data = bytearray(path.read_bytes())
    data[-24:] = np.full(6, 7, dtype="<f4").tobytes()  # rewrite the values after opening
    path.write_bytes(bytes(data))
    assert model.tensors["w"].numpy().tolist() == [7.0] * 6


def test_the_cli_describes_and_exports_a_file(shared_models: Path, tmp_path: Path) -> None:
    path = shared_models / "safetensors/mnist_tinygrad/mnist_tinygrad_model.safetensors"
    cli = [sys.executable, "-m", "netray.cli"]
    info = subprocess.run([*cli, "info", str(path), "--json"], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert summary["format"] == "safetensors" and summary["parameters"] == 101_632 and summary["graphs"] == []
    out = tmp_path / "mlp.json"
    export = subprocess.run([*cli, "export", str(path), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert export.returncode == 0, export.stderr
    assert "l1.weight" in out.read_text()
