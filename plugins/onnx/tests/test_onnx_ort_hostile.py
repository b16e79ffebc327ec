"""Truncated, corrupt and hostile ORT flatbuffers: one FormatError line naming the file, never a hang.

Hostile files are built with the ``flatbuffers`` package's Builder, table by table as ``ort.fbs``
lays them out, so each case is a well-formed flatbuffer except for the one fault it carries.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from netray import FormatError, Model
from netray.plugins import PluginManager
from netray_onnx import plugin
from netray_onnx.formats import ORT_FORMAT

flatbuffers = pytest.importorskip("flatbuffers")

Build = Callable[[Any], int]


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "onnx")
    return pm


def load(path: Path) -> Model:
    return manager().load(path)


def one_line_error(path: Path, match: str = "") -> str:
    with pytest.raises(FormatError) as caught:
        load(path)
    text = str(caught.value)
    assert "\n" not in text and str(path) in text, text
    assert match in text, text
    return text


class Ort:
    """Tables of ort.fbs written with flatbuffers.Builder (slots as the schema declares them)."""

    def __init__(self) -> None:
        self.b = flatbuffers.Builder(1024)

    def table(self, fields: dict[int, tuple[str, Any]]) -> int:
        """A table from {slot: (kind, value)}; kind "off" for offsets, else a Prepend<kind>Slot scalar."""
        b = self.b
        b.StartObject(max(fields, default=-1) + 1)
        for slot, (kind, value) in fields.items():
            if kind == "off":
                b.PrependUOffsetTRelativeSlot(slot, value, 0)
            else:
                getattr(b, f"Prepend{kind}Slot")(slot, value, -12345)  # an unlikely default: always written
        return int(b.EndObject())

    def offsets(self, items: list[int]) -> int:
        b = self.b
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return int(b.EndVector())

    def strings(self, texts: list[str]) -> int:
        return self.offsets([self.b.CreateString(t) for t in texts])

    def int64s(self, values: list[int]) -> int:
        b = self.b
        b.StartVector(8, len(values), 8)
        for v in reversed(values):
            b.PrependInt64(v)
        return int(b.EndVector())

    def node(self, op: str, inputs: list[str], outputs: list[str], attributes: list[int] = ()) -> int:  # type: ignore[assignment]
        fields: dict[int, tuple[str, Any]] = {
            5: ("off", self.b.CreateString(op)),
            8: ("off", self.strings(inputs)),
            9: ("off", self.strings(outputs)),
        }
        if attributes:
            fields[10] = ("off", self.offsets(list(attributes)))
        return self.table(fields)

    def graph_attribute(self, name: str, graphs: list[int]) -> int:
        if len(graphs) == 1:
            return self.table({0: ("off", self.b.CreateString(name)), 2: ("Int32", 5), 7: ("off", graphs[0])})
        return self.table({0: ("off", self.b.CreateString(name)), 2: ("Int32", 10), 12: ("off", self.offsets(graphs))})

    def graph(self, nodes: list[int], inputs: list[str] = (), outputs: list[str] = (), initializers: list[int] = ()) -> int:  # type: ignore[assignment]
        fields: dict[int, tuple[str, Any]] = {2: ("off", self.offsets(nodes))}
        if initializers:
            fields[0] = ("off", self.offsets(list(initializers)))
        fields[5] = ("off", self.strings(list(inputs)))
        fields[6] = ("off", self.strings(list(outputs)))
        return self.table(fields)

    def finish(self, graph: int | None, path: Path, with_model: bool = True) -> Path:
        b = self.b
        model_fields: dict[int, tuple[str, Any]] = {0: ("Int64", 8), 2: ("off", b.CreateString("hostile"))}
        if graph is not None:
            model_fields[7] = ("off", graph)
        model = self.table(model_fields)
        session: dict[int, tuple[str, Any]] = {0: ("off", b.CreateString("6"))}
        if with_model:
            session[1] = ("off", model)
        b.Finish(self.table(session), file_identifier=b"ORTM")
        path.write_bytes(bytes(b.Output()))
        return path


def simple(ort: Ort, tensor: int | None = None) -> int:
    relu = ort.node("Relu", ["x"], ["y"])
    return ort.graph([relu], ["x"], ["y"], [tensor] if tensor is not None else [])


def test_a_built_file_opens(tmp_path: Path) -> None:
    """The builder's own files are valid: the hostile cases below differ by their one fault."""
    ort = Ort()
    raw = ort.b.CreateByteVector(np.arange(6, dtype=np.float32).tobytes())
    tensor = ort.table({0: ("off", ort.b.CreateString("w")), 2: ("off", ort.int64s([2, 3])), 3: ("Int32", 1), 4: ("off", raw)})
    model = load(ort.finish(simple(ort, tensor), tmp_path / "ok.ort"))
    assert model.format == ORT_FORMAT and [n.op for n in model.main.nodes] == ["Relu"]
    np.testing.assert_array_equal(model.main.values["w"].initializer.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))  # type: ignore[union-attr]


def test_external_initializers_are_listed_not_read(tmp_path: Path) -> None:
    ort = Ort()
    tensor = ort.table({0: ("off", ort.b.CreateString("big")), 2: ("off", ort.int64s([4])), 3: ("Int32", 1), 6: ("Int64", 0)})
    weight = load(ort.finish(simple(ort, tensor), tmp_path / "external.ort")).main.values["big"].initializer
    assert weight is not None and not weight.has_data and "outside the .ort file" in weight.location
    assert weight.shape == (4,) and weight.metadata["external_data_offset"] == "0"


