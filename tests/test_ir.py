"""The core IR: lazy tensors, linking, counting, text forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netray
from netray import Attribute, AttrKind, Graph, Model, Node, Port, Tensor, TensorType, file_slice_loader, shape_text


def test_shape_text_covers_symbolic_unknown_and_scalar() -> None:
    assert shape_text((1, 3, "h", None)) == "1x3xhx?"
    assert shape_text(()) == "scalar"
    assert shape_text(None) == "?"
    # torch.export's sizes such as s17 + s77 keep to one dimension of the text
    assert shape_text(("s17 + s77", 3, "2*s0", "batch_size")) == "(s17 + s77)x3x(2*s0)xbatch_size"
    assert shape_text(("(s0//2)", 4)) == "(s0//2)x4"
    assert str(TensorType("float32", ("batch", 8))) == "float32[batchx8]"


def test_file_slice_loader_reads_on_request_only(tmp_path: Path) -> None:
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "blob.bin"
    path.write_bytes(b"HEADER__" + data.tobytes())
    tensor = Tensor("w", "float32", (3, 4), file_slice_loader(path, 8, data.nbytes, "float32", (3, 4)))
    # The bytes change after the tensor was made: the loader must read them now, not earlier.
    path.write_bytes(b"HEADER__" + (data * 2).tobytes())
    np.testing.assert_array_equal(tensor.numpy(), data * 2)
    assert tensor.size == 12


def test_file_slice_loader_refuses_reads_past_the_end(tmp_path: Path) -> None:
    path = tmp_path / "short.bin"
    path.write_bytes(b"\0" * 16)
    tensor = Tensor("w", "float32", (1000,), file_slice_loader(path, 0, 4000, "float32", (1000,)))
    with pytest.raises(netray.FormatError, match="past the end"):
        tensor.numpy()
    lying = Tensor("w", "float32", (8,), file_slice_loader(path, 0, 16, "float32", (8,)))
    with pytest.raises(netray.FormatError, match="needs 32 bytes"):
        lying.numpy()


def test_tensor_without_data_says_so() -> None:
    with pytest.raises(netray.FormatError, match="not stored"):
        Tensor("w", "float32", (2,)).numpy()


def _small_graph() -> Graph:
    g = Graph("main", kind="main")
    x = g.value("x", TensorType("float32", (1, 4)))
    w = g.value("w", TensorType("float32", (4, 4)))
    w.initializer = Tensor("w", "float32", (4, 4), lambda: np.eye(4, dtype=np.float32))
    y = g.value("y")
    z = g.value("z")
    g.add_node(Node("MatMul", "mm", inputs=[Port("A", [x]), Port("B", [w])], outputs=[Port("Y", [y])]))
    g.add_node(
        Node(
            "Relu",
            "relu",
            inputs=[Port("X", [y])],
            outputs=[Port("Y", [z])],
            attributes=[Attribute("alpha", AttrKind.FLOAT, 0.5)],
        )
    )
    g.inputs, g.outputs = [x], [z]
    return g.link()


def test_link_fills_producers_and_consumers() -> None:
    g = _small_graph()
    mm, relu = g.nodes
    assert g.values["y"].producer is mm
    assert g.values["y"].consumers == [relu]
    assert [v.name for v in mm.weights()] == ["w"]
    assert relu.attribute("alpha") is not None
    assert relu.attribute("missing") is None


def test_model_counts_parameters_once_across_graphs() -> None:
    g = _small_graph()
    model = Model("Test", [g])
    body = Graph("body", kind="subgraph")
    body.values["w"] = g.values["w"]  # the same weight seen from a subgraph
    g.nodes[0].subgraphs.append(body)
    assert model.parameter_count() == 16
    assert [x.name for x in model.all_graphs()] == ["main", "body"]


def test_attribute_of_plain_values_infers_the_kind() -> None:
    assert Attribute.of("a", True) == Attribute("a", AttrKind.BOOL, True)
    assert Attribute.of("a", np.int64(3)) == Attribute("a", AttrKind.INT, 3)
    assert Attribute.of("a", 0.5) == Attribute("a", AttrKind.FLOAT, 0.5)
    assert Attribute.of("a", b"relu") == Attribute("a", AttrKind.STRING, "relu")
    assert Attribute.of("a", b"\xff\xfe") == Attribute("a", AttrKind.STRING, "<2 bytes>")
    assert Attribute.of("a", "x" * 10, max_text=5) == Attribute("a", AttrKind.STRING, "xxxx…")
    assert Attribute.of("a", (1, 2)) == Attribute("a", AttrKind.INTS, [1, 2])
    assert Attribute.of("a", [1, 2.5]) == Attribute("a", AttrKind.FLOATS, [1.0, 2.5])
    assert Attribute.of("a", ["x", "y"]) == Attribute("a", AttrKind.STRINGS, ["x", "y"])
    assert Attribute.of("a", [True, False]) == Attribute("a", AttrKind.BOOLS, [True, False])
    assert Attribute.of("a", {"k": 1}) is None
    assert Attribute.of("a", [1, None]) is None
