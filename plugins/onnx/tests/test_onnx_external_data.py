"""External data: read lazily from files inside the model's folder; never anything outside it."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import netray

WEIGHT = np.arange(2048, dtype=np.float32).reshape(32, 64)


def write_model(folder: Path, location: str, offset: int = 0, length: int | None = None) -> Path:
    """A model whose weight ``w`` points at ``location`` (written by hand: onnx refuses bad paths)."""
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=list(WEIGHT.shape))
    tensor.data_location = TensorProto.EXTERNAL
    entries = {"location": location, "offset": str(offset)}
    if length is not None:
        entries["length"] = str(length)
    for key, value in entries.items():
        tensor.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [tensor],
    )
    path = folder / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), path)
    return path


def test_onnx_saved_external_data_reads_back(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [numpy_helper.from_array(WEIGHT, "w")],
    )
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph), path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    tensor = netray.load_model(path).main.values["w"].initializer
    assert tensor is not None and tensor.location.startswith("weights.bin @ ")
    assert np.array_equal(tensor.numpy(), WEIGHT)


def test_external_data_is_read_only_on_request(tmp_path: Path) -> None:
    data = tmp_path / "weights.bin"
    data.write_bytes(b"\0" * 16 + WEIGHT.tobytes())
    tensor = netray.load_model(write_model(tmp_path, "weights.bin", offset=16)).main.values["w"].initializer
    assert tensor is not None and tensor.byte_size == WEIGHT.nbytes
    # The values come from the file as it is when they are asked for, not when the model opened.
    data.write_bytes(b"\0" * 16 + (WEIGHT * 2).tobytes())
    assert np.array_equal(tensor.numpy(), WEIGHT * 2)
    data.unlink()
    with pytest.raises(netray.FormatError, match="not found"):
        tensor.numpy()


def test_external_data_in_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "w.bin").write_bytes(WEIGHT.tobytes())
    tensor = netray.load_model(write_model(tmp_path, "data/w.bin")).main.values["w"].initializer
    assert tensor is not None and np.array_equal(tensor.numpy(), WEIGHT)


def test_external_data_past_the_end_of_its_file(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(WEIGHT.tobytes()[:100])
    tensor = netray.load_model(write_model(tmp_path, "w.bin", offset=0, length=WEIGHT.nbytes)).main.values["w"].initializer
    with pytest.raises(netray.FormatError, match="past the end"):
        tensor.numpy()  # type: ignore[union-attr]


@pytest.fixture
def opened_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened through builtins.open or os.open from now on."""
    seen: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(os.fspath(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    return seen


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "symlinked-folder"])
def test_external_data_outside_the_folder_is_refused_unopened(
    tmp_path: Path, kind: str, opened_paths: list[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.bin"
    secret.write_bytes(WEIGHT.tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    if kind == "absolute":
        location = str(secret)
    elif kind == "dotdot":
        location = "../outside/secret.bin"
    elif kind == "symlink":
        (folder / "link.bin").symlink_to(secret)
        location = "link.bin"
    else:
        (folder / "sub").symlink_to(outside, target_is_directory=True)
        location = "sub/secret.bin"
    path = write_model(folder, location)
    opened_paths.clear()
    model = netray.load_model(path)  # the model still opens
    tensor = model.main.values["w"].initializer
    assert tensor is not None
    with pytest.raises(netray.FormatError, match="model's folder"):
        tensor.numpy()
    assert not any("secret" in p or "link.bin" in p or "sub" in Path(p).parts for p in opened_paths), opened_paths
    assert [n.op for n in model.main.nodes] == ["MatMul"]


def test_external_data_of_an_in_memory_proto_needs_a_folder(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(WEIGHT.tobytes())
    proto = onnx.load(write_model(tmp_path, "w.bin"), load_external_data=False)
    without = netray.load_model(proto).main.values["w"].initializer
    with pytest.raises(netray.FormatError, match="no folder"):
        without.numpy()  # type: ignore[union-attr]
    with_folder = netray.load_model(proto, base_dir=tmp_path).main.values["w"].initializer
    assert np.array_equal(with_folder.numpy(), WEIGHT)  # type: ignore[union-attr]
