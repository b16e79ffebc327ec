"""ONNX plugin: attributes of every type, subgraphs, functions, metadata, quantization, dtypes.

Models are built with ``onnx.helper`` (the library's own writer) and saved to
files, so each test goes through sniffing, the wire pass and the reader.
"""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import netray
from netray import AttrKind, Category, Graph
from netray.plugins import get_manager
from netray.summary import model_summary
from netray_onnx import plugin
from netray_onnx.metadata import category_of

OPSET = [helper.make_opsetid("", 21)]


def save(tmp_path: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    path = tmp_path / name
    onnx.save(model, path)
    return path


def test_attributes_of_every_type(tmp_path: Path) -> None:
    tensor = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "t")
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([5.0, 7.0], np.float32), "sv"),
        numpy_helper.from_array(np.array([1, 4], np.int64), "si"),
        [2, 3],
    )
    body = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["b"])],
        "body",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])],
    )
    node = helper.make_node(
        "Everything",
        ["x"],
        ["y"],
        domain="test.custom",
        i=3,
        f=0.5,
        s=b"caf\xc3\xa9",
        raw=b"\xff\xfe",
        ints=[1, 2],
        floats=[0.25, 0.75],
        strings=[b"a", b"b"],
        t=tensor,
        ts=[tensor, tensor],
        g=body,
        gs=[body, body],
        sp=sparse,
        tp=helper.make_tensor_type_proto(TensorProto.INT64, ["n", 4]),
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[*OPSET, helper.make_opsetid("test.custom", 1)])
    n = netray.load_model(save(tmp_path, model)).main.nodes[0]
    kinds = {a.name: (a.kind, a.value) for a in n.attributes}
    assert kinds["i"] == (AttrKind.INT, 3)
    assert kinds["f"] == (AttrKind.FLOAT, 0.5)
    assert kinds["s"] == (AttrKind.STRING, "café")
    assert kinds["raw"][0] is AttrKind.STRING and isinstance(kinds["raw"][1], str)  # not UTF-8: still text
    assert kinds["ints"] == (AttrKind.INTS, [1, 2])
    assert kinds["floats"] == (AttrKind.FLOATS, [0.25, 0.75])
    assert kinds["strings"] == (AttrKind.STRINGS, ["a", "b"])
    assert kinds["t"][0] is AttrKind.TENSOR and np.array_equal(kinds["t"][1].numpy(), np.arange(6).reshape(2, 3))
    assert kinds["ts"][0] is AttrKind.TENSORS and len(kinds["ts"][1]) == 2
    assert kinds["g"][0] is AttrKind.GRAPH and isinstance(kinds["g"][1], Graph)
    assert kinds["gs"][0] is AttrKind.GRAPHS and len(kinds["gs"][1]) == 2
    assert kinds["sp"][0] is AttrKind.TENSOR
    assert np.array_equal(kinds["sp"][1].numpy(), np.array([[0, 5, 0], [0, 7, 0]], np.float32))
    assert kinds["tp"] == (AttrKind.OTHER, "int64[nx4]")
    # GRAPH/GRAPHS attributes are also the node's subgraphs, for the viewer to open.
    assert len(n.subgraphs) == 3 and all(g.kind == "subgraph" for g in n.subgraphs)
    assert n.category is Category.CUSTOM and n.domain == "test.custom"


def test_cast_target_is_a_dtype(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2])],
    )
    node = netray.load_model(save(tmp_path, helper.make_model(graph, opset_imports=OPSET))).main.nodes[0]
    to = node.attribute("to")
    assert to is not None and (to.kind, to.value) == (AttrKind.DTYPE, "float16")


def _if_loop_model() -> onnx.ModelProto:
    outer_scale = numpy_helper.from_array(np.array([2.0], np.float32), "scale")
    then_branch = helper.make_graph(
        [helper.make_node("Mul", ["x", "scale"], ["then_out"], name="then_mul")],  # x and scale from outside
        "then_branch",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [3])],
    )
    else_branch = helper.make_graph(
        [],
        "else_branch",
        [],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],  # the outer x, passed through
    )
    loop_body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "x"], ["acc_out"]),
        ],
        "loop_body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [3]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [3]),
        ],
    )
    graph = helper.make_graph(
        [
            helper.make_node("If", ["c"], ["y"], name="choose", then_branch=then_branch, else_branch=else_branch),
            helper.make_node("Loop", ["n", "c", "y"], ["z"], name="repeat", body=loop_body),
        ],
        "control",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("n", TensorProto.INT64, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3])],
        [outer_scale],
    )
    return helper.make_model(graph, opset_imports=OPSET)