def test_raw_data_shorter_than_the_shape(tmp_path: Path) -> None:
    ort = Ort()
    raw = ort.b.CreateByteVector(bytes(400))
    tensor = ort.table({0: ("off", ort.b.CreateString("w")), 2: ("off", ort.int64s([1000])), 3: ("Int32", 1), 4: ("off", raw)})
    weight = load(ort.finish(simple(ort, tensor), tmp_path / "short.ort")).main.values["w"].initializer
    assert weight is not None
    with pytest.raises(FormatError, match="needs 4000 bytes"):
        weight.numpy()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no model", "holds no model"),
        ("no graph", "holds no graph"),
        ("negative dimension", "negative dimension"),
        ("unknown attribute type", "unknown type 99"),
    ],
)
def test_missing_and_impossible_fields(tmp_path: Path, case: str, reason: str) -> None:
    ort = Ort()
    graph: int | None
    if case == "negative dimension":
        tensor = ort.table({0: ("off", ort.b.CreateString("w")), 2: ("off", ort.int64s([-4])), 3: ("Int32", 1)})
        graph = simple(ort, tensor)
    elif case == "unknown attribute type":
        attribute = ort.table({0: ("off", ort.b.CreateString("alpha")), 2: ("Int32", 99)})
        graph = ort.graph([ort.node("Relu", ["x"], ["y"], [attribute])], ["x"], ["y"])
    else:
        graph = None if case == "no graph" else simple(ort)
    path = ort.finish(graph, tmp_path / "bad.ort", with_model=case != "no model")
    one_line_error(path, reason)


def test_subgraphs_nested_too_deep(tmp_path: Path) -> None:
    ort = Ort()
    graph = ort.graph([ort.node("Relu", ["x"], ["y"])])
    for _ in range(100):
        graph = ort.graph([ort.node("If", ["c"], ["y"], [ort.graph_attribute("then_branch", [graph])])])
    one_line_error(ort.finish(graph, tmp_path / "deep.ort"), "nest more than 32 deep")


def test_shared_subgraphs_cannot_blow_up_the_work(tmp_path: Path) -> None:
    """Each level lists the level below 300 times: 300**4 graphs from a file of a few kB."""
    ort = Ort()
    graph = ort.graph([ort.node("Relu", ["x"], ["y"])])
    for _ in range(4):
        graph = ort.graph([ort.node("If", ["c"], ["y"], [ort.graph_attribute("branches", [graph] * 300)])])
    path = ort.finish(graph, tmp_path / "bomb.ort")
    assert path.stat().st_size < 20_000
    one_line_error(path, "referenced far more often than its size allows")


def test_hostile_offsets_and_lengths(tmp_path: Path) -> None:
    ort = Ort()
    path = ort.finish(simple(ort), tmp_path / "good.ort")
    data = path.read_bytes()
    root = struct.unpack_from("<I", data, 0)[0]
    cases = {
        "root past the end": (struct.pack("<I", len(data) + 100) + data[4:], "runs past the end"),
        "vtable before the start": (data[:root] + struct.pack("<i", root + 1000) + data[root + 4 :], "lies before the start"),
        "odd vtable size": (data[:root] + struct.pack("<i", 0) + data[root + 4 :], ""),
        "identifier": (data[:4] + b"ORTX" + data[8:], ""),
    }
    for label, (content, reason) in cases.items():
        bad = tmp_path / f"{label.replace(' ', '_')}.ort"
        bad.write_bytes(content)
        one_line_error(bad, reason)


def test_a_vector_claiming_more_items_than_the_file_holds(tmp_path: Path) -> None:
    ort = Ort()
    path = ort.finish(simple(ort), tmp_path / "good.ort")
    data = bytearray(path.read_bytes())
    needle = struct.pack("<I", 1) + struct.pack("<I", 4)  # a one-item vector of offsets, its item 4 bytes on
    at = bytes(data).find(needle)
    assert at > 0
    data[at : at + 4] = struct.pack("<I", 0x3FFFFFFF)
    path.write_bytes(bytes(data))
    one_line_error(path, "claims")


@pytest.fixture(scope="module")
def real_ort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model written by onnxruntime's converter."""
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((16, 16)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), helper.make_node("Relu", ["h"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), folder / "m.onnx")
    command = [sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(folder / "m.onnx")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return folder / "m.ort"


def test_truncated_real_file(real_ort: Path, tmp_path: Path) -> None:
    data = real_ort.read_bytes()
    for cut in sorted({0, 3, 7, 8, 12, *range(16, len(data), max(1, len(data) // 60))}):
        bad = tmp_path / "cut.ort"
        bad.write_bytes(data[:cut])
        if cut == 0:
            shutil.copy(bad, tmp_path / "empty.ort")
        try:
            model = load(bad)
        except FormatError as exc:
            assert "\n" not in str(exc)
            continue
        for _, tensor in model.all_tensors():  # a cut inside a weight opens; reading it says what is wrong
            with pytest.raises(FormatError):
                tensor.numpy()


def test_corrupted_real_file(real_ort: Path, tmp_path: Path) -> None:
    data = real_ort.read_bytes()
    rng = np.random.default_rng(7)
    for k in range(150):
        position = int(rng.integers(8, len(data)))
        corrupt = bytearray(data)
        corrupt[position] ^= int(rng.integers(1, 256))
        bad = tmp_path / f"flip{k}.ort"
        bad.write_bytes(bytes(corrupt))
        try:
            model = load(bad)
        except FormatError as exc:
            assert "\n" not in str(exc)
            continue
        for _, tensor in model.all_tensors():
            try:
                tensor.numpy()
            except FormatError:
                pass


def test_not_an_ort_file(tmp_path: Path) -> None:
    path = tmp_path / "text.ort"
    path.write_bytes(b"not a flatbuffer at all\n" * 10)
    one_line_error(path, "ORTM")