def test_if_and_loop_bodies_are_subgraphs_with_implicit_inputs(tmp_path: Path) -> None:
    model = netray.load_model(save(tmp_path, _if_loop_model()))
    choose, repeat = model.main.nodes
    assert choose.category is Category.CONTROL and repeat.category is Category.CONTROL
    assert sorted(g.name for g in choose.subgraphs) == ["else_branch", "then_branch"]
    then_graph = choose.attribute("then_branch").value  # type: ignore[union-attr]
    assert then_graph in choose.subgraphs and then_graph.name == "then_branch"
    # Outer-scope values used in a branch are inputs of the branch, by name, typed from outside.
    implicit = {v.name: v for v in then_graph.inputs}
    assert set(implicit) == {"x", "scale"}
    assert implicit["x"].type.shape == (3,) and implicit["x"].metadata["implicit"]
    else_graph = choose.attribute("else_branch").value  # type: ignore[union-attr]
    assert [v.name for v in else_graph.inputs] == ["x"] and else_graph.outputs == else_graph.inputs
    (body,) = repeat.subgraphs
    assert [v.name for v in body.inputs] == ["i", "cond_in", "acc_in", "x"]
    assert {g.name for g in model.all_graphs()} == {"control", "then_branch", "else_branch", "loop_body"}
    # ... and flow into the node in the enclosing graph, so the main graph draws those edges.
    implicit_port = choose.inputs[-1]
    assert implicit_port.name == "implicit"
    assert {v.name for v in implicit_port.values} == {"x", "scale"}
    assert choose in model.main.values["x"].consumers
    assert [v.name for v in repeat.inputs[-1].values] == ["x"] and repeat in model.main.values["x"].consumers


def test_model_local_functions(tmp_path: Path) -> None:
    function = helper.make_function(
        "my.lib",
        "ScaledRelu",
        ["X", "S"],
        ["Y"],
        [helper.make_node("Mul", ["X", "S"], ["T"]), helper.make_node("Relu", ["T"], ["Y"])],
        [helper.make_opsetid("", 21)],
        attributes=["alpha"],
    )
    graph = helper.make_graph(
        [helper.make_node("ScaledRelu", ["x", "s"], ["y"], domain="my.lib", name="/block/act")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]), helper.make_tensor_value_info("s", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    proto = helper.make_model(graph, functions=[function], opset_imports=[*OPSET, helper.make_opsetid("my.lib", 1)])
    model = netray.load_model(save(tmp_path, proto))
    (fn,) = model.functions
    assert fn.kind == "function" and fn.name == "ScaledRelu" and fn.metadata["domain"] == "my.lib"
    assert [n.op for n in fn.nodes] == ["Mul", "Relu"]
    assert [v.name for v in fn.inputs] == ["X", "S"] and [v.name for v in fn.outputs] == ["Y"]
    call = model.main.nodes[0]
    assert (call.op, call.domain, call.scope) == ("ScaledRelu", "my.lib", ("block",))
    assert call.subgraphs == [fn]
    assert model.imports == {"ai.onnx": "21", "my.lib": "1"}
    assert model_summary(model)["functions"][0]["nodes"] == 2


def test_model_metadata(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="/encoder/layers.2/act/Relu", doc_string="why")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", None, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", None, 8])],
        doc_string="the main graph",
    )
    proto = helper.make_model(
        graph, producer_name="unit-test", producer_version="1.2", doc_string="a model", domain="org.test",
        model_version=7, opset_imports=OPSET,
    )
    helper.set_model_props(proto, {"author": "me", "license": "MIT"})
    proto.graph.node[0].metadata_props.add(key="origin", value="handmade")
    model = netray.load_model(save(tmp_path, proto))
    assert (model.format, model.format_version) == ("ONNX", f"v{proto.ir_version}")
    assert (model.producer, model.producer_version, model.description) == ("unit-test", "1.2", "a model")
    assert model.metadata == {"author": "me", "license": "MIT"}
    assert model.properties["domain"] == "org.test" and model.properties["model version"] == "7"
    assert model.main.description == "the main graph"
    assert model.main.inputs[0].type.shape == ("batch", None, 8)
    node = model.main.nodes[0]
    assert node.scope == ("encoder", "layers.2", "act") and node.doc == "why"
    assert node.metadata == {"origin": "handmade"}
    assert node.category is Category.ACTIVATION
    assert [p.name for p in node.inputs] == ["X"]  # port names from the ONNX schema


def test_sequence_map_optional_types(tmp_path: Path) -> None:
    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, None)
    opt = helper.make_value_info("o", helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.INT64, [2])))
    mp = helper.make_value_info("m", helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    graph = helper.make_graph(
        [helper.make_node("SequenceLength", ["s"], ["n"])],
        "g",
        [seq, opt, mp],
        [helper.make_tensor_value_info("n", TensorProto.INT64, [])],
    )
    main = netray.load_model(save(tmp_path, helper.make_model(graph, opset_imports=OPSET))).main
    assert [str(v.type.dtype) for v in main.inputs] == ["seq(float32)", "optional(int64)", "map(string,float32)"]
    assert main.outputs[0].type.shape == ()


def test_initializers_listed_as_inputs_stay_weights(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]), helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [w],
    )
    main = netray.load_model(save(tmp_path, helper.make_model(graph, opset_imports=OPSET))).main
    assert [v.name for v in main.inputs] == ["x"]
    assert main.values["w"].is_weight and main.nodes[0].weights() == [main.values["w"]]


def _quantized_model() -> onnx.ModelProto:
    def const(name: str, array: np.ndarray) -> TensorProto:
        return numpy_helper.from_array(array, name)

    inits = [
        const("x_scale", np.array(0.05, np.float32)),
        const("x_zp", np.array(3, np.uint8)),
        const("w_q", np.ones((4, 2, 3, 3), np.int8)),
        const("w_scale", np.array([0.1, 0.2, 0.3, 0.4], np.float32)),
        const("w_zp", np.zeros(4, np.int8)),
        const("y_scale", np.array(0.25, np.float32)),
        const("y_zp", np.array(128, np.uint8)),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["x_q"], name="quant"),
        helper.make_node("QLinearConv", ["x_q", "x_scale", "x_zp", "w_q", "w_scale", "w_zp", "y_scale", "y_zp"], ["y_q"]),
        helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zp"], ["y"], name="dequant"),
    ]
    graph = helper.make_graph(
        nodes,
        "quantized",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
        inits,
    )
    return helper.make_model(graph, opset_imports=OPSET)


def test_quantization_parameters(tmp_path: Path) -> None:
    proto = _quantized_model()
    onnx.checker.check_model(proto)
    model = netray.load_model(save(tmp_path, proto))
    values = model.main.values
    x_q = values["x_q"].quantization
    assert x_q is not None and list(x_q.scale) == [pytest.approx(0.05)] and list(x_q.zero_point) == [3]
    w_q = values["w_q"].quantization
    assert w_q is not None and list(w_q.scale) == pytest.approx([0.1, 0.2, 0.3, 0.4]) and w_q.axis == 1
    y_q = values["y_q"].quantization
    assert y_q is not None and list(y_q.zero_point) == [128]
    assert values["y"].quantization is None  # dequantized: plain float
    assert {n.category for n in model.main.nodes} == {Category.QUANTIZATION}


def test_quantization_annotation(tmp_path: Path) -> None:
    proto = _quantized_model()
    annotation = proto.graph.quantization_annotation.add(tensor_name="x")
    annotation.quant_parameter_tensor_names.add(key="SCALE_TENSOR", value="y_scale")
    annotation.quant_parameter_tensor_names.add(key="ZERO_POINT_TENSOR", value="y_zp")
    quantization = netray.load_model(save(tmp_path, proto)).main.values["x"].quantization
    assert quantization is not None and list(quantization.zero_point) == [128]


@pytest.mark.parametrize(
    "data_type, array",
    [
        (TensorProto.FLOAT, np.linspace(-1, 1, 4000, dtype=np.float32)),
        (TensorProto.FLOAT16, np.linspace(-1, 1, 4000).astype(np.float16)),
        (TensorProto.DOUBLE, np.linspace(-1, 1, 4000)),
        (TensorProto.INT64, np.arange(-300, 300, dtype=np.int64)),
        (TensorProto.UINT8, (np.arange(4000) % 256).astype(np.uint8)),
        (TensorProto.BOOL, np.arange(4000) % 3 == 0),
        (TensorProto.COMPLEX64, (np.arange(4000) + 1j).astype(np.complex64)),
        (TensorProto.BFLOAT16, np.linspace(-2, 2, 4000).astype(ml_dtypes.bfloat16)),
        (TensorProto.FLOAT8E4M3FN, np.linspace(-2, 2, 4000).astype(ml_dtypes.float8_e4m3fn)),
        (TensorProto.INT4, (np.arange(4001) % 16 - 8).astype(ml_dtypes.int4)),
        (TensorProto.UINT4, (np.arange(4001) % 16).astype(ml_dtypes.uint4)),
        (TensorProto.FLOAT4E2M1, np.linspace(-6, 6, 4001).astype(ml_dtypes.float4_e2m1fn)),
    ],
)
def test_large_raw_weights_of_each_dtype_read_back(tmp_path: Path, data_type: int, array: np.ndarray) -> None:
    tensor = numpy_helper.from_array(array.reshape(-1, 1) if array.size % 2 == 0 else array, "w")
    assert tensor.data_type == data_type and tensor.HasField("raw_data")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])], "g", [], [helper.make_value_info("y", onnx.TypeProto())], [tensor]
    )
    path = save(tmp_path, helper.make_model(graph, opset_imports=OPSET))
    weight = netray.load_model(path).main.values["w"].initializer
    assert weight is not None
    assert weight.location.startswith("model.onnx @ ")  # left in the file, memory-mapped on request
    expected = numpy_helper.to_array(tensor)
    got = weight.numpy()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if got.dtype.kind == "c":
        assert np.array_equal(got, expected)
    else:
        assert np.array_equal(got.astype(np.float64), expected.astype(np.float64))


def test_typed_fields_and_strings_decode_on_request(tmp_path: Path) -> None:
    floats = helper.make_tensor("f", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0])  # float_data, not raw
    strings = helper.make_tensor("s", TensorProto.STRING, [2], [b"ab", b"cd"])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["f"], ["y"])], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
        [floats, strings],
    )
    values = netray.load_model(save(tmp_path, helper.make_model(graph, opset_imports=OPSET))).main.values
    assert values["f"].initializer.numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]  # type: ignore[union-attr]
    assert values["s"].initializer.numpy().tolist() == numpy_helper.to_array(strings).tolist()  # type: ignore[union-attr]


def test_text_syntax(tmp_path: Path) -> None:
    text = """
    <ir_version: 8, opset_import: ["" : 18]>
    agraph (float[N, 4] x, float[4, 2] w) => (float[N, 2] y) {
        t = MatMul(x, w)
        y = Relu(t)
    }
    """
    path = tmp_path / "model.onnxtxt"
    path.write_text(text)
    model = netray.load_model(path)
    assert [n.op for n in model.main.nodes] == ["MatMul", "Relu"]
    assert model.main.inputs[0].type.shape == ("N", 4)
    broken = tmp_path / "broken.onnxtxt"
    broken.write_text("<ir_version: 8> agraph (float x) => (float y) { y = Relu(x ")
    with pytest.raises(netray.FormatError, match="ONNX text syntax"):
        netray.load_model(broken)


def test_in_memory_model_proto() -> None:
    model = netray.load_model(_quantized_model())
    assert model.format == "ONNX" and [n.op for n in model.main.nodes] == ["QuantizeLinear", "QLinearConv", "DequantizeLinear"]
    assert model.main.values["w_q"].initializer.numpy().shape == (4, 2, 3, 3)  # type: ignore[union-attr]
    assert plugin.netray_load_object(obj=object(), options={}) is None


def test_operator_info_from_onnx_schemas() -> None:
    info = get_manager().operator_info("ONNX", "", "Conv")
    assert info is not None
    assert info.category is Category.LAYER
    assert info.summary and "convolution" in info.doc.lower()
    assert [name for name, _ in info.inputs] == ["X", "W", "B"]
    assert "kernel_shape" in dict(info.attributes)
    assert int(info.since_version) >= 1
    assert plugin.netray_operator_info(format="ONNX", domain="", op="NoSuchOp") is None
    assert plugin.netray_operator_info(format="TFLite", domain="", op="Conv") is None


def test_every_standard_operator_has_a_category() -> None:
    uncategorised = sorted(
        f"{s.domain or 'ai.onnx'}.{s.name}"
        for s in onnx.defs.get_all_schemas_with_history()
        if category_of(s.domain, s.name) is Category.OTHER
    )
    assert not uncategorised
    assert category_of("", "Conv") is Category.LAYER
    assert category_of("", "Relu") is Category.ACTIVATION
    assert category_of("", "LayerNormalization") is Category.NORMALIZATION
    assert category_of("", "MaxPool") is Category.POOL
    assert category_of("", "Reshape") is Category.SHAPE
    assert category_of("", "Loop") is Category.CONTROL
    assert category_of("com.microsoft", "QLinearAdd") is Category.QUANTIZATION
    assert category_of("acme.ops", "Conv") is Category.CUSTOM


def test_opening_leaves_large_tensors_in_the_file(tmp_path: Path) -> None:
    """Initializers and Constant-node tensors alike: the structure parsed is a small part of the file."""
    big = np.arange(100_000, dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(big * 3, "c")),
            helper.make_node("Add", ["c", "w"], ["y"]),
        ],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [100_000])],
        [numpy_helper.from_array(big, "w")],
    )
    path = save(tmp_path, helper.make_model(graph, opset_imports=OPSET))
    from netray_onnx.wire import structure_bytes

    structure = structure_bytes(path.read_bytes())
    assert len(structure) < 2000 < 800_000 < path.stat().st_size
    model = netray.load_model(path)
    constant = model.main.nodes[0].attribute("value")
    assert constant is not None and constant.value.location.startswith("model.onnx @ ")
    assert np.array_equal(constant.value.numpy(), big * 3)
    assert np.array_equal(model.main.values["w"].initializer.numpy(), big)  # type: ignore[union-attr]


def test_recursive_functions_do_not_make_cyclic_graphs(tmp_path: Path) -> None:
    """ONNX forbids recursion; a file that has it anyway must not make Graph.walk loop forever."""
    ping = helper.make_function("my.lib", "Ping", ["X"], ["Y"], [helper.make_node("Pong", ["X"], ["Y"], domain="my.lib")], OPSET)
    pong = helper.make_function("my.lib", "Pong", ["X"], ["Y"], [helper.make_node("Ping", ["X"], ["Y"], domain="my.lib")], OPSET)
    graph = helper.make_graph(
        [helper.make_node("Ping", ["x"], ["y"], domain="my.lib")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    proto = helper.make_model(graph, functions=[ping, pong], opset_imports=[*OPSET, helper.make_opsetid("my.lib", 1)])
    model = netray.load_model(save(tmp_path, proto))
    assert len(list(model.all_graphs())) == 3
    assert model_summary(model)["ops"] == {"Ping": 2, "Pong": 1}
    assert model.main.nodes[0].subgraphs == [model.functions[0]]


def test_quantization_parameters_from_constant_nodes(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array(0.5, np.float32), "s")),
        helper.make_node("Constant", [], ["z"], value=numpy_helper.from_array(np.array(-4, np.int8), "z")),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("q", TensorProto.INT8, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    values = netray.load_model(save(tmp_path, helper.make_model(graph, opset_imports=OPSET))).main.values
    quantization = values["q"].quantization
    assert quantization is not None and list(quantization.scale) == [0.5] and list(quantization.zero_point) == [-4]


def test_training_graphs_follow_the_main_graph(tmp_path: Path) -> None:
    proto = _quantized_model()
    training = proto.training_info.add()
    training.algorithm.CopyFrom(
        helper.make_graph(
            [helper.make_node("Neg", ["a"], ["b"])],
            "train_step",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])],
        )
    )
    model = netray.load_model(save(tmp_path, proto))
    assert [g.name for g in model.graphs] == ["quantized", "train_step"]
    assert model.graphs[1].kind == "training"


def test_scope_and_source_from_exporter_metadata(tmp_path: Path) -> None:
    """Only ``namespace`` (no name_scopes) still gives the module scope; the stack trace gives the user's line."""
    node = helper.make_node("Relu", ["x"], ["y"], name="node_relu")
    namespace = ": __main__.Net/enc: Encoder/enc.layers.3: Layer/enc.layers.3.act: torch.nn.ReLU/relu: aten.relu.default"
    trace = (
        'File "/home/me/model.py", line 42, in forward\n    return self.enc(x)\n'
        '  File "/usr/lib/python3/site-packages/torch/nn/modules/module.py", line 1773, in _call_impl\n'
    )
    node.metadata_props.add(key="namespace", value=namespace)
    node.metadata_props.add(key="pkg.torch.onnx.stack_trace", value=trace)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    loaded = netray.load_model(save(tmp_path, helper.make_model(graph, opset_imports=OPSET))).main.nodes[0]
    assert loaded.scope == ("enc", "layers.3", "act")
    assert loaded.source is not None and (loaded.source.file, loaded.source.line) == ("/home/me/model.py", 42)
    assert loaded.metadata == {}
